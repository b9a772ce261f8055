import type { XapiVersion } from '../http.js';

/**
 * JSON Schemas of the xAPI statement parts (1.0.3 Part 2 §2.4; 2.0 = IEEE 9274.1.1 §4.2).
 * They carry the structure: allowed and required properties (names are case-sensitive and
 * unknown ones rejected, outside `extensions`), types (so `null` is refused everywhere),
 * IRIs, UUIDs, language maps and enumerations. Agents and Groups, timestamps, score bounds,
 * interaction components and the object dispatch are checked in code (statement.ts), where
 * the messages can say exactly what is wrong.
 *
 * Built once per version by `createStatementValidator` and compiled by ajv at start.
 */

// Same rules as primitives.ts (isAbsoluteIri / isUuid), as JSON Schema patterns. Language tags
// need more than a pattern (RFC 5646 forbids repeated variants and singletons), so they use the
// `language-tag` format, which StatementValidator registers with isLanguageTag.
export const languageTagFormat = 'language-tag';
export const iriPattern = '^[A-Za-z][A-Za-z0-9+.-]*:[^\\s\\u0000<>"{}|\\\\^`]*$';
export const uuidPattern = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$';

const iri = { type: 'string', pattern: iriPattern, maxLength: 2048 } as const;
const uuid = { type: 'string', pattern: uuidPattern } as const;
const languageMap = { type: 'object', propertyNames: { format: languageTagFormat }, additionalProperties: { type: 'string' } } as const;
const extensions = { type: 'object', propertyNames: { pattern: iriPattern } } as const;
/** Agents and Groups are validated in code (exactly one IFI, member rules); here: an object. */
const actor = { type: 'object' } as const;

export const interactionTypes = ['true-false', 'choice', 'fill-in', 'long-fill-in', 'matching', 'performance', 'sequencing', 'likert', 'numeric', 'other'] as const;

const interactionComponents = {
  type: 'array',
  items: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1 }, description: languageMap } },
} as const;

const definition = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: languageMap,
    description: languageMap,
    type: iri,
    moreInfo: iri,
    extensions,
    interactionType: { type: 'string', enum: interactionTypes },
    correctResponsesPattern: { type: 'array', items: { type: 'string' } },
    choices: interactionComponents,
    scale: interactionComponents,
    source: interactionComponents,
    target: interactionComponents,
    steps: interactionComponents,
  },
} as const;

export const activitySchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { objectType: { const: 'Activity' }, id: iri, definition },
} as const;

export const statementRefSchema = {
  type: 'object',
  required: ['objectType', 'id'],
  additionalProperties: false,
  properties: { objectType: { const: 'StatementRef' }, id: uuid },
} as const;

const contextActivityList = { anyOf: [{ type: 'array', items: activitySchema }, activitySchema] } as const;

function contextSchema(version: XapiVersion) {
  const properties: Record<string, unknown> = {
    registration: uuid,
    instructor: actor,
    team: actor,
    contextActivities: {
      type: 'object',
      // Present means at least one of the four (ADL's conformance suite: "A contextActivities
      // property contains one or more key/value pairs"); "none of these" is leaving it out.
      minProperties: 1,
      additionalProperties: false,
      properties: { parent: contextActivityList, grouping: contextActivityList, category: contextActivityList, other: contextActivityList },
    },
    revision: { type: 'string' },
    platform: { type: 'string' },
    language: { type: 'string', format: languageTagFormat },
    statement: statementRefSchema,
    extensions,
  };
  if (version === '2.0.0') {
    // IEEE 9274.1.1 §4.2.2.5: contextAgents / contextGroups with optional relevantTypes.
    const relevantTypes = { type: 'array', minItems: 1, items: iri };
    properties['contextAgents'] = {
      type: 'array',
      items: { type: 'object', required: ['objectType', 'agent'], additionalProperties: false, properties: { objectType: { const: 'contextAgent' }, agent: actor, relevantTypes } },
    };
    properties['contextGroups'] = {
      type: 'array',
      items: { type: 'object', required: ['objectType', 'group'], additionalProperties: false, properties: { objectType: { const: 'contextGroup' }, group: actor, relevantTypes } },
    };
  }
  return { type: 'object', additionalProperties: false, properties } as const;
}

const score = {
  type: 'object',
  additionalProperties: false,
  properties: { scaled: { type: 'number', minimum: -1, maximum: 1 }, raw: { type: 'number' }, min: { type: 'number' }, max: { type: 'number' } },
} as const;

const result = {
  type: 'object',
  additionalProperties: false,
  properties: {
    score,
    success: { type: 'boolean' },
    completion: { type: 'boolean' },
    response: { type: 'string' },
    duration: { type: 'string' },
    extensions,
  },
} as const;

const verb = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: iri, display: languageMap } } as const;

const attachment = {
  type: 'object',
  required: ['usageType', 'display', 'contentType', 'length', 'sha2'],
  additionalProperties: false,
  properties: {
    usageType: iri,
    display: languageMap,
    description: languageMap,
    // RFC 2046 media type: type "/" subtype, parameters allowed.
    contentType: { type: 'string', pattern: '^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\\s*;.*)?$' },
    length: { type: 'integer', minimum: 0 },
    sha2: { type: 'string', pattern: '^[0-9a-fA-F]{56,128}$' },
    fileUrl: iri,
  },
} as const;

/** The statement's own properties; `object` is dispatched on objectType in code. */
export function statementSchema(version: XapiVersion) {
  return {
    type: 'object',
    required: ['actor', 'verb', 'object'],
    additionalProperties: false,
    properties: {
      id: uuid,
      actor,
      verb,
      object: { type: 'object' },
      result,
      context: contextSchema(version),
      timestamp: { type: 'string' },
      stored: { type: 'string' },
      authority: actor,
      version: { type: 'string', pattern: version === '2.0.0' ? '^(1\\.0|2\\.0)(\\.\\d+)?$' : '^1\\.0(\\.\\d+)?$' },
      attachments: { type: 'array', items: attachment },
    },
  } as const;
}

/** A SubStatement: no id, stored, version or authority (1.0.3 Part 2 §2.4.4.3). */
export function subStatementSchema(version: XapiVersion) {
  return {
    type: 'object',
    required: ['objectType', 'actor', 'verb', 'object'],
    additionalProperties: false,
    properties: {
      objectType: { const: 'SubStatement' },
      actor,
      verb,
      object: { type: 'object' },
      result,
      context: contextSchema(version),
      timestamp: { type: 'string' },
      attachments: { type: 'array', items: attachment },
    },
  } as const;
}
