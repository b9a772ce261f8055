import { randomUUID } from 'node:crypto';
import { withTransaction } from '../../../db/index.js';
import type { JobDefinition, JobQueue } from '../../../jobs/index.js';
import { agsScopes, excerpt, mediaTypes, nextLink, ServiceCallError, ServiceHttp, type ServiceCallDeps, type ServiceTarget } from './service-client.js';
import * as repo from './repository.js';

export const agsScoreQueue = 'lti-ags-score';

export interface DeliveryDeps extends ServiceCallDeps {
  /** The queue, for scheduling the next attempt (built after the job definitions). */
  readonly jobs: () => JobQueue | undefined;
}

/** Delay before attempt `n + 1` after `n` failed ones: the base doubling each time, capped at an hour, with ±10% jitter. */
export function retryDelaySeconds(baseSeconds: number, failedAttempts: number, random: number = Math.random()): number {
  const plain = Math.min(baseSeconds * 2 ** Math.max(0, failedAttempts - 1), 3600);
  return Math.max(1, Math.round(plain * (0.9 + 0.2 * random)));
}

/** The scopes a link's score delivery asks for: those of its AGS claim that AGS delivery uses (one token serves every learner of a platform). */
function deliveryScopes(scopes: readonly string[]): string[] {
  const wanted: string[] = [agsScopes.score, agsScopes.lineItem, agsScopes.lineItemReadonly];
  return scopes.filter((s) => wanted.includes(s));
}

