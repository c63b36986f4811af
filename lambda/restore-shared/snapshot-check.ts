/**
 * Before a restore uses a snapshot, its hash is checked against what the kill wrote in the audit
 * log: the `SnapshotTaken` records of the incident that took it (Object Lock, write-once), each one
 * covered by a manifest of that incident whose signature verifies with the published public key of
 * the signing key. The state table is writable by the control plane's roles; the audit log is not
 * rewritable by anyone. A stored snapshot whose hash no sealed `SnapshotTaken` record holds (state
 * edited, hash edited with it, a resource added, a record not sealed yet) stops the whole restore.
 */
import { verify } from 'node:crypto';
import type { AuditRecord } from '../shared/audit';
import { S3AuditSource } from '../shared/audit-source';
import { mapLimit } from '../shared/concurrency';
import type { HandlerDeps } from '../shared/deps';
import { sha256Hex, snapshotSha256 } from '../shared/hash';
import { getObjectIfExists, listKeys, manifestBytes, parseSignedManifest } from '../shared/manifest';
import { auditManifestPrefix } from '../shared/naming';
import type { StoredSnapshot } from '../shared/state-store';
import type { SurfaceName } from '../shared/types';

export interface SnapshotMismatch {
  readonly surface: SurfaceName;
  readonly resource: string;
  readonly reason: string;
}

/** What the audit log of one incident says the kill snapshotted: `<surface>#<id>` to its hash. */
interface SealedSnapshots {
  readonly hashes: Map<string, string>;
  /** Why the incident's records could not be used at all. */
  readonly problem?: string;
}

async function sealedSnapshots(
  deps: HandlerDeps,
  incidentId: string,
  agentId: string,
): Promise<SealedSnapshots> {
  const { s3 } = deps.clients.controlPlane();
  const bucket = deps.env.auditBucketName;
  const trusted = deps.env.manifestSigningKeyArn;

  // Records every valid manifest of the incident covers, by key, with the hash of their bytes.
  const covered = new Map<string, string>();
  const manifestKeys = await listKeys(s3, bucket, auditManifestPrefix(incidentId));
  if (manifestKeys.length === 0) {
    return { hashes: new Map(), problem: `incident ${incidentId} has no signed manifest yet` };
  }
  const source = new S3AuditSource({ s3, bucket });
  const publicKey = await source.publicKey(trusted);
  if (!publicKey) {
    return { hashes: new Map(), problem: `no public key is published for the signing key ${trusted}` };
  }
  for (const key of manifestKeys) {
    const object = await getObjectIfExists(s3, bucket, key);
    if (!object) continue;
    let signed;
    try {
      signed = parseSignedManifest(object.bytes);
    } catch {
      continue;
    }
    if (signed.signingKeyArn !== trusted || signed.manifest.incidentId !== incidentId) continue;
    const valid = verify(
      'sha256',
      Buffer.from(manifestBytes(signed.manifest), 'utf8'),
      { key: publicKey.key, dsaEncoding: 'der' },
      Buffer.from(signed.signature, 'base64'),
    );
    if (!valid) continue;
    for (const entry of signed.manifest.records) covered.set(entry.key, entry.sha256);
  }

  const recordKeys = (await listKeys(s3, bucket, `incidents/${incidentId}/`)).filter((k) =>
    k.endsWith('-SnapshotTaken.json'),
  );
  const hashes = new Map<string, string>();
  await mapLimit(recordKeys, 8, async (key) => {
    const object = await getObjectIfExists(s3, bucket, key);
    if (!object || covered.get(key) !== sha256Hex(object.bytes)) return; // not sealed as it is now
    const record = JSON.parse(Buffer.from(object.bytes).toString('utf8')) as AuditRecord;
    if (record.type !== 'SnapshotTaken' || record.agentId !== agentId || !record.surface) return;
    const resources = (record.detail as { resources?: { id: string; state: unknown }[]; dryRun?: boolean })
      .resources;
    if ((record.detail as { dryRun?: boolean }).dryRun || !Array.isArray(resources)) return;
    for (const r of resources) hashes.set(`${record.surface}#${r.id}`, snapshotSha256(r));
  });
  return { hashes };
}

/**
 * Checks every stored snapshot against the sealed `SnapshotTaken` records of the incident that
 * took it. Answers the mismatches (empty: every snapshot is what the kill recorded).
 */
export async function checkSnapshots(
  deps: HandlerDeps,
  agentId: string,
  snapshots: ReadonlyMap<SurfaceName, readonly StoredSnapshot[]>,
): Promise<SnapshotMismatch[]> {
  const incidents = new Set<string>();
  for (const list of snapshots.values()) for (const s of list) incidents.add(s.incidentId);
  const sealed = new Map<string, SealedSnapshots>();
  for (const incidentId of incidents)
    sealed.set(incidentId, await sealedSnapshots(deps, incidentId, agentId));

  const mismatches: SnapshotMismatch[] = [];
  for (const [surface, list] of snapshots) {
    for (const s of list) {
      const audit = sealed.get(s.incidentId) as SealedSnapshots;
      const recorded = audit.hashes.get(`${surface}#${s.id}`);
      const actual = snapshotSha256({ id: s.id, state: s.state });
      if (audit.problem) {
        mismatches.push({ surface, resource: s.id, reason: audit.problem });
      } else if (recorded === undefined) {
        mismatches.push({
          surface,
          resource: s.id,
          reason: `no sealed SnapshotTaken record of incident ${s.incidentId} holds this snapshot`,
        });
      } else if (recorded !== s.sha256 || recorded !== actual) {
        mismatches.push({
          surface,
          resource: s.id,
          reason: `the stored snapshot (sha256 ${actual}) is not what the kill recorded (sha256 ${recorded})`,
        });
      }
    }
  }
  return mismatches;
}
