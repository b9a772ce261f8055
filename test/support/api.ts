import { expect } from 'vitest';
import type request from 'supertest';
import type { TestApp, TestClock } from './app.js';

/** One browser (cookie jar) or a plain supertest for an app. */
export type Agent = ReturnType<typeof request.agent>;

export const userPassword = 'a long enough password 123';

export interface CreatedUser {
  readonly id: string;
  readonly email: string;
  readonly role: 'admin' | 'instructor' | 'learner';
  readonly password: string;
  readonly tenant_id: string;
}

let sequence = 0;
/** A unique email per call, so tests in one file never collide. */
export function uniqueEmail(prefix: string): string {
  sequence += 1;
  return `${prefix}-${sequence}-${Date.now().toString(36)}@test.example`;
}

/** Creates a user through the API as the given admin agent and returns it with its password. */
export async function createUser(admin: Agent, role: CreatedUser['role'], options: { email?: string; password?: string; name?: string; headers?: Record<string, string> } = {}): Promise<CreatedUser> {
  const email = options.email ?? uniqueEmail(role);
  const password = options.password ?? userPassword;
  const req = admin.post('/api/v1/users');
  for (const [k, v] of Object.entries(options.headers ?? {})) req.set(k, v);
  const res = await req.send({ email, password, role, name: options.name ?? `${role} ${sequence}` });
  if (res.status !== 201) throw new Error(`creating ${role} ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id, email, role, password, tenant_id: res.body.tenant_id };
}

/** Creates a user and logs in as them. */
export async function userAgent(t: TestApp, admin: Agent, role: CreatedUser['role']): Promise<{ user: CreatedUser; agent: Agent }> {
  const user = await createUser(admin, role);
  return { user, agent: await t.login(user.email, user.password) };
}

export async function createCourse(agent: Agent, body: Record<string, unknown> = {}): Promise<{ id: string; title: string; code: string | null }> {
  const res = await agent.post('/api/v1/courses').send({ title: `Course ${++sequence}`, ...body });
  if (res.status !== 201) throw new Error(`creating course failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function enroll(agent: Agent, courseId: string, userId: string, role: 'instructor' | 'teaching_assistant' | 'learner' | 'observer', status?: 'active' | 'inactive'): Promise<{ id: string }> {
  const res = await agent.post(`/api/v1/courses/${courseId}/enrollments`).send({ user_id: userId, role, ...(status ? { status } : {}) });
  if (res.status !== 201) throw new Error(`enrolling failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function createLineItem(agent: Agent, courseId: string, body: Record<string, unknown> = {}): Promise<{ id: string; score_maximum: number; course_item_id: string | null }> {
  const res = await agent.post(`/api/v1/courses/${courseId}/line-items`).send({ label: `Quiz ${++sequence}`, score_maximum: 100, ...body });
  if (res.status !== 201) throw new Error(`creating line item failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Asserts an RFC 9457 problem with the given status and code. */
export function expectProblem(res: request.Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }, JSON.stringify(res.body)).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
}

/** Audit entries of the app's database, newest first, straight from the table. */
export async function auditRows(t: TestApp, where: Record<string, unknown> = {}): Promise<Array<Record<string, unknown>>> {
  return t.deps.db('audit_log').where(where).orderBy('id', 'desc');
}

/**
 * Moves the clock to one second after the start of the next window, so a test that makes a
 * burst of requests never straddles a window boundary (fixed windows restart on the minute).
 */
export function alignToWindowStart(clock: TestClock, windowSeconds = 60): void {
  const windowMs = windowSeconds * 1000;
  const now = clock.now().getTime();
  clock.advance(windowMs - (now % windowMs) + 1000);
}

/** The Set-Cookie header of a response, as an array. */
export function setCookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  return Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
}
