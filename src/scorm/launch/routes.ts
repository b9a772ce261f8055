import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../../http/endpoint.js';
import { DateTime, NullableDateTime, Uuid, iso } from '../../http/schemas.js';
import { paginationQuery, pageSchema } from '../../db/pagination.js';
import { notFound } from '../../errors/index.js';
import type { AppDeps } from '../../deps.js';
import type { Principal } from '../../auth/principal.js';
import type { Queryable } from '../../db/index.js';
import { courseAccess } from '../../courses/service.js';
import { launchItem } from './service.js';
import { RuntimeTokens } from './tokens.js';
import * as repo from '../runtime/repository.js';

/** Launch token lifetime: it only has to open the player. */
export const launchTokenSeconds = 10 * 60;
/** Session token lifetime: one sitting, however long; the attempt's state is checked on every write. */
export const sessionTokenSeconds = 12 * 60 * 60;

const tokensBySecrets = new WeakMap<object, RuntimeTokens>();
/** One RuntimeTokens per secret box (i.e. per running app), built on first use. */
export function runtimeTokens(deps: Pick<AppDeps, 'secrets'>): RuntimeTokens {
  let tokens = tokensBySecrets.get(deps.secrets);
  if (!tokens) {
    tokens = new RuntimeTokens(deps.secrets, { launch: launchTokenSeconds, session: sessionTokenSeconds });
    tokensBySecrets.set(deps.secrets, tokens);
  }
  return tokens;
}

const tags = ['SCORM runtime'];
const ItemParams = Type.Object({ courseId: Uuid(), itemId: Uuid() });
const RegistrationParams = Type.Object({ registrationId: Uuid() });
const AttemptParams = Type.Object({ registrationId: Uuid(), attemptId: Uuid() });

const Completion = Type.Union([Type.Literal('completed'), Type.Literal('incomplete'), Type.Literal('not attempted'), Type.Literal('unknown')]);
const SuccessSchema = Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('unknown')]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const resultFields = {
  completion_status: Completion,
  success_status: SuccessSchema,
  score: Type.Object({ scaled: NullableNumber, raw: NullableNumber, min: NullableNumber, max: NullableNumber }),
  total_seconds: Type.Number(),
};

const Registration = Type.Object({
  id: Uuid('Also the xAPI `context.registration` of the statements this learner\'s SCORM activity produces'),
  course_id: Uuid(), course_item_id: Uuid(), user_id: Uuid(), package_id: Uuid('The package version pinned at first launch'),
  preview: Type.Boolean(), attempt_count: Type.Integer(), ...resultFields,
  first_launched_at: NullableDateTime(), last_launched_at: NullableDateTime(), completed_at: NullableDateTime(),
  created_at: DateTime(), updated_at: DateTime(),
});

const Attempt = Type.Object({
  id: Uuid(), registration_id: Uuid(), number: Type.Integer(),
  status: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('ended')]),
  ...resultFields, commit_count: Type.Integer(),
  started_at: DateTime(), last_commit_at: NullableDateTime(), ended_at: NullableDateTime(),
});

const RuntimeData = Type.Object({
  item_identifier: Type.String(), ...resultFields, progress_measure: NullableNumber, exit: Type.Union([Type.String(), Type.Null()]),
  session_count: Type.Integer(), suspend_data_length: Type.Integer(), cmi: Type.Record(Type.String(), Type.Unknown()), updated_at: DateTime(),
});

