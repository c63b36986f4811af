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
  /** This region's deny policies: the only Backstop policies the role may attach or detach. */
  readonly denyPolicies: DenyPolicies;
  /**
   * The VPCs declared for this account and region: interfaces and VPC functions go back only to
   * security groups and subnets of these. @default - none: the role gets no network permissions
   */
  readonly vpcIds?: readonly string[];
}

/**
 * `backstop-restore-<region>`: the only identity that may put an agent's authority back, on agent
 * resources only, and assumable only by the restore path's apply function after it has counted
 * the approvals (the worker role's policy pins `sts:AssumeRole` to that function). The security
 * tests enumerate every action it is allowed and prove each with the IAM policy simulator
 * (test/security/restore-execution-role.test.ts).
 *
 * IAM, proven by IAM conditions. Every write that puts content on a role needs the role to carry
 * the kill boundary (`iam:PermissionsBoundary` on the role), where nothing written can act yet:
 * re-putting inline policies, re-attaching managed policies (never `AdministratorAccess`, never a
 * Backstop policy but this region's deny policies), detaching this region's deny policies (and
 * nothing else). The restore itself sets the kill boundary first where the kill did not. The one
 * write that gives authority back is the boundary's: it may set only the agent boundary (or the
 * kill boundary), and lift only the kill boundary. It deletes no inline policy, writes no trust, no
 * policy version, no tag.
 *
 * What IAM cannot pin, because no condition key carries it: the content of an inline policy, the
 * choice among the agent boundary's permitted managed policies, the concurrency value, the `Enabled`
 * flag of a mapping, the body of a schedule, the non-network settings of a function, which rule is
 * enabled, and which security group of a declared VPC an interface gets. Each is confined to agent
 * resources; the restore path sends exactly the snapshot, after its hash was checked against the
 * kill's sealed audit records and after two people approved (README: "Why the restore side is as
 * tight as the kill side").
 */
export class RestoreExecutionRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: RestoreExecutionRoleProps) {
    super(scope, id);
    const s = props.agentScope;
    const deny = [...props.denyPolicies.attachableArnPatterns];
    const underKillBoundary = { ArnEquals: { 'iam:PermissionsBoundary': s.killBoundaryArn } };
    const builder = new PolicyBuilder();

    // IAM: every write under the kill boundary; the boundary itself last.
    allowOnTargets(builder, 'ReattachAgentPolicies', s.roles(), ['iam:AttachRolePolicy'], underKillBoundary);
    allowOnTargets(builder, 'RestoreInlinePolicies', s.roles(), ['iam:PutRolePolicy'], underKillBoundary);
    allowOnTargets(builder, 'RemoveBackstopDenies', s.roles(), ['iam:DetachRolePolicy'], {
      ...underKillBoundary,
      ArnLike: { 'iam:PolicyARN': deny },
    });
    allowOnTargets(builder, 'CutBeforeRestoring', s.roles(), ['iam:PutRolePermissionsBoundary'], {
      ArnEquals: { 'iam:PermissionsBoundary': s.killBoundaryArn },
    });
    allowOnTargets(builder, 'PutTheAgentBoundaryBack', s.roles(), ['iam:PutRolePermissionsBoundary'], {
      ArnEquals: { 'iam:PermissionsBoundary': s.boundaryArns },
    });
    allowOnTargets(
      builder,
      'LiftTheKillBoundary',
      s.roles(),
      ['iam:DeleteRolePermissionsBoundary'],
      underKillBoundary,
    );

    allowOnTargets(builder, 'RestoreConcurrency', s.functions(), [
      'lambda:DeleteFunctionConcurrency',
      'lambda:PutFunctionConcurrency',
    ]);
    allowOnTargets(builder, 'ReenableEventSourceMappings', s.eventSourceMappings(), [
      'lambda:UpdateEventSourceMapping',
    ]);
    builder.allow({
      sid: 'ReenableRules',
      actions: ['events:EnableRule'],
      resources: [s.arn('events', 'rule/*')],
      wildcardReason:
        "Rules a kill disabled are found by target, carry no agent tag and can sit on any bus; restore re-enables exactly the rules the kill's snapshot lists, and enabling a rule changes neither its pattern nor its targets.",
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

    // Network: back to groups and subnets of the declared VPCs only, no layer, no role change.
    const vpcIds = props.vpcIds ?? [];
    if (vpcIds.length > 0) {
      allowOnTargets(builder, 'RestoreNetworkInterfaces', s.networkInterfaces(), [
        'ec2:ModifyNetworkInterfaceAttribute',
      ]);
      builder.allow({
        sid: 'UseSecurityGroupsOfDeclaredVpcs',
        actions: ['ec2:ModifyNetworkInterfaceAttribute'],
        resources: [s.arn('ec2', 'security-group/*')],
        conditions: { ArnEquals: { 'ec2:Vpc': vpcIds.map((v) => s.arn('ec2', `vpc/${v}`)) } },
        wildcardReason:
          'An interface goes back to the groups it had before the kill, which can be any group of its VPC; the ec2:Vpc condition limits them to the declared VPCs, and the interface itself must be an agent interface.',
      });
      allowOnTargets(builder, 'RestoreVpcFunctions', s.functions(), ['lambda:UpdateFunctionConfiguration'], {
        StringEquals: { 'lambda:VpcIds': [...vpcIds] },
        Null: { 'lambda:SecurityGroupIds': 'false', 'lambda:Layer': 'true' },
      });
    }

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
          // A missing key (a role with no boundary) counts as "not equal": denied too.
          sid: 'WritePoliciesOnlyUnderTheKillBoundary',
          actions: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy', 'iam:PutRolePolicy'],
          conditions: { ArnNotEquals: { 'iam:PermissionsBoundary': s.killBoundaryArn } },
        },
        {
          sid: 'DetachNothingButBackstopDenyPolicies',
          actions: ['iam:DetachRolePolicy'],
          conditions: { ArnNotLike: { 'iam:PolicyARN': deny } },
        },
        {
          sid: 'SetNoBoundaryButTheAgentOrKillBoundary',
          actions: ['iam:PutRolePermissionsBoundary'],
          conditions: { ArnNotEquals: { 'iam:PermissionsBoundary': [...s.boundaryArns, s.killBoundaryArn] } },
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
            ArnNotLike: { 'iam:PolicyARN': deny },
          },
        },
        {
          sid: 'NeverChangeLayers',
          actions: ['lambda:UpdateFunctionConfiguration'],
          conditions: { Null: { 'lambda:Layer': 'false' } },
        },
        { sid: 'NeverRemoveOrRewriteWhatRestoreDoesNotPutBack', actions: RESTORE_NEVER_ACTIONS },
      ],
    });
  }
}

/**
 * Calls a restore never makes, denied explicitly (none is allowed anyway: the deny keeps it so if
 * an allow is ever added by mistake): deleting an inline policy, rewriting trust or a policy
 * version, adding targets, permissions or event sources, changing code.
 */
export const RESTORE_NEVER_ACTIONS = [
  'events:PutTargets',
  'iam:CreatePolicyVersion',
  'iam:DeleteRolePolicy',
  'iam:SetDefaultPolicyVersion',
  'iam:UpdateAssumeRolePolicy',
  'lambda:AddPermission',
  'lambda:CreateEventSourceMapping',
  'lambda:UpdateFunctionCode',
  'scheduler:CreateSchedule',
] as const;
