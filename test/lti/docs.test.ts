import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ltiErrorCatalogue, renderLtiErrorTable } from '../../src/lti/core/errors.js';

describe('docs/lti.md', () => {
  it('carries the LTI error table exactly as rendered from the catalogue (every code, status and meaning)', async () => {
    const doc = await fs.readFile(path.resolve(import.meta.dirname, '../../docs/lti.md'), 'utf8');
    const table = /<!-- lti-errors:start -->\n([\s\S]*?)\n<!-- lti-errors:end -->/.exec(doc)?.[1];
    expect(table, 'docs/lti.md lost its lti-errors markers').toBeDefined();
    expect(table, 'docs/lti.md is out of date: paste the output of renderLtiErrorTable() between the markers').toBe(renderLtiErrorTable());
    for (const code of Object.keys(ltiErrorCatalogue)) expect(table).toContain(`| \`${code}\` |`);
  });
});
