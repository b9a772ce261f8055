import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { XapiVersion } from '../http.js';
import { validateActor, validateAgent, XapiValidationError } from './agent.js';
import { isIsoDuration, isLanguageTag, isPlainObject, parseTimestamp } from './primitives.js';
import { activitySchema, languageTagFormat, statementRefSchema, statementSchema, subStatementSchema } from './statement-schema.js';

export const voidedVerb = 'http://adlnet.gov/expapi/verbs/voided';

/** A statement as JSON after validation; parts are typed where the LRS reads them. */
export type Statement = Record<string, unknown> & {
  id?: string;
  actor: Record<string, unknown>;
  verb: { id: string; display?: Record<string, string> };
  object: Record<string, unknown>;
  timestamp?: string;
  version?: string;
  attachments?: AttachmentMeta[];
};

export interface AttachmentMeta {
  usageType: string;
  display: Record<string, string>;
  description?: Record<string, string>;
  contentType: string;
  length: number;
  sha2: string;
  fileUrl?: string;
}

function fail(path: string, message: string): never {
  throw new XapiValidationError(path, message);
}

/** `/object/definition/name` → `object.definition.name`, `/context/contextActivities/parent/0` → `...parent[0]`. */
function joinPath(base: string, instancePath: string): string {
  let out = base;
  for (const segment of instancePath.split('/').slice(1)) {
    const name = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(name) ? `[${name}]` : out === '' ? name : `.${name}`;
  }
  return out;
}

function describe(base: string, error: ErrorObject): XapiValidationError {
  let path = joinPath(base, error.instancePath);
  const at = (name: string) => (path === '' ? name : `${path}.${name}`);
  // Errors inside propertyNames (language tags, extension IRIs) are about a key of the object.
  if (error.propertyName !== undefined) {
    return new XapiValidationError(at(error.propertyName), 'is not a valid key here (language maps need RFC 5646 tags, extensions absolute IRIs)');
  }
  switch (error.keyword) {
    case 'additionalProperties':
      return new XapiValidationError(at(String(error.params['additionalProperty'])), 'is not an allowed property (names are case-sensitive)');
    case 'required':
      return new XapiValidationError(at(String(error.params['missingProperty'])), 'is required');
    case 'type':
      return new XapiValidationError(path || '(statement)', `must be ${error.params['type'] === 'integer' ? 'an integer' : `of type ${String(error.params['type'])}`}${error.data === null ? ' (null is not allowed)' : ''}`);
    case 'propertyNames':
      path = at(String(error.params['propertyName']));
      return new XapiValidationError(path, 'is not a valid key here (language maps need RFC 5646 tags, extensions absolute IRIs)');
    case 'pattern':
      return new XapiValidationError(path, patternMessage(error.params['pattern'] as string));
    case 'format':
      return new XapiValidationError(path, error.params['format'] === languageTagFormat ? 'must be an RFC 5646 language tag' : 'has an invalid format');
    case 'const':
      return new XapiValidationError(path, `must be ${JSON.stringify(error.params['allowedValue'])}`);
    case 'enum':
      return new XapiValidationError(path, `must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}`);
    case 'anyOf':
      return new XapiValidationError(path, 'must be an Activity or an array of Activities');
    default:
      return new XapiValidationError(path || '(statement)', error.message ?? 'is invalid');
  }
}

function patternMessage(pattern: string): string {
  if (pattern.startsWith('^[A-Za-z][A-Za-z0-9+.-]*:')) return 'must be an absolute IRI';
  if (pattern.startsWith('^[0-9a-fA-F]{8}')) return 'must be a UUID';
  if (pattern.includes('2\\.0')) return 'must be a 1.0.x or 2.0.x version';
  if (pattern.startsWith('^1\\.0')) return 'must be a 1.0.x version (xAPI 1.0.3)';
  if (pattern.startsWith('^[0-9a-fA-F]{56')) return 'must be a SHA-2 hash in hexadecimal';
  return 'has an invalid format';
}

