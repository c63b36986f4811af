/**
 * An audit log on the embedded simulator, for the sealing, verification, export and hold tests:
 * a seeded control plane (Object Lock bucket with the deployed bucket policy, the state table,
 * the signing key with its published public key), the handlers' dependencies under the kill
 * worker and the sealer roles, and the means of an attacker who got around one protection or
 * another (a lax bucket policy, GOVERNANCE retention with bypass, a signing key of their own).
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  AuditChain,
  type AuditRecordFields,
  type AuditRecordType,
  putImmutableObject,
  stateStoreFallback,
} from '../../../lambda/shared/audit';
import { canonicalJson } from '../../../lambda/shared/hash';
import {
  buildManifest,
  type ManifestLink,
  manifestKeyOf,
  manifestSha256,
  type SignedManifest,
  signManifest,
} from '../../../lambda/shared/manifest';
import { type ClientFactory, createClientFactory } from '../../../lambda/shared/clients';
import type { HandlerDeps } from '../../../lambda/shared/deps';
import type { VerifyAuditOptions } from '../../../lambda/shared/audit-verify';
import { StateStore } from '../../../lambda/shared/state-store';
import { sealIncident } from '../../../lambda/shared/seal';
import type { ManifestKind } from '../../../lambda/shared/naming';
import type { HandlerEnv } from '../../../lambda/shared/types';
import { CONTROL_PLANE } from '../../../lambda/shared/naming';
import {
  ManualClock,
  type SeededControlPlane,
  seedBackstopControlPlane,
  Simulator,
} from '../../../lib/local/simulator';

export const CP = '111111111111';
export const REGION = 'us-east-1';
export const T0 = Date.UTC(2026, 2, 1, 12);
export const DAY = 86_400_000;

export interface AuditWorld {
  readonly sim: Simulator;
  readonly clock: ManualClock;
  readonly cp: SeededControlPlane;
  readonly env: HandlerEnv;
  /** Handler dependencies under the kill worker (records) and the sealer (manifests, holds). */
  readonly worker: HandlerDeps;
  readonly sealer: HandlerDeps;
  /** Clients under a given role of the control plane account. */
  clientsAs(roleArn: string): ClientFactory;
  /** The account root's seeding API. */
  readonly root: ReturnType<Simulator['as']>;
  /** Verification options as `audit verify` builds them for this bucket. */
  verifyOptions(extra?: Partial<VerifyAuditOptions>): VerifyAuditOptions;
}

const silent = { info: () => {}, warn: () => {}, error: () => {} };

export interface AuditWorldOptions {
  readonly retentionMode?: 'COMPLIANCE' | 'GOVERNANCE';
  readonly retentionDays?: number;
  /** Page size of every list (small, so pagination runs). @default 3 */
  readonly pageSize?: number;
  /** Start of the simulator clock. @default T0 */
  readonly start?: number;
}

export async function auditWorld(options: AuditWorldOptions = {}): Promise<AuditWorld> {
  const clock = new ManualClock(options.start ?? T0);
  const sim = new Simulator({ clock, checkOutputShapes: true, pageSize: options.pageSize ?? 3 });
  const cp = await seedBackstopControlPlane(sim, {
    accountId: CP,
    region: REGION,
    retentionMode: options.retentionMode ?? 'COMPLIANCE',
    retentionDays: options.retentionDays ?? 365,
  });
  const env: HandlerEnv = {
    tableName: cp.tableName,
    auditBucketName: cp.auditBucketName,
    auditKmsKeyArn: cp.auditKeyArn,
    manifestSigningKeyArn: cp.manifestSigningKeyArn,
    topicArn: cp.topicArn,
    metricsNamespace: CONTROL_PLANE.metricsNamespace,
    directory: {
      partition: 'aws',
      controlPlane: { accountId: CP, region: REGION },
      workloads: [],
      agents: [],
    },
  };
  const clientsAs = (roleArn: string) =>
    createClientFactory({
      region: REGION,
      plugins: [sim.plugin()],
      credentials: sim.credentialsFor(roleArn),
      baseBackoffMs: 1,
      maxBackoffMs: 5,
      maxAttempts: 2,
    });
  let ids = 0;
  const deps = (roleArn: string): HandlerDeps => ({
    env,
    clients: clientsAs(roleArn),
    clock: () => new Date(clock.now()),
    sleep: async () => {},
    randomId: () => (++ids).toString(16).padStart(8, '0'),
    log: silent,
  });
  return {
    sim,
    clock,
    cp,
    env,
    worker: deps(cp.killWorkerRoleArn),
    sealer: deps(cp.auditSealerRoleArn),
    clientsAs,
    root: sim.as(CP, REGION),
    verifyOptions: (extra = {}) =>
      ({
        s3: clientsAs(cp.auditSealerRoleArn).controlPlane().s3,
        bucket: cp.auditBucketName,
        clock: () => new Date(clock.now() + DAY),
        expectedMode: 'COMPLIANCE',
        retentionDays: options.retentionDays ?? 365,
        trustedSigningKeyArns: [cp.manifestSigningKeyArn],
        incidentId: 'inc-1',
        ...extra,
      }) as VerifyAuditOptions,
  };
}

