import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { IAM_PATH, killExecutionRoleName } from '../../lambda/shared/naming';
import type { DenyPolicies } from './deny-policies';
import {
  allowOnTargets,
  allowScheduleUpdates,
  createExecutionRole,
  type ExecutionRoleCommonProps,
} from './execution-role-policies';
import type { IsolationSecurityGroups } from './isolation-security-groups';
import { PolicyBuilder } from './policy-builder';

export interface KillExecutionRoleProps extends ExecutionRoleCommonProps {
  /** This region's deny policies: the only policies the role may attach. */
  readonly denyPolicies: DenyPolicies;
  /**
   * Isolation groups the role may move agent network interfaces and VPC functions into.
   * @default - no VPC declared in this region: the role gets no network permissions
   */
  readonly isolationGroups?: IsolationSecurityGroups;
}

/**
 * `backstop-kill-<region>`: the role the kill path assumes in a workload account. Every action it
 * is allowed takes authority away; none can add it (design principle 8). The security tests
 * enumerate its allowed actions on the synthesized template and prove each with the IAM policy
 * simulator.
 *
 * - IAM, proven by IAM conditions: it attaches only this region's Backstop deny policies
 *   (`iam:PolicyARN`; each holds Deny statements only), sets only the kill boundary as a permissions
 *   boundary (`iam:PermissionsBoundary`; it denies everything), and detaches or deletes a role's
 *   policies only once the role carries the kill boundary (`iam:PermissionsBoundary` on the role),
 *   when nothing removed can give the role any authority. It writes no policy document: no
 *   `iam:PutRolePolicy`, no policy versions, no trust changes.
 * - Disabling, proven by the API: `events:DisableRule` and `states:StopExecution` can only stop.
 * - Network, proven by IAM conditions: interfaces move only into this stack's isolation groups;
 *   VPC functions only to isolation groups, with no layer change and no role change (`iam:PassRole`
 *   to Lambda is denied).
 * - Values IAM cannot pin (the API has no condition key for them): the concurrency value of
 *   `lambda:PutFunctionConcurrency`, the `Enabled` flag of `lambda:UpdateEventSourceMapping`, the
 *   body of `scheduler:UpdateSchedule` (which passes the schedule's own agent role, to Scheduler
 *   only) and the non-network settings of `lambda:UpdateFunctionConfiguration`. These reach agent
 *   resources only, can re-enable work but not grant IAM authority (every agent role is cut by the
 *   IAM statements above, first), and the kill path sends only the cutting value.
 */
export class KillExecutionRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: KillExecutionRoleProps) {
    super(scope, id);
    const s = props.agentScope;
    const attachable = props.denyPolicies.attachableArnPatterns;
    const killBoundary = { ArnEquals: { 'iam:PermissionsBoundary': s.killBoundaryArn } };
    const builder = new PolicyBuilder();

    // IAM: cut agent roles.
    allowOnTargets(builder, 'AttachBackstopDenyPolicies', s.roles(), ['iam:AttachRolePolicy'], {
      ArnLike: { 'iam:PolicyARN': [...attachable] },
    });
    allowOnTargets(
      builder,
      'SetTheKillBoundary',
      s.roles(),
      ['iam:PutRolePermissionsBoundary'],
      killBoundary,
    );
    allowOnTargets(
      builder,
      'DismantleRolesUnderTheKillBoundary',
      s.roles(),
      ['iam:DeleteRolePolicy', 'iam:DetachRolePolicy'],
      killBoundary,
    );

    // Compute, event sources, schedules, executions.
    allowOnTargets(builder, 'ZeroConcurrency', s.functions(), ['lambda:PutFunctionConcurrency']);
    allowOnTargets(builder, 'DisableEventSourceMappings', s.eventSourceMappings(), [
      'lambda:UpdateEventSourceMapping',
    ]);
    builder.allow({
      sid: 'DisableRules',
      actions: ['events:DisableRule'],
      resources: [s.arn('events', 'rule/*')],
      wildcardReason:
        "Rules that target an agent's functions, queues or state machines are found by target, carry no agent tag and can sit on any bus; disabling stops work but grants nothing, and Backstop's forwarding rule is denied explicitly.",
    });
    allowScheduleUpdates(
      builder,
      s,
      'DisableSchedules',
      'Schedules carry no tags and are found by their target; the schedule role it must pass is limited to agent roles, to Scheduler only.',
    );
    builder.allow({
      sid: 'StopExecutions',
      actions: ['states:StopExecution'],
      resources: [s.arn('states', 'execution:*')],
      wildcardReason:
        'Execution ARNs are only known at discovery and executions carry no tags; stopping an execution grants nothing.',
    });

