import { AppError } from '../../errors/index.js';
import type { XapiVersion } from '../http.js';
import { ifiKey, parseAgentParameter } from '../validation/agent.js';
import { isAbsoluteIri, isUuid, parseTimestamp } from '../validation/primitives.js';
import type { DocumentKind } from './repository.js';

/**
 * Query parameters of the three document resources (xAPI 1.0.3 Part 3 §2.3, §2.6, §2.7; 2.0
 * §4.1.6.2, .5, .6). Which ones a request may carry depends on the resource, the method and
 * whether it addresses one document or the set; anything else is a 400 (Part 3 §3.2.s3.b7/b8).
 */
export type DocumentMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface ResourceSpec {
  readonly kind: DocumentKind;
  readonly path: string;
  /** Name of the parameter that carries the document id. */
  readonly idParameter: 'stateId' | 'profileId';
  readonly usesActivity: boolean;
  readonly usesAgent: boolean;
  readonly usesRegistration: boolean;
  /** Whether DELETE without the id parameter deletes the whole set (State only, §2.3.s5). */
  readonly deletesSet: boolean;
  /** Scope family: `state` or `profile` (Part 3 §4.2). */
  readonly permission: 'state' | 'profile';
}

export const resources: readonly ResourceSpec[] = [
  { kind: 'state', path: '/activities/state', idParameter: 'stateId', usesActivity: true, usesAgent: true, usesRegistration: true, deletesSet: true, permission: 'state' },
  { kind: 'activity_profile', path: '/activities/profile', idParameter: 'profileId', usesActivity: true, usesAgent: false, usesRegistration: false, deletesSet: false, permission: 'profile' },
  { kind: 'agent_profile', path: '/agents/profile', idParameter: 'profileId', usesActivity: false, usesAgent: true, usesRegistration: false, deletesSet: false, permission: 'profile' },
];

export interface DocumentParams {
  readonly activityId: string | null;
  readonly agentKey: string | null;
  /** The agent object as the client sent it (stored beside the key for exports and erasure). */
  readonly agent: Record<string, unknown> | null;
  /** Null when absent. */
  readonly registration: string | null;
  /** Undefined when the request addresses the set (list / delete-all). */
  readonly documentId: string | undefined;
  readonly since: Date | undefined;
}

function printable(value: string): string {
  return JSON.stringify(value.slice(0, 200));
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new AppError('bad_request', `The ${name} parameter was given ${value.length} times; give it once.`);
  if (typeof value !== 'string') throw new AppError('bad_request', `The ${name} parameter must be a plain string.`);
  return value;
}

function allowedParameters(spec: ResourceSpec, method: DocumentMethod, addressesSet: boolean): string[] {
  const names: string[] = [spec.idParameter];
  if (spec.usesActivity) names.push('activityId');
  if (spec.usesAgent) names.push('agent');
  if (spec.usesRegistration) names.push('registration');
  // `since` filters a list; it means nothing for one document or a write (Part 3 §2.3.s4).
  if (method === 'GET' && addressesSet) names.push('since');
  // @xapi/xapi's `useCacheBuster` appends `cachebuster=<time>` to GETs. The spec lets an LRS
  // recognize parameters of its own (Part 3 §3.2.s3.b7 note); this one is read and ignored.
  if (method === 'GET') names.push('cachebuster');
  return names;
}

/** Validates and decodes the query of a document request; throws 400 naming the parameter. */
export function parseDocumentParams(spec: ResourceSpec, method: DocumentMethod, query: Record<string, unknown>, version: XapiVersion): DocumentParams {
  const documentId = single(query, spec.idParameter);
  const addressesSet = documentId === undefined;
  const allowed = allowedParameters(spec, method, addressesSet);
  for (const name of Object.keys(query)) {
    if (allowed.includes(name)) continue;
    const sameButCase = allowed.find((a) => a.toLowerCase() === name.toLowerCase());
    if (sameButCase) throw new AppError('bad_request', `Unknown parameter ${name}; parameter names are case-sensitive (did you mean ${sameButCase}?).`);
    if (name === 'since') throw new AppError('bad_request', `The since parameter only applies when listing ids (GET without ${spec.idParameter}).`);
    throw new AppError('bad_request', `Unknown parameter ${name} for ${method} ${spec.path}; allowed: ${allowed.join(', ')}.`);
  }

  if (documentId === '') throw new AppError('bad_request', `The ${spec.idParameter} parameter must not be empty.`);
  if (addressesSet && (method === 'PUT' || method === 'POST')) throw new AppError('bad_request', `The ${spec.idParameter} parameter is required for ${method}.`);
  if (addressesSet && method === 'DELETE' && !spec.deletesSet) throw new AppError('bad_request', `The ${spec.idParameter} parameter is required for DELETE ${spec.path}.`);

  let activityId: string | null = null;
  if (spec.usesActivity) {
    const value = single(query, 'activityId');
    if (value === undefined || value === '') throw new AppError('bad_request', 'The activityId parameter is required (an absolute IRI).');
    if (!isAbsoluteIri(value)) throw new AppError('bad_request', `The activityId parameter must be an absolute IRI (with a scheme); got ${printable(value)}.`);
    activityId = value;
  }

  let agentKey: string | null = null;
  let agent: Record<string, unknown> | null = null;
  if (spec.usesAgent) {
    // xAPI 2.0 lets the agent be an Identified Group; 1.0.3 wants an Agent object and suggests
    // putting a group's IFI in one (Part 3 §2.6 note) — which yields the same key here.
    const actor = parseAgentParameter(single(query, 'agent'), 'agent', { allowGroup: version === '2.0.0' });
    const key = ifiKey(actor);
    if (key === undefined) throw new AppError('bad_request', 'Invalid agent parameter: an anonymous Group has no identifier; use an Agent or an Identified Group.');
    agentKey = key;
    agent = actor as unknown as Record<string, unknown>;
  }

  let registration: string | null = null;
  if (spec.usesRegistration) {
    const value = single(query, 'registration');
    if (value !== undefined) {
      if (!isUuid(value)) throw new AppError('bad_request', `The registration parameter must be a UUID; got ${printable(value)}.`);
      registration = value.toLowerCase();
    }
  }

  let since: Date | undefined;
  const sinceText = single(query, 'since');
  if (sinceText !== undefined) {
    since = parseTimestamp(sinceText, version);
    if (!since) throw new AppError('bad_request', `The since parameter must be an ISO 8601 timestamp with a time zone; got ${printable(sinceText)}.`);
  }

  return { activityId, agentKey, agent, registration, documentId, since };
}

/** True when a Content-Type names JSON (`application/json`, any parameters, any case). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}
