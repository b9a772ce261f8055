import { AppError } from '../../errors/index.js';
import type { XapiVersion } from '../http.js';
import { ifiKey, parseAgentParameter } from '../validation/agent.js';
import { isAbsoluteIri, isUuid, parseTimestamp } from '../validation/primitives.js';
import type { StatementFormat } from './format.js';

/** Parameters GET /statements accepts (1.0.3 Part 3 §2.1.3); `more` is Cairn's paging token. */
export const queryParameters = new Set([
  'statementId', 'voidedStatementId', 'agent', 'verb', 'activity', 'registration', 'related_activities', 'related_agents',
  'since', 'until', 'limit', 'format', 'attachments', 'ascending', 'more',
]);

export interface SingleRequest {
  readonly kind: 'single';
  readonly id: string;
  readonly voided: boolean;
  readonly format: StatementFormat;
  readonly attachments: boolean;
}

/** The filters of a statement query, as carried in a `more` token too. */
export interface QueryFilters {
  agentKey?: string;
  verbId?: string;
  activityId?: string;
  registration?: string;
  relatedAgents: boolean;
  relatedActivities: boolean;
  /** Inclusive lower bound on stored (ISO, ms): since + 1 ms. */
  storedFrom?: string;
  /** Exclusive upper bound requested by `until` (ISO, ms): until + 1 ms. */
  storedUntil?: string;
  limit: number;
  format: StatementFormat;
  attachments: boolean;
  ascending: boolean;
}

export interface ListRequest {
  readonly kind: 'list';
  readonly filters: QueryFilters;
  /** Continuation from a `more` link. */
  readonly page?: { readonly before: string; readonly after?: { stored: string; seq: string } | undefined };
}

function bool(name: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new AppError('bad_request', `The ${name} parameter must be true or false.`);
}

function format(value: string | undefined): StatementFormat {
  if (value === undefined) return 'exact';
  if (value === 'exact' || value === 'ids' || value === 'canonical') return value;
  throw new AppError('bad_request', 'The format parameter must be ids, exact or canonical.');
}

/**
 * Reads GET /statements parameters: unknown ones, repeated ones and bad values are a 400
 * naming the parameter (1.0.3 Part 3 §3.2: parameters not defined for the resource → 400).
 */
