/**
 * Sealing an incident with a series of signed manifests (lambda/shared/manifest.ts, seal.ts), on
 * the embedded simulator: real Object Lock, the deployed bucket policy, DynamoDB transactions for
 * the claims, and a KMS key that really signs.
 */
import { verify } from 'node:crypto';
import { GetPublicKeyCommand } from '@aws-sdk/client-kms';
import type { AuditRecord } from '../../../lambda/shared/audit';
import { verifyAudit } from '../../../lambda/shared/audit-verify';
import { sha256Hex } from '../../../lambda/shared/hash';
import {
  manifestBytes,
  manifestSha256,
  parseSignedManifest,
  type SignedManifest,
} from '../../../lambda/shared/manifest';
import { DynamoManifestSeriesStore } from '../../../lambda/shared/manifest-store';
import { sealIncident } from '../../../lambda/shared/seal';
import { StateStore } from '../../../lambda/shared/state-store';
import { toPublicKey } from '../../../lambda/shared/audit-source';
import {
  type AuditWorld,
  auditWorld,
  CP,
  chainOf,
  killRecords,
  seal,
  sealedKill,
  write,
} from './audit-world';

function object(w: AuditWorld, key: string): string {
  const versions = w.sim.s3.objectVersions(w.cp.auditBucketName, key);
  if (versions.length !== 1) throw new Error(`${key} has ${versions.length} versions`);
  return versions[0]!.body;
}
const manifest = (w: AuditWorld, key: string) => JSON.parse(object(w, key)) as SignedManifest;
const manifests = (w: AuditWorld, incidentId: string) =>
  w.sim.s3.keys(w.cp.auditBucketName, `manifests/${incidentId}/`);

