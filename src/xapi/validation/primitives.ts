/**
 * Value rules of xAPI (1.0.3 Part 2 §4, "Special Data Types and Rules") that JSON Schema cannot
 * express cleanly. Shared by statement validation and the document resources' parameters.
 */

/** RFC 3987 IRI with a scheme; xAPI requires absolute IRIs for ids and extension keys. */
export function isAbsoluteIri(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\u0000<>"{}|\\^`]*$/.test(value) && value.length <= 2048;
}

/** An IRL is an IRI meant to be dereferenced: http(s) in practice. */
export function isIrl(value: unknown): value is string {
  return isAbsoluteIri(value);
}

const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/;
/** RFC 4122 UUID (variant 10xx; any version). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}

/** RFC 5646 language tag: the ABNF of §2.1 as a pattern, then the §2.2 rules it cannot express. */
const languageTag = /^(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\d{3}))?(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?|[Xx](?:-[A-Za-z0-9]{1,8})+|[Ii]-[A-Za-z]{2,8}(?:-[A-Za-z]{2,8})*)$/;
export function isLanguageTag(value: unknown): value is string {
  return typeof value === 'string' && languageTag.test(value) && !repeatsSubtag(value);
}

/**
 * RFC 5646 §2.2.5 (a variant may not repeat: `de-1901-1901`) and §2.2.6 (an extension
 * singleton may not repeat: `ar-a-aaa-b-bbb-a-ccc`), both case-insensitive. Subtags after the
 * private-use `x` are free, as are private-use and grandfathered `i-` tags themselves.
 * Assumes the tag already matched the pattern, so a 5–8 character subtag (or 4 starting with
 * a digit) before the first singleton is a variant.
 */
function repeatsSubtag(tag: string): boolean {
  const subtags = tag.toLowerCase().split('-');
  if (subtags[0] === 'x' || subtags[0] === 'i') return false;
  const singletons = new Set<string>();
  const variants = new Set<string>();
  for (const subtag of subtags.slice(1)) {
    if (subtag === 'x') return false;
    if (subtag.length === 1) {
      if (singletons.has(subtag)) return true;
      singletons.add(subtag);
    } else if (singletons.size === 0 && (subtag.length >= 5 || (subtag.length === 4 && /^\d/.test(subtag)))) {
      if (variants.has(subtag)) return true;
      variants.add(subtag);
    }
  }
  return false;
}

/** ISO 8601 duration as xAPI uses it (e.g. PT1H30M, P1DT2.5S, P3W). */
export function isIsoDuration(value: unknown): value is string {
  return typeof value === 'string'
    && /^P(?:\d+(?:\.\d+)?W|(?=\d|T\d)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?D)?(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?)$/.test(value);
}

const isoTimestamp = /^(\d{4})-(\d{2})-(\d{2})([Tt ])(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2}|[+-]\d{4}|[+-]\d{2})$/i;

/**
 * Parses an xAPI timestamp. Both versions need a time zone. 1.0.3 rejects the offset `-00:00`
 * (Part 2 §4.5); 2.0 narrows to RFC 3339 (colon in the offset, `T` or a space between date
 * and time). Returns the instant, or undefined when invalid.
 */
export function parseTimestamp(value: unknown, version: '1.0.3' | '2.0.0'): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const m = isoTimestamp.exec(value);
  if (!m) return undefined;
  const offset = m[9]!;
  if (offset === '-00:00' || offset === '-0000' || offset === '-00') return undefined;
  if (version === '2.0.0' && !/^(Z|[+-]\d{2}:\d{2})$/i.test(offset)) return undefined;
  // RFC 3339 (xAPI 2.0) allows a space between date and time; ISO 8601 (1.0.3) needs the T.
  if (m[4] !== 'T' && m[4] !== 't' && version !== '2.0.0') return undefined;
  const [mo, d, h, mi, s] = [m[2], m[3], m[5], m[6], m[7]].map(Number) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 60) return undefined;
  const normalized = `${m[1]}-${m[2]}-${m[3]}T${m[5]}:${m[6]}:${m[7]}${m[8] ?? ''}${offset.toUpperCase()}`;
  const date = new Date(normalized.replace(/([+-]\d{2})(\d{2})$/, '$1:$2').replace(/([+-]\d{2})$/, '$1:00'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A language map: keys are RFC 5646 tags, values strings. */
export function languageMapProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return 'must be a language map object';
  for (const [tag, text] of Object.entries(value)) {
    if (!isLanguageTag(tag)) return `key "${tag}" is not an RFC 5646 language tag`;
    if (typeof text !== 'string') return `value for "${tag}" must be a string`;
  }
  return undefined;
}
