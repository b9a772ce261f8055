import { createHash } from 'node:crypto';
import type { Interaction, ScoResult } from '../runtime/cmi.js';

/**
 * Statements per ADL's xAPI SCORM Profile (adlnet/xAPI-SCORM-Profile): SCO-level verbs with the
 * SCO as object (type lesson), the course and the attempt in `context.contextActivities.grouping`,
 * the profile activity in `category`, `context.registration` = Cairn's SCORM registration, and
 * `answered` for each interaction (type cmi.interaction, with its SCORM definition). Pure
 * functions: the writer (./index.ts) stores what these return.
 */

const verbs = {
  initialized: 'http://adlnet.gov/expapi/verbs/initialized',
  terminated: 'http://adlnet.gov/expapi/verbs/terminated',
  suspended: 'http://adlnet.gov/expapi/verbs/suspended',
  resumed: 'http://adlnet.gov/expapi/verbs/resumed',
  completed: 'http://adlnet.gov/expapi/verbs/completed',
  passed: 'http://adlnet.gov/expapi/verbs/passed',
  failed: 'http://adlnet.gov/expapi/verbs/failed',
  scored: 'http://adlnet.gov/expapi/verbs/scored',
  answered: 'http://adlnet.gov/expapi/verbs/answered',
} as const;
export type BridgeVerb = keyof typeof verbs;

export const profileActivityId = 'http://adlnet.gov/xapi/profile/scorm';
const types = {
  course: 'http://adlnet.gov/expapi/activities/course',
  lesson: 'http://adlnet.gov/expapi/activities/lesson',
  attempt: 'http://adlnet.gov/expapi/activities/attempt',
  interaction: 'http://adlnet.gov/expapi/activities/cmi.interaction',
  profile: 'http://adlnet.gov/expapi/activities/profile',
};

export interface BridgeContext {
  /** CAIRN_PUBLIC_URL: the home page of learner accounts and the authority of activity IRIs. */
  readonly publicUrl: string;
  readonly userId: string;
  readonly registrationId: string;
  readonly attemptId: string;
  readonly attemptNumber: number;
  /** The package lineage: stays the course's IRI across re-uploaded versions. */
  readonly lineageId: string;
  readonly courseTitle: string;
  readonly itemIdentifier: string;
  readonly itemTitle: string;
  readonly scormVersion: string;
}

export const courseIri = (publicUrl: string, lineageId: string) => `${publicUrl}/xapi/activities/scorm/${lineageId}`;
export const scoIri = (c: Pick<BridgeContext, 'publicUrl' | 'lineageId' | 'itemIdentifier'>) => `${courseIri(c.publicUrl, c.lineageId)}/${encodeURIComponent(c.itemIdentifier)}`;

/**
 * A deterministic id per (attempt, SCO, event, discriminator): a retried commit yields the same
 * statement id, which the LRS accepts as a duplicate instead of storing the event twice.
 */
export function statementId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50; // version 5 layout (name-based)
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function base(c: BridgeContext, verb: BridgeVerb, at: Date, discriminator: string): Record<string, unknown> {
  const sco = scoIri(c);
  return {
    id: statementId(c.attemptId, c.itemIdentifier, verb, discriminator),
    actor: { objectType: 'Agent', account: { homePage: c.publicUrl, name: c.userId } },
    verb: { id: verbs[verb], display: { 'en-US': verb } },
    object: { objectType: 'Activity', id: sco, definition: { name: { 'en-US': c.itemTitle }, type: types.lesson } },
    context: {
      registration: c.registrationId,
      contextActivities: {
        grouping: [
          { objectType: 'Activity', id: courseIri(c.publicUrl, c.lineageId), definition: { name: { 'en-US': c.courseTitle }, type: types.course } },
          { objectType: 'Activity', id: `${sco}?attemptId=${c.attemptId}`, definition: { name: { 'en-US': `Attempt ${c.attemptNumber} of ${c.itemTitle}` }, type: types.attempt } },
        ],
        category: [{ objectType: 'Activity', id: profileActivityId, definition: { type: types.profile } }],
      },
      extensions: { [`${c.publicUrl}/xapi/extensions/scorm-version`]: c.scormVersion },
    },
    timestamp: at.toISOString(),
  };
}

function resultOf(r: ScoResult, seconds?: number): Record<string, unknown> | undefined {
  const result: Record<string, unknown> = {};
  if (r.success !== 'unknown') result['success'] = r.success === 'passed';
  if (r.completion === 'completed' || r.completion === 'incomplete') result['completion'] = r.completion === 'completed';
  const score: Record<string, number> = {};
  if (r.scoreScaled !== null) score['scaled'] = r.scoreScaled;
  if (r.scoreRaw !== null) score['raw'] = r.scoreRaw;
  if (r.scoreMin !== null) score['min'] = r.scoreMin;
  if (r.scoreMax !== null) score['max'] = r.scoreMax;
  // xAPI requires min ≤ raw ≤ max when they are given; content sometimes reports otherwise.
  if (score['raw'] !== undefined && ((score['min'] !== undefined && score['raw'] < score['min']) || (score['max'] !== undefined && score['raw'] > score['max']))) {
    delete score['min'];
    delete score['max'];
  }
  if (score['min'] !== undefined && score['max'] !== undefined && score['min'] > score['max']) delete score['max'];
  if (Object.keys(score).length > 0) result['score'] = score;
  if (seconds !== undefined) result['duration'] = isoDuration(seconds);
  return Object.keys(result).length > 0 ? result : undefined;
}

