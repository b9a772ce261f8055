import { Type } from 'typebox';
import type { CookieOptions } from 'express';
import { defineEndpoint, type AnyEndpoint } from '../http/endpoint.js';
import { DateTime, Email, NullableDateTime, Uuid } from '../http/schemas.js';
import { paginationQuery, pageSchema } from '../db/pagination.js';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import { findUser, updateUser } from '../users/repository.js';
import { User, userView } from '../users/schemas.js';
import { assertPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { isTenantAdmin, scopes } from './principal.js';
import * as repo from './repository.js';
import * as service from './service.js';
import { readCookie } from './middleware.js';
import { sha256Hex } from './tokens.js';

export function sessionCookieOptions(config: Config, expires?: Date): CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'lax',
    secure: config.publicUrl.startsWith('https:'),
    path: '/',
    ...(expires ? { expires } : {}),
  };
}

const Scope = Type.Union(scopes.map((s) => Type.Literal(s)));

const SessionInfo = Type.Object({
  user: User,
  mfa_required: Type.Boolean({ description: 'True until the TOTP code is verified (POST /auth/mfa/verify).' }),
  mfa_enrollment_required: Type.Boolean({ description: 'True when the tenant requires MFA for admins and this admin has not enrolled.' }),
  acting_tenant_id: Uuid(),
});

const ApiToken = Type.Object({
  id: Uuid(),
  user_id: Uuid(),
  name: Type.String(),
  token_prefix: Type.String({ description: 'First characters of the token, to recognise it' }),
  scopes: Type.Array(Scope),
  expires_at: NullableDateTime(),
  last_used_at: NullableDateTime(),
  revoked_at: NullableDateTime(),
  created_at: DateTime(),
});

function tokenView(row: repo.ApiTokenRow) {
  return {
    id: row.id, user_id: row.user_id, name: row.name, token_prefix: row.token_prefix, scopes: row.scopes,
    expires_at: row.expires_at?.toISOString() ?? null, last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null, created_at: row.created_at.toISOString(),
  };
}

const tags = ['Authentication'];

