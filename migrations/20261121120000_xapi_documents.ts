import type { Knex } from 'knex';

/**
 * xAPI documents: State, Activity Profile and Agent Profile (xAPI 1.0.3 Part 3 §2.2–2.7) in one
 * table, see docs/decisions/0040 and 0041.
 *
 * A document's identity (kind, activity, agent, registration, id) can be several kilobytes long
 * (IRIs, account names), which no btree index accepts. The unique index is therefore on a
 * SHA-256 of the identity (`identity_hash`), which also treats a missing registration as one
 * value without NULLS NOT DISTINCT. List queries go through `scope_hash` (kind + activity +
 * agent, i.e. every key of a list request except registration and since), erasure through
 * `agent_hash`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('xapi_documents', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('store_id').notNullable().references('lrs_stores.id').onDelete('CASCADE');
    t.text('kind').notNullable().checkIn(['state', 'activity_profile', 'agent_profile'], 'xapi_documents_kind_check');
    // Null for agent profiles.
    t.text('activity_id');
    // The canonical IFI key (validation/agent.ts ifiKey) and the agent as the client sent it;
    // null for activity profiles.
    t.text('agent_key');
    t.jsonb('agent');
    // State documents only; null when the client sent none.
    t.uuid('registration');
    t.text('document_id').notNullable();
    t.binary('identity_hash').notNullable();
    t.binary('scope_hash').notNullable();
    t.binary('agent_hash');
    // The Content-Type header exactly as the client sent it.
    t.text('content_type').notNullable();
    // Small documents live here; larger ones in the blob store under `blob_key` (decision 0041).
    t.binary('content');
    t.text('blob_key');
    t.bigInteger('size').notNullable();
    // Lower-case hex SHA-1 of the content, unquoted (xAPI 1.0.3 Part 3 §3.1).
    t.text('etag').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable();
  });
  await knex.raw('alter table xapi_documents add constraint xapi_documents_content_check check ((content is null) <> (blob_key is null))');
  await knex.raw('create unique index xapi_documents_identity_unique on xapi_documents (store_id, identity_hash)');
  await knex.raw('create index xapi_documents_scope_index on xapi_documents (store_id, scope_hash, updated_at)');
  await knex.raw('create index xapi_documents_agent_index on xapi_documents (store_id, agent_hash) where agent_hash is not null');

  // Blob keys of replaced or deleted documents, written in the same transaction as the change
  // and removed once the blob is gone: a rolled-back change never loses a blob, and a crash
  // between commit and blob deletion leaves a row to retry instead of an untracked orphan.
  await knex.schema.createTable('xapi_document_blob_deletions', (t) => {
    t.text('blob_key').primary();
    t.timestamp('queued_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('xapi_document_blob_deletions');
  await knex.schema.dropTableIfExists('xapi_documents');
}
