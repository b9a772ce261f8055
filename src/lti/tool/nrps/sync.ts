import { randomUUID } from 'node:crypto';
import { withTransaction, type Queryable } from '../../../db/index.js';
import type { Clock } from '../../../deps.js';
import type { JobDefinition, JobQueue } from '../../../jobs/index.js';
import { insertUser, updateUser } from '../../../users/repository.js';
import { courseRoleFor, expandRoles, type CourseRole } from '../../core/roles.js';
import * as launchRepo from '../launch/repository.js';
import { placeholderEmail } from '../launch/provisioning.js';
import { excerpt, mediaTypes, nextLink, nrpsScope, ServiceCallError, ServiceHttp, type ServiceCallDeps, type ServiceTarget } from '../ags/service-client.js';
import * as repo from './repository.js';

export const rosterSyncQueue = 'lti-roster-sync';

/** Attempts of one sync before a temporary failure (network, 5xx, 429) is recorded as final. */
export const rosterSyncAttempts = 3;
const maxPages = 1000;
const maxMembers = 200_000;

export type RosterDeps = ServiceCallDeps;

/** One member of an NRPS membership container (NRPS 2.0 §2.2), as far as Cairn uses it. */
export interface Member {
  readonly user_id: string;
  readonly status: 'Active' | 'Inactive' | 'Deleted';
  readonly roles: readonly string[];
  readonly name?: string;
  readonly given_name?: string;
  readonly family_name?: string;
  readonly email?: string;
}

const str = (v: unknown, max = 500): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : undefined);

function toMember(raw: unknown): Member | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const userId = str(m['user_id'], 255);
  if (!userId) return undefined;
  // Absent status means Active (NRPS 2.0 §2.2); anything unknown is treated as Active too, as Moodle and Canvas do.
  const status = m['status'] === 'Inactive' || m['status'] === 'Deleted' ? m['status'] : 'Active';
  const roles = Array.isArray(m['roles']) ? m['roles'].filter((r): r is string => typeof r === 'string') : [];
  const email = str(m['email'], 254);
  return {
    user_id: userId, status, roles,
    ...(str(m['name']) ? { name: str(m['name'])! } : {}),
    ...(str(m['given_name']) ? { given_name: str(m['given_name'])! } : {}),
    ...(str(m['family_name']) ? { family_name: str(m['family_name'])! } : {}),
    ...(email && /^[^\s@]+@[^\s@]+$/.test(email) ? { email: email.toLowerCase() } : {}),
  };
}

/**
 * Every page of a context's membership container, following `Link: rel="next"` (NRPS 2.0 §2.4).
 * The container must be about the context Cairn asked for.
 */
export async function fetchRoster(deps: RosterDeps, target: ServiceTarget, url: string, contextId: string): Promise<{ members: Member[]; pages: number }> {
  const scopes = [nrpsScope];
  const first = new URL(url);
  // NRPS's own page-size parameter: fewer round trips than Canvas's default of 10 a page.
  if (!first.searchParams.has('limit')) first.searchParams.set('limit', '100');
  let next: string | undefined = first.toString();
  const seen = new Set<string>();
  const byUser = new Map<string, Member>();
  let pages = 0;
  let refreshed = false;
  while (next && !seen.has(next)) {
    if (pages >= maxPages) throw new ServiceCallError(`The roster has more than ${maxPages} pages.`, { retryable: false, stage: 'membership' });
    const token = await deps.tokens.token(target, scopes);
    const response = await deps.http.request('membership', next, { method: 'GET', headers: { authorization: `Bearer ${token}`, accept: mediaTypes.membershipContainer } });
    if (response.status === 401 && !refreshed) {
      deps.tokens.forget(target, scopes);
      refreshed = true;
      continue;
    }
    if (response.status !== 200) throw ServiceHttp.failure('membership', 'The platform\'s membership service', response, deps.clock.now().getTime());
    seen.add(next);
    pages++;
    const body = response.json<{ context?: { id?: unknown }; members?: unknown }>();
    if (!Array.isArray(body.members)) throw new ServiceCallError('The membership container has no members array.', { status: 200, body: excerpt(response.text), retryable: false, stage: 'membership' });
    if (body.context?.id !== undefined && body.context.id !== contextId) {
      throw new ServiceCallError(`The membership container is about context "${String(body.context.id).slice(0, 100)}", not "${contextId.slice(0, 100)}".`, { status: 200, retryable: false, stage: 'membership' });
    }
    for (const raw of body.members) {
      const member = toMember(raw);
      // A member listed twice (a page boundary that moved): the later entry wins.
      if (member) byUser.set(member.user_id, member);
    }
    if (byUser.size > maxMembers) throw new ServiceCallError(`The roster has more than ${maxMembers} members.`, { retryable: false, stage: 'membership' });
    next = nextLink(response.headers.get('link'), next);
  }
  return { members: [...byUser.values()], pages };
}

