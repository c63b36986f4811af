/**
 * The embedded simulator (docs/design.md section 10): an in-memory model of a control plane account
 * and workload accounts that answers the AWS SDK v3 commands Backstop's handlers send.
 *
 * ```ts
 * const sim = new Simulator();
 * const cp = await seedBackstopControlPlane(sim, { accountId: '111111111111', region: 'us-east-1' });
 * await seedBackstopWorkload(sim, { accountId: '222222222222', region: 'us-east-1', controlPlaneAccountId: '111111111111', agents: [...] });
 * const clients = createClientFactory({
 *   region: 'us-east-1',
 *   plugins: [sim.plugin()],
 *   credentials: sim.credentialsFor(cp.killWorkerRoleArn),
 * });
 * ```
 *
 * Seeding: `sim.as(accountId, region).<service>.<Action>(input)` with the SDK input types.
 * Inspection: `sim.calls`, `sim.onCall`, and per-service helpers (`sim.lambda.mappingState`,
 * `sim.s3.objectVersions`, `sim.sns.published`, `sim.cloudwatch.metrics`...).
 * Test hooks: `sim.denyAction`, `sim.failNext`, `sim.lambda.stickMapping`.
 */

export type { MetricDatum } from './cloudwatch';
export type { Out, Settings } from './core';
export type { SeedVpc } from './ec2';
export { type ErrorKindName, SERVICE_NAMES, type ServiceName } from './errors';
export type { SeedManagedRule } from './events';
export type { RoleView } from './iam';
export type { PageSize } from './pagination';
export {
  auditBucketPolicy,
  executionRoleTrustPolicy,
  fullStopPolicyArn,
  type SeedAgent,
  type SeedControlPlaneOptions,
  type SeededControlPlane,
  type SeededWorkload,
  type SeedWorkloadOptions,
  seedBackstopControlPlane,
  seedBackstopWorkload,
  stackOutputsOf,
} from './seed';
export { outputProblems } from './shapes';
export {
  type AccountApi,
  type ActionsOf,
  type CallRecord,
  type DenyRule,
  type FaultRule,
  Simulator,
  type SimulatorOptions,
} from './simulator';
export type { PublishedMessage } from './sns';
export type { SessionRecord } from './sts';
export { DESIGN_QUOTAS, type ThrottleRule, type ThrottlingConfig } from './throttle';
export {
  type CallContext,
  ManualClock,
  type Principal,
  realClock,
  type SimClock,
  type SimCredentials,
} from './world';
