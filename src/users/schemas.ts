import { Type } from 'typebox';
import { DateTime, Email, NullableDateTime, Uuid, iso } from '../http/schemas.js';
import { tenantRoles } from '../auth/principal.js';
import type { UserRow } from './repository.js';

export const Role = Type.Union(tenantRoles.map((r) => Type.Literal(r)), { description: 'Tenant role' });
export const UserStatus = Type.Union([Type.Literal('active'), Type.Literal('suspended')]);

export const User = Type.Object({
  id: Uuid(),
  tenant_id: Uuid(),
  email: Type.String(),
  name: Type.String(),
  role: Role,
  is_system_admin: Type.Boolean(),
  status: UserStatus,
  has_password: Type.Boolean(),
  mfa_enabled: Type.Boolean(),
  locked_until: NullableDateTime('Set while the account is locked after failed logins'),
  last_login_at: NullableDateTime(),
  created_at: DateTime(),
  updated_at: DateTime(),
});

/** `now` comes from the app clock, so a lock that has run out stops showing at once. */
export function userView(row: UserRow, now: Date) {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    email: row.email,
    name: row.name,
    role: row.role,
    is_system_admin: row.is_system_admin,
    status: row.status,
    has_password: row.password_hash !== null,
    mfa_enabled: row.mfa_enabled_at !== null,
    locked_until: row.locked_until && row.locked_until > now ? row.locked_until.toISOString() : null,
    last_login_at: iso(row.last_login_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export const CreateUserBody = Type.Object({
  email: Email,
  name: Type.Optional(Type.String({ maxLength: 200 })),
  role: Role,
  password: Type.Optional(Type.String({ description: 'At least 12 characters. Omit for users who only arrive through LTI.' })),
  status: Type.Optional(UserStatus),
  is_system_admin: Type.Optional(Type.Boolean({ description: 'Only system administrators may set this.' })),
}, { additionalProperties: false });

export const UpdateUserBody = Type.Object({
  email: Type.Optional(Email),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  role: Type.Optional(Role),
  password: Type.Optional(Type.String()),
  status: Type.Optional(UserStatus),
  is_system_admin: Type.Optional(Type.Boolean()),
}, { additionalProperties: false, minProperties: 1 });
