/**
 * Manifest references (hrefs with their xml:base chain) resolved against the package root.
 * Done by hand rather than with `new URL`: URL resolution silently clamps `../` at the root,
 * and a manifest that points outside its package must be reported, not quietly repaired.
 */

export type ResolvedRef =
  | { readonly kind: 'local'; readonly path: string; readonly url: string }
  | { readonly kind: 'external'; readonly url: string }
  | { readonly kind: 'escapes'; readonly written: string };

const schemePattern = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** Splits `a/b.html?x=1#top` into the path and the `?…#…` suffix. */
function splitSuffix(ref: string): [string, string] {
  const at = ref.search(/[?#]/);
  return at < 0 ? [ref, ''] : [ref.slice(0, at), ref.slice(at)];
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Percent-encodes what a path segment cannot carry, leaving the usual safe characters readable. */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(21|24|26|27|28|29|2A|2B|2C|3B|3D|3A|40)/gi, (m) => decodeURIComponent(m));
}

/**
 * Resolves `href` against the xml:base values in effect, outermost first. Each base is a
 * folder (a missing trailing slash is tolerated: vendors write `xml:base="content"` and mean
 * the folder). Absolute URLs (a scheme) make the result external.
 */
export function resolveRef(bases: readonly string[], href: string): ResolvedRef {
  const chain = [...bases.filter((b) => b.trim() !== ''), href.trim()];
  let start = 0;
  for (let i = chain.length - 1; i >= 0; i--) {
    if (schemePattern.test(chain[i]!)) {
      start = i;
      break;
    }
  }
  if (schemePattern.test(chain[start]!)) {
    const rest = chain.slice(start + 1).map((b, i, all) => (i < all.length - 1 && !b.endsWith('/') ? `${b}/` : b));
    let url = chain[start]!;
    for (const part of rest) url = new URL(part, url.endsWith('/') || part.startsWith('?') || part.startsWith('#') ? url : `${url}/`).toString();
    return { kind: 'external', url };
  }
  const segments: string[] = [];
  let suffix = '';
  for (let i = start; i < chain.length; i++) {
    const isHref = i === chain.length - 1;
    const [pathPart, rest] = isHref ? splitSuffix(chain[i]!) : [chain[i]!, ''];
    if (isHref) suffix = rest;
    // A leading "/" means the package root here: a content package has no other root.
    if (pathPart.startsWith('/')) segments.length = 0;
    for (const raw of pathPart.split('/')) {
      if (raw === '' || raw === '.') continue;
      if (raw === '..') {
        if (segments.length === 0) return { kind: 'escapes', written: chain.join(' + ') };
        segments.pop();
        continue;
      }
      segments.push(decodeSegment(raw));
    }
  }
  const path = segments.join('/');
  return { kind: 'local', path, url: segments.map(encodeSegment).join('/') + suffix };
}

/**
 * Appends item@parameters to a launch href as the CAM prescribes (SCORM 2004 CAM 3.4.1.x,
 * SCORM 1.2 CAM 2.3.5.2.2): leading `?` and `&` are dropped; a `#fragment` is appended only when
 * the href has none; query parameters join an existing query with `&`, else start one with `?`,
 * and go before any fragment the href already has.
 */
export function appendParameters(href: string, parameters: string | undefined): string {
  const p = (parameters ?? '').trim().replace(/^[?&]+/, '');
  if (p === '') return href;
  if (p.startsWith('#')) return href.includes('#') ? href : href + p;
  const hashAt = href.indexOf('#');
  const [head, fragment] = hashAt < 0 ? [href, ''] : [href.slice(0, hashAt), href.slice(hashAt)];
  return `${head}${head.includes('?') ? '&' : '?'}${p}${fragment}`;
}
