import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  type GetObjectLockConfigurationCommandOutput,
  GetObjectRetentionCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AuditChain, type AuditRecord, stateStoreFallback } from '../../../lambda/shared/audit';
import { type AuditFinding, type VerifyAuditOptions, verifyAudit } from '../../../lambda/shared/audit-verify';
import { canonicalJson, sha256Hex } from '../../../lambda/shared/hash';
import {
  buildManifest,
  manifestSha256,
  type SignedManifest,
  signManifest,
  writeManifest,
} from '../../../lambda/shared/manifest';
import { loadFixture } from '../../helpers/fixtures';
import { type DefaultRetention, FakeAuditBucket } from './fake-audit-bucket';
import { fakeSigningKey, mockKmsSigning } from './fake-kms-signer';
import { FakeManifestStore } from './fake-manifest-store';

const s3Mock = mockClient(S3Client);
const kmsMock = mockClient(KMSClient);
const BUCKET = 'backstop-audit';
const KMS_KEY = 'arn:aws:kms:us-east-1:999999999999:key/audit';
const SIGNING_KEY = 'arn:aws:kms:us-east-1:999999999999:key/manifest-signing';
const T0 = new Date('2026-03-01T12:00:00.000Z');
const DAY = 86_400_000;
const signer = fakeSigningKey(SIGNING_KEY);
const COMPLIANCE_365: DefaultRetention = { mode: 'COMPLIANCE', days: 365 };

/** The default retention of a real Object Lock bucket, as GetObjectLockConfiguration returned it. */
function recordedDefaultRetention(): DefaultRetention {
  const recorded = loadFixture<GetObjectLockConfigurationCommandOutput>(
    'test_s3_bucket_object_lock_configuration/s3.GetObjectLockConfiguration_1.json',
  );
  const retention = recorded.ObjectLockConfiguration?.Rule?.DefaultRetention;
  if (!retention?.Mode || !retention.Days) throw new Error('the recording has no default retention in days');
  return { mode: retention.Mode, days: retention.Days };
}

let bucket: FakeAuditBucket;
let store: FakeManifestStore;

function setup(retention: DefaultRetention | null = COMPLIANCE_365, lockHeadersOnGet = true) {
  s3Mock.reset();
  kmsMock.reset();
  bucket = new FakeAuditBucket(BUCKET, () => T0, { retention, pageSize: 3, lockHeadersOnGet }).install(
    s3Mock,
  );
  mockKmsSigning(kmsMock, signer);
  store = new FakeManifestStore();
}

function chain(
  incidentId: string,
  chainId: string,
  extra: Partial<ConstructorParameters<typeof AuditChain>[0]> = {},
) {
  return new AuditChain({
    s3: new S3Client({}),
    bucket: BUCKET,
    kmsKeyArn: KMS_KEY,
    incidentId,
    chainId,
    actor: {
      type: 'execution',
      arn: `arn:aws:states:us-east-1:999999999999:execution:backstop-kill:${incidentId}`,
    },
    clock: () => T0,
    sleep: async () => {},
    ...extra,
  });
}

const PREPARE = (id: string) => `incidents/${id}/prepare-00000001`;
const IAM = (id: string) => `incidents/${id}/iam-agent-1-00000002`;

async function writeRecords(incidentId: string): Promise<void> {
  const prepare = chain(incidentId, 'prepare-00000001');
  await prepare.write('KillRequested', { mode: 'full_stop', reason: 'alarm' });
  await prepare.write('ControlFlagSet', { agentId: 'agent-1', mode: 'full_stop' });
  const iam = chain(incidentId, 'iam-agent-1-00000002');
  await iam.write('SurfaceDiscovered', { agentId: 'agent-1', surface: 'iam' });
  await iam.write('SnapshotTaken', { agentId: 'agent-1', surface: 'iam' });
  await iam.write('SurfaceContained', { agentId: 'agent-1', surface: 'iam' });
}

async function closeIncident(incidentId: string, finalize?: AuditChain): Promise<void> {
  await writeManifest({
    s3: new S3Client({}),
    kms: new KMSClient({}),
    store,
    bucket: BUCKET,
    kmsKeyArn: KMS_KEY,
    signingKeyArn: SIGNING_KEY,
    incidentId,
    clock: () => T0,
    ...(finalize && { chain: finalize }),
  });
}

