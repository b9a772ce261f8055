import { ifiKey, type Actor } from '../validation/agent.js';
import { parseTimestamp } from '../validation/primitives.js';

type Json = Record<string, unknown>;

/**
 * xAPI 1.0.3 Part 2 §2.3.1 "Statement Comparison Requirements": two statements are the same
 * when they differ only where Statement Immutability allows — properties the LRS assigns
 * (`id`, `authority`, `stored`, `timestamp` when one side lacks it, `version`), Activity
 * definitions and Verb `display`, timestamp serialization (instants are compared), the order
 * of Group members, attachments, and case in case-insensitive values (language tags, UUIDs,
 * hex hashes, mbox domains). Used for id conflicts (same id → no-op if equivalent, else 409)
 * and for signed statements (JWS payload vs statement).
 */
export function statementsEquivalent(a: Json, b: Json): boolean {
  const left = comparable(a, true);
  const right = comparable(b, true);
  // A timestamp only one side carries was (or will be) assigned by the LRS.
  if (left['timestamp'] === undefined || right['timestamp'] === undefined) {
    delete left['timestamp'];
    delete right['timestamp'];
  }
  return canonicalJson(left) === canonicalJson(right);
}

const lrsAssigned = ['id', 'authority', 'stored', 'version', 'attachments'];

function comparable(statement: Json, top: boolean): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(statement)) {
    if (top && lrsAssigned.includes(key)) continue;
    if (!top && key === 'attachments') continue;
    switch (key) {
      case 'actor': out[key] = actorComparable(value); break;
      case 'verb': out[key] = { id: (value as Json)['id'] }; break;
      case 'object': out[key] = objectComparable(value as Json); break;
      case 'context': out[key] = contextComparable(value as Json); break;
      case 'timestamp': out[key] = instant(value); break;
      case 'result': out[key] = resultComparable(value as Json); break;
      default: out[key] = value;
    }
  }
  return out;
}

function instant(value: unknown): unknown {
  const date = parseTimestamp(value, '2.0.0') ?? parseTimestamp(value, '1.0.3');
  return date ? date.getTime() : value;
}

function actorComparable(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  const actor = value as Json;
  const out: Json = { objectType: actor['objectType'] ?? 'Agent' };
  const key = ifiKey(actor as unknown as Actor);
  if (key) out['ifi'] = key;
  if (actor['name'] !== undefined) out['name'] = actor['name'];
  if (Array.isArray(actor['member'])) {
    out['member'] = (actor['member'] as unknown[]).map((m) => canonicalJson(actorComparable(m))).sort();
  }
  return out;
}

function activityComparable(value: Json): Json {
  return { objectType: 'Activity', id: value['id'] };
}

function objectComparable(object: Json): unknown {
  switch (object['objectType'] ?? 'Activity') {
    case 'Activity': return activityComparable(object);
    case 'Agent':
    case 'Group': return actorComparable(object);
    case 'StatementRef': return { objectType: 'StatementRef', id: String(object['id']).toLowerCase() };
    case 'SubStatement': return { ...comparable(object, false), objectType: 'SubStatement' };
    default: return object;
  }
}

function contextComparable(context: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(context)) {
    switch (key) {
      case 'registration': out[key] = String(value).toLowerCase(); break;
      case 'instructor':
      case 'team': out[key] = actorComparable(value); break;
      case 'language': out[key] = String(value).toLowerCase(); break;
      case 'statement': out[key] = { objectType: 'StatementRef', id: String((value as Json)['id']).toLowerCase() }; break;
      case 'contextActivities': {
        const lists: Json = {};
        for (const [name, list] of Object.entries(value as Json)) {
          // A single Activity and a one-element array mean the same.
          lists[name] = (Array.isArray(list) ? list : [list]).map((a) => activityComparable(a as Json));
        }
        out[key] = lists;
        break;
      }
      case 'contextAgents':
        out[key] = (value as Json[]).map((e) => ({ ...e, agent: actorComparable(e['agent']) }));
        break;
      case 'contextGroups':
        out[key] = (value as Json[]).map((e) => ({ ...e, group: actorComparable(e['group']) }));
        break;
      default: out[key] = value;
    }
  }
  return out;
}

function resultComparable(result: Json): Json {
  const out: Json = { ...result };
  // Durations beyond 0.01 s precision may be truncated by an LRS (2.0); compare at that precision.
  if (typeof out['duration'] === 'string') out['duration'] = out['duration'].replace(/(\.\d{2})\d+S/, '$1S');
  return out;
}

/** JSON with object keys sorted, for structural comparison. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Json).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
