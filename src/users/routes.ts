import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../http/endpoint.js';
import { Uuid } from '../http/schemas.js';
import { paginationQuery, pageSchema } from '../db/pagination.js';
import { CreateUserBody, Role, UpdateUserBody, User, UserStatus, userView } from './schemas.js';
import * as repo from './repository.js';
import * as service from './service.js';

const tags = ['Users'];
const UserParams = Type.Object({ userId: Uuid() });

export const userEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/users', operationId: 'listUsers', tags,
    summary: 'List users of the tenant',
    auth: { scope: 'users:read', roles: ['admin'] },
    query: Type.Object({
      ...paginationQuery,
      role: Type.Optional(Role),
      status: Type.Optional(UserStatus),
      email: Type.Optional(Type.String({ maxLength: 254 })),
      q: Type.Optional(Type.String({ maxLength: 200, description: 'Substring of name or email, case-insensitive' })),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of users', schema: pageSchema(User) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listUsers(deps.db, { tenantId: principal.tenantId, ...query, limit: query.limit ?? 50 });
      return { data: page.rows.map((row) => userView(row, deps.clock.now())), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'post', path: '/users', operationId: 'createUser', tags,
    summary: 'Create a user',
    auth: { scope: 'users:write', roles: ['admin'] },
    body: CreateUserBody,
    responses: { 201: { description: 'Created', schema: User } },
    async handler({ deps, db, principal, body, audit, reply }) {
      const user = await service.createUser(db, deps.clock, principal, body);
      audit({ action: 'user.create', targetType: 'user', targetId: user.id, details: { email: user.email, role: user.role } });
      reply.header('Location', `/api/v1/users/${user.id}`);
      return userView(user, deps.clock.now());
    },
  }),

  defineEndpoint({
    method: 'get', path: '/users/:userId', operationId: 'getUser', tags,
    summary: 'Get a user',
    description: 'Admins read any user of their tenant; other users only themselves.',
    auth: { scope: 'users:read' },
    params: UserParams,
    responses: { 200: { description: 'The user', schema: User } },
    async handler({ deps, principal, params }) {
      return userView(await service.getUser(deps.db, principal, params.userId), deps.clock.now());
    },
  }),

  defineEndpoint({
    method: 'patch', path: '/users/:userId', operationId: 'updateUser', tags,
    summary: 'Update a user',
    description: 'Changing the password, suspending or changing the role ends the user\'s sessions.',
    auth: { scope: 'users:write', roles: ['admin'] },
    params: UserParams,
    body: UpdateUserBody,
    responses: { 200: { description: 'Updated', schema: User } },
    async handler({ deps, db, principal, params, body, audit }) {
      const { user, changed } = await service.updateUser(db, deps.clock, principal, params.userId, body);
      deps.principalCache.forgetUser(user.id);
      audit({ action: 'user.update', targetType: 'user', targetId: user.id, details: { changed } });
      return userView(user, deps.clock.now());
    },
  }),

  defineEndpoint({
    method: 'delete', path: '/users/:userId', operationId: 'deleteUser', tags,
    summary: 'Delete a user',
    description: 'Removes the user with their enrollments, scores, sessions and tokens. The audit log keeps its entries.',
    auth: { scope: 'users:write', roles: ['admin'] },
    params: UserParams,
    responses: { 204: { description: 'Deleted' } },
    async handler({ deps, db, principal, params, audit }) {
      const user = await service.deleteUser(db, principal, params.userId);
      deps.principalCache.forgetUser(user.id);
      audit({ action: 'user.delete', targetType: 'user', targetId: user.id, details: { email: user.email } });
      return undefined;
    },
  }),

  defineEndpoint({
    method: 'post', path: '/users/:userId/unlock', operationId: 'unlockUser', tags,
    summary: 'Lift a lockout after failed logins',
    auth: { scope: 'users:write', roles: ['admin'] },
    params: UserParams,
    status: 200,
    responses: { 200: { description: 'Unlocked', schema: User } },
    async handler({ deps, db, principal, params, audit }) {
      const user = await service.unlockUser(db, deps.clock, principal, params.userId);
      audit({ action: 'user.unlock', targetType: 'user', targetId: user.id });
      return userView(user, deps.clock.now());
    },
  }),

  defineEndpoint({
    method: 'post', path: '/users/:userId/mfa/reset', operationId: 'resetUserMfa', tags,
    summary: 'Remove a user\'s MFA enrollment (lost device)',
    description: 'The user logs in with the password only and, if the tenant requires it, enrolls again. Their sessions end.',
    auth: { scope: 'users:write', roles: ['admin'] },
    params: UserParams,
    responses: { 204: { description: 'Reset' } },
    async handler({ db, principal, params, audit }) {
      const user = await service.resetMfa(db, principal, params.userId);
      audit({ action: 'user.mfa_reset', targetType: 'user', targetId: user.id, details: { email: user.email } });
      return undefined;
    },
  }),
];
