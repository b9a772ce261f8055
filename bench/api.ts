/**
 * bench:api — authenticated, paginated GET /api/v1/courses requests/s and p99 beside a bare
 * Express route answering the same bytes, measured in the same run on the same machine, plus
 * Cairn's idle resident memory (the embedded or external PostgreSQL is another process and
 * is not counted).
 *
 *   npm run bench:api            10 s per measurement
 *   npm run bench:api -- --quick 4 s per measurement
 */
import { randomBytes } from 'node:crypto';
import { benchDatabase, cairnCommand, freePort, load, machine, quick, rssMb, startServer } from './support/harness.js';

const seconds = quick ? 4 : 10;
const connections = 16;
const adminEmail = 'bench@cairn.local';
const adminPassword = 'benchmark-password-123';

async function main(): Promise<void> {
  console.log(`bench:api on ${machine()}${quick ? ' (quick)' : ''}`);
  const server = cairnCommand();
  const db = await benchDatabase();
  console.log(`database: ${db.label}`);
  const port = await freePort();
  const cairn = await startServer(server.command, server.args, {
    DATABASE_URL: db.url,
    CAIRN_SECRET_KEY: randomBytes(32).toString('base64url'),
    CAIRN_PORT: String(port),
    CAIRN_CONTENT_PORT: String(await freePort()),
    CAIRN_PUBLIC_URL: `http://localhost:${port}`,
    CAIRN_ADMIN_EMAIL: adminEmail,
    CAIRN_ADMIN_PASSWORD: adminPassword,
    // The default 100 requests/min per user would turn the run into 429s; the limiter still
    // runs (and is counted in PostgreSQL) at this setting.
    CAIRN_RATE_LIMIT_API_PER_MINUTE: '1000000000',
    // Request logs go to the bench's pipe; at the default level they would cost the parent too.
    CAIRN_LOG_LEVEL: 'warn',
  }, port, '/readyz');

  try {
    // Idle: started, migrated, jobs scheduled, nothing asked of it yet.
    await new Promise((r) => setTimeout(r, 5000));
    const idleRss = await rssMb(cairn.pid);
    const base = cairn.url;
    const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: adminEmail, password: adminPassword }) });
    const cookie = login.headers.get('set-cookie')?.split(';')[0];
    if (!login.ok || !cookie) throw new Error(`login failed: ${login.status}`);
    const session = { cookie, 'content-type': 'application/json', origin: `http://localhost:${port}` };
    const tokenRes = await fetch(`${base}/api/v1/tokens`, { method: 'POST', headers: session, body: JSON.stringify({ name: 'bench', scopes: ['courses:read'] }) });
    const { token } = (await tokenRes.json()) as { token: string };
    for (let i = 0; i < 120; i++) {
      const res = await fetch(`${base}/api/v1/courses`, { method: 'POST', headers: session, body: JSON.stringify({ title: `Course ${i} — Introduction to something`, code: `BENCH-${i}`, description: 'A course created for the benchmark.' }) });
      if (res.status !== 201) throw new Error(`course create failed: ${res.status}`);
    }
    const pageUrl = `${base}/api/v1/courses?limit=50`;
    const auth = { authorization: `Bearer ${token}` };
    const page = await fetch(pageUrl, { headers: auth });
    const pageBody = await page.text();
    if (!page.ok || (JSON.parse(pageBody) as { data: unknown[] }).data.length !== 50) throw new Error(`unexpected page: ${page.status}`);


    await load({ url: pageUrl, connections, seconds: 2, headers: auth }); // warm-up
    const api = await load({ url: pageUrl, connections, seconds, headers: auth });
    if (api.non2xx > 0 || api.errors > 0) throw new Error(`API run had ${api.non2xx} non-2xx answers and ${api.errors} errors`);
    const loadedRss = await rssMb(cairn.pid);

    const barePort = await freePort();
    const bare = await startServer('node', ['bench/support/bare-server.mjs'], { PORT: String(barePort), BARE_BODY: pageBody }, barePort, '/bare');
    let bareResult;
    try {
      await load({ url: `${bare.url}/bare`, connections, seconds: 2 });
      bareResult = await load({ url: `${bare.url}/bare`, connections, seconds });
    } finally {
      await bare.stop();
    }

    const ratio = Math.round((api.rps / bareResult.rps) * 1000) / 1000;
    console.log('');
    console.log(`GET /api/v1/courses?limit=50 (Bearer token, ${pageBody.length} bytes): ${api.rps} req/s, p50 ${api.p50} ms, p99 ${api.p99} ms (${connections} connections, ${seconds} s)`);
    console.log(`bare Express route, same body:                ${bareResult.rps} req/s, p50 ${bareResult.p50} ms, p99 ${bareResult.p99} ms`);
    console.log(`ratio ${ratio} (target >= 0.4)`);
    console.log(`Cairn RSS idle ${idleRss} MB (target < 150), after load ${loadedRss} MB; PostgreSQL not included`);
    console.log(JSON.stringify({ api_rps: api.rps, api_p99_ms: api.p99, bare_rps: bareResult.rps, ratio, idle_rss_mb: idleRss }));
  } finally {
    await cairn.stop();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
