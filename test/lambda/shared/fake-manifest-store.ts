/**
 * The state store's manifest and pending-audit methods, in memory, with the same
 * compare-and-swap contract as StateStore.setLatestManifest (the DynamoDB side of which is
 * tested in state-store.test.ts). `beforeSwap` lets a test move the head under the writer.
 */
import type { PendingAuditRecord } from '../../../lambda/shared/audit';
import type { ManifestStateStore } from '../../../lambda/shared/manifest';
import {
  ManifestConflictError,
  type ManifestPointer,
  type ManifestRef,
} from '../../../lambda/shared/state-store';

export class FakeManifestStore implements ManifestStateStore {
  latest: ManifestPointer | undefined;
  readonly pointers = new Map<string, ManifestPointer>();
  readonly pending = new Map<string, PendingAuditRecord>();
  beforeSwap: (() => void) | undefined;

  async listPendingAudit(incidentId: string): Promise<PendingAuditRecord[]> {
    return [...this.pending.values()].filter((r) => r.incidentId === incidentId);
  }

  async addPendingAudit(_incidentId: string, records: readonly PendingAuditRecord[]): Promise<void> {
    for (const r of records) this.pending.set(r.key, r);
  }

  async removePendingAudit(_incidentId: string, keys: readonly string[]): Promise<void> {
    for (const k of keys) this.pending.delete(k);
  }

  async getLatestManifest(): Promise<ManifestPointer | undefined> {
    return this.latest;
  }

  async getManifestPointer(incidentId: string): Promise<ManifestPointer | undefined> {
    return this.pointers.get(incidentId);
  }

  async setLatestManifest(prev: ManifestRef | null, next: ManifestPointer): Promise<void> {
    const hook = this.beforeSwap;
    this.beforeSwap = undefined;
    hook?.();
    const headMatches = prev === null ? !this.latest : this.latest?.sha256 === prev.sha256;
    if (!headMatches || this.pointers.has(next.incidentId)) {
      throw new ManifestConflictError(this.latest, this.pointers.get(next.incidentId));
    }
    this.latest = next;
    this.pointers.set(next.incidentId, next);
  }
}
