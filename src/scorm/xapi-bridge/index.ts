import type { AppDeps } from '../../deps.js';
import type { XapiCredential } from '../../xapi/auth/service.js';
import { findDefaultStore } from '../../xapi/auth/repository.js';
import { StatementService } from '../../xapi/statements/service.js';

export type BridgeDeps = Pick<AppDeps, 'db' | 'blobs' | 'config' | 'log'>;

/**
 * Writes SCORM statements into the tenant's default LRS store through the LRS's own write path
 * (StatementService.store: validation, LRS-assigned properties, conflict handling), as the
 * "Cairn SCORM player" authority. The xAPI module exposes no store-by-id service function yet,
 * so the bridge presents itself to StatementService as a built-in credential of the store.
 */
export class ScormStatementWriter {
  private readonly service: StatementService;

  constructor(private readonly deps: BridgeDeps) {
    this.service = new StatementService(deps);
  }

  /** Bridge credential id: fixed, so `statements/read/mine` style filters can tell these apart. */
  static readonly credentialId = '00000000-0000-4000-8000-00000000c0de';

  /**
   * Stores the statements in the tenant's default store; returns how many were stored, 0 when
   * the tenant has no default store (nothing to write to: the LRS is optional per tenant).
   */
  async storeBridgeStatements(tenantId: string, statements: readonly Record<string, unknown>[]): Promise<number> {
    if (statements.length === 0) return 0;
    const store = await findDefaultStore(this.deps.db, tenantId);
    if (!store) return 0;
    const credential: XapiCredential = {
      id: ScormStatementWriter.credentialId,
      key: 'cairn-scorm-player',
      name: 'Cairn SCORM player',
      storeId: store.id,
      tenantId,
      scopes: new Set(['statements/write', 'define']),
      authority: { objectType: 'Agent', name: 'Cairn SCORM player', account: { homePage: this.deps.config.publicUrl, name: 'cairn-scorm-player' } },
    };
    await this.service.store({ credential, version: '1.0.3', statements: statements.map((s) => structuredClone(s)), single: false });
    return statements.length;
  }
}
