import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { IAM_PATH } from '../../lambda/shared/naming';
import {
  BOUNDARY_MUTATIONS,
  DISCOVERY_READS,
  POLICY_MUTATIONS,
  ROLE_MUTATIONS,
  RULE_MUTATIONS,
  TAG_MUTATIONS,
} from './actions';
import type { AgentScope, ScopeTarget } from './agent-scope';
import { type Conditions, type DenyStatement, mergeConditions, type PolicyBuilder } from './policy-builder';

/**
 * Statements shared by the kill and restore execution roles: their trust, their reads, and the
 * guards that keep both off Backstop's own resources.
 */

/** Session names the workers use (`killSessionName`): `backstop-<incidentId>`. */
export const SESSION_NAME_PATTERN = 'backstop-*';

export interface ExecutionTrustProps {
  /** The one control plane role that may assume the execution role. */
  readonly workerRole: iam.IRole;
  /** @default - no organization condition */
  readonly organizationId?: string;
}

/** Props both execution roles take. */
export interface ExecutionRoleCommonProps extends ExecutionTrustProps {
  /** The account and region, and how agent resources are recognised there. */
  readonly agentScope: AgentScope;
  /** Name prefix of Backstop's EventBridge rules, which the role may never touch. */
  readonly backstopRulePrefix: string;
}

/** What sets one execution role apart from the other. */
export interface ExecutionRoleDefinition {
  readonly roleName: string;
  readonly description: string;
  /** The role's own allows: what it may do to an agent's resources. */
  readonly allows: PolicyBuilder;
  /** The role's own guards, on top of the ones both roles share. */
  readonly denies: readonly DenyStatement[];
}

/**
 * Creates an execution role on Backstop's path whose trust admits the control plane account as
 * principal, narrowed to one role by `aws:PrincipalArn` (the ARN pins account, path and name), to
 * incident-named sessions (`backstop-*`) that set a source identity, and to the organization when
 * one is configured.
 *
 * Its permissions are, in this order: the role's own `allows`, the discovery reads, the guards
 * that keep both roles off Backstop's own resources, and the role's own `denies` (the statements
 * after `allows` are added to that builder). They outgrow the 10,240 characters IAM allows inline
 * per role, so they become managed policies on Backstop's path, named `<roleName>-<n>`: agents may
 * not attach them (agent boundary), the kill role may attach only deny policies, and the restore
 * role no Backstop policy but those. The wildcard findings of the policies are acknowledged on
 * each policy with the reasons the statements give.
 */
export function createExecutionRole(
  scope: Construct,
  id: string,
  props: ExecutionRoleCommonProps,
  definition: ExecutionRoleDefinition,
): iam.Role {
  const s = props.agentScope;
  const policy = definition.allows;
  allowDiscoveryReads(policy, s);
  denyBackstopChanges(policy, s, props.backstopRulePrefix);
  for (const statement of definition.denies) policy.deny(statement);

  const trusted: Conditions = {
    ArnEquals: { 'aws:PrincipalArn': props.workerRole.roleArn },
    ...(props.organizationId ? { StringEquals: { 'aws:PrincipalOrgID': props.organizationId } } : {}),
  };
  const account = new iam.AccountPrincipal(props.workerRole.env.account);
  const role = new iam.Role(scope, id, {
    roleName: definition.roleName,
    path: IAM_PATH,
    description: definition.description,
    assumedBy: account.withConditions(
      mergeConditions(trusted, {
        StringLike: { 'sts:RoleSessionName': SESSION_NAME_PATTERN },
        Null: { 'sts:SourceIdentity': 'false' },
      }) ?? {},
    ),
  });
  for (const managed of policy.toManagedPolicies(scope, {
    idPrefix: `${id}Policy`,
    namePrefix: definition.roleName,
    path: IAM_PATH,
    description: definition.description,
  })) {
    role.addManagedPolicy(managed);
  }
  role.assumeRolePolicy?.addStatements(
    new iam.PolicyStatement({
      sid: 'SetSourceIdentityFromTheWorkerRoleOnly',
      principals: [account],
      actions: ['sts:SetSourceIdentity'],
      conditions: trusted,
    }),
  );
  return role;
}

/** One Allow per way of recognising the agent's resources (IAM ORs statements, ANDs conditions). */
export function allowOnTargets(
  builder: PolicyBuilder,
  sid: string,
  targets: readonly ScopeTarget[],
  actions: readonly string[],
  conditions?: Conditions,
): void {
  for (const target of targets) {
    builder.allow({
      sid: `${sid}${target.label}`,
      actions,
      resources: target.resources,
      conditions: mergeConditions(target.conditions, conditions),
      wildcardReason: target.wildcardReason,
    });
  }
}

/**
 * UpdateSchedule on every schedule of the region, and the iam:PassRole it needs to pass a
 * schedule's own role: agent roles only, to Scheduler only.
 */