const score = (r: repo.ResultColumns) => ({ scaled: r.score_scaled, raw: r.score_raw, min: r.score_min, max: r.score_max });
const registrationView = (r: repo.RegistrationRow) => ({
  id: r.id, course_id: r.course_id, course_item_id: r.course_item_id, user_id: r.user_id, package_id: r.package_id, preview: r.preview,
  attempt_count: r.attempt_count, completion_status: r.completion_status, success_status: r.success_status, score: score(r), total_seconds: r.total_seconds,
  first_launched_at: iso(r.first_launched_at), last_launched_at: iso(r.last_launched_at), completed_at: iso(r.completed_at),
  created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
});
const attemptView = (a: repo.AttemptRow) => ({
  id: a.id, registration_id: a.registration_id, number: a.number, status: a.status, completion_status: a.completion_status, success_status: a.success_status,
  score: score(a), total_seconds: a.total_seconds, commit_count: a.commit_count,
  started_at: a.started_at.toISOString(), last_commit_at: iso(a.last_commit_at), ended_at: iso(a.ended_at),
});
const runtimeView = (r: repo.RuntimeRow) => ({
  item_identifier: r.item_identifier, completion_status: r.completion_status, success_status: r.success_status, score: score(r), total_seconds: r.total_seconds,
  progress_measure: r.progress_measure, exit: r.exit, session_count: r.session_count, suspend_data_length: r.suspend_data_length, cmi: r.cmi,
  updated_at: r.updated_at.toISOString(),
});

/** A registration the caller may read: their own, or any in a course they grade. */
async function readableRegistration(db: Queryable, principal: Principal, registrationId: string): Promise<repo.RegistrationRow> {
  const registration = await repo.findRegistration(db, principal.tenantId, registrationId);
  if (!registration) throw notFound('Registration');
  const access = await courseAccess(db, principal, registration.course_id, 'view').catch(() => undefined);
  if (!access || (!access.canGrade && registration.user_id !== principal.userId)) throw notFound('Registration');
  return registration;
}

async function readableAttempt(db: Queryable, principal: Principal, registrationId: string, attemptId: string) {
  const registration = await readableRegistration(db, principal, registrationId);
  const attempt = await repo.findAttempt(db, attemptId);
  if (!attempt || attempt.registration_id !== registration.id) throw notFound('Attempt');
  return { registration, attempt };
}

