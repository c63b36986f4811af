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
}

/**
 * `BackstopAgentBoundary-<region>`: the permissions boundary every agent role carries. It caps
 * what an agent's own policies can grant (an `Allow *` in a boundary grants nothing by itself)
 * and takes out everything that would let an agent fight its kill switch: changing the
 * execution roles or anything on Backstop's path, detaching a Backstop deny policy, attaching a
 * Backstop policy (the boundary's own `Allow *`, the execution roles' powers), moving boundaries, touching `backstop:*` tags, the isolation
 * security groups, the alarm forwarding rule, or the alarms that trigger a kill.
 *
 * Agents that may create roles or functions can still create authority outside Backstop's
 * reach: don't give agents `iam:CreateRole` or `iam:PassRole`.
 */
export class AgentBoundary extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: AgentBoundaryProps) {
    super(scope, id);
    const s = props.agentScope;
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
      .deny({ sid: 'DenyBackstopPolicies', actions: POLICY_MUTATIONS, resources: [s.backstopPolicies] })
      .deny({
        sid: 'DenyDetachingBackstopPolicies',
        actions: ['iam:DetachGroupPolicy', 'iam:DetachRolePolicy', 'iam:DetachUserPolicy'],
        conditions: { ArnLike: { 'iam:PolicyARN': s.backstopPolicies } },
      })
      .deny({
        // The boundary's Allow * would grant everything as a permissions policy, and the execution
        // roles' policies would hand an agent the kill switch's own powers.
        sid: 'DenyAttachingBackstopPolicies',
        actions: ['iam:AttachGroupPolicy', 'iam:AttachRolePolicy', 'iam:AttachUserPolicy'],
        conditions: { ArnLike: { 'iam:PolicyARN': s.backstopPolicies } },
      })
      .deny({ sid: 'DenyPermissionsBoundaryChanges', actions: BOUNDARY_MUTATIONS })
      .deny({
        sid: 'DenyBackstopTags',
        actions: ['*'],
        conditions: { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'backstop:*' } },
      })
      .deny({
        sid: 'DenyIsolationGroupChanges',
        actions: SECURITY_GROUP_MUTATIONS,
        resources: [`arn:${s.partition}:ec2:*:${s.accountId}:security-group/*`],
        conditions: { Null: { [`aws:ResourceTag/${ISOLATION_TAG}`]: 'false' } },
      })
      .deny({
        sid: 'DenyAlarmForwardingChanges',
        actions: [...RULE_MUTATIONS, 'events:TagResource', 'events:UntagResource'],
        resources: [`arn:${s.partition}:events:*:${s.accountId}:rule/${props.backstopRulePrefix}*`],
      });
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