export function allowScheduleUpdates(
  builder: PolicyBuilder,
  s: AgentScope,
  sid: string,
  wildcardReason: string,
): void {
  builder.allow({
    sid,
    actions: ['scheduler:UpdateSchedule'],
    resources: [s.arn('scheduler', 'schedule/*')],
    wildcardReason,
  });
  allowOnTargets(builder, 'PassAgentRolesToScheduler', s.roles(), ['iam:PassRole'], {
    StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
  });
}

/** The reads both execution roles need to discover, snapshot and verify an agent. */
function allowDiscoveryReads(builder: PolicyBuilder, s: AgentScope): void {
  const readReason = (what: string) =>
    `Read-only ${what} of this account and region: discovery reads every candidate before deciding which belong to the agent.`;
  builder
    .allow({
      sid: 'ReadRoles',
      actions: DISCOVERY_READS.iamRoles,
      resources: [s.iamArn('role/*')],
      wildcardReason: readReason('roles'),
    })
    .allow({
      sid: 'ReadManagedPolicies',
      actions: DISCOVERY_READS.iamPolicies,
      resources: [s.iamArn('policy/*'), `arn:${s.partition}:iam::aws:policy/*`],
      wildcardReason:
        'Read-only managed policies (customer and AWS managed): snapshots record every policy verbatim before it is detached.',
    })
    .allow({
      sid: 'ReadFunctions',
      actions: DISCOVERY_READS.lambdaFunctions,
      resources: [s.arn('lambda', 'function:*')],
      wildcardReason: readReason('functions'),
    })
    .allow({
      sid: 'ReadEventSourceMappings',
      actions: DISCOVERY_READS.lambdaMappings,
      resources: [s.arn('lambda', 'event-source-mapping:*')],
      wildcardReason: readReason('event source mappings'),
    })
    .allow({
      sid: 'ReadRules',
      actions: DISCOVERY_READS.eventRules,
      resources: [s.arn('events', 'rule/*')],
      wildcardReason: readReason('EventBridge rules on every bus'),
    })
    .allow({
      sid: 'ReadEventBuses',
      actions: DISCOVERY_READS.eventBuses,
      resources: [s.arn('events', 'event-bus/*')],
      wildcardReason: readReason('event buses'),
    })
    .allow({
      sid: 'ReadSchedules',
      actions: DISCOVERY_READS.schedules,
      resources: [s.arn('scheduler', 'schedule/*')],
      wildcardReason: readReason('schedules in every group'),
    })
    .allow({
      sid: 'ReadScheduleGroups',
      actions: DISCOVERY_READS.scheduleGroups,
      resources: [s.arn('scheduler', 'schedule-group/*')],
      wildcardReason: readReason('schedule groups'),
    })
    .allow({
      sid: 'ReadStateMachines',
      actions: DISCOVERY_READS.stateMachines,
      resources: [s.arn('states', 'stateMachine:*')],
      wildcardReason: readReason('state machines'),
    })
    .allow({
      sid: 'ReadExecutions',
      actions: DISCOVERY_READS.executions,
      resources: [s.arn('states', 'execution:*')],
      wildcardReason: readReason('state machine executions'),
    })
    .allow({
      sid: 'ListWithoutResourceLevelPermissions',
      actions: DISCOVERY_READS.unscoped,
      resources: ['*'],
      wildcardReason:
        'These List/Describe calls support no resource-level permissions in IAM: they can only be granted on *. All are read-only.',
    });
}

/**
 * Explicit denies that hold whatever else the role is granted: never act on Backstop's roles
 * (the execution roles themselves, the forwarder role) or policies, never create a role, user or
 * access key, never move a user's boundary (each role guards role boundaries itself), never pass
 * a role except to Scheduler, never write `backstop:*` tags, never touch the alarm forwarding rule.
 */
function denyBackstopChanges(builder: PolicyBuilder, s: AgentScope, backstopRulePrefix: string): void {
  builder
    .deny({ sid: 'NeverChangeBackstopRoles', actions: ROLE_MUTATIONS, resources: [s.backstopRoles] })
    .deny({ sid: 'NeverChangeBackstopPolicies', actions: POLICY_MUTATIONS, resources: [s.backstopPolicies] })
    .deny({
      // Role boundaries are each role's own guard (the kill role sets only the kill boundary).
      sid: 'NeverChangeUserBoundariesOrCreateIdentities',
      actions: [
        ...BOUNDARY_MUTATIONS.filter((a) => a.includes('User')),
        'iam:CreateAccessKey',
        'iam:CreateRole',
        'iam:CreateUser',
      ],
    })
    .deny({
      sid: 'NeverPassRolesExceptToScheduler',
      actions: ['iam:PassRole'],
      conditions: { StringNotEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    })
    .deny({
      sid: 'NeverWriteBackstopTags',
      actions: TAG_MUTATIONS,
      conditions: { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'backstop:*' } },
    })
    .deny({
      sid: 'NeverChangeAlarmForwarding',
      actions: RULE_MUTATIONS,
      resources: [`arn:${s.partition}:events:*:${s.accountId}:rule/${backstopRulePrefix}*`],
    });
}
