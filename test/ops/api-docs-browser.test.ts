import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, startBrowserRig, type BrowserRig } from '../scorm/browser-support.js';

/**
 * The Swagger UI page in a real browser, under the app's Content-Security-Policy: the HTTP
 * test shows its files load; only a browser shows that the CSP lets them run and render.
 */
let rig: BrowserRig | undefined;
beforeAll(async () => { if (haveChromium) rig = await startBrowserRig(); });
afterAll(async () => { await rig?.close(); });

describe.skipIf(!haveChromium)('/api/v1/docs in Chromium', () => {
  it('renders every operation from the OpenAPI document without CSP violations or script errors', async () => {
    const context = await rig!.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    await page.addInitScript({ content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))" });
    const response = await page.goto(`${rig!.mainUrl}/api/v1/docs`);
    expect(response?.status()).toBe(200);
    await page.waitForSelector('.opblock', { timeout: 15_000 });
    const operationIds = await page.$$eval('.opblock', (blocks) => blocks.map((b) => b.id));
    const spec = (await (await fetch(`${rig!.mainUrl}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const expected = Object.values(spec.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    expect(operationIds.length).toBe(expected);
    expect(operationIds.some((id) => id.endsWith('-login'))).toBe(true);
    expect(await page.textContent('.info .title')).toContain('Cairn API');
    expect(problems, problems.join('\n')).toEqual([]);
    await context.close();
  });
});
