import type { Knex } from 'knex';

/**
 * The StatementRef filter rule (1.0.3 Part 3 §2.1.3): a filtered statements query also walks the
 * store's StatementRef statements in (stored, seq) order, so they get a partial index of their
 * own — a few rows beside the rest of the store (src/xapi/statements/repository.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create index xapi_statements_statement_refs on xapi_statements (store_id, stored, seq) where object_kind = 'StatementRef' and not voided`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists xapi_statements_statement_refs');
}
