import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { AGENT_TAG, agentBoundaryName, IAM_PATH, ISOLATION_TAG } from '../../lambda/shared/naming';
import {
  ALARM_MUTATIONS,
  BOUNDARY_MUTATIONS,
  POLICY_MUTATIONS,
  ROLE_MUTATIONS,
  RULE_MUTATIONS,
  SECURITY_GROUP_MUTATIONS,
} from './actions';
import type { AgentScope } from './agent-scope';
import { PolicyBuilder } from './policy-builder';

export interface AgentBoundaryProps {
  /** The account and region the boundary is for. */
  readonly agentScope: AgentScope;
  /** Name prefix of Backstop's EventBridge rules (the alarm forwarder). */
  readonly backstopRulePrefix: string;
  /**
   * CloudWatch alarms that trigger kills in this account (every region): agents may not silence them.
   * @default - none
   */
  readonly triggerAlarmArns?: readonly string[];
  /**
   * Ids of this region's isolation security groups: agents may not put a function into them.
   * @default - no VPC declared in this region
   */
  readonly isolationGroupIds?: readonly string[];
}

/**
 * `BackstopAgentBoundary-<region>`: the permissions boundary every agent role carries. It caps
 * what an agent's own policies can grant (an `Allow *` in a boundary grants nothing by itself)
 * and takes out everything an agent that prepares for its kill could use against it:
 * - Backstop itself: its roles, policies, boundaries, `backstop:*` tags, isolation groups, the
 *   alarm forwarding rule and the alarms that trigger a kill.
 * - A way out: creating a role or user without this boundary and the agent's tag, access keys and
 *   other long-lived credentials, passing or assuming any role but the agent's own (same
 *   `backstop:agent` tag as the caller; an untagged caller may pass or assume none), changing any
 *   role's trust policy, creating functions or state machines that do not carry its tag.
 * - Its own cut: writing, deleting, attaching or detaching policies of agent roles (its own
 *   included), Backstop-named policies, moving its own network interfaces or functions between
 *   groups, and switching work back on (event source mappings, rules, schedules, concurrency).
 *
 * Each door is proved closed with the IAM policy simulator in test/security/agent-boundary.test.ts.
 * What an organization SCP should add on top is in docs and BackstopGuardrailPolicy.
 */