    // Network: only into this stack's isolation groups.
    if (props.isolationGroups) {
      const groups = props.isolationGroups;
      allowOnTargets(builder, 'IsolateNetworkInterfaces', s.networkInterfaces(), [
        'ec2:ModifyNetworkInterfaceAttribute',
      ]);
      builder.allow({
        sid: 'UseIsolationGroups',
        actions: ['ec2:ModifyNetworkInterfaceAttribute'],
        resources: groups.securityGroupArns,
      });
      allowOnTargets(builder, 'IsolateVpcFunctions', s.functions(), ['lambda:UpdateFunctionConfiguration'], {
        'ForAllValues:StringEquals': { 'lambda:SecurityGroupIds': groups.securityGroupIds },
        Null: { 'lambda:SecurityGroupIds': 'false', 'lambda:Layer': 'true' },
      });
    }

    // The canary (in the control plane, through this role) asks IAM whether this role is still
    // allowed what a kill needs: it may simulate its own policies, no other principal's.
    builder.allow({
      sid: 'CanarySimulatesThisRolesOwnPolicies',
      actions: ['iam:SimulatePrincipalPolicy'],
      resources: [s.iamArn(`role${IAM_PATH}${killExecutionRoleName(s.region)}`)],
    });

    this.role = createExecutionRole(this, 'Role', props, {
      roleName: killExecutionRoleName(s.region),
      description: 'Backstop kill execution role: cuts agent authority, never grants it',
      allows: builder,
      // Guards: whatever the allows above say, these hold (with the ones both roles share).
      denies: [
        {
          sid: 'AttachNothingButBackstopDenyPolicies',
          actions: ['iam:AttachRolePolicy'],
          conditions: { ArnNotLike: { 'iam:PolicyARN': [...attachable] } },
        },
        {
          sid: 'NeverDetachBackstopPolicies',
          actions: ['iam:DetachRolePolicy'],
          conditions: { ArnLike: { 'iam:PolicyARN': s.backstopPolicies } },
        },
        {
          sid: 'SetNoBoundaryButTheKillBoundary',
          actions: ['iam:PutRolePermissionsBoundary'],
          conditions: { ArnNotEquals: { 'iam:PermissionsBoundary': s.killBoundaryArn } },
        },
        {
          // A missing key (a role with no boundary) counts as "not equal": denied too.
          sid: 'DismantleOnlyRolesUnderTheKillBoundary',
          actions: ['iam:DeleteRolePolicy', 'iam:DetachRolePolicy'],
          conditions: { ArnNotEquals: { 'iam:PermissionsBoundary': s.killBoundaryArn } },
        },
        { sid: 'NeverPutAuthorityBack', actions: KILL_NEVER_ACTIONS },
      ],
    });
  }
}

/**
 * Calls that give authority or work back, or write policy content, denied to the kill role
 * explicitly (none is allowed anyway: the deny keeps it so if an allow is ever added by mistake).
 */
export const KILL_NEVER_ACTIONS = [
  'events:EnableRule',
  'events:PutRule',
  'events:PutTargets',
  'iam:CreatePolicyVersion',
  'iam:DeleteRolePermissionsBoundary',
  'iam:PutRolePolicy',
  'iam:SetDefaultPolicyVersion',
  'iam:UpdateAssumeRolePolicy',
  'lambda:AddPermission',
  'lambda:CreateEventSourceMapping',
  'lambda:DeleteFunctionConcurrency',
  'lambda:UpdateFunctionCode',
  'scheduler:CreateSchedule',
] as const;
