import { existsSync } from 'node:fs';
import net from 'node:net';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { expect } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { listen, type HttpServer } from '../../src/ops/server.js';

/**
 * Browser tests drive the system Chromium (Debian's /usr/bin/chromium, or CAIRN_TEST_CHROMIUM)
 * with playwright-core. With CI=true a missing browser fails the run; locally the tests are
 * skipped with a visible warning.
 */
export const chromiumPath = process.env['CAIRN_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
export const haveChromium = existsSync(chromiumPath);

if (!haveChromium) {
  if (process.env['CI'] === 'true') throw new Error(`CI=true but no Chromium at ${chromiumPath}: install Debian's chromium (apt-get install -y chromium)`);
  console.warn(`\n  WARNING: SCORM browser tests SKIPPED: no Chromium at ${chromiumPath} (apt-get install -y chromium, or set CAIRN_TEST_CHROMIUM)\n`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface BrowserRig {
  readonly t: TestApp;
  /** http://localhost:<port>: the console and admin API (cookies live here). */
  readonly mainUrl: string;
  /** http://127.0.0.1:<port2>: the content origin, a different site. */
  readonly contentUrl: string;
  readonly browser: Browser;
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** The whole app listening on two origins of different sites, and a fresh headless Chromium. */
export async function startBrowserRig(env: Record<string, string> = {}): Promise<BrowserRig> {
  const [mainPort, contentPort] = [await freePort(), await freePort()];
  const mainUrl = `http://localhost:${mainPort}`;
  const contentUrl = `http://127.0.0.1:${contentPort}`;
  const t = await startTestApp({ env: { CAIRN_PUBLIC_URL: mainUrl, CAIRN_CONTENT_URL: contentUrl, CAIRN_PORT: String(mainPort), CAIRN_CONTENT_PORT: String(contentPort), ...env } });
  const servers: HttpServer[] = [];
  servers.push(await listen(t.app, { host: '127.0.0.1', port: mainPort }));
  servers.push(await listen(t.content.app, { host: '127.0.0.1', port: contentPort }));
  // chromium.launch gives every run a fresh temporary profile (its own --user-data-dir).
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    t, mainUrl, contentUrl, browser,
    newContext: () => browser.newContext(),
    async close() {
      await browser.close().catch(() => undefined);
      for (const s of servers) await s.close(1000);
      await t.close();
    },
  };
}

/** Polls until `check` returns a value that passes `accept` (commits by beacon land asynchronously). */
export async function eventually<T>(check: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (accept(last)) return last;
    if (Date.now() > deadline) {
      expect(last, `timed out waiting for ${what}`).toBe('(condition met)');
      return last;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}