const componentsByType: Record<string, readonly string[]> = {
  choice: ['choices'],
  sequencing: ['choices'],
  likert: ['scale'],
  matching: ['source', 'target'],
  performance: ['steps'],
};
const componentLists = ['choices', 'scale', 'source', 'target', 'steps'] as const;

interface Compiled {
  readonly statement: ValidateFunction;
  readonly subStatement: ValidateFunction;
  readonly activity: ValidateFunction;
  readonly statementRef: ValidateFunction;
}

/**
 * Validates statements of either version. Built once (the ajv schemas compile at start);
 * `validate` throws an XapiValidationError naming the property path and the reason.
 */
export class StatementValidator {
  private readonly compiled: Record<XapiVersion, Compiled>;

  constructor() {
    // allErrors off: the first problem is enough for a 400 and validation stays fast.
    const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
    ajv.addFormat(languageTagFormat, isLanguageTag);
    const activity = ajv.compile(activitySchema);
    const statementRef = ajv.compile(statementRefSchema);
    const build = (version: XapiVersion): Compiled => ({
      statement: ajv.compile(statementSchema(version)),
      subStatement: ajv.compile(subStatementSchema(version)),
      activity,
      statementRef,
    });
    this.compiled = { '1.0.3': build('1.0.3'), '2.0.0': build('2.0.0') };
  }

  /** Validates one statement; `path` prefixes problem paths (e.g. `[3]` in a batch). */
  validate(value: unknown, version: XapiVersion, path = ''): Statement {
    const c = this.compiled[version];
    if (!isPlainObject(value)) fail(path || '(statement)', 'a statement must be a JSON object');
    if (!c.statement(value)) throw describe(path, c.statement.errors![0]!);
    const at = (name: string) => (path === '' ? name : `${path}.${name}`);
    this.checkParts(value, version, path, c, false);
    if (value['stored'] !== undefined && !parseTimestamp(value['stored'], version === '2.0.0' ? '2.0.0' : '1.0.3')) fail(at('stored'), 'must be an ISO 8601 timestamp with a time zone');
    if (value['authority'] !== undefined) {
      const authority = validateActor(value['authority'], at('authority'));
      // An OAuth three-legged authority is an anonymous Group of exactly two Agents, the
      // application and the user (1.0.3 Part 2 §2.4.9; the ADL suite's XAPI-00098).
      if (authority.objectType === 'Group') {
        const ifi = (['mbox', 'mbox_sha1sum', 'openid', 'account'] as const).find((p) => authority[p] !== undefined);
        if (ifi) fail(at(`authority.${ifi}`), 'a Group authority must be anonymous (an OAuth application and user, not an identified Group)');
        if ((authority.member?.length ?? 0) !== 2) fail(at('authority.member'), 'a Group authority must have exactly two Agents');
      }
    }
    return value as Statement;
  }