export class AgentBoundary extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: AgentBoundaryProps) {
    super(scope, id);
    const s = props.agentScope;
    const anyRegion = (service: string, resource: string) =>
      `arn:${s.partition}:${service}:*:${s.accountId}:${resource}`;
    const agentTag = `aws:PrincipalTag/${AGENT_TAG}`;
    const sameAgent = { StringNotEquals: { [`aws:ResourceTag/${AGENT_TAG}`]: `\${${agentTag}}` } };
    const boundedRoles = { ArnEquals: { 'iam:PermissionsBoundary': [...s.boundaryArns, s.killBoundaryArn] } };
    const builder = new PolicyBuilder()
      .allow({
        sid: 'CapAtWhatIdentityPoliciesGrant',
        actions: ['*'],
        resources: ['*'],
        actionWildcardReason:
          'A permissions boundary caps, it grants nothing: Allow * lets the identity policies decide, and the Deny statements of this boundary take Backstop out of their reach.',
        wildcardReason:
          'A permissions boundary caps, it grants nothing: Allow * lets the identity policies decide, and the Deny statements of this boundary take Backstop out of their reach.',
      })
      .deny({
        sid: 'DenyBackstopRoles',
        actions: [...ROLE_MUTATIONS, 'sts:AssumeRole'],
        resources: [s.backstopRoles],
      })
      .deny({
        sid: 'DenyBackstopNamedPolicies',
        actions: POLICY_MUTATIONS,
        resources: [s.backstopPolicies, s.iamArn('policy/*backstop*'), s.iamArn('policy/*Backstop*')],
      })
      .deny({
        // Attaching: the boundary's Allow * or an execution role's powers would become the agent's.
        sid: 'DenyAttachingOrDetachingBackstopPolicies',
        actions: ['iam:Attach*Policy', 'iam:Detach*Policy'],
        conditions: { ArnLike: { 'iam:PolicyARN': s.backstopPolicies } },
      })
      .deny({ sid: 'DenyPermissionsBoundaryChanges', actions: BOUNDARY_MUTATIONS })
      .deny({
        sid: 'DenyPolicyChangesOnAgentRoles',
        actions: [
          'iam:AttachRolePolicy',
          'iam:DeleteRolePolicy',
          'iam:DetachRolePolicy',
          'iam:PutRolePolicy',
        ],
        conditions: boundedRoles,
      })
      .deny({
        sid: 'DenyPolicyChangesOnTaggedRoles',
        actions: [
          'iam:AttachRolePolicy',
          'iam:DeleteRolePolicy',
          'iam:DetachRolePolicy',
          'iam:PutRolePolicy',
        ],
        resources: [s.iamArn('role/*')],
        conditions: { Null: { [`aws:ResourceTag/${AGENT_TAG}`]: 'false' } },
      })
      .deny({
        // A missing key counts as "not equal": a role or user without the boundary is refused.
        sid: 'DenyIdentitiesWithoutTheBoundary',
        actions: ['iam:CreateRole', 'iam:CreateUser'],
        conditions: { ArnNotEquals: { 'iam:PermissionsBoundary': s.boundaryArns } },
      })
      .deny({
        sid: 'DenyCredentialsAndTrustChanges',
        actions: [
          'iam:CreateAccessKey',
          'iam:CreateLoginProfile',
          'iam:CreateServiceSpecificCredential',
          'iam:UpdateAccessKey',
          'iam:UpdateAssumeRolePolicy',
          'iam:UpdateLoginProfile',
          'iam:UploadSSHPublicKey',
          'iam:UploadSigningCertificate',
          'sts:GetFederationToken',
        ],
      })
      .deny({
        sid: 'DenyOtherAgentsRoles',
        actions: ['iam:PassRole', 'sts:AssumeRole'],
        conditions: sameAgent,
      })
      .deny({
        sid: 'DenyRolesToUntaggedCallers',
        actions: ['iam:PassRole', 'sts:AssumeRole'],
        conditions: { Null: { [agentTag]: 'true' } },
      })
      .deny({
        sid: 'DenyUntaggedCompute',
        actions: ['iam:CreateRole', 'lambda:CreateFunction', 'states:CreateStateMachine'],
        conditions: { StringNotEquals: { [`aws:RequestTag/${AGENT_TAG}`]: `\${${agentTag}}` } },
      })
      .deny({
        sid: 'DenySwitchingWorkBackOn',
        actions: [
          'events:EnableRule',
          'events:PutRule',
          'events:PutTargets',
          'lambda:CreateEventSourceMapping',
          'lambda:DeleteFunctionConcurrency',
          'lambda:PutFunctionConcurrency',
          'lambda:UpdateEventSourceMapping',
          'scheduler:CreateSchedule',
          'scheduler:UpdateSchedule',
        ],
      })
      .deny({
        sid: 'DenyMovingAgentNetwork',
        actions: ['ec2:ModifyNetworkInterfaceAttribute', 'lambda:UpdateFunctionConfiguration'],
        resources: [anyRegion('ec2', 'network-interface/*'), anyRegion('lambda', 'function:*')],
        conditions: { Null: { [`aws:ResourceTag/${AGENT_TAG}`]: 'false' } },
      })
      .deny({
        sid: 'DenyBackstopTags',
        actions: ['*'],
        conditions: { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'backstop:*' } },
      })
      .deny({
        sid: 'DenyIsolationGroups',
        actions: [
          ...SECURITY_GROUP_MUTATIONS,
          'ec2:CreateNetworkInterface',
          'ec2:ModifyNetworkInterfaceAttribute',
          'ec2:RunInstances',
        ],
        resources: [anyRegion('ec2', 'security-group/*')],
        conditions: { Null: { [`aws:ResourceTag/${ISOLATION_TAG}`]: 'false' } },
      })
      .deny({
        sid: 'DenyAlarmForwardingChanges',
        actions: [...RULE_MUTATIONS, 'events:TagResource', 'events:UntagResource'],
        resources: [anyRegion('events', `rule/${props.backstopRulePrefix}*`)],
      });
    if (props.isolationGroupIds && props.isolationGroupIds.length > 0) {
      builder.deny({
        sid: 'DenyFunctionsInIsolationGroups',
        actions: ['lambda:CreateFunction', 'lambda:UpdateFunctionConfiguration'],
        conditions: {
          'ForAnyValue:StringEquals': { 'lambda:SecurityGroupIds': [...props.isolationGroupIds] },
        },
      });
    }
    if (props.triggerAlarmArns && props.triggerAlarmArns.length > 0) {
      builder.deny({
        sid: 'DenyTriggerAlarmChanges',
        actions: ALARM_MUTATIONS,
        resources: props.triggerAlarmArns,
      });
    }

    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      managedPolicyName: agentBoundaryName(s.region),
      path: IAM_PATH,
      description: `Backstop permissions boundary for agent roles: caps them and keeps them off Backstop (tag roles ${AGENT_TAG}=<agent id>)`,
      document: builder.document(),
    });
    builder.acknowledgeOn(this.policy);
  }
}
