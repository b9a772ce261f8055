import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderDocs } from '../../scripts/generate-docs.js';
import { variables } from '../../src/config/index.js';
import { errorCatalogue } from '../../src/errors/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const docs = renderDocs();
const stale = (file: string) => `${file} is out of date with the code: run \`npm run docs:generate\` and commit the result`;

describe('generated documentation matches the code', () => {
  it.each(Object.keys(docs))('%s equals what the renderer produces now', async (file) => {
    const committed = await fs.readFile(path.join(root, file), 'utf8').catch(() => '(missing)');
    expect(committed, stale(file)).toBe(docs[file]);
  });

  it('documents every configuration variable, marking secrets', () => {
    const doc = docs['docs/configuration.md']!;
    for (const v of variables) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${v.name}\``));
      expect(row, `${v.name} has no row in docs/configuration.md`).toBeDefined();
      expect(row!.includes('(secret)'), `${v.name} secret marker`).toBe('secret' in v && v.secret === true);
    }
  });

  it('documents every error code with its status', () => {
    const doc = docs['docs/errors.md']!;
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(doc, `${code} missing from docs/errors.md`).toContain(`| \`${code}\` | ${entry.status} | ${entry.title} |`);
    }
  });

  it('only the composition roots read process.env (the config table is the whole story)', async () => {
    const offenders: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (/\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) {
          const rel = path.relative(root, full);
          const code = (await fs.readFile(full, 'utf8')).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
          if (/process\.env\b/.test(code) && !['src/main.ts', 'src/cli.ts'].includes(rel)) offenders.push(rel);
        }
      }
    };
    await walk(path.join(root, 'src'));
    expect(offenders, 'read settings through src/config/definitions.ts instead').toEqual([]);
  });
});
