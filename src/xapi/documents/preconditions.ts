/**
 * HTTP preconditions for document writes (xAPI 1.0.3 Part 3 §3.1, evaluated as RFC 9110 §13
 * describes `If-Match` / `If-None-Match`). Pure: the service hands in the header values and the
 * current ETag and gets a verdict.
 */

export interface EntityTag {
  readonly weak: boolean;
  /** The opaque value without quotes. */
  readonly value: string;
}

/** `*`, or a list of entity tags. */
export type TagCondition = { readonly any: true } | { readonly any: false; readonly tags: readonly EntityTag[] };

export interface Preconditions {
  readonly ifMatch?: TagCondition;
  readonly ifNoneMatch?: TagCondition;
}

const tagPattern = /\s*(W\/)?(?:"([^"]*)"|([^\s,"]+))\s*(?:,|$)/gy;

/**
 * Parses one header. Besides RFC 9110's quoted tags it accepts a bare token as a strong tag:
 * some xAPI clients send the SHA-1 without quotes, and a lenient reading only ever makes such a
 * request succeed where it was meant to. Returns undefined for an absent or empty header.
 */
export function parseTagCondition(header: string | undefined): TagCondition | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (header.trim() === '*') return { any: true };
  const tags: EntityTag[] = [];
  tagPattern.lastIndex = 0;
  let match: RegExpExecArray | null;
  while (tagPattern.lastIndex < header.length && (match = tagPattern.exec(header)) !== null) {
    const value = match[2] ?? match[3] ?? '';
    if (value === '*') return { any: true };
    tags.push({ weak: match[1] !== undefined, value });
    if (match[0].length === 0) break;
  }
  return { any: false, tags };
}

export function parsePreconditions(ifMatch: string | undefined, ifNoneMatch: string | undefined): Preconditions {
  const m = parseTagCondition(ifMatch);
  const n = parseTagCondition(ifNoneMatch);
  return { ...(m ? { ifMatch: m } : {}), ...(n ? { ifNoneMatch: n } : {}) };
}

export function hasPreconditions(p: Preconditions): boolean {
  return p.ifMatch !== undefined || p.ifNoneMatch !== undefined;
}

// ETags are lower-case hex; clients that upper-case them still mean the same document.
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * RFC 9110 §13.2.2 order: If-Match first (strong comparison: a weak tag never matches), then
 * If-None-Match (weak comparison). `current` is the stored document's ETag, or undefined when
 * there is none. Returns which header failed, or undefined when the request may proceed.
 */
export function failedPrecondition(p: Preconditions, current: string | undefined): 'If-Match' | 'If-None-Match' | undefined {
  if (p.ifMatch) {
    const ok = current !== undefined && (p.ifMatch.any || p.ifMatch.tags.some((t) => !t.weak && same(t.value, current)));
    if (!ok) return 'If-Match';
  }
  if (p.ifNoneMatch) {
    const matches = current !== undefined && (p.ifNoneMatch.any || p.ifNoneMatch.tags.some((t) => same(t.value, current)));
    if (matches) return 'If-None-Match';
  }
  return undefined;
}

/** The header form of a stored ETag. */
export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}