/**
 * Applies a complete roster to the course, in one transaction: members become users (found
 * by iss + sub, created with their name and email when given), Active members are enrolled
 * with their mapped role, Inactive and Deleted ones — and LTI enrollments of people the roster
 * no longer lists — become inactive. Enrollments made by hand in Cairn are never changed
 * (decision 0063).
 */
export async function applyRoster(db: Queryable, input: { tenantId: string; issuer: string; courseId: string; members: readonly Member[]; now: Date }): Promise<Omit<repo.SyncCounts, 'pages'>> {
  const { tenantId, issuer, courseId, now } = input;
  const counts = { members: input.members.length, users_created: 0, enrollments_added: 0, enrollments_updated: 0, enrollments_deactivated: 0 };
  const present: string[] = [];
  for (const member of input.members) {
    const role = courseRoleFor(expandRoles(member.roles));
    let identity = await launchRepo.findIdentity(db, tenantId, issuer, member.user_id);
    if (!identity && member.status !== 'Active') continue;
    if (!identity) {
      await launchRepo.lockKey(db, `user:${tenantId}:${issuer}:${member.user_id}`);
      identity = await launchRepo.findIdentity(db, tenantId, issuer, member.user_id);
    }
    let userId: string;
    if (identity) {
      userId = identity.user_id;
      await refreshIdentity(db, tenantId, identity, member, role, now);
    } else {
      userId = await createMemberUser(db, tenantId, issuer, member, role, now);
      counts.users_created++;
    }
    present.push(userId);
    if (member.status === 'Active') {
      const outcome = await repo.upsertMemberEnrollment(db, { tenant_id: tenantId, course_id: courseId, user_id: userId, role }, now);
      if (outcome === 'added') counts.enrollments_added++;
      else if (outcome === 'updated') counts.enrollments_updated++;
    } else if (await repo.deactivateMember(db, courseId, userId, now)) {
      counts.enrollments_deactivated++;
    }
  }
  counts.enrollments_deactivated += await repo.deactivateAbsent(db, courseId, present, now);
  return counts;
}

function displayName(member: Member): string | undefined {
  return member.name ?? ([member.given_name, member.family_name].filter(Boolean).join(' ') || undefined);
}

async function refreshIdentity(db: Queryable, tenantId: string, identity: launchRepo.IdentityWithUser, member: Member, role: CourseRole, now: Date): Promise<void> {
  // Only what the platform chose to send replaces what Cairn has (NRPS often omits PII a launch carried).
  const claims: Partial<launchRepo.IdentityRow> = {};
  if (member.name !== undefined && member.name !== identity.name) claims.name = member.name;
  if (member.given_name !== undefined && member.given_name !== identity.given_name) claims.given_name = member.given_name;
  if (member.family_name !== undefined && member.family_name !== identity.family_name) claims.family_name = member.family_name;
  if (member.email !== undefined && member.email !== identity.email) claims.email = member.email;
  if (Object.keys(claims).length > 0) await launchRepo.updateIdentity(db, identity.id, claims, now);
  const changes: { name?: string; role?: 'instructor' } = {};
  const name = displayName(member);
  if (name && name !== identity.user_name) changes.name = name;
  // As on launch: a learner who now teaches gets the instructor's tenant role; nobody is demoted.
  if (identity.user_role === 'learner' && (role === 'instructor' || role === 'teaching_assistant')) changes.role = 'instructor';
  if (Object.keys(changes).length > 0) await updateUser(db, tenantId, identity.user_id, changes, now);
}

async function createMemberUser(db: Queryable, tenantId: string, issuer: string, member: Member, role: CourseRole, now: Date): Promise<string> {
  // As on launch: the platform's email only when no Cairn user has it, never a link to an existing account.
  const email = member.email && !(await launchRepo.emailTaken(db, tenantId, member.email)) ? member.email : placeholderEmail(issuer, member.user_id);
  const tenantRole = role === 'instructor' || role === 'teaching_assistant' ? 'instructor' : 'learner';
  const user = await insertUser(db, { tenant_id: tenantId, email, name: displayName(member) ?? '', role: tenantRole, password_hash: null }, now);
  await launchRepo.insertIdentity(db, {
    tenant_id: tenantId, user_id: user.id, issuer, subject: member.user_id,
    name: member.name ?? null, given_name: member.given_name ?? null, family_name: member.family_name ?? null, email: member.email ?? null, last_launch_at: null,
  }, now);
  return user.id;
}