function isoDuration(seconds: number): string {
  const cs = Math.round(seconds * 100);
  const h = Math.floor(cs / 360_000);
  const m = Math.floor((cs % 360_000) / 6000);
  const s = (cs % 6000) / 100;
  return `PT${h}H${m}M${s}S`;
}

export function sessionStatement(c: BridgeContext, verb: 'initialized' | 'resumed', sessionId: string, at: Date): Record<string, unknown> {
  return base(c, verb, at, sessionId);
}

/** What a commit changed, as statements: status and score transitions, new interaction results, termination. */
export function commitStatements(c: BridgeContext, input: {
  readonly sessionId: string;
  readonly previous: ScoResult | undefined;
  readonly current: ScoResult;
  readonly previousInteractions: ReadonlySet<string>;
  readonly interactions: readonly Interaction[];
  readonly terminated: boolean;
  readonly at: Date;
}): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const { previous: p, current: r, at } = input;
  const result = resultOf(r);
  for (const i of input.interactions) {
    const key = interactionKey(i);
    if (!i.id || input.previousInteractions.has(key)) continue;
    out.push(answered(c, i, at));
  }
  // Ids name the session as well as the transition: a 2004 SCO that starts a new learner
  // attempt within the same course attempt completes (or scores the same) again, and the LRS
  // would refuse a different statement under the first one's id.
  const session = input.sessionId;
  if (r.scoreScaled !== null && (p?.scoreScaled ?? null) !== r.scoreScaled || r.scoreRaw !== null && (p?.scoreRaw ?? null) !== r.scoreRaw) {
    out.push({ ...base(c, 'scored', at, `${session}:${r.scoreRaw}/${r.scoreScaled}`), result: { score: (resultOf({ ...r, success: 'unknown', completion: 'unknown' }) ?? {})['score'] } });
  }
  if (r.completion === 'completed' && p?.completion !== 'completed') out.push({ ...base(c, 'completed', at, `${session}:completed`), ...(result ? { result } : {}) });
  if (r.success !== 'unknown' && p?.success !== r.success) out.push({ ...base(c, r.success, at, `${session}:${r.success}`), ...(result ? { result } : {}) });
  if (input.terminated) {
    // The profile: "Session Time … can be stored as the result.duration property in a
    // terminated or suspended Statement."
    const ended = resultOf(r, r.sessionSeconds) ?? {};
    if (r.exit === 'suspend') out.push({ ...base(c, 'suspended', at, session), result: ended });
    out.push({ ...base(c, 'terminated', at, session), result: ended });
  }
  return out.map((s) => (s['result'] !== undefined && Object.keys(s['result'] as object).length === 0 ? (({ result: _r, ...rest }) => rest)(s) : s));
}

export function interactionKey(i: Pick<Interaction, 'index' | 'id' | 'result' | 'learnerResponse'>): string {
  return `${i.index}\u0000${i.id}\u0000${i.result}\u0000${i.learnerResponse}`;
}

const interactionTypes = new Set(['true-false', 'choice', 'fill-in', 'long-fill-in', 'matching', 'performance', 'sequencing', 'likert', 'numeric', 'other']);

function answered(c: BridgeContext, i: Interaction, at: Date): Record<string, unknown> {
  const sco = scoIri(c);
  const type = i.type === 'true-false' || interactionTypes.has(i.type) ? i.type : 'other';
  const definition: Record<string, unknown> = { type: types.interaction, interactionType: type };
  if (i.description) definition['description'] = { 'en-US': i.description };
  definition['name'] = { 'en-US': i.id };
  if (i.correctResponses.length > 0) definition['correctResponsesPattern'] = [...i.correctResponses];
  const statement = base(c, 'answered', at, `${i.index}/${i.id}/${i.result}/${i.learnerResponse}`);
  const context = statement['context'] as Record<string, Record<string, unknown>>;
  context['contextActivities']!['parent'] = [{ objectType: 'Activity', id: sco }];
  const result: Record<string, unknown> = { response: i.learnerResponse };
  if (i.result === 'correct') result['success'] = true;
  else if (i.result === 'incorrect' || i.result === 'wrong') result['success'] = false;
  else if (i.result !== '' && Number.isFinite(Number(i.result))) result['score'] = { raw: Number(i.result) };
  if (i.latency) {
    const d = /^P/.test(i.latency) ? i.latency : undefined;
    if (d) result['duration'] = d;
  }
  return {
    ...statement,
    object: { objectType: 'Activity', id: `${sco}/interactions/${encodeURIComponent(i.id)}`, definition },
    result,
  };
}