async function incident(incidentId: string): Promise<void> {
  await writeRecords(incidentId);
  await closeIncident(incidentId);
}

function verifyOptions(extra: Partial<VerifyAuditOptions> = {}): VerifyAuditOptions {
  return {
    s3: new S3Client({}),
    kms: new KMSClient({}),
    bucket: BUCKET,
    clock: () => new Date(T0.getTime() + DAY),
    expectedMode: 'COMPLIANCE',
    retentionDays: 365,
    incidentId: 'inc-1',
    ...extra,
  } as VerifyAuditOptions;
}

const errors = (findings: readonly AuditFinding[]) => findings.filter((f) => f.severity === 'error');
const pick = (findings: readonly AuditFinding[]) =>
  findings.map((f) => ({ severity: f.severity, check: f.check, key: f.key }));

beforeEach(() => setup());

describe('verifyAudit on an intact log', () => {
  it('passes an incident written by the chain writer and closed by the manifest writer', async () => {
    const finalize = chain('inc-1', 'finalize-00000003');
    await writeRecords('inc-1');
    await finalize.write('KillCompleted', { detail: { status: 'CONTAINED' } });
    await closeIncident('inc-1', finalize);

    const report = await verifyAudit(verifyOptions());
    expect(errors(report.findings)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.objectsChecked).toBe(8);
    expect(report.incidents).toEqual([
      {
        incidentId: 'inc-1',
        manifestKey: 'manifests/inc-1.json',
        manifestSha256: manifestSha256(bucket.json<SignedManifest>('manifests/inc-1.json').manifest),
        records: 7,
        chains: 3,
        ok: true,
      },
    ]);
    // The ManifestWritten record follows the manifest by design and is reported as such.
    expect(pick(report.findings)).toEqual([
      {
        severity: 'info',
        check: 'extra',
        key: 'incidents/inc-1/finalize-00000003/0002-ManifestWritten.json',
      },
    ]);
  });

  it('verifies every incident and the manifest chain with `all`', async () => {
    await incident('inc-1');
    await incident('inc-2');
    const report = await verifyAudit(verifyOptions({ incidentId: undefined, all: true }));
    expect(report.findings).toEqual([]);
    expect(report.incidents.map((i) => [i.incidentId, i.records, i.ok])).toEqual([
      ['inc-1', 5, true],
      ['inc-2', 5, true],
    ]);
    expect(report.scope).toEqual({ all: true });
  });

  it('reads retention with GetObjectRetention when GetObject does not return the lock headers', async () => {
    setup(COMPLIANCE_365, false);
    await incident('inc-1');
    const report = await verifyAudit(verifyOptions());
    expect(report.ok).toBe(true);
    expect(s3Mock.commandCalls(GetObjectRetentionCommand)).toHaveLength(6);
  });

  it('checks signatures with a pinned public key, without asking KMS', async () => {
    await incident('inc-1');
    const pem = signer.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const report = await verifyAudit(verifyOptions({ kms: undefined, publicKeys: { [SIGNING_KEY]: pem } }));
    expect(report.ok).toBe(true);
    expect(kmsMock.commandCalls(GetPublicKeyCommand)).toHaveLength(0);
  });
});

