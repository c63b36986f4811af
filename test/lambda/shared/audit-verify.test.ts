/**
 * `audit verify` against the bucket (lambda/shared/audit-verify.ts), on the embedded simulator.
 * Each tampering case is done the way an attacker would have to do it against S3 (a policy
 * replaced by the account root, GOVERNANCE retention bypassed, a key of their own, the sealer
 * role misused), and each must be reported naming the object and the check.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { AuditRecord } from '../../../lambda/shared/audit';
import { type AuditFinding, verifyAudit } from '../../../lambda/shared/audit-verify';
import { canonicalJson } from '../../../lambda/shared/hash';
import {
  type AuditWorld,
  auditWorld,
  chainOf,
  DAY,
  deleteMarker,
  forgeManifest,
  killRecords,
  laxBucketPolicy,
  linkTo,
  overwrite,
  seal,
  sealedKill,
  storedManifest,
  T0,
  write,
} from './audit-world';

const errors = (findings: readonly AuditFinding[]) => findings.filter((f) => f.severity === 'error');
const named = (findings: readonly AuditFinding[]) => errors(findings).map((f) => [f.check, f.key]);
const body = (w: AuditWorld, key: string) => w.sim.s3.objectVersions(w.cp.auditBucketName, key).at(-1)!.body;

const IAM = 'incidents/inc-1/iam-agent-1-00000002';
const SNAPSHOT = `${IAM}/0002-SnapshotTaken.json`;
const KILL = 'manifests/inc-1/0001-kill.json';

/** Deletes one version as the kill worker, bypassing GOVERNANCE retention (no policy forbids it any more). */
async function deleteVersion(w: AuditWorld, key: string, versionId: string): Promise<void> {
  await w.worker.clients.controlPlane().s3.send(
    new DeleteObjectCommand({
      Bucket: w.cp.auditBucketName,
      Key: key,
      VersionId: versionId,
      BypassGovernanceRetention: true,
    }),
  );
}

describe('audit verify on an intact log', () => {
  it('passes an incident sealed by a series of manifests, reading the public key published in the bucket', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await write(chainOf(w, 'inc-1', 'actor-0000000000000001', w.sealer), [
      [
        'ActorAttributed',
        { detail: { principalArn: 'arn:aws:sts::111111111111:assumed-role/oncall/alice' } },
      ],
    ]);
    await seal(w, 'inc-1', 'attribution');
    const before = w.sim.calls.length;

    const report = await verifyAudit(w.verifyOptions());
    expect(errors(report.findings)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.offline).toBe(false);
    expect(report.incidents).toEqual([
      expect.objectContaining({
        incidentId: 'inc-1',
        manifestKey: 'manifests/inc-1/0002-attribution.json',
        records: 8,
        chains: 4,
        agents: ['agent-1'],
        status: 'CONTAINED',
        mode: 'full_stop',
        reason: 'spend spike',
        startedBy: 'arn:aws:sts::111111111111:assumed-role/oncall/alice',
        ok: true,
      }),
    ]);
    expect(report.incidents[0]!.manifests.map((m) => m.key)).toEqual([
      KILL,
      'manifests/inc-1/0002-attribution.json',
    ]);
    expect(report.publicKeys).toEqual([
      expect.objectContaining({
        signingKeyArn: w.cp.manifestSigningKeyArn,
        from: `s3://${w.cp.auditBucketName}/${w.cp.publicKeyObjectKey}`,
      }),
    ]);
    expect(w.sim.calls.slice(before).filter((c) => c.service === 'kms')).toEqual([]);
  });

  it('verifies every incident and the chain across them with `all`, narrowed by --since and --agent', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await w.clock.advance(3 * DAY);
    await write(chainOf(w, 'inc-2', 'prepare-00000001'), [
      ['KillRequested', { mode: 'read_only', reason: 'r', detail: { agents: [{ agentId: 'agent-2' }] } }],
    ]);
    await seal(w, 'inc-2', 'kill');
    const all = await verifyAudit(w.verifyOptions({ incidentId: undefined, all: true }));
    expect(named(all.findings)).toEqual([]);
    expect(all.incidents.map((i) => [i.incidentId, i.agents, i.ok])).toEqual([
      ['inc-1', ['agent-1'], true],
      ['inc-2', ['agent-2'], true],
    ]);
    const since = await verifyAudit(
      w.verifyOptions({ incidentId: undefined, all: true, since: new Date(T0 + DAY) }),
    );
    expect(since.incidents.map((i) => i.incidentId)).toEqual(['inc-2']);
    expect(since.scope).toEqual({ all: true, since: new Date(T0 + DAY).toISOString() });
    const agent = await verifyAudit(
      w.verifyOptions({ incidentId: undefined, all: true, agentId: 'agent-1' }),
    );
    expect(agent.incidents.map((i) => i.incidentId)).toEqual(['inc-1']);
  });

  it('checks signatures against a pinned public key without any KMS call', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const pem = body(w, w.cp.publicKeyObjectKey);
    const report = await verifyAudit(w.verifyOptions({ publicKeys: { [w.cp.manifestSigningKeyArn]: pem } }));
    expect(report.ok).toBe(true);
    expect(report.publicKeys[0]!.from).toBe('pinned by the caller');
  });
});

