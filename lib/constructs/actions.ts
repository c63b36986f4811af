/**
 * IAM action lists shared by the workload constructs. Every list is explicit: roles that can
 * change IAM carry no action wildcard at all, and IAM rejects a wildcard in an action's service
 * part (`*:Get*`), so "all reads" is spelled out service by service.
 */

/** Every IAM call that changes a role, its policies, its boundary, its trust or its tags. */
export const ROLE_MUTATIONS = [
  'iam:AttachRolePolicy',
  'iam:DeleteRole',
  'iam:DeleteRolePermissionsBoundary',
  'iam:DeleteRolePolicy',
  'iam:DetachRolePolicy',
  'iam:PassRole',
  'iam:PutRolePermissionsBoundary',
  'iam:PutRolePolicy',
  'iam:TagRole',
  'iam:UntagRole',
  'iam:UpdateAssumeRolePolicy',
  'iam:UpdateRole',
  'iam:UpdateRoleDescription',
] as const;

/** Every IAM call that creates, changes, re-versions, tags or deletes a managed policy. */
export const POLICY_MUTATIONS = [
  'iam:CreatePolicy',
  'iam:CreatePolicyVersion',
  'iam:DeletePolicy',
  'iam:DeletePolicyVersion',
  'iam:SetDefaultPolicyVersion',
  'iam:TagPolicy',
  'iam:UntagPolicy',
] as const;

/** Permissions boundary changes, on roles and users. */
export const BOUNDARY_MUTATIONS = [
  'iam:DeleteRolePermissionsBoundary',
  'iam:DeleteUserPermissionsBoundary',
  'iam:PutRolePermissionsBoundary',
  'iam:PutUserPermissionsBoundary',
] as const;

/** Tag and untag calls of the services the execution roles touch. */
export const TAG_MUTATIONS = [
  'ec2:CreateTags',
  'ec2:DeleteTags',
  'events:TagResource',
  'events:UntagResource',
  'iam:TagPolicy',
  'iam:TagRole',
  'iam:UntagPolicy',
  'iam:UntagRole',
  'lambda:TagResource',
  'lambda:UntagResource',
  'scheduler:TagResource',
  'scheduler:UntagResource',
  'states:TagResource',
  'states:UntagResource',
  'tag:TagResources',
  'tag:UntagResources',
] as const;

/** Calls that change an EventBridge rule or its targets. */
export const RULE_MUTATIONS = [
  'events:DeleteRule',
  'events:DisableRule',
  'events:PutRule',
  'events:PutTargets',
  'events:RemoveTargets',
] as const;

/** Calls that change a security group's rules, tags or existence. */
export const SECURITY_GROUP_MUTATIONS = [
  'ec2:AuthorizeSecurityGroupEgress',
  'ec2:AuthorizeSecurityGroupIngress',
  'ec2:CreateTags',
  'ec2:DeleteSecurityGroup',
  'ec2:DeleteTags',
  'ec2:ModifySecurityGroupRules',
  'ec2:RevokeSecurityGroupEgress',
  'ec2:RevokeSecurityGroupIngress',
  'ec2:UpdateSecurityGroupRuleDescriptionsEgress',
  'ec2:UpdateSecurityGroupRuleDescriptionsIngress',
] as const;

/** Calls that would silence or rewrite a CloudWatch alarm that triggers a kill. */
export const ALARM_MUTATIONS = [
  'cloudwatch:DeleteAlarms',
  'cloudwatch:DisableAlarmActions',
  'cloudwatch:PutMetricAlarm',
  'cloudwatch:SetAlarmState',
] as const;

/** What `read_only` and `draft_only` still allow (shared with the handlers, which check it). */
export { READ_ONLY_ACTIONS } from '../../lambda/shared/policy-documents';

/** Reads the execution roles need to discover, snapshot and verify an agent's surfaces. */
export const DISCOVERY_READS = {
  /** Actions on roles (`role/*`). */
  iamRoles: [
    'iam:GetRole',
    'iam:GetRolePolicy',
    'iam:ListAttachedRolePolicies',
    'iam:ListRolePolicies',
    'iam:ListRoleTags',
  ],
  /** Actions on managed policies (customer and AWS managed). */
  iamPolicies: ['iam:GetPolicy', 'iam:GetPolicyVersion'],
  /** Actions on functions. */
  lambdaFunctions: [
    'lambda:GetFunction',
    'lambda:GetFunctionConcurrency',
    'lambda:GetFunctionConfiguration',
    'lambda:ListTags',
  ],
  /** Actions on event source mappings. */
  lambdaMappings: ['lambda:GetEventSourceMapping', 'lambda:ListTags'],
  /** Actions on rules (any bus). */
  eventRules: ['events:DescribeRule', 'events:ListTagsForResource', 'events:ListTargetsByRule'],
  /** Actions on event buses. */
  eventBuses: ['events:ListTagsForResource'],
  /** Actions on schedules. */
  schedules: ['scheduler:GetSchedule'],
  /** Actions on schedule groups. */
  scheduleGroups: ['scheduler:ListTagsForResource'],
  /** Actions on state machines. */
  stateMachines: ['states:DescribeStateMachine', 'states:ListExecutions', 'states:ListTagsForResource'],
  /** Actions on executions. */
  executions: ['states:DescribeExecution'],
  /** List and describe calls that IAM authorizes only on `*` (no resource-level permissions). */
  unscoped: [
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeSubnets',
    'ec2:DescribeVpcs',
    'events:ListEventBuses',
    'events:ListRuleNamesByTarget',
    'events:ListRules',
    'iam:ListRoles',
    'lambda:ListEventSourceMappings',
    'lambda:ListFunctions',
    'scheduler:ListScheduleGroups',
    'scheduler:ListSchedules',
    'tag:GetResources',
  ],
} as const;