describe('sealIncident', () => {
  it('seals every record of the incident in manifests/<incident>/0001-<kind>.json, signed over its digest', async () => {
    const w = await auditWorld();
    await killRecords(w, 'inc-1');
    const result = await seal(w, 'inc-1', 'kill');

    const recordKeys = w.sim.s3.keys(w.cp.auditBucketName, 'incidents/inc-1/');
    expect(recordKeys).toHaveLength(5);
    expect(result).toMatchObject({
      status: 'SEALED',
      key: 'manifests/inc-1/0001-kill.json',
      seq: 1,
      kind: 'kill',
    });
    const doc = manifest(w, 'manifests/inc-1/0001-kill.json');
    expect(doc.manifest).toEqual({
      schemaVersion: 2,
      incidentId: 'inc-1',
      seq: 1,
      kind: 'kill',
      createdAt: new Date(w.clock.now()).toISOString(),
      records: recordKeys.map((key) => ({
        key,
        sha256: sha256Hex(object(w, key)),
        versionId: w.sim.s3.objectVersions(w.cp.auditBucketName, key)[0]!.versionId,
      })),
      undelivered: [],
      previousInIncident: null,
      previousManifest: null,
    });
    expect(result.sha256).toBe(manifestSha256(doc.manifest));

    // KMS signed the SHA-256 digest (MessageType DIGEST), verifiable with the public key alone.
    const sign = w.sim.calls.filter((c) => c.action === 'Sign');
    expect(sign).toHaveLength(1);
    expect(sign[0]!.input).toMatchObject({ MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' });
    const { PublicKey } = await w.sealer.clients
      .controlPlane()
      .kms.send(new GetPublicKeyCommand({ KeyId: w.cp.manifestSigningKeyArn }));
    const key = toPublicKey(PublicKey as Uint8Array);
    const signature = Buffer.from(doc.signature, 'base64');
    expect(
      verify('sha256', Buffer.from(manifestBytes(doc.manifest)), { key, dsaEncoding: 'der' }, signature),
    ).toBe(true);
    const altered = { ...doc.manifest, records: doc.manifest.records.slice(1) };
    expect(
      verify('sha256', Buffer.from(manifestBytes(altered)), { key, dsaEncoding: 'der' }, signature),
    ).toBe(false);
  });

  it('seals later records in the next manifest of the series, linked to the one before', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const first = manifest(w, 'manifests/inc-1/0001-kill.json');
    await w.clock.advance(60_000);
    await write(chainOf(w, 'inc-1', 'actor-0000000000000001', w.sealer), [
      [
        'ActorAttributed',
        { detail: { principalArn: 'arn:aws:sts::111111111111:assumed-role/oncall/alice' } },
      ],
    ]);
    const second = await seal(w, 'inc-1', 'attribution');

    expect(second).toMatchObject({ status: 'SEALED', key: 'manifests/inc-1/0002-attribution.json', seq: 2 });
    const doc = manifest(w, 'manifests/inc-1/0002-attribution.json').manifest;
    const link = {
      incidentId: 'inc-1',
      key: 'manifests/inc-1/0001-kill.json',
      sha256: manifestSha256(first.manifest),
    };
    expect(doc.previousInIncident).toEqual(link);
    expect(doc.previousManifest).toEqual(link);
    // Only what the first did not cover: the attribution and the note Finalize wrote after sealing.
    expect(doc.records.map((r) => r.key)).toEqual([
      'incidents/inc-1/actor-0000000000000001/0001-ActorAttributed.json',
      'incidents/inc-1/finalize-00000003/0002-ManifestWritten.json',
    ]);
    const report = await verifyAudit(w.verifyOptions());
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(report.incidents[0]!.manifests.map((m) => [m.seq, m.kind])).toEqual([
      [1, 'kill'],
      [2, 'attribution'],
    ]);
  });

  it('writes nothing when there is nothing new, however often it is called (a retry)', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const before = manifests(w, 'inc-1');
    const again = await seal(w, 'inc-1', 'kill');
    const third = await seal(w, 'inc-1', 'hold');
    expect(again).toMatchObject({
      status: 'NOTHING_NEW',
      key: 'manifests/inc-1/0001-kill.json',
      recordCount: 0,
    });
    expect(third.status).toBe('NOTHING_NEW');
    expect(manifests(w, 'inc-1')).toEqual(before);
    expect(w.sim.calls.filter((c) => c.action === 'Sign')).toHaveLength(1);
  });

  it('links every incident into one chain through the head, in the order the claims were made', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await sealedKill(w, 'inc-2');
    const one = manifest(w, 'manifests/inc-1/0001-kill.json').manifest;
    const two = manifest(w, 'manifests/inc-2/0001-kill.json').manifest;
    expect(two.previousManifest).toEqual({
      incidentId: 'inc-1',
      key: 'manifests/inc-1/0001-kill.json',
      sha256: manifestSha256(one),
    });
    expect(two.previousInIncident).toBeNull();
    expect(
      await new DynamoManifestSeriesStore(w.sealer.clients.controlPlane().dynamo, w.cp.tableName).getHead(),
    ).toEqual({ incidentId: 'inc-2', key: 'manifests/inc-2/0001-kill.json', sha256: manifestSha256(two) });
  });

  it('is safe when two seal one incident at once: one claim wins, nothing is covered twice or left out', async () => {
    const w = await auditWorld();
    await killRecords(w, 'inc-1');
    const [a, b] = await Promise.all([seal(w, 'inc-1', 'kill'), seal(w, 'inc-1', 'attribution')]);
    expect([a.status, b.status].sort()).toEqual(['NOTHING_NEW', 'SEALED']);
    expect(manifests(w, 'inc-1')).toHaveLength(1);
    const report = await verifyAudit(w.verifyOptions());
    expect(report.ok).toBe(true);
    expect(report.findings).toEqual([]);
  });

  it('keeps one unforked chain when many incidents seal at once', async () => {
    const w = await auditWorld();
    const ids = ['inc-1', 'inc-2', 'inc-3', 'inc-4'];
    for (const id of ids) await killRecords(w, id);
    await Promise.all(ids.map((id) => seal(w, id, 'kill')));
    const report = await verifyAudit(w.verifyOptions({ incidentId: undefined, all: true }));
    expect(report.findings).toEqual([]);
    expect(report.incidents.map((i) => i.incidentId)).toEqual(ids);
  });

  it('finishes a claim whose sealer died before writing the manifest, byte for byte, then seals what came since', async () => {
    const w = await auditWorld();
    await killRecords(w, 'inc-1');
    // Both attempts of the client fail: the sealer dies between its claim and the object.
    w.sim.failNext({ service: 'kms', action: 'Sign', error: 'internal', times: 2 });
    await expect(seal(w, 'inc-1', 'kill')).rejects.toThrow();
    const series = new DynamoManifestSeriesStore(w.sealer.clients.controlPlane().dynamo, w.cp.tableName);
    const [claim] = await series.listSeries('inc-1');
    expect(claim).toMatchObject({ seq: 1, kind: 'kill', key: 'manifests/inc-1/0001-kill.json' });
    expect(manifests(w, 'inc-1')).toEqual([]);

    // The retried Finalize writes its records again (a new chain) and seals.
    await w.clock.advance(60_000);
    const retry = chainOf(w, 'inc-1', 'finalize-00000009', w.sealer);
    void retry.write('KillCompleted', { detail: { status: 'CONTAINED' } });
    const result = await sealIncident(w.sealer, { incidentId: 'inc-1', kind: 'kill', chain: retry });
    expect(result.finished).toEqual(['manifests/inc-1/0001-kill.json']);
    expect(manifestSha256(manifest(w, 'manifests/inc-1/0001-kill.json').manifest)).toBe(claim!.sha256);
    expect(result.key).toBe('manifests/inc-1/0002-kill.json');
    expect(manifest(w, 'manifests/inc-1/0002-kill.json').manifest.records.map((r) => r.key)).toEqual([
      'incidents/inc-1/finalize-00000009/0001-KillCompleted.json',
    ]);
    expect((await verifyAudit(w.verifyOptions())).ok).toBe(true);
  });

  it('retries records the writers could not deliver, and lists those that still fail as undelivered', async () => {
    const w = await auditWorld();
    const late = 'incidents/inc-1/iam-agent-1-00000003/0002-SnapshotTaken.json';
    const lost = 'incidents/inc-1/iam-agent-1-00000003/0003-SurfaceContained.json';
    const deny = w.sim.denyAction({ accountId: CP, service: 's3', action: 'PutObject', resource: late });
    const deny2 = w.sim.denyAction({ accountId: CP, service: 's3', action: 'PutObject', resource: lost });
    const chain = chainOf(w, 'inc-1', 'iam-agent-1-00000003');
    await write(chain, [
      ['SurfaceDiscovered', { surface: 'iam' }],
      ['SnapshotTaken', { surface: 'iam' }],
      ['SurfaceContained', { surface: 'iam' }],
    ]);
    const store = new StateStore({ doc: w.sealer.clients.controlPlane().dynamo, tableName: w.cp.tableName });
    expect((await store.listPendingAudit('inc-1')).map((p) => p.key)).toEqual([late, lost]);

    deny(); // the bucket is back for one of them
    const result = await seal(w, 'inc-1', 'kill');
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/inc-1/')).toContain(late);
    expect((await store.listPendingAudit('inc-1')).map((p) => p.key)).toEqual([lost]);
    const doc = manifest(w, result.key as string).manifest;
    expect(doc.records.map((r) => r.key)).toContain(late);
    expect(doc.undelivered).toEqual([{ key: lost, sha256: chain.headHash }]);
    expect(result.undelivered).toEqual([lost]);

    // Delivered later, it is not sealed twice: the first manifest already holds its hash.
    deny2();
    const again = await seal(w, 'inc-1', 'kill');
    expect(again.status).toBe('NOTHING_NEW');
    const report = await verifyAudit(w.verifyOptions());
    expect(report.findings.map((f) => [f.severity, f.check, f.key])).toEqual([['warning', 'extra', lost]]);
  });

  it('notes the manifest in the sealing chain, the one record allowed after the last manifest', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const note = JSON.parse(
      object(w, 'incidents/inc-1/finalize-00000003/0002-ManifestWritten.json'),
    ) as AuditRecord;
    expect(note.detail).toMatchObject({
      manifestKey: 'manifests/inc-1/0001-kill.json',
      manifestSha256: manifestSha256(manifest(w, 'manifests/inc-1/0001-kill.json').manifest),
      seq: 1,
      kind: 'kill',
      recordCount: 6,
    });
    const report = await verifyAudit(w.verifyOptions());
    expect(report.ok).toBe(true);
    expect(report.findings.map((f) => [f.severity, f.check])).toEqual([['info', 'extra']]);
  });

  it('refuses an unknown kind or a chain of another incident, and changes nothing', async () => {
    const w = await auditWorld();
    await killRecords(w, 'inc-1');
    await expect(sealIncident(w.sealer, { incidentId: 'inc-1', kind: 'later' as never })).rejects.toThrow(
      /Unknown manifest kind "later"/,
    );
    await expect(
      sealIncident(w.sealer, { incidentId: 'inc-1', kind: 'kill', chain: chainOf(w, 'inc-2', 'x-1') }),
    ).rejects.toThrow(/belongs to incident inc-2/);
    expect(manifests(w, 'inc-1')).toEqual([]);
    expect(() => parseSignedManifest('{}')).toThrow(/malformed manifest/);
  });
});
