import type { Knex } from 'knex';

/** LRS stores (one tenant has several) and the HTTP Basic credentials that reach them. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('lrs_stores', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('description').notNullable().defaultTo('');
    // The store SCORM content and other Cairn modules write into; one per tenant.
    t.boolean('is_default').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await knex.raw('create unique index lrs_stores_tenant_id_name_unique on lrs_stores (tenant_id, lower(name))');
  await knex.raw('create unique index lrs_stores_default_unique on lrs_stores (tenant_id) where is_default');

  await knex.schema.createTable('lrs_credentials', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('store_id').notNullable().references('lrs_stores.id').onDelete('CASCADE');
    t.text('name').notNullable();
    // The Basic-auth user name; public, unique across the installation.
    t.text('key').notNullable().unique({ indexName: 'lrs_credentials_key_unique' });
    // HMAC-SHA256 of the secret keyed with CAIRN_SECRET_KEY (see docs/decisions/0030).
    t.text('secret_hash').notNullable();
    t.specificType('scopes', 'text[]').notNullable();
    // The Agent written as `authority` on statements this credential stores.
    t.jsonb('authority').notNullable();
    t.timestamp('revoked_at', { useTz: true, precision: 3 });
    t.timestamp('last_used_at', { useTz: true, precision: 3 });
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
    t.index(['store_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('lrs_credentials');
  await knex.schema.dropTableIfExists('lrs_stores');
}