export type SyncOutcome = 'succeeded' | 'failed' | 'skipped';

/** The job: fetch the whole roster, then apply it. A temporary failure is thrown for pg-boss to retry with backoff. */
export async function runRosterSync(deps: RosterDeps, syncId: string, jobId: string): Promise<SyncOutcome> {
  const sync = await repo.startSync(deps.db, syncId, jobId, deps.clock.now());
  if (!sync) return 'skipped';
  let pages = 0;
  try {
    const target = await repo.findSyncTarget(deps.db, sync.course_context_id);
    if (!target) throw new ServiceCallError('The course context or its platform registration no longer exists.', { retryable: false, stage: 'configuration' });
    if (target.platform.status !== 'active') throw new ServiceCallError('The platform registration is disabled.', { retryable: false, stage: 'configuration' });
    const url = target.context.nrps?.['context_memberships_url'];
    if (typeof url !== 'string' || url === '') throw new ServiceCallError('No launch of this course carried a Names and Role Provisioning claim.', { retryable: false, stage: 'configuration' });
    const roster = await fetchRoster(deps, { platform: target.platform, client: target.client }, url, target.context.context_id);
    pages = roster.pages;
    // An empty membership would deactivate every LTI enrollment of the course. Platforms send
    // one when the tool has lost the right to read the roster or by mistake, not for a course
    // people are launching from: keep the enrollments and say why (a course really emptied in
    // the LMS keeps its enrollments until an administrator deactivates them).
    if (roster.members.length === 0 && await repo.hasActiveLtiEnrollments(deps.db, target.context.course_id)) {
      throw new ServiceCallError('The platform returned an empty membership for a course with active LTI enrollments; they were left as they were.', { retryable: false, stage: 'membership', status: 200 });
    }
    const counts = await withTransaction(deps.db, async (tx) => {
      const now = deps.clock.now();
      const applied = await applyRoster(tx, { tenantId: target.context.tenant_id, issuer: target.platform.issuer, courseId: target.context.course_id, members: roster.members, now });
      await repo.markContextSynced(tx, target.context.id, now);
      await repo.finishSync(tx, sync.id, { ...applied, pages }, now);
      return applied;
    });
    deps.log.info({ sync: sync.id, context: sync.course_context_id, pages, ...counts }, 'LTI roster synced');
    return 'succeeded';
  } catch (error) {
    if (!(error instanceof ServiceCallError)) throw error;
    const fields = { error: error.body ? `${error.message}: ${error.body}` : error.message, http_status: error.status ?? null };
    if (error.retryable && sync.attempts < rosterSyncAttempts) {
      await repo.noteSyncError(deps.db, sync.id, { ...fields, error: excerpt(fields.error) });
      throw error;
    }
    await repo.failSync(deps.db, sync.id, { ...fields, error: excerpt(fields.error), pages }, deps.clock.now());
    deps.log.warn({ sync: sync.id, status: error.status, err: error.message }, 'LTI roster sync failed');
    return 'failed';
  }
}

export function rosterSyncJob(deps: RosterDeps): JobDefinition<{ id: string }> {
  return {
    name: rosterSyncQueue,
    retryLimit: rosterSyncAttempts,
    retryDelaySeconds: deps.config.serviceRetrySeconds,
    retryBackoff: true,
    expireInSeconds: 30 * 60,
    async handle(data, meta) {
      return { outcome: await runRosterSync(deps, data.id, meta.id) };
    },
  };
}

/** Claims a queued sync for a new job and enqueues it (the dispatcher and the sweep call this). */
export async function dispatchRosterSync(deps: { db: Queryable; clock: Clock; jobs: JobQueue }, syncId: string): Promise<void> {
  const jobId = randomUUID();
  if (!(await repo.claimSync(deps.db, syncId, jobId, deps.clock.now()))) return;
  try {
    await deps.jobs.send(rosterSyncQueue, { id: syncId }, { id: jobId });
  } catch (error) {
    await repo.releaseSync(deps.db, syncId, jobId);
    throw error;
  }
}
