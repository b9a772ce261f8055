import type { Knex } from 'knex';

/**
 * Tenants, users, sessions, API tokens, courses, enrollments, course items, the gradebook,
 * rate-limit counters and the audit log: the layer every standards module builds on.
 */
// Millisecond precision everywhere: JavaScript dates carry milliseconds, and keyset cursors
// built from them must compare equal to the stored values.
function timestamps(knex: Knex, t: Knex.CreateTableBuilder): void {
  t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
  t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tenants', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('slug').notNullable().unique({ indexName: 'tenants_slug_unique' });
    t.text('name').notNullable();
    t.boolean('require_mfa_for_admins').notNullable().defaultTo(false);
    timestamps(knex, t);
  });

  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    // Stored lower-cased; unique per tenant.
    t.text('email').notNullable();
    t.text('name').notNullable().defaultTo('');
    t.text('role').notNullable().checkIn(['admin', 'instructor', 'learner'], 'users_role_check');
    t.boolean('is_system_admin').notNullable().defaultTo(false);
    t.text('status').notNullable().defaultTo('active').checkIn(['active', 'suspended'], 'users_status_check');
    // Null for users who only arrive through LTI and never log in with a password.
    t.text('password_hash');
    t.integer('failed_login_count').notNullable().defaultTo(0);
    t.timestamp('locked_until', { useTz: true, precision: 3 });
    t.timestamp('last_login_at', { useTz: true, precision: 3 });
    t.text('mfa_secret_encrypted');
    t.timestamp('mfa_enabled_at', { useTz: true, precision: 3 });
    // Last TOTP time step accepted, so one code cannot be replayed within its window.
    t.bigInteger('mfa_last_step');
    timestamps(knex, t);
    t.unique(['tenant_id', 'email'], { indexName: 'users_tenant_id_email_unique' });
    t.index(['tenant_id', 'created_at', 'id'], 'users_tenant_id_created_at_id_index');
  });

  await knex.schema.createTable('mfa_recovery_codes', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('code_hash').notNullable();
    t.timestamp('used_at', { useTz: true, precision: 3 });
    t.index(['user_id']);
  });

  await knex.schema.createTable('sessions', (t) => {
    // SHA-256 of the cookie value; the cookie itself is never stored.
    t.text('id').primary();
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('mfa_state').notNullable().checkIn(['not_enrolled', 'pending', 'verified'], 'sessions_mfa_state_check');
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
    t.timestamp('last_seen_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
    t.timestamp('expires_at', { useTz: true, precision: 3 }).notNullable();
    t.text('ip');
    t.text('user_agent');
    t.index(['user_id']);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('api_tokens', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('name').notNullable();
    // SHA-256 of the token: tokens are 256 random bits, so a fast hash is enough and lets
    // every request find its token by index.
    t.text('token_hash').notNullable().unique({ indexName: 'api_tokens_token_hash_unique' });
    t.text('token_prefix').notNullable();
    t.specificType('scopes', 'text[]').notNullable();
    t.timestamp('expires_at', { useTz: true, precision: 3 });
    t.timestamp('last_used_at', { useTz: true, precision: 3 });
    t.timestamp('revoked_at', { useTz: true, precision: 3 });
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await knex.raw('create unique index api_tokens_user_id_name_unique on api_tokens (user_id, name) where revoked_at is null');

  // Counters are cheap to lose on a crash (the window restarts), so skip the WAL.
  await knex.raw(`
    create unlogged table rate_limit_counters (
      key text not null,
      window_start timestamptz(3) not null,
      count integer not null,
      primary key (key, window_start)
    )`);

  await knex.schema.createTable('courses', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('code');
    t.text('title').notNullable();
    t.text('description').notNullable().defaultTo('');
    t.text('status').notNullable().defaultTo('active').checkIn(['active', 'archived'], 'courses_status_check');
    t.timestamp('starts_at', { useTz: true, precision: 3 });
    t.timestamp('ends_at', { useTz: true, precision: 3 });
    timestamps(knex, t);
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await knex.raw('create unique index courses_tenant_id_code_unique on courses (tenant_id, code) where code is not null');

  await knex.schema.createTable('enrollments', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('course_id').notNullable().references('courses.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('role').notNullable().checkIn(['instructor', 'teaching_assistant', 'learner', 'observer'], 'enrollments_role_check');
    t.text('status').notNullable().defaultTo('active').checkIn(['active', 'inactive'], 'enrollments_status_check');
    t.text('source').notNullable().defaultTo('manual').checkIn(['manual', 'lti'], 'enrollments_source_check');
    timestamps(knex, t);
    t.unique(['course_id', 'user_id'], { indexName: 'enrollments_course_id_user_id_unique' });
    t.index(['user_id']);
    t.index(['course_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('course_items', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('course_id').notNullable().references('courses.id').onDelete('CASCADE');
    t.text('kind').notNullable().checkIn(['scorm', 'lti_tool', 'xapi_activity'], 'course_items_kind_check');
    t.text('title').notNullable();
    t.integer('position').notNullable().defaultTo(0);
    // The SCORM package or LTI tool this item launches; filled in by those modules.
    t.uuid('ref_id');
    // The activity IRI for xapi_activity items.
    t.text('activity_id');
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.boolean('published').notNullable().defaultTo(true);
    timestamps(knex, t);
    t.index(['course_id', 'position', 'id']);
    t.index(['ref_id']);
  });

  await knex.schema.createTable('line_items', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('course_id').notNullable().references('courses.id').onDelete('CASCADE');
    t.uuid('course_item_id').references('course_items.id').onDelete('SET NULL');
    t.text('label').notNullable();
    t.decimal('score_maximum', 12, 4).notNullable();
    t.text('resource_id');
    t.text('tag');
    t.timestamp('start_at', { useTz: true, precision: 3 });
    t.timestamp('end_at', { useTz: true, precision: 3 });
    timestamps(knex, t);
    t.index(['course_id', 'created_at', 'id']);
    t.index(['course_item_id']);
  });

  await knex.schema.createTable('scores', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('line_item_id').notNullable().references('line_items.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.decimal('score_given', 12, 4);
    t.decimal('score_maximum', 12, 4);
    // Progress vocabularies follow LTI Assignment and Grade Services, so scores pass through unchanged.
    t.text('activity_progress').notNullable().checkIn(['Initialized', 'Started', 'InProgress', 'Submitted', 'Completed'], 'scores_activity_progress_check');
    t.text('grading_progress').notNullable().checkIn(['FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady'], 'scores_grading_progress_check');
    t.text('comment');
    t.text('source').notNullable().defaultTo('manual').checkIn(['manual', 'scorm', 'lti', 'xapi'], 'scores_source_check');
    // When the source produced the score; older scores never overwrite newer ones.
    t.timestamp('scored_at', { useTz: true, precision: 3 }).notNullable();
    timestamps(knex, t);
    t.unique(['line_item_id', 'user_id'], { indexName: 'scores_line_item_id_user_id_unique' });
    t.index(['user_id']);
  });

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('tenant_id');
    // No foreign keys: the record of who did what must outlive the user and the target.
    t.uuid('actor_user_id');
    t.text('actor_type').notNullable().checkIn(['user', 'token', 'system'], 'audit_log_actor_type_check');
    t.text('actor_label').notNullable();
    t.text('action').notNullable();
    t.text('target_type');
    t.text('target_id');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.text('ip');
    t.text('request_id');
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
    t.index(['tenant_id', 'created_at', 'id']);
    t.index(['target_type', 'target_id']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_log', 'scores', 'line_items', 'course_items', 'enrollments', 'courses', 'rate_limit_counters', 'api_tokens', 'sessions', 'mfa_recovery_codes', 'users', 'tenants']) {
    await knex.schema.dropTableIfExists(table);
  }
}
