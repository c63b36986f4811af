import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { restoreExecutionRoleName } from '../../lambda/shared/naming';
import type { DenyPolicies } from './deny-policies';
import {
  allowOnTargets,
  allowScheduleUpdates,
  createExecutionRole,
  type ExecutionRoleCommonProps,
} from './execution-role-policies';
import { PolicyBuilder } from './policy-builder';

export interface RestoreExecutionRoleProps extends ExecutionRoleCommonProps {
  /** This region's deny policies: the only Backstop policies the role may attach (a restore to a lower kill mode). */
  readonly denyPolicies: DenyPolicies;
}

/**
 * `backstop-restore-<region>`: the only identity that may put an agent's authority back, on
 * agent resources only, after the restore path has collected its approvals. It re-attaches the
 * agent's own managed policies and re-puts its inline policies (only into roles that carry the
 * agent boundary), detaches Backstop's deny policies, re-enables rules (and puts an agent rule's
 * `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` state back with PutRule), concurrency, mappings and
 * schedules, and moves network interfaces and VPC functions back to their original groups.
 *
 * It may never attach `AdministratorAccess`, nor any policy on Backstop's path other than this
 * region's deny policies (the boundary in particular, whose `Allow *` would grant everything as a
 * permissions policy). Residual risk, because restore must put back arbitrary earlier state: it
 * can attach other managed policies to agent roles (capped by the boundary) and set any security
 * group on an agent interface.
 */
export class RestoreExecutionRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: RestoreExecutionRoleProps) {
    super(scope, id);
    const s = props.agentScope;
    // A killed role carries the kill boundary until the restore puts its own boundary back.
    const bounded = { ArnEquals: { 'iam:PermissionsBoundary': [...s.boundaryArns, s.killBoundaryArn] } };
    const builder = new PolicyBuilder();

    allowOnTargets(builder, 'ReattachAgentPolicies', s.roles(), ['iam:AttachRolePolicy'], bounded);
    allowOnTargets(builder, 'RestoreInlinePolicies', s.roles(), ['iam:PutRolePolicy'], bounded);
    allowOnTargets(builder, 'RemoveBackstopDenies', s.roles(), [
      'iam:DeleteRolePolicy',
      'iam:DetachRolePolicy',
    ]);
    allowOnTargets(builder, 'PutTheAgentBoundaryBack', s.roles(), ['iam:PutRolePermissionsBoundary'], {
      ArnEquals: { 'iam:PermissionsBoundary': s.boundaryArns },
    });
    allowOnTargets(builder, 'LiftTheKillBoundary', s.roles(), ['iam:DeleteRolePermissionsBoundary'], {
      ArnEquals: { 'iam:PermissionsBoundary': s.killBoundaryArn },
    });

    allowOnTargets(builder, 'RestoreConcurrency', s.functions(), [
      'lambda:DeleteFunctionConcurrency',
      'lambda:PutFunctionConcurrency',
    ]);
    allowOnTargets(builder, 'RestoreVpcFunctions', s.functions(), ['lambda:UpdateFunctionConfiguration'], {
      Null: { 'lambda:SecurityGroupIds': 'false' },
    });
    allowOnTargets(builder, 'ReenableEventSourceMappings', s.eventSourceMappings(), [
      'lambda:UpdateEventSourceMapping',
    ]);
    builder.allow({
      sid: 'ReenableRules',
      actions: ['events:EnableRule'],
      resources: [s.arn('events', 'rule/*')],
      wildcardReason:
        "Rules a kill disabled are found by target, carry no agent tag and can sit on any bus; restore re-enables exactly the rules the kill's snapshot lists.",
    });
    // EnableRule can only set ENABLED; a rule that matched all CloudTrail management events before
    // the kill goes back with PutRule and its recorded definition. PutRule can also rewrite a rule,
    // so it reaches agent rules only, and may not tag (no request tags: a rule cannot be made an agent's).
    allowOnTargets(builder, 'RestoreRuleState', s.rules(), ['events:PutRule'], {
      Null: { 'aws:TagKeys': 'true' },
    });
    allowScheduleUpdates(
      builder,
      s,
      'ReenableSchedules',
      "Schedules carry no tags and are found by their target; restore puts back exactly the schedules the kill's snapshot lists.",
    );
    allowOnTargets(builder, 'RestoreNetworkInterfaces', s.networkInterfaces(), [
      'ec2:ModifyNetworkInterfaceAttribute',
    ]);
    builder.allow({
      sid: 'UseOriginalSecurityGroups',
      actions: ['ec2:ModifyNetworkInterfaceAttribute'],
      resources: [s.arn('ec2', 'security-group/*')],
      wildcardReason:
        'An interface goes back to whatever groups it had before the kill, which can be any group of the region; the interface itself must be an agent interface.',
    });

    this.role = createExecutionRole(this, 'Role', props, {
      roleName: restoreExecutionRoleName(s.region),
      description: 'Backstop restore execution role: puts back agent authority after approval',
      allows: builder,
      denies: [
        {
          sid: 'NeverAttachAdministratorAccess',
          actions: ['iam:AttachRolePolicy'],
          conditions: {
            ArnEquals: { 'iam:PolicyARN': `arn:${s.partition}:iam::aws:policy/AdministratorAccess` },
          },
        },
        {
          sid: 'SetNoBoundaryButTheAgentBoundary',
          actions: ['iam:PutRolePermissionsBoundary'],
          conditions: { ArnNotEquals: { 'iam:PermissionsBoundary': s.boundaryArns } },
        },
        {
          sid: 'RemoveNoBoundaryButTheKillBoundary',
          actions: ['iam:DeleteRolePermissionsBoundary'],
          conditions: { ArnNotEquals: { 'iam:PermissionsBoundary': s.killBoundaryArn } },
        },
        {
          sid: 'NeverAttachOtherBackstopPolicies',
          actions: ['iam:AttachRolePolicy'],
          conditions: {
            ArnLike: { 'iam:PolicyARN': s.backstopPolicies },
            ArnNotLike: { 'iam:PolicyARN': [...props.denyPolicies.attachableArnPatterns] },
          },
        },
      ],
    });
  }
}