export const authEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'post', path: '/auth/login', operationId: 'login', tags,
    summary: 'Log in with email and password',
    description: 'Starts a console session (HttpOnly cookie `cairn_session`). When the account has MFA, the session is limited until `POST /auth/mfa/verify`. Five consecutive failures lock the account for 15 minutes (423 with Retry-After).',
    auth: { public: true },
    rateLimited: false,
    transactional: false,
    auditsItself: true,
    status: 200,
    body: Type.Object({
      email: Email,
      password: Type.String({ maxLength: 1024 }),
      tenant: Type.Optional(Type.String({ maxLength: 100, description: 'Tenant slug; defaults to `default`.' })),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'Logged in', schema: SessionInfo } },
    async handler({ deps, body, request, reply, req }) {
      const result = await service.login(deps, body, request);
      // A new login replaces whatever session this browser held (no session outlives a re-login).
      const previous = readCookie(req.get('cookie'), service.sessionCookieName);
      if (previous) await repo.deleteSession(deps.db, sha256Hex(previous));
      reply.cookie(service.sessionCookieName, result.cookieValue, sessionCookieOptions(deps.config, result.expiresAt));
      return {
        user: userView(result.user, deps.clock.now()),
        mfa_required: result.mfa === 'pending',
        mfa_enrollment_required: result.mfaEnrollmentRequired,
        acting_tenant_id: result.user.tenant_id,
      };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/auth/logout', operationId: 'logout', tags,
    summary: 'End the console session',
    auth: { scope: 'users:read', beforeMfa: true, sessionOnly: true },
    transactional: false,
    responses: { 204: { description: 'Logged out' } },
    async handler({ deps, principal, reply, audit }) {
      await service.logout(deps, principal);
      audit({ action: 'auth.logout', targetType: 'user', targetId: principal.userId });
      reply.clearCookie(service.sessionCookieName, sessionCookieOptions(deps.config));
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'get', path: '/me', operationId: 'getMe', tags,
    summary: 'The calling user and the state of its session',
    auth: { scope: 'users:read', beforeMfa: true },
    responses: { 200: { description: 'Current user', schema: SessionInfo } },
    async handler({ deps, principal }) {
      const user = await findUser(deps.db, principal.homeTenantId, principal.userId);
      if (!user) throw new AppError('unauthenticated');
      return { user: userView(user, deps.clock.now()), mfa_required: principal.mfa === 'pending', mfa_enrollment_required: principal.mfaEnrollmentRequired, acting_tenant_id: principal.tenantId };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/me/password', operationId: 'changeOwnPassword', tags,
    summary: 'Change one\'s own password',
    description: 'Ends every other session of the user.',
    auth: { scope: 'users:write', sessionOnly: true },
    status: 204,
    body: Type.Object({ current_password: Type.String({ maxLength: 1024 }), new_password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
    responses: { 204: { description: 'Password changed' } },
    async handler({ deps, db, principal, body, audit }) {
      const user = await findUser(db, principal.homeTenantId, principal.userId);
      if (!user?.password_hash || !(await verifyPassword(body.current_password, user.password_hash))) {
        throw new AppError('invalid_credentials', 'The current password is wrong.', { errors: [{ pointer: '/body/current_password', message: 'is wrong' }] });
      }
      assertPasswordPolicy(body.new_password, '/body/new_password', user.email);
      await updateUser(db, user.tenant_id, user.id, { password_hash: await hashPassword(body.new_password) }, deps.clock.now());
      await repo.deleteUserSessions(db, user.id, principal.sessionId);
      audit({ action: 'user.password_change', targetType: 'user', targetId: user.id });
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'post', path: '/auth/mfa/setup', operationId: 'startMfaEnrollment', tags,
    summary: 'Start TOTP enrollment',
    description: 'Returns a new secret and an `otpauth://` URI for an authenticator app. MFA is enabled only after `POST /auth/mfa/confirm` with a valid code.',
    auth: { scope: 'users:write', beforeMfa: true, sessionOnly: true },
    status: 200,
    responses: { 200: { description: 'Secret to scan', schema: Type.Object({ secret: Type.String({ description: 'Base32' }), otpauth_uri: Type.String() }) } },
    async handler({ deps, db, principal, audit }) {
      if (principal.mfa === 'pending') throw new AppError('mfa_required');
      const { secret, otpauthUri } = await service.startMfaEnrollment(deps, principal, db);
      audit({ action: 'user.mfa_setup_started', targetType: 'user', targetId: principal.userId });
      return { secret, otpauth_uri: otpauthUri };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/auth/mfa/confirm', operationId: 'confirmMfaEnrollment', tags,
    summary: 'Finish TOTP enrollment with a code from the app',
    description: 'Enables MFA and returns ten single-use recovery codes, shown only this once.',
    auth: { scope: 'users:write', beforeMfa: true, sessionOnly: true },
    status: 200,
    body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
    responses: { 200: { description: 'MFA enabled', schema: Type.Object({ recovery_codes: Type.Array(Type.String()) }) } },
    async handler({ deps, db, principal, body, audit }) {
      if (principal.mfa === 'pending') throw new AppError('mfa_required');
      const { recoveryCodes } = await service.confirmMfaEnrollment(deps, principal, db, body.code);
      audit({ action: 'user.mfa_enabled', targetType: 'user', targetId: principal.userId });
      return { recovery_codes: recoveryCodes };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/auth/mfa/verify', operationId: 'verifyMfa', tags,
    summary: 'Second login step: a TOTP code or a recovery code',
    description: 'Wrong codes count toward the account lockout.',
    auth: { scope: 'users:read', beforeMfa: true, sessionOnly: true },
    transactional: false,
    auditsItself: true,
    status: 204,
    body: Type.Object({
      code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
      recovery_code: Type.Optional(Type.String({ maxLength: 32 })),
    }, { additionalProperties: false, minProperties: 1, maxProperties: 1 }),
    responses: { 204: { description: 'Session verified' } },
    async handler({ deps, principal, body, request }) {
      await service.verifyMfa(deps, principal, { code: body.code, recoveryCode: body.recovery_code }, request);
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/auth/mfa', operationId: 'disableOwnMfa', tags,
    summary: 'Turn off one\'s own MFA (needs the password)',
    auth: { scope: 'users:write', sessionOnly: true },
    body: Type.Object({ password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
    responses: { 204: { description: 'MFA disabled' } },
    async handler({ db, principal, body, audit }) {
      const user = await findUser(db, principal.homeTenantId, principal.userId);
      if (!user?.password_hash || !(await verifyPassword(body.password, user.password_hash))) {
        throw new AppError('invalid_credentials', 'The password is wrong.', { errors: [{ pointer: '/body/password', message: 'is wrong' }] });
      }
      await service.disableMfa(db, user.tenant_id, user.id);
      audit({ action: 'user.mfa_disabled', targetType: 'user', targetId: user.id });
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'get', path: '/tokens', operationId: 'listApiTokens', tags: ['API tokens'],
    summary: 'List API tokens',
    description: 'One\'s own tokens; admins may pass `user_id` to see another user\'s, or `all=true` for the whole tenant.',
    auth: { scope: 'tokens:read' },
    query: Type.Object({
      ...paginationQuery,
      user_id: Type.Optional(Uuid()),
      all: Type.Optional(Type.Boolean()),
      include_revoked: Type.Optional(Type.Boolean({ default: false })),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'Tokens (never their secrets)', schema: pageSchema(ApiToken) } },
    async handler({ deps, principal, query }) {
      const wantsOthers = query.all || (query.user_id !== undefined && query.user_id !== principal.userId);
      if (wantsOthers && !isTenantAdmin(principal)) throw new AppError('forbidden', 'Only admins may list other users\' tokens.');
      const page = await repo.listApiTokens(deps.db, {
        tenantId: principal.tenantId,
        userId: query.all ? undefined : query.user_id ?? principal.userId,
        includeRevoked: query.include_revoked ?? false,
        limit: query.limit ?? 50,
        cursor: query.cursor,
      });
      return { data: page.rows.map(tokenView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/tokens', operationId: 'createApiToken', tags: ['API tokens'],
    summary: 'Create an API token for oneself',
    description: 'The token is returned once and stored only as a hash. It can do what both its scopes and its user\'s role allow.',
    auth: { scope: 'tokens:write' },
    body: Type.Object({
      name: Type.String({ minLength: 1, maxLength: 100 }),
      scopes: Type.Array(Scope, { minItems: 1, uniqueItems: true }),
      expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    }, { additionalProperties: false }),
    responses: { 201: { description: 'Created; `token` is shown only now', schema: Type.Intersect([ApiToken, Type.Object({ token: Type.String() })]) } },
    async handler({ deps, db, principal, body, audit }) {
      const { row, token } = await service.createApiToken(deps, db, principal, { name: body.name, scopes: body.scopes, expiresInDays: body.expires_in_days });
      audit({ action: 'token.create', targetType: 'api_token', targetId: row.id, details: { name: row.name, scopes: row.scopes } });
      return { ...tokenView(row), token };
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/tokens/:tokenId', operationId: 'revokeApiToken', tags: ['API tokens'],
    summary: 'Revoke an API token',
    description: 'One\'s own, or any token in the tenant for admins. Takes effect on the next request.',
    auth: { scope: 'tokens:write' },
    params: Type.Object({ tokenId: Uuid() }),
    responses: { 204: { description: 'Revoked' } },
    async handler({ deps, db, principal, params, audit }) {
      const token = await repo.findApiToken(db, principal.tenantId, params.tokenId);
      if (!token || (token.user_id !== principal.userId && !isTenantAdmin(principal))) throw new AppError('not_found', 'API token not found');
      await repo.revokeApiToken(db, token.id, deps.clock.now());
      deps.principalCache.forgetToken(token.id);
      audit({ action: 'token.revoke', targetType: 'api_token', targetId: token.id, details: { name: token.name, user_id: token.user_id } });
      return undefined;
    },
  }),
];