export function parseStatementQuery(raw: Record<string, unknown>, version: XapiVersion, pageMax: number): SingleRequest | ListRequest {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!queryParameters.has(name)) throw new AppError('bad_request', `${name} is not a parameter of the statements resource (names are case-sensitive).`);
    if (typeof value !== 'string') throw new AppError('bad_request', `The ${name} parameter must be given once.`);
    if (value.includes('\u0000') || /\\u0000/i.test(value)) throw new AppError('bad_request', `The ${name} parameter contains a NUL character.`);
    params[name] = value;
  }
  if (params['more'] !== undefined) {
    if (Object.keys(params).length > 1) throw new AppError('bad_request', 'A more link carries its own parameters; send it as given.');
    return decodeMore(params['more']);
  }
  const single = params['statementId'] ?? params['voidedStatementId'];
  if (single !== undefined) {
    if (params['statementId'] !== undefined && params['voidedStatementId'] !== undefined) throw new AppError('bad_request', 'Send statementId or voidedStatementId, not both.');
    const extra = Object.keys(params).filter((k) => !['statementId', 'voidedStatementId', 'format', 'attachments'].includes(k));
    if (extra.length > 0) throw new AppError('bad_request', `With statementId or voidedStatementId only format and attachments are allowed (got ${extra.join(', ')}).`);
    const name = params['statementId'] !== undefined ? 'statementId' : 'voidedStatementId';
    if (!isUuid(single)) throw new AppError('bad_request', `The ${name} parameter must be a UUID.`);
    return { kind: 'single', id: single.toLowerCase(), voided: name === 'voidedStatementId', format: format(params['format']), attachments: bool('attachments', params['attachments']) };
  }

  const filters: QueryFilters = {
    relatedAgents: bool('related_agents', params['related_agents']),
    relatedActivities: bool('related_activities', params['related_activities']),
    limit: pageMax,
    format: format(params['format']),
    attachments: bool('attachments', params['attachments']),
    ascending: bool('ascending', params['ascending']),
  };
  if (params['agent'] !== undefined) {
    const agent = parseAgentParameter(params['agent'], 'agent', { allowGroup: true });
    const key = ifiKey(agent);
    if (!key) throw new AppError('bad_request', 'The agent parameter must identify an Agent or an identified Group (anonymous Groups cannot be queried).');
    filters.agentKey = key;
  }
  if (params['verb'] !== undefined) {
    if (!isAbsoluteIri(params['verb'])) throw new AppError('bad_request', 'The verb parameter must be an absolute IRI.');
    filters.verbId = params['verb'];
  }
  if (params['activity'] !== undefined) {
    if (!isAbsoluteIri(params['activity'])) throw new AppError('bad_request', 'The activity parameter must be an absolute IRI.');
    filters.activityId = params['activity'];
  }
  if (params['registration'] !== undefined) {
    if (!isUuid(params['registration'])) throw new AppError('bad_request', 'The registration parameter must be a UUID.');
    filters.registration = params['registration'].toLowerCase();
  }
  // `stored` is shown in milliseconds, so bounds are applied at that precision:
  // since is exclusive (stored > since), until inclusive (stored <= until).
  if (params['since'] !== undefined) {
    const since = parseTimestamp(params['since'], version) ?? parseTimestamp(params['since'], '2.0.0');
    if (!since) throw new AppError('bad_request', 'The since parameter must be an ISO 8601 timestamp with a time zone.');
    filters.storedFrom = new Date(Math.floor(since.getTime()) + 1).toISOString();
  }
  if (params['until'] !== undefined) {
    const until = parseTimestamp(params['until'], version) ?? parseTimestamp(params['until'], '2.0.0');
    if (!until) throw new AppError('bad_request', 'The until parameter must be an ISO 8601 timestamp with a time zone.');
    filters.storedUntil = new Date(until.getTime() + 1).toISOString();
  }
  if (params['limit'] !== undefined) {
    if (!/^\d+$/.test(params['limit'])) throw new AppError('bad_request', 'The limit parameter must be a non-negative integer.');
    const limit = Number(params['limit']);
    filters.limit = limit === 0 ? pageMax : Math.min(limit, pageMax);
  }
  return { kind: 'list', filters };
}

/** `more` tokens: the filters and the keyset position, base64url JSON. */
export function encodeMore(filters: QueryFilters, before: string, after: { stored: string; seq: string }): string {
  return Buffer.from(JSON.stringify({ f: filters, b: before, a: [after.stored, after.seq] })).toString('base64url');
}

function decodeMore(token: string): ListRequest {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { f: QueryFilters; b: string; a: [string, string] };
    const f = value.f;
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
    if (
      typeof f === 'object' && f !== null && typeof value.b === 'string' && iso.test(value.b) && Array.isArray(value.a)
      && typeof value.a[0] === 'string' && iso.test(value.a[0]) && typeof value.a[1] === 'string' && /^\d{1,19}$/.test(value.a[1])
      && typeof f.limit === 'number' && Number.isInteger(f.limit) && f.limit > 0
      && ['exact', 'ids', 'canonical'].includes(f.format)
      && (f.storedFrom === undefined || iso.test(f.storedFrom))
      && (f.storedUntil === undefined || iso.test(f.storedUntil))
      && [f.agentKey, f.verbId, f.activityId].every((v) => v === undefined || typeof v === 'string')
      && (f.registration === undefined || isUuid(f.registration))
    ) {
      return { kind: 'list', filters: { ...f, relatedAgents: f.relatedAgents === true, relatedActivities: f.relatedActivities === true, attachments: f.attachments === true, ascending: f.ascending === true }, page: { before: value.b, after: { stored: value.a[0], seq: value.a[1] } } };
    }
  } catch {
    // fall through
  }
  throw new AppError('bad_request', 'The more parameter is not a link this LRS produced.');
}