/** A chain of records written as a handler writes them (the kill worker's identity). */
export function chainOf(w: AuditWorld, incidentId: string, chainId: string, deps = w.worker): AuditChain {
  return new AuditChain({
    s3: deps.clients.controlPlane().s3,
    bucket: w.cp.auditBucketName,
    kmsKeyArn: w.cp.auditKeyArn,
    incidentId,
    chainId,
    actor: { type: 'execution', arn: `arn:aws:states:${REGION}:${CP}:execution:backstop-kill:${incidentId}` },
    clock: () => new Date(w.clock.now()),
    sleep: async () => {},
    flushAttempts: 1,
    onUndeliverable: stateStoreFallback(
      new StateStore({ doc: deps.clients.controlPlane().dynamo, tableName: w.cp.tableName }),
    ),
  });
}

export async function write(
  chain: AuditChain,
  records: readonly [AuditRecordType, AuditRecordFields?][],
): Promise<void> {
  for (const [type, fields] of records) await chain.write(type, fields ?? {});
  await chain.flush();
}

/** A kill's records: prepare, one surface, finalize. */
export async function killRecords(w: AuditWorld, incidentId: string): Promise<void> {
  await write(chainOf(w, incidentId, 'prepare-00000001'), [
    [
      'KillRequested',
      {
        mode: 'full_stop',
        reason: 'spend spike',
        detail: { agents: [{ agentId: 'agent-1', accountId: '222222222222', region: REGION }] },
      },
    ],
    ['ControlFlagSet', { agentId: 'agent-1', mode: 'full_stop' }],
  ]);
  await write(chainOf(w, incidentId, 'iam-agent-1-00000002'), [
    ['SurfaceDiscovered', { agentId: 'agent-1', surface: 'iam' }],
    ['SnapshotTaken', { agentId: 'agent-1', surface: 'iam' }],
    ['SurfaceContained', { agentId: 'agent-1', surface: 'iam' }],
  ]);
}

/** A kill's records sealed by Finalize (as the sealer, with its own chain). */
export async function sealedKill(w: AuditWorld, incidentId: string): Promise<void> {
  await killRecords(w, incidentId);
  const finalize = chainOf(w, incidentId, 'finalize-00000003', w.sealer);
  void finalize.write('KillCompleted', { mode: 'full_stop', detail: { status: 'CONTAINED' } });
  await sealIncident(w.sealer, { incidentId, kind: 'kill', chain: finalize });
}

export async function seal(w: AuditWorld, incidentId: string, kind: ManifestKind = 'attribution') {
  return sealIncident(w.sealer, { incidentId, kind });
}

/**
 * The account root replaces the bucket policy with one that only forbids deleting versions (what
 * the SCP in the README forbids): the case where the bucket policy's own protections are gone
 * and only Object Lock and the verifier remain.
 */
export async function laxBucketPolicy(w: AuditWorld, statements: object[] = []): Promise<void> {
  await w.root.s3.PutBucketPolicy({
    Bucket: w.cp.auditBucketName,
    Policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }, ...statements],
    }),
  });
}

/** A write over an existing key, without If-None-Match (an overwrite), as the kill worker. */
export async function overwrite(w: AuditWorld, key: string, body: string): Promise<void> {
  await (w.worker.clients.controlPlane().s3 as S3Client).send(
    new PutObjectCommand({
      Bucket: w.cp.auditBucketName,
      Key: key,
      Body: body,
      ChecksumAlgorithm: 'SHA256',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: w.cp.auditKeyArn,
    }),
  );
}

/** A plain DELETE: a delete marker over the key (the locked version stays). */
export async function deleteMarker(w: AuditWorld, key: string): Promise<void> {
  await w.worker.clients
    .controlPlane()
    .s3.send(new DeleteObjectCommand({ Bucket: w.cp.auditBucketName, Key: key }));
}

/**
 * Writes a manifest that no sealer claimed: what a holder of the sealer role (or of `kms:Sign`
 * on some key) could forge. `signingKeyArn` signs it; `namedKeyArn` is the key it claims.
 */
export async function forgeManifest(
  w: AuditWorld,
  input: Parameters<typeof buildManifest>[0] & { signingKeyArn?: string; namedKeyArn?: string },
): Promise<string> {
  const { signingKeyArn, namedKeyArn, ...fields } = input;
  const cp = w.sealer.clients.controlPlane();
  const manifest = buildManifest(fields);
  const signed = await signManifest(cp.kms, signingKeyArn ?? w.cp.manifestSigningKeyArn, manifest);
  const key = manifestKeyOf(manifest);
  await putImmutableObject({
    s3: cp.s3,
    bucket: w.cp.auditBucketName,
    kmsKeyArn: w.cp.auditKeyArn,
    key,
    body: canonicalJson({ ...signed, signingKeyArn: namedKeyArn ?? signed.signingKeyArn }),
  });
  return key;
}

/** The incident's manifests as stored, by key. */
export function storedManifest(w: AuditWorld, key: string): SignedManifest {
  const [latest] = w.sim.s3.objectVersions(w.cp.auditBucketName, key);
  if (!latest) throw new Error(`no object ${key}`);
  return JSON.parse(latest.body) as SignedManifest;
}

/** The link to a stored manifest, as the next manifest names it. */
export function linkTo(w: AuditWorld, key: string): ManifestLink {
  const m = storedManifest(w, key).manifest;
  return { incidentId: m.incidentId, key, sha256: manifestSha256(m) };
}
