/**
 * What a kill needs the kill execution role to be allowed, per surface: the single list the
 * canary checks the deployed role against (lambda/canary), the simulator seeds the role with
 * (lib/local/simulator/kill-role-policy.ts), and the tests hold the synthesized role to.
 *
 * `cut` actions change an agent resource; `read` actions are the discovery, snapshot and verify
 * reads (lib/constructs/actions.ts DISCOVERY_READS, which a test keeps equal to these). A kill
 * never needs `iam:PutRolePolicy` or `lambda:UpdateFunctionConfiguration`: roles are cut with a
 * permissions boundary, VPC functions by their concurrency.
 */
import { iamPolicyArn } from './naming';
import type { SurfaceName } from './types';

/** Which resource an action is authorized on. */
export type KillResourceKind =
  /** An agent role. */
  | 'role'
  /** A managed policy (customer or AWS managed) attached to an agent role. */
  | 'managed-policy'
  | 'function'
  | 'event-source-mapping'
  | 'rule'
  | 'event-bus'
  | 'schedule'
  | 'schedule-group'
  /** The role a schedule passes to Scheduler (an agent role). */
  | 'schedule-role'
  | 'state-machine'
  | 'execution'
  | 'network-interface'
  /** The VPC's isolation security groups, which interfaces are moved into. */
  | 'isolation-group'
  /** Calls IAM authorizes only on `*`. */
  | '*';

/** What a kill's request carries that the kill role's conditions may test. */
export type KillRequestContext =
  /** `iam:PolicyARN`: the deny policy of the kill's mode (every kill mode). */
  | 'deny-policy'
  /** `iam:PolicyARN`: one of the agent's own managed policies. */
  | 'agent-policy'
  /** `iam:PermissionsBoundary`: the kill boundary (put on the role, or already on it). */
  | 'kill-boundary'
  /** `iam:PassedToService`: Scheduler. */
  | 'pass-to-scheduler'
  /** `lambda:FunctionArn`: the function of the event source mapping. */
  | 'mapping-function'
  /** `aws:ResourceTag/backstop:agent`: the agent's id, when the resource carries the tag. */
  | 'agent-tag';

export interface KillPermission {
  readonly action: string;
  readonly resource: KillResourceKind;
  /** `cut`: changes an agent resource; `read`: discovery, snapshot and verify. */
  readonly use: 'cut' | 'read';
  /** @default - none */
  readonly context?: readonly KillRequestContext[];
}

const cut = (action: string, resource: KillResourceKind, context?: KillRequestContext[]): KillPermission => ({
  action,
  resource,
  use: 'cut',
  ...(context ? { context } : {}),
});
const read = (resource: KillResourceKind, ...actions: string[]): KillPermission[] =>
  actions.map((action) => ({ action, resource, use: 'read' as const }));

/** Every permission a kill needs, per surface. */
export const KILL_PERMISSIONS: Readonly<Record<SurfaceName, readonly KillPermission[]>> = {
  iam: [
    cut('iam:AttachRolePolicy', 'role', ['deny-policy', 'agent-tag']),
    cut('iam:PutRolePermissionsBoundary', 'role', ['kill-boundary', 'agent-tag']),
    // Only on roles already under the kill boundary: what a kill detaches or deletes is cut already.
    cut('iam:DetachRolePolicy', 'role', ['agent-policy', 'kill-boundary', 'agent-tag']),
    cut('iam:DeleteRolePolicy', 'role', ['kill-boundary', 'agent-tag']),
    ...read(
      'role',
      'iam:GetRole',
      'iam:GetRolePolicy',
      'iam:ListAttachedRolePolicies',
      'iam:ListRolePolicies',
      'iam:ListRoleTags',
    ),
    ...read('managed-policy', 'iam:GetPolicy', 'iam:GetPolicyVersion'),
    ...read('*', 'iam:ListRoles'),
  ],
  lambda: [
    cut('lambda:PutFunctionConcurrency', 'function', ['agent-tag']),
    ...read(
      'function',
      'lambda:GetFunction',
      'lambda:GetFunctionConcurrency',
      'lambda:GetFunctionConfiguration',
      'lambda:ListTags',
    ),
    ...read('*', 'lambda:ListFunctions', 'tag:GetResources'),
  ],
  'event-source-mappings': [
    cut('lambda:UpdateEventSourceMapping', 'event-source-mapping', ['mapping-function', 'agent-tag']),
    ...read('event-source-mapping', 'lambda:GetEventSourceMapping', 'lambda:ListTags'),
    ...read('*', 'lambda:ListEventSourceMappings'),
  ],
  'eventbridge-rules': [
    cut('events:DisableRule', 'rule', ['agent-tag']),
    ...read('rule', 'events:DescribeRule', 'events:ListTagsForResource', 'events:ListTargetsByRule'),
    ...read('event-bus', 'events:ListTagsForResource'),
    ...read(
      '*',
      'events:ListEventBuses',
      'events:ListRuleNamesByTarget',
      'events:ListRules',
      'tag:GetResources',
    ),
  ],
  schedules: [
    cut('scheduler:UpdateSchedule', 'schedule'),
    cut('iam:PassRole', 'schedule-role', ['pass-to-scheduler', 'agent-tag']),
    ...read('schedule', 'scheduler:GetSchedule'),
    ...read('schedule-group', 'scheduler:ListTagsForResource'),
    ...read('*', 'scheduler:ListScheduleGroups', 'scheduler:ListSchedules'),
  ],
  executions: [
    cut('states:StopExecution', 'execution'),
    ...read('execution', 'states:DescribeExecution'),
    ...read(
      'state-machine',
      'states:DescribeStateMachine',
      'states:ListExecutions',
      'states:ListTagsForResource',
    ),
    ...read('*', 'tag:GetResources'),
  ],
  network: [
    cut('ec2:ModifyNetworkInterfaceAttribute', 'network-interface', ['agent-tag']),
    cut('ec2:ModifyNetworkInterfaceAttribute', 'isolation-group'),
    ...read('function', 'lambda:GetFunction', 'lambda:GetFunctionConfiguration'),
    ...read(
      '*',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeSubnets',
      'ec2:DescribeVpcs',
      'tag:GetResources',
    ),
  ],
};

/** What the canary itself asks of the kill role: to simulate its own policies, and nothing else. */
export const CANARY_SELF_CHECK_ACTION = 'iam:SimulatePrincipalPolicy';

/** Every distinct action of {@link KILL_PERMISSIONS}, sorted. */
export function killActions(use?: KillPermission['use']): string[] {
  const all = Object.values(KILL_PERMISSIONS)
    .flat()
    .filter((p) => use === undefined || p.use === use)
    .map((p) => p.action);
  return [...new Set(all)].sort();
}

/**
 * Name of the permissions boundary a kill puts on an agent role (the one under which the kill
 * role may detach and delete the role's policies). The kill role's redesign defines the policy;
 * this is the one place its name is spelled for the canary.
 */
export function killBoundaryName(region: string): string {
  return `BackstopKillBoundary-${region}`;
}

export function killBoundaryArn(partition: string, accountId: string, region: string): string {
  return iamPolicyArn(partition, accountId, killBoundaryName(region));
}
