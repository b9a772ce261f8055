import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The player shell's static files. `player.js` is compiled from players/src/player.ts by
 * `npm run build` (players/tsconfig.json → dist/players/); a source checkout without a build
 * (tests, `tsx`) compiles it in memory with TypeScript instead. scorm-again's browser bundles
 * are served straight from its npm package.
 */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('Cannot find the project root (package.json) for the player assets');
}

const css = `
:root { color-scheme: light; font-family: system-ui, sans-serif; }
body { margin: 0; height: 100vh; display: flex; flex-direction: column; }
#cairn-bar { display: flex; gap: .75rem; align-items: center; padding: .4rem .75rem; background: #1f2d3d; color: #fff; }
#cairn-title { font-weight: 600; flex: 1; }
#cairn-status { font-size: .85rem; opacity: .85; }
#cairn-bar button { font: inherit; padding: .25rem .7rem; }
#cairn-main { flex: 1; display: flex; min-height: 0; }
#cairn-toc { width: 16rem; overflow: auto; border-right: 1px solid #ccc; padding: .5rem; }
#cairn-toc ul { list-style: none; padding-left: .8rem; margin: .2rem 0; }
#cairn-toc button { all: unset; cursor: pointer; display: block; padding: .15rem .3rem; border-radius: 3px; }
#cairn-toc button[aria-current="page"] { background: #dde8f5; font-weight: 600; }
#cairn-toc button:disabled { opacity: .45; cursor: not-allowed; }
#cairn-toc button[data-status="completed"]::after, #cairn-toc button[data-status="passed"]::after { content: " ✓"; color: #2a7a2a; }
#cairn-toc button[data-status="failed"]::after { content: " ✗"; color: #a33; }
#cairn-content { flex: 1; border: 0; width: 100%; height: 100%; }
`;

export class PlayerAssets {
  private readonly assets = new Map<string, Asset>();
  private loading: Promise<void> | undefined;

  async get(name: string): Promise<Asset | undefined> {
    this.loading ??= this.load();
    await this.loading;
    return this.assets.get(name);
  }

  private add(name: string, body: Buffer | string, contentType: string): void {
    const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body);
    this.assets.set(name, { body: buffer, contentType, etag: `"${createHash('sha256').update(buffer).digest('base64url').slice(0, 27)}"` });
  }

  private async load(): Promise<void> {
    const root = projectRoot();
    const require = createRequire(import.meta.url);
    // The package exports only its entry points; the browser bundles sit beside the CommonJS one.
    const dist = path.dirname(require.resolve('scorm-again/scorm12'));
    this.add('scorm12.js', await fs.readFile(path.join(dist, 'scorm12.min.js')), 'text/javascript; charset=utf-8');
    this.add('scorm2004.js', await fs.readFile(path.join(dist, 'scorm2004.min.js')), 'text/javascript; charset=utf-8');
    this.add('player.css', css, 'text/css; charset=utf-8');
    this.add('player.js', await compilePlayer(root), 'text/javascript; charset=utf-8');
  }
}

async function compilePlayer(root: string): Promise<string> {
  const source = path.join(root, 'players', 'src', 'player.ts');
  const built = path.join(root, 'dist', 'players', 'player.js');
  if (existsSync(source)) {
    try {
      const ts = (await import('typescript')).default;
      return ts.transpileModule(readFileSync(source, 'utf8'), { compilerOptions: { target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.None, removeComments: false } }).outputText;
    } catch {
      // No TypeScript (a production install): use the build below.
    }
  }
  return fs.readFile(built, 'utf8');
}
