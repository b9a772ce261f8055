import { createHash } from 'node:crypto';
import { ifiKey, ifiProperties, type Actor } from '../validation/agent.js';
import { voidedVerb, type Statement } from '../validation/statement.js';

/**
 * What the LRS indexes about one statement (see the migration): the columns of
 * xapi_statements and the rows of the agent and activity relation tables.
 *
 * "Direct" follows 1.0.3 Part 3 §2.1.3: `agent` matches the actor or the object (an
 * identified Group, or an Agent among a Group's members, counts as that Group's role);
 * `activity` matches the object. With `related_agents` / `related_activities` the rest
 * counts too: context instructor/team, 2.0 contextAgents/contextGroups, authority, context
 * activities, and everything inside a SubStatement.
 */
export interface StatementRelations {
  readonly verbId: string;
  readonly actorKey: string | null;
  readonly objectKind: 'Activity' | 'Agent' | 'Group' | 'StatementRef' | 'SubStatement';
  readonly objectId: string | null;
  readonly registration: string | null;
  /** The statement this one voids, when it is a voiding statement. */
  readonly voids: string | null;
  /** agent key → direct */
  readonly agents: Map<string, boolean>;
  /** activity IRI → direct */
  readonly activities: Map<string, boolean>;
  /** Activity definitions the statement carries, by activity IRI. */
  readonly definitions: Map<string, Record<string, unknown>>;
  /** Identities with the names used for them, for the agents resource. */
  readonly identities: Map<string, { ifi: Record<string, unknown>; names: Set<string> }>;
}

type Json = Record<string, unknown>;

/**
 * The value stored in an indexed key column for an IRI or IFI key. A btree entry must stay
 * under ~2.7 KB, and account names, mbox addresses and IRIs can be longer (in UTF-8), so a
 * key over 512 bytes is replaced by its SHA-256. Queries apply the same function, so equality
 * is unchanged.
 */
export function indexKey(key: string): string;
export function indexKey(key: string | null): string | null;
export function indexKey(key: string | null): string | null {
  if (key === null || key.length <= 128 || Buffer.byteLength(key) <= 512) return key;
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

export function statementRelations(statement: Statement): StatementRelations {
  const agents = new Map<string, boolean>();
  const activities = new Map<string, boolean>();
  const definitions = new Map<string, Json>();
  const identities = new Map<string, { ifi: Json; names: Set<string> }>();

  const addAgent = (value: unknown, direct: boolean) => {
    if (!value || typeof value !== 'object') return;
    const actor = value as Actor & Json;
    const key = ifiKey(actor);
    if (key) {
      agents.set(key, direct || agents.get(key) === true);
      let identity = identities.get(key);
      if (!identity) {
        const ifi: Json = {};
        for (const p of ifiProperties) if (actor[p] !== undefined) ifi[p] = actor[p];
        identity = { ifi, names: new Set() };
        identities.set(key, identity);
      }
      if (typeof actor.name === 'string') identity.names.add(actor.name);
    }
    if (actor.objectType === 'Group' && Array.isArray(actor['member'])) {
      for (const member of actor['member']) addAgent(member, direct);
    }
  };
  const addActivity = (value: unknown, direct: boolean) => {
    if (!value || typeof value !== 'object') return;
    const activity = value as Json;
    const id = activity['id'] as string;
    activities.set(id, direct || activities.get(id) === true);
    const definition = activity['definition'];
    if (definition && typeof definition === 'object' && Object.keys(definition).length > 0) {
      definitions.set(id, mergeDefinition(definitions.get(id), definition as Json));
    }
  };
  const addContext = (context: unknown) => {
    if (!context || typeof context !== 'object') return;
    const c = context as Json;
    addAgent(c['instructor'], false);
    addAgent(c['team'], false);
    for (const entry of (c['contextAgents'] as Json[] | undefined) ?? []) addAgent(entry['agent'], false);
    for (const entry of (c['contextGroups'] as Json[] | undefined) ?? []) addAgent(entry['group'], false);
    const lists = c['contextActivities'] as Json | undefined;
    if (lists) {
      for (const list of Object.values(lists)) {
        for (const activity of Array.isArray(list) ? list : [list]) addActivity(activity, false);
      }
    }
  };

  addAgent(statement.actor, true);
  const object = statement.object;
  const kind = (object['objectType'] as StatementRelations['objectKind'] | undefined) ?? 'Activity';
  let objectId: string | null = null;
  switch (kind) {
    case 'Activity':
      addActivity(object, true);
      objectId = object['id'] as string;
      break;
    case 'Agent':
    case 'Group':
      addAgent(object, true);
      objectId = ifiKey(object as Actor) ?? null;
      break;
    case 'StatementRef':
      objectId = (object['id'] as string).toLowerCase();
      break;
    case 'SubStatement': {
      addAgent(object['actor'], false);
      const inner = object['object'] as Json;
      const innerKind = inner['objectType'] ?? 'Activity';
      if (innerKind === 'Activity') addActivity(inner, false);
      else if (innerKind === 'Agent' || innerKind === 'Group') addAgent(inner, false);
      addContext(object['context']);
      break;
    }
  }
  addContext(statement['context']);
  addAgent(statement['authority'], false);

  const context = statement['context'] as Json | undefined;
  const registration = typeof context?.['registration'] === 'string' ? context['registration'].toLowerCase() : null;
  return {
    verbId: statement.verb.id,
    actorKey: ifiKey(statement.actor as Actor) ?? null,
    objectKind: kind,
    objectId,
    registration,
    voids: statement.verb.id === voidedVerb && kind === 'StatementRef' ? objectId : null,
    agents,
    activities,
    definitions,
    identities,
  };
}

/**
 * Two definitions of one Activity in a batch, merged as the database merges a trusted
 * update (xapi_merge_definition): top-level properties replaced, the name and description
 * language maps merged per language tag (xAPI 2.0 4.1.6.4, ADL suite XAPI-00254).
 */
export function mergeDefinition(old: Record<string, unknown> | undefined, next: Record<string, unknown>): Record<string, unknown> {
  if (old === undefined) return next;
  const merged: Record<string, unknown> = { ...old, ...next };
  for (const key of ['name', 'description']) {
    const a = old[key], b = next[key];
    if (a !== null && typeof a === 'object' && !Array.isArray(a) && b !== null && typeof b === 'object' && !Array.isArray(b)) merged[key] = { ...a, ...b };
  }
  return merged;
}