describe('verifyAudit finds', () => {
  it('a tampered record: its hash no longer matches the manifest, and the next record no longer links to it', async () => {
    await incident('inc-1');
    const key = `${IAM('inc-1')}/0002-SnapshotTaken.json`;
    const record = bucket.json<AuditRecord>(key);
    bucket.tamper(key, canonicalJson({ ...record, detail: { resources: [] } }));

    const report = await verifyAudit(verifyOptions());
    expect(report.ok).toBe(false);
    expect(pick(errors(report.findings))).toEqual([
      { severity: 'error', check: 'hash', key },
      { severity: 'error', check: 'chain', key: `${IAM('inc-1')}/0003-SurfaceContained.json` },
    ]);
    expect(report.findings[0].message).toMatch(/content has changed/);
    expect(report.incidents[0].ok).toBe(false);
  });

  it('a missing record: listed in the manifest but gone, and a gap in its chain', async () => {
    await incident('inc-1');
    const key = `${PREPARE('inc-1')}/0001-KillRequested.json`;
    bucket.remove(key);
    const report = await verifyAudit(verifyOptions());
    expect(pick(errors(report.findings))).toEqual([
      { severity: 'error', check: 'missing', key },
      { severity: 'error', check: 'chain', key: `${PREPARE('inc-1')}/0002-ControlFlagSet.json` },
    ]);
    expect(report.findings.find((f) => f.check === 'chain')?.message).toMatch(/no record with seq 1/);
  });

  it('an extra record: in the bucket but not in the manifest', async () => {
    await incident('inc-1');
    const key = 'incidents/inc-1/rogue-00000000/0001-KillCompleted.json';
    bucket.inject(
      key,
      canonicalJson({
        schemaVersion: 1,
        incidentId: 'inc-1',
        chainId: 'rogue-00000000',
        seq: 1,
        type: 'KillCompleted',
        time: T0.toISOString(),
        actor: { type: 'system' },
        detail: { status: 'CONTAINED' },
        prevHash: null,
      }),
    );
    const report = await verifyAudit(verifyOptions());
    expect(pick(errors(report.findings))).toEqual([{ severity: 'error', check: 'extra', key }]);
  });

  it('a broken prevHash link, even where the manifest hashed the broken record', async () => {
    await writeRecords('inc-1');
    const key = `${IAM('inc-1')}/0003-SurfaceContained.json`;
    bucket.tamper(key, canonicalJson({ ...bucket.json<AuditRecord>(key), prevHash: 'f'.repeat(64) }));
    await closeIncident('inc-1');

    const report = await verifyAudit(verifyOptions());
    expect(pick(errors(report.findings))).toEqual([{ severity: 'error', check: 'chain', key }]);
    expect(report.findings[0].message).toMatch(
      /does not match the hash .* of record 2 .*the chain is broken here/,
    );
  });

  it('a bad signature: a manifest edited after signing', async () => {
    await incident('inc-1');
    const doc = bucket.json<SignedManifest>('manifests/inc-1.json');
    const dropped = doc.manifest.records[0].key;
    bucket.tamper(
      'manifests/inc-1.json',
      canonicalJson({ ...doc, manifest: { ...doc.manifest, records: doc.manifest.records.slice(1) } }),
    );
    const report = await verifyAudit(verifyOptions());
    expect(pick(errors(report.findings))).toEqual([
      { severity: 'error', check: 'signature', key: 'manifests/inc-1.json' },
      { severity: 'error', check: 'extra', key: dropped },
    ]);
  });

  it('a manifest signed by a key that is not trusted', async () => {
    await incident('inc-1');
    const report = await verifyAudit(
      verifyOptions({ trustedSigningKeyArns: ['arn:aws:kms:us-east-1:999999999999:key/other'] }),
    );
    expect(pick(errors(report.findings))).toEqual([
      { severity: 'error', check: 'signature', key: 'manifests/inc-1.json' },
    ]);
    expect(report.findings[0].message).toMatch(/not a trusted signing key/);
  });

  it('GOVERNANCE retention (the recorded bucket default) where COMPLIANCE is expected, on every object', async () => {
    setup(recordedDefaultRetention());
    await incident('inc-1');
    const report = await verifyAudit(verifyOptions({ retentionDays: undefined }));
    const keys = [...bucket.keys('incidents/inc-1/'), 'manifests/inc-1.json'];
    expect(pick(errors(report.findings)).sort((a, b) => a.key.localeCompare(b.key))).toEqual(
      keys
        .map((key) => ({ severity: 'error', check: 'retention', key }))
        .sort((a, b) => a.key.localeCompare(b.key)),
    );
    expect(report.findings[0].message).toMatch(
      /under GOVERNANCE retention, not COMPLIANCE: .*s3:BypassGovernanceRetention/,
    );
  });

  it('expired retention: the recorded 7-day default has run out', async () => {
    setup(recordedDefaultRetention());
    await incident('inc-1');
    const report = await verifyAudit(
      verifyOptions({
        expectedMode: 'GOVERNANCE',
        retentionDays: undefined,
        clock: () => new Date(T0.getTime() + 8 * DAY),
      }),
    );
    const retention = errors(report.findings).filter((f) => f.check === 'retention');
    expect(retention).toHaveLength(6);
    expect(retention[0].message).toBe(
      `The object's retention expired on ${new Date(T0.getTime() + 7 * DAY).toISOString()}: it can now be deleted.`,
    );
  });

  it('retention shorter than the configured days', async () => {
    await incident('inc-1');
    const report = await verifyAudit(verifyOptions({ retentionDays: 400 }));
    const retention = errors(report.findings).filter((f) => f.check === 'retention');
    expect(retention).toHaveLength(6);
    expect(retention[0].message).toMatch(/less than the configured 400 days after it was written/);
  });

  it('objects with no Object Lock at all', async () => {
    setup(null);
    await incident('inc-1');
    const report = await verifyAudit(verifyOptions());
    expect(errors(report.findings).filter((f) => f.check === 'retention')).toHaveLength(6);
  });

  it('an incident without a manifest: an error for that incident, a warning in `all` (it may still be running)', async () => {
    await writeRecords('inc-1');
    const single = await verifyAudit(verifyOptions());
    expect(pick(single.findings)).toEqual([
      { severity: 'error', check: 'missing', key: 'manifests/inc-1.json' },
    ]);

    const all = await verifyAudit(verifyOptions({ incidentId: undefined, all: true }));
    expect(pick(all.findings)).toEqual([
      { severity: 'warning', check: 'missing', key: 'manifests/inc-1.json' },
    ]);
    expect(all.ok).toBe(true);
  });

  it('a record the kill path never managed to deliver, as the manifest recorded it', async () => {
    const lost = `${IAM('inc-1')}/0002-SnapshotTaken.json`;
    bucket.failPut = (key) => key === lost;
    const iam = chain('inc-1', 'iam-agent-1-00000002', {
      flushAttempts: 1,
      onUndeliverable: stateStoreFallback(store),
    });
    await iam.write('SurfaceDiscovered', { surface: 'iam' });
    await iam.write('SnapshotTaken', { surface: 'iam' });
    await iam.write('SurfaceContained', { surface: 'iam' });
    await iam.flush();
    await closeIncident('inc-1');

    const report = await verifyAudit(verifyOptions());
    // The chain around the gap still verifies through the hash the manifest kept.
    expect(pick(errors(report.findings))).toEqual([{ severity: 'error', check: 'missing', key: lost }]);
    expect(report.findings[0].message).toMatch(/never delivered/);

    // Once it lands late, it is matched against the recorded hash.
    bucket.failPut = () => false;
    const pending = [...store.pending.values()][0];
    bucket.inject(lost, pending.body);
    const later = await verifyAudit(verifyOptions());
    expect(pick(later.findings)).toEqual([{ severity: 'warning', check: 'extra', key: lost }]);
    expect(sha256Hex(pending.body)).toBe(pending.sha256);
  });

  it('a manifest whose previous manifest hash does not match', async () => {
    await incident('inc-1');
    await incident('inc-2');
    const forged = buildManifest({
      incidentId: 'inc-3',
      createdAt: T0.toISOString(),
      records: [],
      previousManifest: { incidentId: 'inc-2', sha256: '0'.repeat(64) },
    });
    bucket.inject(
      'manifests/inc-3.json',
      canonicalJson(await signManifest(new KMSClient({}), SIGNING_KEY, forged)),
    );

    const report = await verifyAudit(verifyOptions({ incidentId: 'inc-3' }));
    expect(pick(errors(report.findings))).toEqual([
      { severity: 'error', check: 'manifest-chain', key: 'manifests/inc-3.json' },
    ]);
    expect(report.findings[0].message).toMatch(
      /manifests\/inc-2.json hashes to [0-9a-f]{64}, but this manifest links to 0{64}/,
    );
  });

  it('a fork in the manifest chain', async () => {
    await incident('inc-1');
    await incident('inc-2');
    const inc1 = manifestSha256(bucket.json<SignedManifest>('manifests/inc-1.json').manifest);
    const rival = buildManifest({
      incidentId: 'inc-9',
      createdAt: T0.toISOString(),
      records: [],
      previousManifest: { incidentId: 'inc-1', sha256: inc1 },
    });
    bucket.inject(
      'manifests/inc-9.json',
      canonicalJson(await signManifest(new KMSClient({}), SIGNING_KEY, rival)),
    );

    const report = await verifyAudit(verifyOptions({ incidentId: undefined, all: true }));
    expect(pick(errors(report.findings))).toEqual([
      { severity: 'error', check: 'manifest-chain', key: 'manifests/inc-2.json' },
      { severity: 'error', check: 'manifest-chain', key: 'manifests/inc-9.json' },
    ]);
    expect(report.findings[0].message).toMatch(/forks here/);
  });
});
