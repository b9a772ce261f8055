import type { Knex } from 'knex';

/**
 * xAPI statements, built for the queries xAPI allows (1.0.3 Part 3 §2.1.3) — see
 * docs/decisions/0031 and docs/xapi-query-plans.md.
 *
 * Every query result is ordered by (stored, seq): `stored` is taken inside the writing
 * transaction (the clock `X-Experience-API-Consistent-Through` is measured against) and `seq` a
 * global monotonic number that breaks ties between statements of one batch. Each filter the
 * spec allows has an index whose trailing columns are (stored, seq), so a page is an index
 * scan in either direction that stops after `limit` rows, never a sort of the matching set.
 *
 * Indexes used by queries skip voided statements (they are partial on `not voided`): a voided
 * statement is reachable only through its id (the unique index).
 *
 * No foreign keys to lrs_stores: every inserted row would take a KEY SHARE lock on the same
 * store row, and concurrent batches would serialize on its multixact. A trigger on
 * lrs_stores removes a deleted store's LRS rows instead (docs/decisions/0031).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table xapi_statements (
      seq bigint generated always as identity primary key,
      store_id uuid not null,
      id uuid not null,
      -- Microseconds, though statements show milliseconds: the order and the consistency bound
      -- need the exact instant (see docs/decisions/0032).
      stored timestamptz not null,
      "timestamp" timestamptz not null,
      verb_id text not null,
      -- Canonical IFI key of the actor (null for an anonymous Group).
      actor_key text,
      object_kind text not null check (object_kind in ('Activity', 'Agent', 'Group', 'StatementRef', 'SubStatement')),
      -- Activity IRI, IFI key of an Agent/identified Group, or the referenced statement id.
      object_id text,
      registration uuid,
      voided boolean not null default false,
      -- Set on a voiding statement: the id of the statement it voids.
      voids uuid,
      -- The credential that wrote it: statements/read/mine narrows reads to these.
      credential_id uuid,
      version text not null,
      -- The statement as stored and returned (exact format). json, not jsonb: it is written
      -- once and returned as is, so the LRS keeps the text and skips jsonb's parse/print on
      -- every write and read; queries use the extracted columns (cast to jsonb for ad-hoc SQL).
      statement json not null,
      constraint xapi_statements_store_id_id_unique unique (store_id, id)
    )`);
  await knex.raw('create index xapi_statements_stored on xapi_statements (store_id, stored, seq) where not voided');
  await knex.raw('create index xapi_statements_verb on xapi_statements (store_id, verb_id, stored, seq) where not voided');
  await knex.raw('create index xapi_statements_verb_object on xapi_statements (store_id, verb_id, object_id, stored, seq) where not voided');
  await knex.raw('create index xapi_statements_registration on xapi_statements (store_id, registration, stored, seq) where registration is not null and not voided');
  await knex.raw('create index xapi_statements_credential on xapi_statements (store_id, credential_id, stored, seq) where not voided');
  await knex.raw('create index xapi_statements_voids on xapi_statements (store_id, voids) where voids is not null');

  // One row per (statement, agent): `direct` when the agent (or a member of the Group) is
  // the actor or the object; otherwise a related agent (context instructor/team,
  // contextAgents/contextGroups, authority, parts of a SubStatement).
  await knex.raw(`
    create table xapi_statement_agents (
      store_id uuid not null,
      agent_key text not null,
      stored timestamptz not null,
      seq bigint not null,
      direct boolean not null
    )`);
  await knex.raw('create index xapi_statement_agents_related on xapi_statement_agents (store_id, agent_key, stored, seq)');
  await knex.raw('create index xapi_statement_agents_direct on xapi_statement_agents (store_id, agent_key, stored, seq) where direct');

  // One row per (statement, activity): `direct` when it is the statement's object; otherwise
  // a context activity or part of a SubStatement.
  await knex.raw(`
    create table xapi_statement_activities (
      store_id uuid not null,
      activity_id text not null,
      stored timestamptz not null,
      seq bigint not null,
      direct boolean not null
    )`);
  await knex.raw('create index xapi_statement_activities_related on xapi_statement_activities (store_id, activity_id, stored, seq)');
  await knex.raw('create index xapi_statement_activities_direct on xapi_statement_activities (store_id, activity_id, stored, seq) where direct');

  // Attachment contents live in the BlobStore under xapi/<store>/attachments/<sha2>; this is
  // what the LRS knows of them. Content-addressed, so shared by every statement citing it.
  await knex.raw(`
    create table xapi_attachments (
      store_id uuid not null,
      sha2 text not null,
      content_type text not null,
      length bigint not null,
      created_at timestamptz(3) not null default now(),
      primary key (store_id, sha2)
    )`);

  // Canonical Activity definitions (1.0.3 Part 3 §2.5), merged from statements.
  await knex.raw(`
    create table xapi_activities (
      store_id uuid not null,
      activity_id text not null,
      definition jsonb,
      -- False while only credentials without the define scope have described it.
      trusted boolean not null default false,
      updated_at timestamptz(3) not null default now(),
      primary key (store_id, activity_id)
    )`);

  // Canonical definition merge for a trusted source: top-level properties replaced, language
  // maps (name, description) merged per language tag.
  await knex.raw(`
    create function xapi_merge_definition(old jsonb, new jsonb) returns jsonb
    language sql immutable parallel safe as $$
      select case when old is null then new else
        old || new
          || case when old -> 'name' is not null and new -> 'name' is not null then jsonb_build_object('name', (old -> 'name') || (new -> 'name')) else '{}'::jsonb end
          || case when old -> 'description' is not null and new -> 'description' is not null then jsonb_build_object('description', (old -> 'description') || (new -> 'description')) else '{}'::jsonb end
      end
    $$`);

  await knex.raw(`
    create function xapi_delete_store_rows() returns trigger
    language plpgsql as $$
    begin
      delete from xapi_statement_agents where store_id = old.id;
      delete from xapi_statement_activities where store_id = old.id;
      delete from xapi_statements where store_id = old.id;
      delete from xapi_attachments where store_id = old.id;
      delete from xapi_activities where store_id = old.id;
      delete from xapi_agents where store_id = old.id;
      return old;
    end
    $$`);
  await knex.raw('create trigger lrs_stores_delete_xapi after delete on lrs_stores for each row execute function xapi_delete_store_rows()');

  // Lets a statement batch be written in one autocommit round trip: the write aborts (and so
  // stores nothing) when an id already exists, and the service retries in a transaction that
  // compares the statements (see statements/repository.ts).
  await knex.raw(`
    create function xapi_abort_on_conflict(missing bigint) returns boolean
    language plpgsql as $$
    begin
      if missing > 0 then
        raise exception 'xAPI statement id conflict' using errcode = 'XA409';
      end if;
      return true;
    end
    $$`);

  // Identities seen in statements, with the names used for them: the Person object of the
  // agents resource (1.0.3 Part 3 §2.4).
  await knex.raw(`
    create table xapi_agents (
      store_id uuid not null,
      agent_key text not null,
      name text not null default '',
      ifi jsonb not null,
      primary key (store_id, agent_key, name)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists lrs_stores_delete_xapi on lrs_stores');
  await knex.raw('drop function if exists xapi_delete_store_rows()');
  await knex.raw('drop function if exists xapi_merge_definition(jsonb, jsonb)');
  await knex.raw('drop function if exists xapi_abort_on_conflict(bigint)');
  for (const table of ['xapi_agents', 'xapi_activities', 'xapi_attachments', 'xapi_statement_activities', 'xapi_statement_agents', 'xapi_statements']) {
    await knex.schema.dropTableIfExists(table);
  }
}
