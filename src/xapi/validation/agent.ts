import { AppError } from '../../errors/index.js';
import { isAbsoluteIri, isIrl, isPlainObject } from './primitives.js';

/** xAPI 1.0.3 Part 2 §2.4.2.3 Inverse Functional Identifiers. */
export const ifiProperties = ['mbox', 'mbox_sha1sum', 'openid', 'account'] as const;

export interface Account {
  homePage: string;
  name: string;
}

export interface Agent {
  objectType?: 'Agent';
  name?: string;
  mbox?: string;
  mbox_sha1sum?: string;
  openid?: string;
  account?: Account;
}

export interface Group {
  objectType: 'Group';
  name?: string;
  mbox?: string;
  mbox_sha1sum?: string;
  openid?: string;
  account?: Account;
  member?: Agent[];
}

export type Actor = Agent | Group;

/** A validation problem with the JSON path of the offending property. */
export class XapiValidationError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'XapiValidationError';
  }
}

const agentKeys = new Set(['objectType', 'name', 'mbox', 'mbox_sha1sum', 'openid', 'account']);
const groupKeys = new Set([...agentKeys, 'member']);

function fail(path: string, message: string): never {
  throw new XapiValidationError(path, message);
}

function checkIfi(value: Record<string, unknown>, path: string): number {
  let count = 0;
  for (const p of ifiProperties) {
    if (!(p in value)) continue;
    count++;
    const v = value[p];
    switch (p) {
      case 'mbox':
        if (typeof v !== 'string' || !/^mailto:[^\s@]+@[^\s@]+$/i.test(v)) fail(`${path}.mbox`, 'must be a mailto: IRI of an email address');
        break;
      case 'mbox_sha1sum':
        if (typeof v !== 'string' || !/^[0-9a-fA-F]{40}$/.test(v)) fail(`${path}.mbox_sha1sum`, 'must be the 40-hex-digit SHA-1 of a mailto IRI');
        break;
      case 'openid':
        if (!isAbsoluteIri(v)) fail(`${path}.openid`, 'must be an absolute URI');
        break;
      case 'account': {
        if (!isPlainObject(v)) fail(`${path}.account`, 'must be an object with homePage and name');
        for (const k of Object.keys(v)) if (k !== 'homePage' && k !== 'name') fail(`${path}.account.${k}`, 'is not allowed');
        if (!isIrl(v['homePage'])) fail(`${path}.account.homePage`, 'is required and must be an IRL');
        if (typeof v['name'] !== 'string') fail(`${path}.account.name`, 'is required and must be a string');
        break;
      }
    }
  }
  return count;
}

function checkCommon(value: Record<string, unknown>, path: string, allowed: Set<string>): void {
  for (const [k, v] of Object.entries(value)) {
    if (!allowed.has(k)) fail(`${path}.${k}`, 'is not an allowed property');
    if (v === null) fail(`${path}.${k}`, 'must not be null');
  }
  if ('name' in value && typeof value['name'] !== 'string') fail(`${path}.name`, 'must be a string');
}

/** Validates an Agent (exactly one IFI). */
export function validateAgent(value: unknown, path = 'agent'): Agent {
  if (!isPlainObject(value)) fail(path, 'must be an Agent object');
  checkCommon(value, path, agentKeys);
  if ('objectType' in value && value['objectType'] !== 'Agent') fail(`${path}.objectType`, 'must be "Agent"');
  const ifis = checkIfi(value, path);
  if (ifis !== 1) fail(path, `an Agent needs exactly one of mbox, mbox_sha1sum, openid, account (found ${ifis})`);
  return value as Agent;
}

/**
 * Validates an Agent or a Group: anonymous groups have members and no IFI, identified groups
 * one IFI and optional members; members are Agents only.
 */
export function validateActor(value: unknown, path = 'actor'): Actor {
  if (!isPlainObject(value)) fail(path, 'must be an Agent or Group object');
  if (value['objectType'] !== 'Group') return validateAgent(value, path);
  checkCommon(value, path, groupKeys);
  const ifis = checkIfi(value, path);
  if (ifis > 1) fail(path, 'a Group may have at most one IFI');
  if ('member' in value) {
    const members = value['member'];
    if (!Array.isArray(members)) fail(`${path}.member`, 'must be an array of Agents');
    members.forEach((m, i) => validateAgent(m, `${path}.member[${i}]`));
    if (ifis === 0 && members.length === 0) fail(`${path}.member`, 'an anonymous Group needs at least one member');
  } else if (ifis === 0) {
    fail(path, 'an anonymous Group (no IFI) needs a member list');
  }
  return value as unknown as Group;
}

/**
 * The canonical key of an actor's IFI, used for storage and matching. mbox domains are
 * case-insensitive, SHA-1 sums are compared in lower case. Anonymous groups have none.
 */
export function ifiKey(actor: Actor | Agent): string | undefined {
  if (actor.mbox !== undefined) {
    const at = actor.mbox.lastIndexOf('@');
    return `mbox:${'mailto:' + actor.mbox.slice(7, at)}${actor.mbox.slice(at).toLowerCase()}`;
  }
  if (actor.mbox_sha1sum !== undefined) return `mbox_sha1sum:${actor.mbox_sha1sum.toLowerCase()}`;
  if (actor.openid !== undefined) return `openid:${actor.openid}`;
  if (actor.account !== undefined) return `account:${JSON.stringify([actor.account.homePage, actor.account.name])}`;
  return undefined;
}

/**
 * Parses a JSON `agent` query parameter (documents, agents resource, statement queries) and
 * turns problems into a 400 naming the parameter.
 */
export function parseAgentParameter(text: unknown, parameter = 'agent', options: { allowGroup?: boolean } = {}): Actor {
  if (typeof text !== 'string' || text === '') throw new AppError('bad_request', `The ${parameter} parameter is required (a JSON Agent object).`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('bad_request', `The ${parameter} parameter is not valid JSON.`);
  }
  try {
    return options.allowGroup ? validateActor(value, parameter) : validateAgent(value, parameter);
  } catch (error) {
    if (error instanceof XapiValidationError) throw new AppError('bad_request', `Invalid ${parameter} parameter: ${error.message}`);
    throw error;
  }
}
