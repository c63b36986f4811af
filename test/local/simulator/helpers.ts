import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  type ClientFactory,
  createClientFactory,
  type WorkloadClients,
} from '../../../lambda/shared/clients';
import {
  type SeededControlPlane,
  type SeededWorkload,
  Simulator,
  type SimulatorOptions,
  seedBackstopControlPlane,
  seedBackstopWorkload,
} from '../../../lib/local/simulator';

export const CP = '111111111111';
export const WL = '222222222222';
export const REGION = 'us-east-1';
export const AGENT = 'research-bot';

export interface World {
  readonly sim: Simulator;
  readonly cp: SeededControlPlane;
  readonly wl: SeededWorkload;
  /** Control plane clients under the kill worker role, through the simulator. */
  readonly factory: ClientFactory;
  /** Workload clients under a session of the kill execution role (as after AssumeRole). */
  readonly workload: WorkloadClients;
}

/**
 * A simulator with a seeded control plane and one workload account, and clients built exactly as
 * handlers build them. Every output is checked against the SDK's model of the operation.
 */
export async function world(
  options: SimulatorOptions = {},
  factoryOptions: { maxAttempts?: number } = {},
): Promise<World> {
  const sim = new Simulator({ checkOutputShapes: true, ...options });
  const cp = await seedBackstopControlPlane(sim, { accountId: CP, region: REGION });
  const wl = await seedBackstopWorkload(sim, {
    accountId: WL,
    region: REGION,
    controlPlaneAccountId: CP,
    vpcIds: ['vpc-0a1b2c3d4e5f60718'],
    agents: [{ agentId: AGENT }],
  });
  const factory = createClientFactory({
    region: REGION,
    plugins: [sim.plugin()],
    credentials: sim.credentialsFor(cp.killWorkerRoleArn),
    baseBackoffMs: 1,
    maxBackoffMs: 20,
    maxAttempts: factoryOptions.maxAttempts,
  });
  const workload = factory.workload(
    REGION,
    sim.credentialsFor(wl.killRoleArn, { sessionName: 'backstop-test' }),
  );
  return { sim, cp, wl, factory, workload };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<
  Error & { $metadata?: { httpStatusCode?: number; attempts?: number }; $fault?: string } & Record<
      string,
      unknown
    >
> {
  try {
    await promise;
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** A role for an agent, tagged for it, with the agent boundary. */
export async function agentRole(w: World, name: string, policies: readonly string[] = []): Promise<string> {
  const api = w.sim.as(WL, REGION);
  const out = await api.iam.CreateRole({
    RoleName: name,
    AssumeRolePolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    }),
    PermissionsBoundary: w.wl.boundaryArn,
    Tags: [{ Key: 'backstop:agent', Value: AGENT }],
  });
  for (const arn of policies) await api.iam.AttachRolePolicy({ RoleName: name, PolicyArn: arn });
  return out.Role!.Arn!;
}

/** A record write as the audit writer must make it to the audit bucket (checksum, no overwrite, the audit key). */
export function auditRecordPut(w: World, key: string, body: string): PutObjectCommand {
  return new PutObjectCommand({
    Bucket: w.cp.auditBucketName,
    Key: key,
    Body: body,
    ContentType: 'application/json',
    ChecksumAlgorithm: 'SHA256',
    IfNoneMatch: '*',
    ServerSideEncryption: 'aws:kms',
    SSEKMSKeyId: w.cp.auditKeyArn,
  });
}
