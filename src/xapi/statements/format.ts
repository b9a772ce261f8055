import { ifiProperties } from '../validation/agent.js';

type Json = Record<string, unknown>;

/**
 * Statement formats of GET /statements (1.0.3 Part 3 §2.1.3, `format`):
 * - `exact`: as stored;
 * - `ids`: Agents and Groups reduced to their IFI (anonymous Groups to their members'),
 *   Activities to `{id}` (objectType "Activity" is the default, so not needed to identify one),
 *   Verbs to `{id}`;
 * - `canonical`: Activities carry the LRS's canonical definition, and every language map is
 *   reduced to the one language that best fits Accept-Language.
 */
export type StatementFormat = 'exact' | 'ids' | 'canonical';

function idsActor(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  const actor = value as Json;
  const out: Json = {};
  if (actor['objectType'] !== undefined) out['objectType'] = actor['objectType'];
  let identified = false;
  for (const p of ifiProperties) {
    if (actor[p] !== undefined) {
      out[p] = actor[p];
      identified = true;
    }
  }
  if (!identified && Array.isArray(actor['member'])) out['member'] = (actor['member'] as unknown[]).map(idsActor);
  return out;
}

function idsActivity(value: unknown): Json {
  return { id: (value as Json)['id'] };
}

function idsObject(object: Json): Json {
  switch (object['objectType'] ?? 'Activity') {
    case 'Activity': return idsActivity(object);
    case 'Agent':
    case 'Group': return idsActor(object) as Json;
    case 'SubStatement': return idsStatement(object);
    default: return object;
  }
}

function idsContext(context: Json): Json {
  const out: Json = { ...context };
  if (context['instructor'] !== undefined) out['instructor'] = idsActor(context['instructor']);
  if (context['team'] !== undefined) out['team'] = idsActor(context['team']);
  if (Array.isArray(context['contextAgents'])) out['contextAgents'] = (context['contextAgents'] as Json[]).map((e) => ({ ...e, agent: idsActor(e['agent']) }));
  if (Array.isArray(context['contextGroups'])) out['contextGroups'] = (context['contextGroups'] as Json[]).map((e) => ({ ...e, group: idsActor(e['group']) }));
  const lists = context['contextActivities'] as Json | undefined;
  if (lists) {
    const mapped: Json = {};
    for (const [k, list] of Object.entries(lists)) mapped[k] = (Array.isArray(list) ? list : [list]).map(idsActivity);
    out['contextActivities'] = mapped;
  }
  return out;
}

export function idsStatement(statement: Json): Json {
  const out: Json = { ...statement };
  out['actor'] = idsActor(statement['actor']);
  out['verb'] = { id: (statement['verb'] as Json)['id'] };
  out['object'] = idsObject(statement['object'] as Json);
  if (statement['context']) out['context'] = idsContext(statement['context'] as Json);
  if (statement['authority']) out['authority'] = idsActor(statement['authority']);
  return out;
}

/** Accept-Language as tags in order of preference (RFC 9110 §12.5.4). */
export function parseAcceptLanguage(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(',')
    .map((item, index) => {
      const [tag, ...params] = item.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: (tag ?? '').trim().toLowerCase(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((e) => e.tag !== '' && e.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((e) => e.tag);
}

/** The one entry of a language map that best fits the preferences (exact, then prefix, then any). */
export function pickLanguage(map: Json, preferences: readonly string[]): Json {
  const keys = Object.keys(map);
  if (keys.length <= 1) return map;
  const lower = keys.map((k) => k.toLowerCase());
  for (const wanted of preferences) {
    if (wanted === '*') break;
    let i = lower.indexOf(wanted);
    if (i < 0) i = lower.findIndex((k) => k.startsWith(`${wanted}-`) || wanted.startsWith(`${k}-`));
    if (i >= 0) return { [keys[i]!]: map[keys[i]!] };
  }
  const fallback = lower.indexOf('und') >= 0 ? lower.indexOf('und') : lower.findIndex((k) => k.startsWith('en')) >= 0 ? lower.findIndex((k) => k.startsWith('en')) : 0;
  return { [keys[fallback]!]: map[keys[fallback]!] };
}

function canonicalDefinition(definition: Json, preferences: readonly string[]): Json {
  const out: Json = { ...definition };
  for (const k of ['name', 'description']) if (definition[k]) out[k] = pickLanguage(definition[k] as Json, preferences);
  for (const k of ['choices', 'scale', 'source', 'target', 'steps']) {
    if (Array.isArray(definition[k])) {
      out[k] = (definition[k] as Json[]).map((c) => (c['description'] ? { ...c, description: pickLanguage(c['description'] as Json, preferences) } : c));
    }
  }
  return out;
}

/** Collects every Activity id a statement mentions (canonical format looks them up). */
export function activityIds(statement: Json, into: Set<string> = new Set()): Set<string> {
  const object = statement['object'] as Json;
  const kind = object['objectType'] ?? 'Activity';
  if (kind === 'Activity') into.add(object['id'] as string);
  if (kind === 'SubStatement') activityIds(object, into);
  const lists = (statement['context'] as Json | undefined)?.['contextActivities'] as Json | undefined;
  if (lists) for (const list of Object.values(lists)) for (const a of Array.isArray(list) ? list : [list]) into.add((a as Json)['id'] as string);
  return into;
}

export function canonicalStatement(statement: Json, definitions: ReadonlyMap<string, Json>, preferences: readonly string[]): Json {
  const activity = (value: Json): Json => {
    const definition = definitions.get(value['id'] as string) ?? (value['definition'] as Json | undefined);
    return definition ? { ...value, definition: canonicalDefinition(definition, preferences) } : value;
  };
  const out: Json = { ...statement };
  const verb = statement['verb'] as Json;
  out['verb'] = verb['display'] ? { ...verb, display: pickLanguage(verb['display'] as Json, preferences) } : verb;
  const object = statement['object'] as Json;
  const kind = object['objectType'] ?? 'Activity';
  if (kind === 'Activity') out['object'] = activity(object);
  else if (kind === 'SubStatement') out['object'] = canonicalStatement(object, definitions, preferences);
  const context = statement['context'] as Json | undefined;
  const lists = context?.['contextActivities'] as Json | undefined;
  if (context && lists) {
    const mapped: Json = {};
    for (const [k, list] of Object.entries(lists)) mapped[k] = (Array.isArray(list) ? list : [list]).map((a) => activity(a as Json));
    out['context'] = { ...context, contextActivities: mapped };
  }
  if (Array.isArray(statement['attachments'])) {
    out['attachments'] = (statement['attachments'] as Json[]).map((a) => ({
      ...a,
      display: pickLanguage(a['display'] as Json, preferences),
      ...(a['description'] ? { description: pickLanguage(a['description'] as Json, preferences) } : {}),
    }));
  }
  return out;
}
