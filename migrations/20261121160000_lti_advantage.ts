import type { Knex } from 'knex';

/**
 * LTI Advantage in the tool role: the Deep Linking requests an instructor is answering, the
 * grade-passback (AGS) record of every score on its way to a platform, and the roster (NRPS)
 * syncs of launched contexts. The last two are transactional outboxes: rows written in the
 * same transaction as the change that caused them, turned into pg-boss jobs after commit
 * (decisions 0061 and 0063).
 */
const ts = (t: Knex.CreateTableBuilder, name: string) => t.timestamp(name, { useTz: true, precision: 3 });

export async function up(knex: Knex): Promise<void> {
  // A Deep Linking request, kept while the instructor picks content. The id is the SHA-256
  // of the picker token in the page URL (the LMS iframe carries no Cairn cookie).
  await knex.schema.createTable('lti_deep_link_requests', (t) => {
    t.text('id').primary();
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('platform_client_ref').notNullable().references('lti_platform_clients.id').onDelete('CASCADE');
    t.uuid('deployment_ref').notNullable().references('lti_deployments.id').onDelete('CASCADE');
    t.uuid('course_id').references('courses.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('course_role').notNullable();
    t.uuid('launch_id').notNullable();
    // The deep_linking_settings claim as the platform sent it.
    t.jsonb('settings').notNullable();
    ts(t, 'created_at').notNullable();
    ts(t, 'expires_at').notNullable();
    ts(t, 'used_at');
    t.index(['expires_at']);
  });

  // One row per (resource link, learner): the latest score Cairn owes that platform line item
  // and how delivering it went. A newer score replaces the payload and bumps `generation`.
  await knex.schema.createTable('lti_ags_scores', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('resource_link_ref').notNullable().references('lti_resource_links.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.uuid('line_item_id').notNullable().references('line_items.id').onDelete('CASCADE');
    t.uuid('score_id').references('scores.id').onDelete('SET NULL');
    // The platform's `sub` for the learner: AGS names users by it.
    t.text('platform_user_id').notNullable();
    // The AGS score body (application/vnd.ims.lis.v1.score+json) to send.
    t.jsonb('score').notNullable();
    ts(t, 'scored_at').notNullable();
    t.integer('generation').notNullable().defaultTo(1);
    t.text('status').notNullable().defaultTo('pending').checkIn(['pending', 'sent', 'failed'], 'lti_ags_scores_status_check');
    t.integer('attempts').notNullable().defaultTo(0);
    // The pg-boss job responsible for the row now; null when none is (sent, failed, or not yet dispatched).
    t.uuid('job_id');
    ts(t, 'dispatched_at');
    ts(t, 'next_attempt_at');
    ts(t, 'last_attempt_at');
    t.integer('last_http_status');
    t.text('last_response');
    t.text('last_error');
    t.text('platform_line_item_url');
    ts(t, 'sent_at');
    ts(t, 'created_at').notNullable();
    ts(t, 'updated_at').notNullable();
    t.unique(['resource_link_ref', 'user_id'], { indexName: 'lti_ags_scores_resource_link_ref_user_id_unique' });
    t.index(['tenant_id', 'updated_at', 'id']);
    t.index(['status', 'updated_at']);
    t.index(['user_id']);
    t.index(['line_item_id']);
  });

  await knex.schema.createTable('lti_roster_syncs', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('course_context_id').notNullable().references('course_contexts.id').onDelete('CASCADE');
    t.uuid('course_id').notNullable().references('courses.id').onDelete('CASCADE');
    t.text('trigger').notNullable().checkIn(['launch', 'admin'], 'lti_roster_syncs_trigger_check');
    t.text('status').notNullable().defaultTo('queued').checkIn(['queued', 'running', 'succeeded', 'failed'], 'lti_roster_syncs_status_check');
    t.uuid('requested_by');
    t.uuid('job_id');
    ts(t, 'dispatched_at');
    t.integer('attempts').notNullable().defaultTo(0);
    ts(t, 'created_at').notNullable();
    ts(t, 'started_at');
    ts(t, 'finished_at');
    t.integer('pages').notNullable().defaultTo(0);
    t.integer('members').notNullable().defaultTo(0);
    t.integer('users_created').notNullable().defaultTo(0);
    t.integer('enrollments_added').notNullable().defaultTo(0);
    t.integer('enrollments_updated').notNullable().defaultTo(0);
    t.integer('enrollments_deactivated').notNullable().defaultTo(0);
    t.integer('http_status');
    t.text('error');
    t.index(['tenant_id', 'created_at', 'id']);
    t.index(['course_context_id', 'created_at']);
  });
  // At most one waiting sync per context: thirty learners opening a stale course queue one.
  await knex.raw(`create unique index lti_roster_syncs_one_queued on lti_roster_syncs (course_context_id) where status = 'queued'`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['lti_roster_syncs', 'lti_ags_scores', 'lti_deep_link_requests']) {
    await knex.schema.dropTableIfExists(table);
  }
}
