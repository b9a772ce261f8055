import type { Knex } from 'knex';

/**
 * SCORM packages and their items (issue 4, import). A package row is one *version*: re-uploading
 * into a lineage adds a row with the next version number, so registrations pinned to an older
 * version keep playing exactly what they started with. See docs/scorm.md "Import".
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('scorm_packages', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    // The id of the lineage's first version; every later upload of "the same package" shares it.
    t.uuid('lineage_id').notNullable();
    t.integer('version').notNullable();
    t.text('title').notNullable();
    // Null until the manifest has been read.
    t.text('scorm_version').checkIn(['1.2', '2004-2', '2004-3', '2004-4'], 'scorm_packages_scorm_version_check');
    t.text('manifest_identifier');
    t.text('status').notNullable().checkIn(['processing', 'ready', 'failed'], 'scorm_packages_status_check');
    t.text('phase').notNullable().checkIn(['uploading', 'queued', 'parsing', 'validating', 'extracting', 'ready', 'failed'], 'scorm_packages_phase_check');
    t.integer('percent').notNullable().defaultTo(0);
    // Counters of the current phase (files and bytes done / total), for progress displays.
    t.jsonb('progress').notNullable().defaultTo('{}');
    t.text('job_id');
    t.text('source').notNullable().checkIn(['upload', 'blob'], 'scorm_packages_source_check');
    // The zip: Cairn's copy for uploads, the caller's object for imports from the blob store.
    t.text('upload_blob_key');
    t.text('original_filename');
    t.bigInteger('upload_size');
    // `scorm/<tenant>/<package>/content/` — package-relative paths follow it.
    t.text('content_prefix').notNullable();
    t.integer('file_count');
    t.bigInteger('byte_size');
    t.jsonb('model');
    // { findings: ValidationFinding[], errors, warnings }
    t.jsonb('report');
    t.uuid('created_by').references('users.id').onDelete('SET NULL');
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('processed_at', { useTz: true, precision: 3 });
    t.unique(['lineage_id', 'version'], { indexName: 'scorm_packages_lineage_version_unique' });
    t.index(['tenant_id', 'created_at', 'id'], 'scorm_packages_tenant_created_index');
    t.index(['tenant_id', 'lineage_id', 'version'], 'scorm_packages_tenant_lineage_index');
  });
  await knex.raw('alter table scorm_packages add constraint scorm_packages_percent_check check (percent between 0 and 100)');

  await knex.schema.createTable('scorm_items', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable().references('tenants.id').onDelete('CASCADE');
    t.uuid('package_id').notNullable().references('scorm_packages.id').onDelete('CASCADE');
    t.text('organization_identifier').notNullable();
    t.text('identifier').notNullable();
    t.text('parent_identifier');
    // Document order within the package (all organizations, depth first), and depth in the tree.
    t.integer('position').notNullable();
    t.integer('depth').notNullable();
    t.text('title').notNullable();
    t.boolean('is_visible').notNullable().defaultTo(true);
    t.text('resource_identifier');
    t.text('launch_url');
    t.text('scorm_type').checkIn(['sco', 'asset'], 'scorm_items_scorm_type_check');
    t.text('parameters');
    t.text('data_from_lms');
    // 1.2 adlcp:masteryscore, 0–100.
    t.decimal('mastery_score', 7, 4);
    // 2004 primary objective's minNormalizedMeasure when satisfiedByMeasure, -1..1.
    t.decimal('scaled_passing_score', 7, 4);
    t.decimal('completion_threshold', 7, 4);
    t.boolean('completed_by_measure');
    t.text('max_time_allowed');
    t.text('time_limit_action');
    t.text('prerequisites');
    t.jsonb('sequencing');
    t.unique(['package_id', 'organization_identifier', 'identifier'], { indexName: 'scorm_items_package_identifier_unique' });
    t.index(['package_id', 'position'], 'scorm_items_package_position_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('scorm_items');
  await knex.schema.dropTableIfExists('scorm_packages');
}
