import type { Queryable } from '../../db/index.js';
import type { PackageModel } from '../packages/model.js';
import { findPackageById } from '../packages/repository.js';
import type { Family } from './cmi.js';

export interface LoadedPackage {
  readonly id: string;
  readonly tenantId: string;
  readonly lineageId: string;
  readonly title: string;
  readonly contentPrefix: string;
  readonly model: PackageModel;
  readonly family: Family;
}

/**
 * Ready package versions never change (a re-upload is a new row), so the runtime keeps their
 * parsed models in memory: every session start and result rollup needs one.
 */
export class PackageCache {
  private readonly entries = new Map<string, LoadedPackage>();

  constructor(private readonly max = 500) {}

  async get(db: Queryable, id: string): Promise<LoadedPackage | undefined> {
    const cached = this.entries.get(id);
    if (cached) return cached;
    const row = await findPackageById(db, id);
    if (!row || row.status !== 'ready' || !row.model) return undefined;
    const loaded: LoadedPackage = {
      id: row.id, tenantId: row.tenant_id, lineageId: row.lineage_id, title: row.title, contentPrefix: row.content_prefix,
      model: row.model, family: row.model.version === '1.2' ? '1.2' : '2004',
    };
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, loaded);
    return loaded;
  }
}