  /** What statements and SubStatements share: actor, object, verb rules, result, context, timestamp. */
  private checkParts(value: Record<string, unknown>, version: XapiVersion, path: string, c: Compiled, nested: boolean): void {
    const at = (name: string) => (path === '' ? name : `${path}.${name}`);
    validateActor(value['actor'], at('actor'));
    const object = value['object'] as Record<string, unknown>;
    const objectType = object['objectType'];
    switch (objectType) {
      case undefined:
      case 'Activity':
        if (!c.activity(object)) throw describe(at('object'), c.activity.errors![0]!);
        checkDefinition(object['definition'], at('object.definition'));
        break;
      case 'Agent':
        validateAgent(object, at('object'));
        break;
      case 'Group':
        validateActor(object, at('object'));
        break;
      case 'StatementRef':
        if (!c.statementRef(object)) throw describe(at('object'), c.statementRef.errors![0]!);
        break;
      case 'SubStatement':
        if (nested) fail(at('object.objectType'), 'a SubStatement cannot contain another SubStatement');
        if (!c.subStatement(object)) throw describe(at('object'), c.subStatement.errors![0]!);
        this.checkParts(object, version, at('object'), c, true);
        break;
      default:
        fail(at('object.objectType'), 'must be Activity, Agent, Group, StatementRef or SubStatement');
    }
    const verb = value['verb'] as { id: string };
    if (verb.id === voidedVerb && objectType !== 'StatementRef') fail(at('object'), 'a voiding statement (verb voided) must have a StatementRef object');

    const result = value['result'] as Record<string, unknown> | undefined;
    if (result) {
      if (result['duration'] !== undefined && !isIsoDuration(result['duration'])) fail(at('result.duration'), 'must be an ISO 8601 duration');
      const score = result['score'] as Record<string, number> | undefined;
      if (score) {
        const { raw, min, max } = score;
        if (min !== undefined && max !== undefined && !(min < max)) fail(at('result.score.max'), 'must be greater than min');
        if (raw !== undefined && min !== undefined && raw < min) fail(at('result.score.raw'), 'must not be less than min');
        if (raw !== undefined && max !== undefined && raw > max) fail(at('result.score.raw'), 'must not be greater than max');
      }
    }

    const context = value['context'] as Record<string, unknown> | undefined;
    if (context) {
      if (context['instructor'] !== undefined) validateActor(context['instructor'], at('context.instructor'));
      if (context['team'] !== undefined) {
        const team = validateActor(context['team'], at('context.team'));
        if (team.objectType !== 'Group') fail(at('context.team'), 'must be a Group');
      }
      const isActivity = objectType === undefined || objectType === 'Activity';
      if (!isActivity && context['revision'] !== undefined) fail(at('context.revision'), 'is only allowed when the object is an Activity');
      if (!isActivity && context['platform'] !== undefined) fail(at('context.platform'), 'is only allowed when the object is an Activity');
      const lists = context['contextActivities'] as Record<string, unknown> | undefined;
      if (lists) {
        for (const [key, list] of Object.entries(lists)) {
          const items = Array.isArray(list) ? list : [list];
          items.forEach((item, i) => checkDefinition((item as Record<string, unknown>)['definition'], at(`context.contextActivities.${key}${Array.isArray(list) ? `[${i}]` : ''}.definition`)));
        }
      }
      (context['contextAgents'] as Array<Record<string, unknown>> | undefined)?.forEach((entry, i) => {
        validateAgent(entry['agent'], at(`context.contextAgents[${i}].agent`));
      });
      (context['contextGroups'] as Array<Record<string, unknown>> | undefined)?.forEach((entry, i) => {
        const group = validateActor(entry['group'], at(`context.contextGroups[${i}].group`));
        if (group.objectType !== 'Group') fail(at(`context.contextGroups[${i}].group`), 'must be a Group');
      });
    }

    if (value['timestamp'] !== undefined && !parseTimestamp(value['timestamp'], version)) {
      fail(at('timestamp'), version === '2.0.0'
        ? 'must be an RFC 3339 timestamp with a time zone (not -00:00)'
        : 'must be an ISO 8601 timestamp with a time zone (not -00:00)');
    }
  }
}

/** Interaction components only with the interaction types that define them (1.0.3 Part 2 §2.4.4.1). */
function checkDefinition(definition: unknown, path: string): void {
  if (!isPlainObject(definition)) return;
  const type = definition['interactionType'] as string | undefined;
  const allowed = type ? componentsByType[type] ?? [] : [];
  for (const list of componentLists) {
    const components = definition[list] as Array<{ id: string }> | undefined;
    if (components === undefined) continue;
    if (!type) fail(`${path}.${list}`, 'interaction components need an interactionType');
    if (!allowed.includes(list)) fail(`${path}.${list}`, `is not allowed for interactionType "${type}"`);
    const seen = new Set<string>();
    components.forEach((component, i) => {
      if (seen.has(component.id)) fail(`${path}.${list}[${i}].id`, 'must be unique within the list');
      seen.add(component.id);
    });
  }
  if (definition['correctResponsesPattern'] !== undefined && !type) fail(`${path}.correctResponsesPattern`, 'needs an interactionType');
}
