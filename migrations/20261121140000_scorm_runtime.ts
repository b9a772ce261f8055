import type { Knex } from 'knex';

/**
 * SCORM runtime (issue 4, runtime half): registrations (one per learner per course item, pinned
 * to the package version in force at first launch; its id is the xAPI registration), attempts,
 * CMI per SCO per attempt, the commit history, and the SCORM 2004 sequencing state with global
 * objectives per registration. See docs/scorm.md "Runtime".
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('scorm_registrations', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('course_id').notNullable().references('courses.id').onDelete('CASCADE');
    t.uuid('course_item_id').notNullable().references('course_items.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    // Pinned at first launch; package deletion refuses versions that registrations use.
    t.uuid('package_id').notNullable().references('scorm_packages.id').onDelete('RESTRICT');
    // An instructor's preview: browse mode, no credit, nothing sent to the gradebook or the LRS.
    t.boolean('preview').notNullable().defaultTo(false);
    t.integer('attempt_count').notNullable().defaultTo(0);
    // Rolled up over the attempts (docs/scorm.md "Results").
    t.text('completion_status').notNullable().defaultTo('unknown');
    t.text('success_status').notNullable().defaultTo('unknown');
    t.double('score_scaled');
    t.double('score_raw');
    t.double('score_min');
    t.double('score_max');
    t.double('total_seconds').notNullable().defaultTo(0);
    t.timestamp('first_launched_at', { useTz: true, precision: 3 });
    t.timestamp('last_launched_at', { useTz: true, precision: 3 });
    t.timestamp('completed_at', { useTz: true, precision: 3 });
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable();
    t.unique(['course_item_id', 'user_id'], { indexName: 'scorm_registrations_item_user_unique' });
    t.index(['package_id']);
    t.index(['course_id', 'created_at', 'id']);
    t.index(['user_id']);
  });

  await knex.schema.createTable('scorm_attempts', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('registration_id').notNullable().references('scorm_registrations.id').onDelete('CASCADE');
    t.integer('number').notNullable();
    // active → suspended ⇄ active → ended. Only the newest attempt of a registration is open.
    t.text('status').notNullable().checkIn(['active', 'suspended', 'ended'], 'scorm_attempts_status_check');
    t.text('completion_status').notNullable().defaultTo('unknown');
    t.text('success_status').notNullable().defaultTo('unknown');
    t.double('score_scaled');
    t.double('score_raw');
    t.double('score_min');
    t.double('score_max');
    t.double('total_seconds').notNullable().defaultTo(0);
    t.integer('commit_count').notNullable().defaultTo(0);
    t.timestamp('started_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('last_commit_at', { useTz: true, precision: 3 });
    t.timestamp('ended_at', { useTz: true, precision: 3 });
    t.unique(['registration_id', 'number'], { indexName: 'scorm_attempts_registration_number_unique' });
  });

  // One row per SCO per attempt: the CMI as the SCO left it at its last commit.
  await knex.schema.createTable('scorm_runtime_data', (t) => {
    t.uuid('attempt_id').notNullable().references('scorm_attempts.id').onDelete('CASCADE');
    t.text('item_identifier').notNullable();
    t.uuid('tenant_id').notNullable();
    t.jsonb('cmi').notNullable();
    t.text('completion_status').notNullable().defaultTo('unknown');
    t.text('success_status').notNullable().defaultTo('unknown');
    t.double('score_scaled');
    t.double('score_raw');
    t.double('score_min');
    t.double('score_max');
    t.double('progress_measure');
    // cmi.exit of the last terminated session: `suspend` makes the next entry `resume`.
    t.text('exit');
    // Sessions: `session_id` is the open one; its commits repeat its whole session_time, so the
    // total is the total before it plus the latest session_time seen.
    t.integer('session_count').notNullable().defaultTo(0);
    t.uuid('session_id');
    t.double('total_seconds_before_session').notNullable().defaultTo(0);
    t.double('session_seconds').notNullable().defaultTo(0);
    t.double('total_seconds').notNullable().defaultTo(0);
    // scorm-again's commitSequence of the newest commit applied: older ones arriving late are ignored.
    t.integer('last_sequence').notNullable().defaultTo(0);
    t.integer('suspend_data_length').notNullable().defaultTo(0);
    t.boolean('terminated').notNullable().defaultTo(false);
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable();
    t.primary(['attempt_id', 'item_identifier']);
  });

  // Every commit as received (the CMI included), for support and audit of learner data.
  await knex.raw(`
    create table scorm_commits (
      id bigint generated always as identity primary key,
      attempt_id uuid not null references scorm_attempts(id) on delete cascade,
      item_identifier text not null,
      session_id uuid,
      sequence integer,
      terminate boolean not null,
      via text not null check (via in ('xhr', 'beacon')),
      applied boolean not null,
      warnings jsonb not null default '[]',
      -- json, not jsonb: written once, read rarely, kept as sent.
      body json not null,
      received_at timestamptz(3) not null
    )`);
  await knex.raw('create index scorm_commits_attempt on scorm_commits (attempt_id, id)');

  // SCORM 2004 sequencing: scorm-again's serialized state for the open attempt, and the global
  // objectives (objectivesGlobalToSystem) and shared data buffers, which outlive attempts.
  await knex.schema.createTable('scorm_sequencing_state', (t) => {
    t.uuid('registration_id').primary().references('scorm_registrations.id').onDelete('CASCADE');
    t.uuid('attempt_id').references('scorm_attempts.id').onDelete('SET NULL');
    t.text('state');
    t.jsonb('global_objectives').notNullable().defaultTo('{}');
    t.jsonb('shared_data').notNullable().defaultTo('{}');
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['scorm_sequencing_state', 'scorm_commits', 'scorm_runtime_data', 'scorm_attempts', 'scorm_registrations']) {
    await knex.schema.dropTableIfExists(table);
  }
}
