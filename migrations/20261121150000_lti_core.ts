import type { Knex } from 'knex';

/**
 * LTI 1.3: Cairn's rotating signing keys, single-use nonces and OIDC login state (lti/core),
 * and the tool role's registrations (platforms → client ids → deployments), Dynamic
 * Registration links, the identities / contexts / resource links a launch provisions, and
 * the launch log.
 */
const ts = (t: Knex.CreateTableBuilder, name: string) => t.timestamp(name, { useTz: true, precision: 3 });

export async function up(knex: Knex): Promise<void> {
  // Installation-wide keys (decision 0055). The private key is sealed with CAIRN_SECRET_KEY
  // and dropped once the key is retired; the public JWK stays for the record.
  await knex.schema.createTable('lti_keys', (t) => {
    t.text('kid').primary();
    t.text('alg').notNullable().defaultTo('RS256');
    t.jsonb('public_jwk').notNullable();
    t.text('private_key_encrypted');
    t.text('status').notNullable().checkIn(['next', 'current', 'previous', 'retired'], 'lti_keys_status_check');
    ts(t, 'created_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'activated_at');
    ts(t, 'deactivated_at');
    // A previous key stays in the JWKS until then, so tokens signed just before a rotation verify.
    ts(t, 'published_until');
  });
  await knex.raw(`create unique index lti_keys_one_current on lti_keys (status) where status = 'current'`);
  await knex.raw(`create unique index lti_keys_one_next on lti_keys (status) where status = 'next'`);

  await knex.schema.createTable('lti_nonces', (t) => {
    // `scope` keeps nonce spaces apart: `id_token:<issuer>`, later `client_assertion:<client>` (jti).
    t.text('scope').notNullable();
    t.text('value').notNullable();
    ts(t, 'expires_at').notNullable();
    t.primary(['scope', 'value']);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('lti_platforms', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('issuer').notNullable();
    t.text('auth_url').notNullable();
    t.text('token_url');
    t.text('jwks_url').notNullable();
    t.text('status').notNullable().defaultTo('active').checkIn(['active', 'disabled'], 'lti_platforms_status_check');
    t.boolean('auto_register_deployments').notNullable().defaultTo(false);
    t.text('source').notNullable().defaultTo('manual').checkIn(['manual', 'dynamic'], 'lti_platforms_source_check');
    // The platform's openid-configuration as fetched during Dynamic Registration.
    t.jsonb('platform_configuration');
    ts(t, 'created_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'updated_at').notNullable().defaultTo(knex.fn.now(3));
    t.unique(['tenant_id', 'issuer'], { indexName: 'lti_platforms_tenant_id_issuer_unique' });
    t.index(['tenant_id', 'created_at', 'id']);
  });

  // One issuer, many client ids (Canvas Cloud uses one issuer for every institution). The
  // login endpoint finds the registration by (iss, client_id), so the pair is unique everywhere.
  await knex.schema.createTable('lti_platform_clients', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('platform_id').notNullable().references('lti_platforms.id').onDelete('CASCADE');
    t.text('issuer').notNullable();
    t.text('client_id').notNullable();
    t.text('label').notNullable().defaultTo('');
    t.text('source').notNullable().defaultTo('manual').checkIn(['manual', 'dynamic'], 'lti_platform_clients_source_check');
    // The platform's answer to a Dynamic Registration POST, kept whole.
    t.jsonb('registration');
    ts(t, 'created_at').notNullable().defaultTo(knex.fn.now(3));
    t.unique(['issuer', 'client_id'], { indexName: 'lti_platform_clients_issuer_client_id_unique' });
    t.index(['platform_id']);
  });

  await knex.schema.createTable('lti_deployments', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('platform_id').notNullable().references('lti_platforms.id').onDelete('CASCADE');
    t.uuid('platform_client_id').notNullable().references('lti_platform_clients.id').onDelete('CASCADE');
    t.text('deployment_id').notNullable();
    t.text('label').notNullable().defaultTo('');
    t.text('source').notNullable().defaultTo('manual').checkIn(['manual', 'auto', 'dynamic'], 'lti_deployments_source_check');
    ts(t, 'created_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'last_launch_at');
    t.unique(['platform_client_id', 'deployment_id'], { indexName: 'lti_deployments_platform_client_id_deployment_id_unique' });
    t.index(['platform_id', 'created_at', 'id']);
  });

  // Login state: the OIDC `state` (stored hashed) with its nonce and the hash of the secret
  // that ties it to one browser (cookie or postMessage storage).
  await knex.schema.createTable('lti_states', (t) => {
    t.text('id').primary();
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('platform_client_id').notNullable().references('lti_platform_clients.id').onDelete('CASCADE');
    t.text('nonce').notNullable();
    t.text('binding_hash').notNullable();
    t.text('target_link_uri').notNullable();
    t.jsonb('login').notNullable();
    ts(t, 'created_at').notNullable();
    ts(t, 'expires_at').notNullable();
    ts(t, 'used_at');
    t.index(['expires_at']);
  });

  // Dynamic Registration URLs an admin hands to an LMS: the token says which tenant.
  await knex.schema.createTable('lti_registration_links', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('token_hash').notNullable().unique({ indexName: 'lti_registration_links_token_hash_unique' });
    t.text('label').notNullable().defaultTo('');
    t.boolean('auto_register_deployments').notNullable().defaultTo(false);
    t.uuid('created_by');
    ts(t, 'created_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'expires_at').notNullable();
    ts(t, 'used_at');
    t.uuid('platform_id').references('lti_platforms.id').onDelete('SET NULL');
    t.index(['tenant_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('user_identities', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('issuer').notNullable();
    t.text('subject').notNullable();
    // As the platform last sent them (the user row keeps Cairn's own copy).
    t.text('name');
    t.text('given_name');
    t.text('family_name');
    t.text('email');
    ts(t, 'created_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'updated_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'last_launch_at');
    t.unique(['tenant_id', 'issuer', 'subject'], { indexName: 'user_identities_tenant_id_issuer_subject_unique' });
    t.index(['user_id']);
  });

  // LTI Core: a context id is unique within its deployment.
  await knex.schema.createTable('course_contexts', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('course_id').notNullable().references('courses.id').onDelete('CASCADE');
    t.uuid('deployment_ref').notNullable().references('lti_deployments.id').onDelete('CASCADE');
    t.text('context_id').notNullable();
    t.text('title');
    t.text('label');
    t.specificType('types', 'text[]').notNullable().defaultTo('{}');
    // The NRPS claim (context_memberships_url, service_versions) as last launched, for roster sync.
    t.jsonb('nrps');
    ts(t, 'nrps_synced_at');
    ts(t, 'created_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'updated_at').notNullable().defaultTo(knex.fn.now(3));
    t.unique(['deployment_ref', 'context_id'], { indexName: 'course_contexts_deployment_ref_context_id_unique' });
    t.index(['course_id']);
  });

  // Cairn as tool: a platform's resource link, the course item it opens, and the AGS endpoint
  // claim of its last launch (lineitems / lineitem / scope) for grade passback.
  await knex.schema.createTable('lti_resource_links', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('deployment_ref').notNullable().references('lti_deployments.id').onDelete('CASCADE');
    t.uuid('course_context_id').references('course_contexts.id').onDelete('SET NULL');
    t.uuid('course_id').references('courses.id').onDelete('CASCADE');
    t.text('resource_link_id').notNullable();
    t.text('title');
    t.text('description');
    t.uuid('course_item_id').references('course_items.id').onDelete('SET NULL');
    t.jsonb('custom').notNullable().defaultTo('{}');
    t.jsonb('ags');
    t.text('line_item_url');
    ts(t, 'created_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'updated_at').notNullable().defaultTo(knex.fn.now(3));
    ts(t, 'last_launch_at');
    t.unique(['deployment_ref', 'resource_link_id'], { indexName: 'lti_resource_links_deployment_ref_resource_link_id_unique' });
    t.index(['course_id']);
    t.index(['course_item_id']);
  });

  // Every launch and every refused one, with the check that failed. No foreign keys: the
  // record must outlive the registration, user and course it names.
  await knex.schema.createTable('lti_launches', (t) => {
    t.uuid('id').primary();
    t.uuid('tenant_id');
    t.uuid('platform_id');
    t.text('issuer');
    t.text('client_id');
    t.text('deployment_id');
    t.text('message_type');
    t.text('outcome').notNullable().checkIn(['success', 'failure'], 'lti_launches_outcome_check');
    t.text('error_code');
    t.text('failed_step');
    t.specificType('steps_passed', 'text[]').notNullable().defaultTo('{}');
    t.text('detail');
    t.text('subject');
    t.uuid('user_id');
    t.uuid('course_id');
    t.uuid('course_item_id');
    t.text('resource_link_id');
    t.specificType('roles', 'text[]').notNullable().defaultTo('{}');
    t.text('ip');
    t.text('user_agent');
    t.text('request_id');
    t.integer('duration_ms');
    ts(t, 'created_at').notNullable();
    t.index(['tenant_id', 'created_at', 'id']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['lti_launches', 'lti_resource_links', 'course_contexts', 'user_identities', 'lti_registration_links', 'lti_states', 'lti_deployments', 'lti_platform_clients', 'lti_platforms', 'lti_nonces', 'lti_keys']) {
    await knex.schema.dropTableIfExists(table);
  }
}
