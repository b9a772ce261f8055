/**
 * Who is calling, as established by the authentication middleware. Services receive it
 * explicitly, so authorization travels into the domain rather than living only in routes.
 */
export const tenantRoles = ['admin', 'instructor', 'learner'] as const;
export type TenantRole = (typeof tenantRoles)[number];

/**
 * API token scopes: the closed list. A token may only do what both its scopes and its
 * user's role allow. Sessions carry every scope; their role alone decides.
 */
export const scopes = [
  'tenants:read', 'tenants:write',
  'users:read', 'users:write',
  'courses:read', 'courses:write',
  'grades:read', 'grades:write',
  'audit:read',
  'tokens:read', 'tokens:write',
  'lrs:read', 'lrs:write',
  'packages:read', 'packages:write',
  'lti:read', 'lti:write',
] as const;
export type Scope = (typeof scopes)[number];

export type MfaState = 'not_enrolled' | 'pending' | 'verified';

export interface Principal {
  readonly via: 'session' | 'token';
  readonly userId: string;
  /** The tenant this request acts in (a system admin may switch with the `Cairn-Tenant` header). */
  readonly tenantId: string;
  /** The tenant the user belongs to. */
  readonly homeTenantId: string;
  readonly email: string;
  readonly name: string;
  readonly role: TenantRole;
  readonly isSystemAdmin: boolean;
  /** `all` for sessions; the token's scopes otherwise. */
  readonly scopes: ReadonlySet<Scope> | 'all';
  readonly sessionId?: string;
  readonly tokenId?: string;
  readonly tokenName?: string;
  readonly mfa: MfaState;
  /** True when the tenant requires MFA for admins and this admin has not enrolled yet. */
  readonly mfaEnrollmentRequired: boolean;
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes === 'all' || principal.scopes.has(scope);
}

/** An admin acting in the tenant: a tenant admin at home, or a system admin anywhere. */
export function isTenantAdmin(principal: Principal): boolean {
  return principal.isSystemAdmin || (principal.role === 'admin' && principal.tenantId === principal.homeTenantId);
}

export function actorLabel(principal: Principal): string {
  return principal.via === 'token' ? `${principal.email} (token ${principal.tokenName ?? principal.tokenId})` : principal.email;
}