export const scormRuntimeEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'post', path: '/courses/:courseId/items/:itemId/launch', operationId: 'launchScormItem', tags,
    summary: 'Launch a SCORM course item',
    description: 'Returns a short-lived URL on the content origin that opens the player for the caller\'s registration (created at first launch, pinned to the package version then in force) and attempt (a new one after the last ended, or when `new_attempt` is true). Learners play for credit; instructors, teaching assistants and admins preview in browse mode without credit.',
    auth: { scope: 'courses:read' },
    params: ItemParams,
    body: Type.Object({ new_attempt: Type.Optional(Type.Boolean({ description: 'End the open attempt and start a new one' })) }, { additionalProperties: false }),
    status: 200,
    responses: {
      200: {
        description: 'Launch URL',
        schema: Type.Object({
          launch_url: Type.String({ format: 'uri' }), expires_at: DateTime(), registration_id: Uuid(), attempt_id: Uuid(), attempt_number: Type.Integer(),
          new_attempt: Type.Boolean(), package_id: Uuid(), mode: Type.Union([Type.Literal('normal'), Type.Literal('browse')]),
        }),
      },
    },
    async handler({ deps, db, principal, params, body, audit }) {
      const launched = await launchItem(db, runtimeTokens(deps), deps.config.contentUrl, principal, params.courseId, params.itemId, { newAttempt: body.new_attempt === true }, deps.clock.now());
      audit({
        action: 'scorm.launch', targetType: 'scorm_registration', targetId: launched.registration.id,
        details: { course_item_id: params.itemId, attempt: launched.attempt.number, new_attempt: launched.newAttempt, mode: launched.mode },
      });
      return {
        launch_url: launched.launchUrl, expires_at: launched.expiresAt.toISOString(), registration_id: launched.registration.id,
        attempt_id: launched.attempt.id, attempt_number: launched.attempt.number, new_attempt: launched.newAttempt,
        package_id: launched.registration.package_id, mode: launched.mode,
      };
    },
  }),

  defineEndpoint({
    method: 'get', path: '/courses/:courseId/items/:itemId/registrations', operationId: 'listScormRegistrations', tags,
    summary: 'List the SCORM registrations of a course item',
    description: 'Instructors, teaching assistants and admins see every learner\'s; learners their own.',
    auth: { scope: 'courses:read' },
    params: ItemParams,
    query: Type.Object({ ...paginationQuery, user_id: Type.Optional(Uuid()) }, { additionalProperties: false }),
    responses: { 200: { description: 'A page of registrations', schema: pageSchema(Registration) } },
    async handler({ deps, principal, params, query }) {
      const access = await courseAccess(deps.db, principal, params.courseId, 'view');
      const userId = access.canGrade ? query.user_id : principal.userId;
      const page = await repo.listRegistrations(deps.db, { tenantId: principal.tenantId, courseId: params.courseId, courseItemId: params.itemId, userId, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(registrationView), next_cursor: page.nextCursor };
    },
  }),

  defineEndpoint({
    method: 'get', path: '/scorm/registrations/:registrationId', operationId: 'getScormRegistration', tags,
    summary: 'Get a SCORM registration with its attempts and rolled-up result',
    auth: { scope: 'courses:read' },
    params: RegistrationParams,
    responses: { 200: { description: 'The registration', schema: Type.Object({ ...Registration.properties, attempts: Type.Array(Attempt) }) } },
    async handler({ deps, principal, params }) {
      const registration = await readableRegistration(deps.db, principal, params.registrationId);
      const attempts = await repo.listAttempts(deps.db, registration.id);
      return { ...registrationView(registration), attempts: attempts.map(attemptView) };
    },
  }),

  defineEndpoint({
    method: 'get', path: '/scorm/registrations/:registrationId/attempts/:attemptId', operationId: 'getScormAttempt', tags,
    summary: 'Get an attempt with the CMI of each SCO',
    auth: { scope: 'courses:read' },
    params: AttemptParams,
    responses: {
      200: {
        description: 'The attempt',
        schema: Type.Object({ ...Attempt.properties, scos: Type.Array(RuntimeData), sequencing: Type.Union([Type.Object({ global_objectives: Type.Record(Type.String(), Type.Unknown()), has_state: Type.Boolean(), updated_at: DateTime() }), Type.Null()]) }),
      },
    },
    async handler({ deps, principal, params }) {
      const { registration, attempt } = await readableAttempt(deps.db, principal, params.registrationId, params.attemptId);
      const rows = await repo.listRuntime(deps.db, attempt.id);
      const seq = await repo.findSequencing(deps.db, registration.id);
      return {
        ...attemptView(attempt), scos: rows.map(runtimeView),
        sequencing: seq ? { global_objectives: seq.global_objectives, has_state: seq.attempt_id === attempt.id && seq.state !== null, updated_at: seq.updated_at.toISOString() } : null,
      };
    },
  }),

  defineEndpoint({
    method: 'get', path: '/scorm/registrations/:registrationId/attempts/:attemptId/commits', operationId: 'listScormCommits', tags,
    summary: 'The commit history of an attempt, oldest first',
    description: 'Every commit the player sent, as received, with whether it was applied and any warnings (such as SCORM 1.2 suspend data over 4,096 characters).',
    auth: { scope: 'courses:read' },
    params: AttemptParams,
    query: Type.Object({ ...paginationQuery }, { additionalProperties: false }),
    responses: {
      200: {
        description: 'A page of commits',
        schema: pageSchema(Type.Object({
          id: Type.String(), item_identifier: Type.String(), session_id: Type.Union([Uuid(), Type.Null()]), sequence: Type.Union([Type.Integer(), Type.Null()]),
          terminate: Type.Boolean(), via: Type.Union([Type.Literal('xhr'), Type.Literal('beacon')]), applied: Type.Boolean(), warnings: Type.Array(Type.String()),
          body: Type.Unknown(), received_at: DateTime(),
        })),
      },
    },
    async handler({ deps, principal, params, query }) {
      const { attempt } = await readableAttempt(deps.db, principal, params.registrationId, params.attemptId);
      const page = await repo.listCommits(deps.db, attempt.id, { limit: query.limit ?? 50, cursor: query.cursor });
      return {
        data: page.rows.map((c) => ({ ...c, id: String(c.id), received_at: c.received_at.toISOString() })),
        next_cursor: page.nextCursor,
      };
    },
  }),
];

