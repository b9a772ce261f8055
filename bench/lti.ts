/**
 * `npm run bench:lti` — complete LTI 1.3 login + launch flows against a Cairn process on real
 * PostgreSQL (BENCH_DATABASE_URL, else the machine's PostgreSQL by its Unix socket or 127.0.0.1:5432, else embedded),
 * at concurrency 16, beside jose's RS256 verify rate measured in the same run.
 *
 * One flow = what a browser does: GET /lti/login (302 + binding cookie) → the platform signs an
 * id_token for that state and nonce (this process plays the platform, serving its JWKS) →
 * POST /lti/launch with the cookie (state, browser binding, the JWT checks, provisioning of
 * user / course / enrollment / resource link, launch log) → 303 to the landing page.
 * 2,000 learners launch 50 links in 20 courses, so most launches update rather than create.
 *
 *   npm run bench:lti [-- --quick]
 *   BENCH_CONCURRENCY=1 (sequential latency), BENCH_CPU_PROF=<dir> (Cairn with --cpu-prof),
 *   BENCH_DEBUG=1 (print the tail of Cairn's output)
 * Last line: {"launches_per_s":…,"launch_p95_ms":…,"rs256_verify_per_s":…}
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SignJWT, compactVerify, exportJWK, generateKeyPair } from 'jose';
import { benchDatabase, cairnCommand, freePort, machine, quick, startServer } from './support/harness.js';

if (!process.env['BENCH_DATABASE_URL'] && process.env['DATABASE_URL']) process.env['BENCH_DATABASE_URL'] = process.env['DATABASE_URL'];

const concurrency = Number(process.env['BENCH_CONCURRENCY'] ?? 16);
const seconds = quick ? 5 : 20;
const warmupSeconds = quick ? 2 : 5;
const adminEmail = 'bench@cairn.example';
const adminPassword = 'bench password of some length';

interface Response { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, agent: http.Agent, method: string, pathname: string, headers: Record<string, string> = {}, body?: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: pathname, agent, headers: { ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 100) / 100;
}

async function run(workers: number, duration: number, work: () => Promise<void>): Promise<{ latencies: number[]; elapsed: number }> {
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + duration * 1000;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await work();
      latencies.push(performance.now() - t0);
    }
  }));
  return { latencies, elapsed: (performance.now() - start) / 1000 };
}

/** jose's RS256 verification on one thread: the floor under any launch. */
async function rs256VerifyRate(): Promise<number> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const token = await new SignJWT({ sub: 'x', nonce: randomUUID() }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuedAt().setExpirationTime('5m').sign(privateKey);
  let n = 0;
  const start = performance.now();
  const until = start + (quick ? 1000 : 3000);
  while (performance.now() < until) {
    await compactVerify(token, publicKey, { algorithms: ['RS256'] });
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  console.log(`LTI launch benchmark (${quick ? 'quick' : 'full'}) on ${machine()}; ${db.label}`);

  // The platform: a key pair and a JWKS endpoint Cairn fetches once.
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = 'bench-platform-key';
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const platformServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  await new Promise<void>((resolve) => platformServer.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(platformServer.address() as AddressInfo).port}`;
  const clientId = 'bench-client';
  const deploymentId = 'bench-deployment';

  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const cairn = cairnCommand();
  const server = await startServer(cairn.command, cairn.args, {
    DATABASE_URL: db.url,
    CAIRN_PORT: String(port),
    CAIRN_PUBLIC_URL: publicUrl,
    CAIRN_CONTENT_PORT: String(await freePort()),
    CAIRN_CONTENT_URL: `http://localhost:${await freePort()}`,
    CAIRN_SECRET_KEY: randomBytes(32).toString('base64url'),
    CAIRN_ADMIN_EMAIL: adminEmail,
    CAIRN_ADMIN_PASSWORD: adminPassword,
    CAIRN_LOG_LEVEL: 'warn',
    CAIRN_DB_POOL_MAX: '24',
    CAIRN_DATA_DIR: path.resolve('.bench-data', `cairn-${port}`),
  }, port, '/healthz');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  try {
    const login = await request(port, agent, 'POST', '/api/v1/auth/login', { 'Content-Type': 'application/json' }, JSON.stringify({ email: adminEmail, password: adminPassword }));
    if (login.status !== 200) throw new Error(`admin login → ${login.status} ${login.body}`);
    const session = (login.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    const registered = await request(port, agent, 'POST', '/api/v1/lti/platforms', { 'Content-Type': 'application/json', Cookie: session, Origin: publicUrl }, JSON.stringify({
      name: 'Bench LMS', issuer, auth_url: `${issuer}/auth`, jwks_url: `${issuer}/jwks`, deployments: [{ client_id: clientId, deployment_id: deploymentId }],
    }));
    if (registered.status !== 201) throw new Error(`platform registration → ${registered.status} ${registered.body}`);

    const target = `${publicUrl}/lti/launch`;
    const claim = (name: string) => `https://purl.imsglobal.org/spec/lti/claim/${name}`;
    let failures = 0;
    let completed = 0;
    const phases = { login: [] as number[], sign: [] as number[], launch: [] as number[] };
    const flow = async () => {
      const user = Math.floor(Math.random() * 2000);
      const link = Math.floor(Math.random() * 50);
      const course = link % 20;
      const query = new URLSearchParams({ iss: issuer, login_hint: `u${user}`, target_link_uri: target, lti_message_hint: `l${link}`, client_id: clientId, lti_deployment_id: deploymentId });
      const t0 = performance.now();
      const started = await request(port, agent, 'GET', `/lti/login?${query}`);
      const t1 = performance.now();
      if (started.status !== 302) {
        if (failures++ < 3) console.error(`login → ${started.status} ${started.body.slice(0, 300)}`);
        return;
      }
      const auth = new URL(started.headers.location!);
      const cookie = (started.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
      const now = Math.floor(Date.now() / 1000);
      const idToken = await new SignJWT({
        nonce: auth.searchParams.get('nonce')!, name: `Learner ${user}`, email: `learner${user}@school.example`,
        [claim('message_type')]: 'LtiResourceLinkRequest', [claim('version')]: '1.3.0', [claim('deployment_id')]: deploymentId,
        [claim('target_link_uri')]: target, [claim('resource_link')]: { id: `link-${link}`, title: `Activity ${link}` },
        [claim('roles')]: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
        [claim('context')]: { id: `course-${course}`, label: `C${course}`, title: `Course ${course}` },
      }).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).setIssuer(issuer).setAudience(clientId).setSubject(`user-${user}`).setIssuedAt(now).setExpirationTime(now + 300).sign(privateKey);
      const t2 = performance.now();
      const body = new URLSearchParams({ id_token: idToken, state: auth.searchParams.get('state')! }).toString();
      const launched = await request(port, agent, 'POST', '/lti/launch', { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie }, body);
      if (launched.status !== 303) {
        if (failures++ < 3) console.error(`launch → ${launched.status} ${launched.body.slice(0, 500)}`);
        return;
      }
      completed++;
      phases.login.push(t1 - t0);
      phases.sign.push(t2 - t1);
      phases.launch.push(performance.now() - t2);
    };

    await run(concurrency, warmupSeconds, flow);
    const warmed = completed;
    for (const list of Object.values(phases)) list.length = 0;
    const measured = await run(concurrency, seconds, flow);
    const launches = completed - warmed;
    const launchesPerSecond = launches / measured.elapsed;
    const p95 = percentile(measured.latencies, 95);
    console.log(`login + launch flows: ${Math.round(launchesPerSecond)}/s at concurrency ${concurrency} over ${seconds} s (${launches} launches, ${failures} failures), p50 ${percentile(measured.latencies, 50)} ms, p95 ${p95} ms, p99 ${percentile(measured.latencies, 99)} ms`);
    console.log(`  phases p50/p95 (ms): login ${percentile(phases.login, 50)}/${percentile(phases.login, 95)}, platform signing ${percentile(phases.sign, 50)}/${percentile(phases.sign, 95)}, launch ${percentile(phases.launch, 50)}/${percentile(phases.launch, 95)}`);
    console.log('  (each flow includes the platform\'s RS256 signing of the id_token in this process, on the same cores as Cairn and PostgreSQL)');
    if (process.env['BENCH_DEBUG']) console.log('server output:', server.output().length, 'bytes', server.output().slice(-1500));
    const verify = await rs256VerifyRate();
    console.log(`jose RS256 verify: ${Math.round(verify)}/s on one thread`);
    console.log(JSON.stringify({ launches_per_s: Math.round(launchesPerSecond), launch_p95_ms: p95, rs256_verify_per_s: Math.round(verify) }));
  } finally {
    agent.destroy();
    await server.stop();
    platformServer.close();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
