import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { TSchema } from 'typebox';
import { AppError, type FieldError } from '../errors/index.js';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

export type RequestPart = 'params' | 'query' | 'body';

function createAjv(coerce: boolean | 'array'): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: coerce,
    useDefaults: true,
    // Unknown fields are rejected by `additionalProperties: false` in the schemas, never dropped silently.
    removeAdditional: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

/** Bodies are JSON with real types; path and query strings are coerced (`?limit=10` → 10). */
const bodyAjv = createAjv(false);
const stringAjv = createAjv('array');

export interface CompiledValidator {
  (part: RequestPart, value: unknown): unknown;
}

export function compileValidator(part: RequestPart, schema: TSchema): ValidateFunction {
  return (part === 'body' ? bodyAjv : stringAjv).compile(schema as object);
}

/** Validates in place (defaults applied, strings coerced) or throws a 400 naming each field. */
export function validatePart(part: RequestPart, validate: ValidateFunction, value: unknown): void {
  if (validate(value)) return;
  throw new AppError('validation_failed', describe(part, validate.errors ?? []), { errors: fieldErrors(part, validate.errors ?? []) });
}

export function fieldErrors(part: RequestPart, errors: readonly ErrorObject[]): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of errors) {
    // anyOf/oneOf repeat their branches' errors; the branch errors name the fields already.
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue;
    let pointer = `/${part}${e.instancePath}`;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      pointer += `/${escapePointer(String(e.params['additionalProperty']))}`;
      message = 'is not a known field';
    } else if (e.keyword === 'required') {
      pointer += `/${escapePointer(String(e.params['missingProperty']))}`;
      message = 'is required';
    } else if (e.keyword === 'enum') {
      message = `must be one of: ${(e.params['allowedValues'] as unknown[]).join(', ')}`;
    } else if (e.keyword === 'const') {
      message = `must be ${JSON.stringify(e.params['allowedValue'])}`;
    }
    const key = `${pointer} ${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer, message });
  }
  return out;
}

function describe(part: RequestPart, errors: readonly ErrorObject[]): string {
  const fields = fieldErrors(part, errors);
  const first = fields[0];
  if (!first) return `The request ${part} is invalid.`;
  const more = fields.length > 1 ? ` (and ${fields.length - 1} more problem${fields.length > 2 ? 's' : ''})` : '';
  return `${first.pointer.slice(1).replace(/\//g, '.')} ${first.message}${more}.`;
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
