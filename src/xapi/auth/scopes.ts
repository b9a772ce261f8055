/**
 * xAPI scopes (xAPI 1.0.3 Part 3 §4.2, "OAuth Authorization Scope"). Cairn applies them to
 * HTTP Basic credentials the same way.
 */
export const xapiScopes = ['statements/write', 'statements/read', 'statements/read/mine', 'state', 'define', 'profile', 'all/read', 'all'] as const;
export type XapiScope = (typeof xapiScopes)[number];

/** What a request needs; `read` variants are satisfied by `all/read`. */
export type XapiPermission =
  | 'statements/write'
  | 'statements/read'
  | 'state/read' | 'state/write'
  | 'profile/read' | 'profile/write'
  | 'activities/read' | 'agents/read'
  | 'define';

/**
 * Whether scopes grant a permission. `statements/read/mine` is not enough for
 * `statements/read`: the statements resource narrows the query to the credential's own
 * statements instead (see `readsOnlyOwnStatements`).
 */
export function grants(scopes: ReadonlySet<XapiScope>, permission: XapiPermission): boolean {
  if (scopes.has('all')) return true;
  const isRead = permission.endsWith('/read');
  if (isRead && scopes.has('all/read')) return true;
  switch (permission) {
    case 'statements/write': return scopes.has('statements/write');
    case 'statements/read': return scopes.has('statements/read') || scopes.has('statements/read/mine');
    case 'state/read': case 'state/write': return scopes.has('state');
    case 'profile/read': case 'profile/write': return scopes.has('profile');
    case 'activities/read': case 'agents/read': return scopes.has('profile') || scopes.has('state') || scopes.has('define') || scopes.has('statements/read');
    case 'define': return scopes.has('define');
  }
}

/** True when the credential may read statements, but only those it wrote itself. */
export function readsOnlyOwnStatements(scopes: ReadonlySet<XapiScope>): boolean {
  return !scopes.has('all') && !scopes.has('all/read') && !scopes.has('statements/read') && scopes.has('statements/read/mine');
}
