/**
 * bench:scorm part 2 (runtime half): SCORM runtime commits against the content origin of a real
 * Cairn process. 32 registrations (8 learners × 4 SCORM items) each have their own attempt and SCO
 * session (as 32 of 90,000 learners would: one row each, no shared hot row); 32 connections, one per session, post
 * a realistic ~2 KB SCORM 1.2 CMI (suspend data, interactions, score) to the commit endpoint as
 * fast as they are answered. Reports commits/s and the exact p95 latency of all responses.
 * Targets: ≥ 3,000 commits/s, p95 < 20 ms.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import autocannon from 'autocannon';
import { fixturesDir } from '../scripts/build-fixtures.js';
import { quick } from './support/harness.js';
import type { BenchContext } from './scorm.js';

const connections = 32;

async function api(ctx: BenchContext, method: string, url: string, body?: unknown, headers: Record<string, string> = ctx.session): Promise<any> {
  const res = await fetch(`${ctx.base}${url}`, {
    method,
    headers: { ...headers, ...(body !== undefined && !Buffer.isBuffer(body) ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** A SCORM 1.2 CMI as scorm-again renders it, about 2 KB of JSON. */
export function realisticCmi(sequence: number): string {
  const interactions: Record<string, unknown> = {};
  for (let i = 0; i < 6; i++) {
    interactions[i] = { id: `question-${i + 1}`, time: '10:15:3' + i, type: 'choice', weighting: '1', student_response: 'b', result: i % 3 === 0 ? 'wrong' : 'correct', latency: '00:00:12', objectives: {}, correct_responses: { 0: { pattern: 'b' } } };
  }
  return JSON.stringify({
    cmi: {
      suspend_data: `v2|slide=14|visited=${Array.from({ length: 40 }, (_, i) => i).join(',')}|answers=${'bcbdab'.repeat(40)}`,
      launch_data: '', comments: '', comments_from_lms: '',
      core: {
        student_id: 'learner', student_name: 'Doe, Jane', lesson_location: 'slide-14', credit: 'credit', lesson_status: 'incomplete', entry: 'ab-initio',
        lesson_mode: 'normal', exit: '', session_time: `00:${String(Math.floor(sequence / 60) % 60).padStart(2, '0')}:${String(sequence % 60).padStart(2, '0')}`,
        score: { raw: '67', min: '0', max: '100' },
      },
      objectives: { 0: { id: 'obj-1', score: { raw: '67', min: '0', max: '100' }, status: 'incomplete' } },
      student_data: { mastery_score: '60', max_time_allowed: '', time_limit_action: '' },
      student_preference: { audio: '', language: '', speed: '', text: '' },
      interactions,
    },
  });
}

export async function commitBench(ctx: BenchContext): Promise<{ commits_per_s: number; commit_p95_ms: number }> {
  // The package, a course with its SCORM item, and 32 enrolled learners with an open SCO session each.
  const zip = await fs.readFile(path.join(fixturesDir, 'runtime-scorm12-quiz.zip'));
  const pkg = await api(ctx, 'POST', '/api/v1/packages', zip, { ...ctx.session, 'content-type': 'application/zip' });
  for (let i = 0; ; i++) {
    const status = await api(ctx, 'GET', `/api/v1/packages/${pkg.id}/status`);
    if (status.status === 'ready') break;
    if (status.status === 'failed' || i > 600) throw new Error(`bench package import: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const course = await api(ctx, 'POST', '/api/v1/courses', { title: 'Commit benchmark' });
  // 8 learners × 4 items = 32 registrations (login is rate limited per client IP, 20/min by default).
  const items: string[] = [];
  for (let i = 0; i < 4; i++) items.push((await api(ctx, 'POST', `/api/v1/courses/${course.id}/items`, { kind: 'scorm', title: `Quiz ${i + 1}`, ref_id: pkg.id })).id);
  const sessions: string[] = [];
  let content = '';
  for (let i = 0; sessions.length < connections; i++) {
    const email = `bench-learner-${i}-${Date.now()}@cairn.local`;
    const password = 'benchmark-password-123';
    const user = await api(ctx, 'POST', '/api/v1/users', { email, password, role: 'learner', name: `Learner ${i}` });
    await api(ctx, 'POST', `/api/v1/courses/${course.id}/enrollments`, { user_id: user.id, role: 'learner' });
    const login = await fetch(`${ctx.base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    const cookie = login.headers.get('set-cookie')?.split(';')[0];
    if (!login.ok || !cookie) throw new Error(`learner login failed: ${login.status}`);
    for (const itemId of items) {
      const launched = await api(ctx, 'POST', `/api/v1/courses/${course.id}/items/${itemId}/launch`, {}, { cookie, origin: ctx.session['origin']! });
      const launchUrl = new URL(launched.launch_url);
      content = launchUrl.origin;
      const page = await (await fetch(launchUrl)).text();
      const runtime = (JSON.parse(/id="cairn-player-config">([^<]*)</.exec(page)![1]!) as { runtime: string }).runtime;
      const session = await (await fetch(`${content}${runtime}scos/QUIZ/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as { commit_url_path: string };
      sessions.push(`${runtime}${session.commit_url_path}`);
    }
  }

  const seconds = quick ? 5 : 10;
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  let finish!: (r: autocannon.Result) => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => { finish = resolve; fail = reject; });
  const instance = autocannon({
    url: content,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: realisticCmi(1),
    // One session per connection (autocannon's `context` is per connection): each commits to its
    // own SCO row, its body a little different each time (the session time grows).
    requests: [{
      setupRequest: (req: autocannon.Request, ctxObject: object) => {
        const context = ctxObject as Record<string, unknown>;
        context['path'] ??= sessions[next++ % sessions.length];
        const n = ((context['n'] as number | undefined) ?? 0) + 1;
        context['n'] = n;
        return { ...req, path: context['path'] as string, body: realisticCmi(n) } as autocannon.Request;
      },
    }],
  }, (error, result) => (error ? fail(error) : finish(result)));
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode === 200) latencies.push(responseTime);
    else failures++;
  });
  const result = await done;
  if (failures > 0 || result.errors > 0) console.log(`commit bench: ${failures} non-200 responses, ${result.errors} errors`);
  latencies.sort((a, b) => a - b);
  const p95 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.95))] ?? 0;
  const perSecond = latencies.length / seconds;
  console.log(`commits: ${latencies.length} in ${seconds} s by ${connections} learners (${Buffer.byteLength(realisticCmi(1))} bytes each): ${Math.round(perSecond)}/s, p50 ${latencies[Math.floor(latencies.length / 2)]} ms, p95 ${p95} ms`);
  return { commits_per_s: Math.round(perSecond), commit_p95_ms: Math.round(p95 * 100) / 100 };
}