/** `<line item URL>/scores`, keeping any query string the platform put on the line item URL (AGS 2.0 §3.4). */
export function scoresUrl(lineItemUrl: string): string {
  const url = new URL(lineItemUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/scores`;
  return url.toString();
}

interface LineItemJson {
  id?: unknown;
  resourceLinkId?: unknown;
  resourceId?: unknown;
  tag?: unknown;
}

/**
 * Sends calls for one delivery with the right token, refreshing it once when the platform
 * answers 401 (it may have revoked or forgotten it).
 */
class AuthorizedCalls {
  constructor(private readonly deps: DeliveryDeps, private readonly target: ServiceTarget, private readonly scopes: readonly string[]) {}

  async call(stage: 'line_item' | 'score', url: string, init: { method: 'GET' | 'POST'; accept: string; contentType?: string; body?: string }) {
    let refreshed = false;
    for (;;) {
      const token = await this.deps.tokens.token(this.target, this.scopes);
      const response = await this.deps.http.request(stage, url, {
        method: init.method, body: init.body as string,
        headers: { authorization: `Bearer ${token}`, accept: init.accept, ...(init.contentType ? { 'content-type': init.contentType } : {}) },
      });
      if (response.status === 401 && !refreshed) {
        this.deps.tokens.forget(this.target, this.scopes);
        refreshed = true;
        continue;
      }
      return response;
    }
  }
}

/**
 * The platform line item for a resource link: the one its launch named (`lineitem`), the one
 * found or created before, else discovered in the `lineitems` container (by resource link id,
 * then by Cairn's resource id and tag) or created there (AGS 2.0 §3.2). Under a lock per link,
 * so learners finishing together do not create one column each.
 */
async function resolveLineItem(deps: DeliveryDeps, target: repo.PassbackTarget, row: repo.AgsScoreRow, calls: AuthorizedCalls): Promise<string> {
  const ags = target.link.ags!;
  if (typeof ags.lineitem === 'string' && ags.lineitem !== '') return ags.lineitem;
  if (target.link.line_item_url) return target.link.line_item_url;
  if (typeof ags.lineitems !== 'string' || ags.lineitems === '') {
    throw new ServiceCallError('The launch carried neither a line item nor a line items endpoint, so there is nowhere to post the score.', { retryable: false, stage: 'configuration' });
  }
  const containerUrl = ags.lineitems;
  const facts = await repo.findLineItemFacts(deps.db, row.line_item_id);
  const resourceId = facts?.course_item_id ?? row.line_item_id;
  const tag = facts?.tag ?? 'cairn';
  // Held across the platform calls on purpose: they are bounded by timeouts, and the lock is
  // what keeps a class finishing at once from creating thirty gradebook columns.
  return withTransaction(deps.db, async (tx) => {
    const known = await repo.lockResourceLink(tx, target.link.id);
    if (known) return known;
    const now = deps.clock.now();
    // Every page of the container filtered by `filter`; the first item `matches` accepts.
    const search = async (filter: Record<string, string>, matches: (item: LineItemJson) => boolean): Promise<string | undefined> => {
      const first = new URL(containerUrl);
      for (const [k, v] of Object.entries(filter)) first.searchParams.set(k, v);
      let url: string | undefined = first.toString();
      const seen = new Set<string>();
      for (let page = 0; url && page < 50 && !seen.has(url); page++) {
        seen.add(url);
        const response = await calls.call('line_item', url, { method: 'GET', accept: mediaTypes.lineItemContainer });
        if (response.status !== 200) throw ServiceHttp.failure('line_item', 'The platform\'s line items endpoint', response, now.getTime());
        const items = response.json<unknown>();
        if (!Array.isArray(items)) throw new ServiceCallError('The platform\'s line items endpoint did not answer with an array.', { status: 200, body: excerpt(response.text), retryable: false, stage: 'line_item' });
        const found = (items as LineItemJson[]).find((item) => typeof item?.id === 'string' && matches(item));
        if (found) return found.id as string;
        url = nextLink(response.headers.get('link'), url);
      }
      return undefined;
    };
    // The column bound to this link; else one Cairn made for this item (resourceId and tag) that
    // no other link owns — platforms that ignore the filters answer everything, hence the checks.
    const found = await search({ resource_link_id: target.link.resource_link_id }, (item) => item.resourceLinkId === target.link.resource_link_id)
      ?? await search({ resource_id: resourceId, tag }, (item) => item.resourceId === resourceId && item.tag === tag
        && (item.resourceLinkId === undefined || item.resourceLinkId === target.link.resource_link_id));
    if (found) {
      await repo.setResourceLinkLineItem(tx, target.link.id, found, now);
      return found;
    }
    if (!ags.scope.includes(agsScopes.lineItem)) {
      throw new ServiceCallError('The platform has no line item for this link and did not grant Cairn the scope to create one.', { retryable: false, stage: 'line_item' });
    }
    const body = {
      scoreMaximum: Number(facts?.score_maximum ?? row.score.scoreMaximum ?? 100),
      label: facts?.label ?? 'Cairn activity',
      resourceId, tag, resourceLinkId: target.link.resource_link_id,
    };
    const response = await calls.call('line_item', containerUrl, { method: 'POST', accept: mediaTypes.lineItem, contentType: mediaTypes.lineItem, body: JSON.stringify(body) });
    if (response.status !== 200 && response.status !== 201) throw ServiceHttp.failure('line_item', 'Creating the line item', response, now.getTime());
    const created = response.json<LineItemJson>();
    if (typeof created.id !== 'string') throw new ServiceCallError('The platform created a line item but did not say its id.', { status: response.status, body: excerpt(response.text), retryable: false, stage: 'line_item' });
    await repo.setResourceLinkLineItem(tx, target.link.id, created.id, now);
    deps.log.info({ resourceLink: target.link.id, lineItem: created.id }, 'LTI AGS line item created');
    return created.id;
  });
}

export type DeliveryOutcome = 'sent' | 'failed' | 'retry' | 'skipped';

/**
 * One delivery attempt of a passback row by the job that owns it: token → line item → score
 * POST. A refusal (4xx other than 401/429) is final; a 401 refreshes the token once; network
 * failures, 5xx and 429 are tried again by a new job scheduled with exponential backoff, until
 * CAIRN_LTI_SCORE_MAX_ATTEMPTS. A newer score that arrives meanwhile is sent by the same job.
 */
export async function deliverScore(deps: DeliveryDeps, id: string, jobId: string): Promise<DeliveryOutcome> {
  for (let round = 0; round < 5; round++) {
    const row = await repo.findPassback(deps.db, id);
    if (!row || row.job_id !== jobId || row.status !== 'pending') return 'skipped';
    const attempt = row.attempts + 1;
    if (!(await repo.recordAttempt(deps.db, id, jobId, attempt, deps.clock.now()))) return 'skipped';
    const target = await repo.findPassbackTarget(deps.db, row.resource_link_ref);
    let lineItemUrl: string | null = null;
    try {
      if (!target || !target.link.ags) throw new ServiceCallError('The resource link or its platform registration no longer exists.', { retryable: false, stage: 'configuration' });
      if (target.platform.status !== 'active') throw new ServiceCallError('The platform registration is disabled.', { retryable: false, stage: 'configuration' });
      const service: ServiceTarget = { platform: target.platform, client: target.client };
      const calls = new AuthorizedCalls(deps, service, deliveryScopes(target.link.ags.scope));
      lineItemUrl = await resolveLineItem(deps, target, row, calls);
      const response = await calls.call('score', scoresUrl(lineItemUrl), { method: 'POST', accept: 'application/json', contentType: mediaTypes.score, body: JSON.stringify(row.score) });
      if (response.status < 200 || response.status >= 300) throw ServiceHttp.failure('score', 'The platform\'s scores endpoint', response, deps.clock.now().getTime());
      if (await repo.markSent(deps.db, id, jobId, row.generation, { status: response.status, response: excerpt(response.text), lineItemUrl }, deps.clock.now())) {
        deps.log.info({ passback: id, status: response.status, attempt }, 'LTI AGS score sent');
        return 'sent';
      }
      // A newer score arrived while this one travelled: send that one now.
      continue;
    } catch (caught) {
      if (!(caught instanceof ServiceCallError)) throw caught;
      let error = caught;
      // A line item Cairn found or created earlier and the platform has since deleted: forget it,
      // so the next attempt finds or creates the current one instead of failing for good.
      if (target && lineItemUrl && lineItemUrl === target.link.line_item_url && error.options.stage === 'score' && (error.status === 404 || error.status === 410)) {
        await repo.forgetResourceLinkLineItem(deps.db, target.link.id, lineItemUrl, deps.clock.now());
        error = new ServiceCallError(`${error.message}; the line item is gone, Cairn will look for it again`, { ...error.options, retryable: true });
      }
      return settleFailure(deps, row, jobId, attempt, error, lineItemUrl);
    }
  }
  return 'skipped';
}

async function settleFailure(deps: DeliveryDeps, row: repo.AgsScoreRow, jobId: string, attempt: number, error: ServiceCallError, lineItemUrl: string | null): Promise<DeliveryOutcome> {
  const now = deps.clock.now();
  const fields = { status: error.status ?? null, response: error.body ?? null, error: error.message };
  const jobs = deps.jobs();
  if (!error.retryable || attempt >= deps.config.scoreMaxAttempts || !jobs) {
    await repo.markFailed(deps.db, row.id, jobId, { ...fields, lineItemUrl }, now);
    deps.log.warn({ passback: row.id, status: error.status, stage: error.options.stage, attempt, final: true, err: error.message }, 'LTI AGS score refused or undeliverable');
    return 'failed';
  }
  const delay = error.options.retryAfterSeconds !== undefined
    ? Math.ceil(error.options.retryAfterSeconds)
    : retryDelaySeconds(deps.config.serviceRetrySeconds, attempt);
  const nextJobId = randomUUID();
  if (!(await repo.scheduleRetry(deps.db, row.id, jobId, nextJobId, { ...fields, at: new Date(now.getTime() + delay * 1000) }, now))) return 'skipped';
  try {
    await jobs.send(agsScoreQueue, { id: row.id }, { id: nextJobId, startAfter: delay });
  } catch (sendError) {
    // The sweeper finds the row (its job never appears) and dispatches it again.
    deps.log.error({ err: sendError, passback: row.id }, 'could not schedule the next AGS attempt');
  }
  deps.log.info({ passback: row.id, status: error.status, stage: error.options.stage, attempt, retryInSeconds: delay }, 'LTI AGS score delivery failed; retrying');
  return 'retry';
}

export function agsScoreJob(deps: DeliveryDeps): JobDefinition<{ id: string }> {
  return {
    name: agsScoreQueue,
    // Expected failures are handled (and rescheduled) by the handler; pg-boss retries only
    // what escaped it, such as a database hiccup.
    retryLimit: 2,
    retryDelaySeconds: deps.config.serviceRetrySeconds,
    expireInSeconds: 5 * 60,
    concurrency: 2,
    async handle(data, meta) {
      return { outcome: await deliverScore(deps, data.id, meta.id) };
    },
  };
}
