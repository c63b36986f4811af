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
 * `backstop-kill-<region>`: the role the kill path assumes in a workload account. It can cut and
 * never grant:
 * - IAM: attach only this region's Backstop deny policies (`iam:PolicyARN`), detach policies and
 *   delete inline policies, and put an inline policy (the session-revoking deny) only into roles
 *   that carry the agent boundary (`iam:PermissionsBoundary`), all on agent roles only; it may
 *   never detach a Backstop deny policy, so a kill never loosens.
 * - Compute and events: reserved concurrency, event source mappings, disabling rules (never
 *   enabling them), updating schedules, stopping executions, moving network interfaces and VPC
 *   functions into the isolation groups.
 *
 * Residual risks, because IAM cannot see inside these requests: `lambda:UpdateEventSourceMapping`
 * and `scheduler:UpdateSchedule` can also enable what they can disable, and `UpdateSchedule` passes
 * the schedule's role (limited to agent roles, to Scheduler only); `lambda:UpdateFunctionConfiguration`
 * must set the isolation groups but could change other settings of an agent function in the same
 * call; `events:DisableRule` and `states:StopExecution` reach any rule and execution of the region
 * (rules found by target and executions carry no tags), which can stop work but grants nothing.
 */
export class KillExecutionRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: KillExecutionRoleProps) {
    super(scope, id);
    const s = props.agentScope;
    const attachable = props.denyPolicies.attachableArnPatterns;
    const builder = new PolicyBuilder();

    // IAM: cut agent roles.
    allowOnTargets(builder, 'AttachBackstopDenyPolicies', s.roles(), ['iam:AttachRolePolicy'], {
      ArnLike: { 'iam:PolicyARN': [...attachable] },
    });
    allowOnTargets(builder, 'DetachAgentPolicies', s.roles(), ['iam:DetachRolePolicy'], {
      ArnNotLike: { 'iam:PolicyARN': s.backstopPolicies },
    });
    allowOnTargets(builder, 'DeleteAgentInlinePolicies', s.roles(), ['iam:DeleteRolePolicy']);
    allowOnTargets(builder, 'PutDenyIntoBoundedAgentRoles', s.roles(), ['iam:PutRolePolicy'], {
      ArnEquals: { 'iam:PermissionsBoundary': s.boundaryArns },
    });

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
        Null: { 'lambda:SecurityGroupIds': 'false' },
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
        { sid: 'NeverPutAuthorityBack', actions: ['events:EnableRule', 'lambda:DeleteFunctionConcurrency'] },
      ],
    });
  }
}