describe('audit verify names each tampering', () => {
  it('an overwrite: a second version written over a record (the bucket policy replaced by root)', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await laxBucketPolicy(w);
    const record = JSON.parse(body(w, SNAPSHOT)) as AuditRecord;
    await overwrite(w, SNAPSHOT, canonicalJson({ ...record, detail: { resources: [] } }));
    // A reader of current versions now sees the forgery...
    const current = await w.worker.clients
      .controlPlane()
      .s3.send(new GetObjectCommand({ Bucket: w.cp.auditBucketName, Key: SNAPSHOT }));
    expect(await current.Body?.transformToString()).toContain('"resources":[]');
    // ...the verifier reports the extra version and verifies the locked original.
    const report = await verifyAudit(w.verifyOptions());
    expect(named(report.findings)).toEqual([['versions', SNAPSHOT]]);
    expect(errors(report.findings)[0]!.message).toMatch(
      /holds 2 versions: .* were written over the original/,
    );
  });

  it('a second version of a record, even with the same bytes', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await laxBucketPolicy(w);
    await overwrite(w, SNAPSHOT, body(w, SNAPSHOT));
    expect(named((await verifyAudit(w.verifyOptions())).findings)).toEqual([['versions', SNAPSHOT]]);
  });

  it('a delete marker that hides a record from plain reads', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await laxBucketPolicy(w);
    await deleteMarker(w, SNAPSHOT);
    expect(w.sim.s3.keys(w.cp.auditBucketName, IAM)).not.toContain(SNAPSHOT);
    const report = await verifyAudit(w.verifyOptions());
    expect(named(report.findings)).toEqual([['delete-marker', SNAPSHOT]]);
    expect(errors(report.findings)[0]!.message).toMatch(
      /A delete marker hides the object .* locked original/,
    );
  });

  it('a forged record: written after the incident was sealed, in no manifest', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await write(chainOf(w, 'inc-1', 'rogue-00000000'), [
      ['KillCompleted', { detail: { status: 'CONTAINED' } }],
    ]);
    const report = await verifyAudit(w.verifyOptions());
    expect(named(report.findings)).toEqual([
      ['extra', 'incidents/inc-1/rogue-00000000/0001-KillCompleted.json'],
    ]);
  });

  it('an edited manifest: the GOVERNANCE original deleted with bypass and replaced', async () => {
    const w = await auditWorld({ retentionMode: 'GOVERNANCE' });
    await sealedKill(w, 'inc-1');
    await laxBucketPolicy(w);
    const doc = storedManifest(w, KILL);
    const dropped = doc.manifest.records[0]!.key;
    await deleteVersion(w, KILL, w.sim.s3.objectVersions(w.cp.auditBucketName, KILL)[0]!.versionId);
    await w.worker.clients.controlPlane().s3.send(
      new PutObjectCommand({
        Bucket: w.cp.auditBucketName,
        Key: KILL,
        Body: canonicalJson({
          ...doc,
          manifest: { ...doc.manifest, records: doc.manifest.records.slice(1) },
        }),
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    const report = await verifyAudit(w.verifyOptions({ expectedMode: 'GOVERNANCE' }));
    // The dropped record is sealed by nothing now, and Finalize's note names a manifest that no
    // longer exists.
    expect(named(report.findings)).toEqual([
      ['signature', KILL],
      ['extra', dropped],
      ['extra', 'incidents/inc-1/finalize-00000003/0002-ManifestWritten.json'],
    ]);
  });

  it('a broken manifest chain: a manifest that links to something other than the one before it', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const key = await forgeManifest(w, {
      incidentId: 'inc-1',
      seq: 2,
      kind: 'hold',
      createdAt: new Date(T0).toISOString(),
      records: [],
      previousInIncident: { incidentId: 'inc-1', key: KILL, sha256: '0'.repeat(64) },
      previousManifest: linkTo(w, KILL),
    });
    const report = await verifyAudit(w.verifyOptions());
    expect(named(report.findings)).toEqual([['manifest-chain', key]]);
    expect(errors(report.findings)[0]!.message).toMatch(
      /links to .* as manifest 1 of the incident, but that is/,
    );
  });

  it('a broken manifest chain: the previous manifest of the log is not what the link says', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await killRecords(w, 'inc-2');
    const key = await forgeManifest(w, {
      incidentId: 'inc-2',
      seq: 1,
      kind: 'kill',
      createdAt: new Date(T0).toISOString(),
      records: [],
      previousInIncident: null,
      previousManifest: { ...linkTo(w, KILL), sha256: 'f'.repeat(64) },
    });
    const report = await verifyAudit(w.verifyOptions({ incidentId: 'inc-2' }));
    expect(named(report.findings).filter(([check]) => check === 'manifest-chain')).toEqual([
      ['manifest-chain', key],
    ]);
    expect(report.findings.find((f) => f.check === 'manifest-chain')?.message).toMatch(
      /manifests\/inc-1\/0001-kill.json hashes to [0-9a-f]{64}, but this manifest links to f{64}/,
    );
  });

  it('a fork: two manifests follow the same one (with `all`)', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await sealedKill(w, 'inc-2');
    const rival = await forgeManifest(w, {
      incidentId: 'inc-9',
      seq: 1,
      kind: 'kill',
      createdAt: new Date(T0).toISOString(),
      records: [],
      previousInIncident: null,
      previousManifest: linkTo(w, KILL),
    });
    const report = await verifyAudit(w.verifyOptions({ incidentId: undefined, all: true }));
    expect(named(report.findings).filter(([check]) => check === 'manifest-chain')).toEqual([
      ['manifest-chain', 'manifests/inc-2/0001-kill.json'],
      ['manifest-chain', rival],
    ]);
  });

  it('a wrong signing key: a manifest signed with a key that is not the trusted one', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const own = (await w.root.kms.CreateKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
      .KeyMetadata!.Arn!;
    const base = {
      incidentId: 'inc-1',
      kind: 'hold' as const,
      createdAt: new Date(T0).toISOString(),
      records: [],
      previousInIncident: linkTo(w, KILL),
      previousManifest: linkTo(w, KILL),
    };
    // Under its own name: not a trusted key.
    const named1 = await forgeManifest(w, { ...base, seq: 2, signingKeyArn: own });
    const first = await verifyAudit(w.verifyOptions());
    expect(named(first.findings)).toEqual([['signature', named1]]);
    expect(errors(first.findings)[0]!.message).toMatch(/not a trusted signing key/);
  });

  it('a wrong signing key: a manifest that names the trusted key but was signed by another', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const own = (await w.root.kms.CreateKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
      .KeyMetadata!.Arn!;
    const key = await forgeManifest(w, {
      incidentId: 'inc-1',
      seq: 2,
      kind: 'hold',
      createdAt: new Date(T0).toISOString(),
      records: [],
      previousInIncident: linkTo(w, KILL),
      previousManifest: linkTo(w, KILL),
      signingKeyArn: own,
      namedKeyArn: w.cp.manifestSigningKeyArn,
    });
    const report = await verifyAudit(w.verifyOptions());
    expect(named(report.findings)).toEqual([['signature', key]]);
    expect(errors(report.findings)[0]!.message).toMatch(/does not match the manifest's content/);
  });

  it('a record without retention: written after root removed the default retention', async () => {
    const w = await auditWorld();
    await killRecords(w, 'inc-1');
    await laxBucketPolicy(w);
    await w.root.s3.PutObjectLockConfiguration({
      Bucket: w.cp.auditBucketName,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
    });
    await write(chainOf(w, 'inc-1', 'late-00000001'), [['SurfaceVerified', { surface: 'iam' }]]);
    await seal(w, 'inc-1', 'kill');
    const report = await verifyAudit(w.verifyOptions());
    expect(named(report.findings)).toEqual([
      ['retention', 'incidents/inc-1/late-00000001/0001-SurfaceVerified.json'],
      ['retention', KILL],
    ]);
    expect(errors(report.findings)[0]!.message).toMatch(
      /no Object Lock retention: it can be deleted or overwritten/,
    );
  });

  it('a record listed twice: a manifest that seals what an earlier one sealed', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const again = storedManifest(w, KILL).manifest.records[0]!;
    const key = await forgeManifest(w, {
      incidentId: 'inc-1',
      seq: 2,
      kind: 'restore',
      createdAt: new Date(T0).toISOString(),
      records: [again],
      previousInIncident: linkTo(w, KILL),
      previousManifest: linkTo(w, KILL),
    });
    const report = await verifyAudit(w.verifyOptions());
    expect(named(report.findings)).toEqual([['duplicate', again.key]]);
    expect(errors(report.findings)[0]!.message).toContain(`${KILL}, ${key}`);
  });

  it('a missing record and a missing manifest of the series (GOVERNANCE versions deleted with bypass)', async () => {
    const w = await auditWorld({ retentionMode: 'GOVERNANCE' });
    await sealedKill(w, 'inc-1');
    await write(chainOf(w, 'inc-1', 'actor-0000000000000001', w.sealer), [['ActorAttributed', {}]]);
    await seal(w, 'inc-1', 'attribution');
    await laxBucketPolicy(w);
    for (const key of [SNAPSHOT, KILL]) {
      for (const v of w.sim.s3.objectVersions(w.cp.auditBucketName, key))
        await deleteVersion(w, key, v.versionId);
    }
    const report = await verifyAudit(w.verifyOptions({ expectedMode: 'GOVERNANCE' }));
    const found = named(report.findings);
    expect(found).toContainEqual(['manifest', 'manifests/inc-1/0002-attribution.json']);
    expect(found).toContainEqual(['chain', `${IAM}/0003-SurfaceContained.json`]);
    expect(report.findings.find((f) => f.check === 'manifest')?.message).toMatch(
      /Manifest 1 of incident inc-1 is missing/,
    );
    // The records the deleted manifest sealed are now sealed by nothing.
    expect(found).toContainEqual(['extra', 'incidents/inc-1/prepare-00000001/0001-KillRequested.json']);
  });

  it('GOVERNANCE retention where COMPLIANCE is required, on every object', async () => {
    const w = await auditWorld({ retentionMode: 'GOVERNANCE' });
    await sealedKill(w, 'inc-1');
    const report = await verifyAudit(w.verifyOptions());
    const keys = [...w.sim.s3.keys(w.cp.auditBucketName, 'incidents/inc-1/'), KILL].sort();
    expect(named(report.findings).sort()).toEqual(keys.map((key) => ['retention', key]));
    expect(errors(report.findings)[0]!.message).toMatch(/under GOVERNANCE retention, not COMPLIANCE/);
  });

  it('retention shorter than configured, and retention that has run out', async () => {
    const w = await auditWorld({ retentionDays: 7 });
    await sealedKill(w, 'inc-1');
    const short = await verifyAudit(w.verifyOptions({ retentionDays: 365 }));
    expect(errors(short.findings).every((f) => f.check === 'retention')).toBe(true);
    expect(errors(short.findings)[0]!.message).toMatch(/less than the configured 365 days/);
    const expired = await verifyAudit(
      w.verifyOptions({ retentionDays: 7, clock: () => new Date(T0 + 8 * DAY) }),
    );
    expect(errors(expired.findings)[0]!.message).toBe(
      `The object's retention expired on ${new Date(T0 + 7 * DAY).toISOString()}: it can now be deleted.`,
    );
  });

  it('an incident without a manifest: an error on its own, a warning among all (it may still run)', async () => {
    const w = await auditWorld();
    await killRecords(w, 'inc-1');
    const single = await verifyAudit(w.verifyOptions());
    expect(single.findings.map((f) => [f.severity, f.check, f.key])).toEqual([['error', 'missing', KILL]]);
    const all = await verifyAudit(w.verifyOptions({ incidentId: undefined, all: true }));
    expect(all.findings.map((f) => [f.severity, f.check])).toEqual([['warning', 'missing']]);
    expect(all.ok).toBe(true);
  });

  it('a manifest named after another incident or seq than it says', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await laxBucketPolicy(w);
    const doc = storedManifest(w, KILL);
    await overwrite(w, 'manifests/inc-1/0002-hold.json', canonicalJson(doc));
    const report = await verifyAudit(w.verifyOptions());
    expect(named(report.findings)).toContainEqual(['manifest', 'manifests/inc-1/0002-hold.json']);
  });
});

describe('audit verify input', () => {
  it('refuses an incident id that cannot be a key, before reading anything', async () => {
    const w = await auditWorld();
    const before = w.sim.calls.length;
    await expect(verifyAudit(w.verifyOptions({ incidentId: '../etc' }))).rejects.toThrow(
      /Incident id "..\/etc" is not valid/,
    );
    expect(w.sim.calls.length).toBe(before);
  });
});
