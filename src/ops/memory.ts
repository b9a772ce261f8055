import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Start-up allocates far more than a running Cairn keeps: migrations, compiling ~100 JSON
 * Schemas, building the OpenAPI document, hashing the first admin's password. V8 keeps the heap
 * it grew for that until it has a reason to collect, so an idle node would report 30–50 MB of
 * garbage as resident memory. One full collection once everything listens returns it
 * (measured by bench:api; see docs/decisions/0027-memory.md). Node exposes `gc` only behind
 * --expose-gc; enabling the flag at runtime and reading `gc` from a fresh context is the
 * documented way to reach it without changing how the process is started.
 */
export function collectStartupGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  setFlagsFromString('--no-expose-gc');
  gc?.();
}
