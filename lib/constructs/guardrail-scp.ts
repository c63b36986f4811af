import * as organizations from 'aws-cdk-lib/aws-organizations';
import { Construct } from 'constructs';
import { AGENT_TAG, IAM_PATH, ISOLATION_TAG } from '../../lambda/shared/naming';

export interface BackstopGuardrailPolicyProps {
  /** AWS partition of the organization. @default 'aws' */
  readonly partition?: string;
  /**
   * Principals that deploy and maintain Backstop in the workload accounts (the CloudFormation
   * execution role of `cdk bootstrap`, a StackSets execution role), as ARN patterns. Only they,
   * and Backstop's own execution roles, may change what the policy protects.
   */
  readonly deployerArnPatterns: readonly string[];
  /**
   * Roots, organizational units or accounts the policy is attached to.
   * @default - none: the policy is created, a person attaches it
   */
  readonly targetIds?: readonly string[];
  /** @default 'BackstopGuardrails' */
  readonly policyName?: string;
}

/**
 * An optional service control policy for the organization's management account (or a delegated
 * administrator): what a permissions boundary cannot give, because a boundary binds only the
 * roles that carry it. Attached to the workload accounts, it holds for every principal there,
 * agent or administrator, except Backstop's deployers and its own execution roles:
 * - nothing on Backstop's IAM path (`/backstop/`: execution roles, deny policies, boundaries)
 *   changes;
 * - no agent role (tagged `backstop:agent`) loses or changes its permissions boundary, its
 *   policies or its trust, and no `backstop:*` tag is written or removed anywhere;
 * - the isolation security groups keep their rules;
 * - a role or user is created only with a permissions boundary (any: the agent boundary is
 *   enforced for agents by the boundary itself).
 *
 * Not deployed by default: add it to a stack in the management account
 * (`new BackstopGuardrailPolicy(stack, 'Guardrails', {...})`) and review it with the security team.
 */
export class BackstopGuardrailPolicy extends Construct {
  readonly policy: organizations.CfnPolicy;
  /** The policy document, for review and tests. */
  readonly document: { Version: string; Statement: Record<string, unknown>[] };

  constructor(scope: Construct, id: string, props: BackstopGuardrailPolicyProps) {
    super(scope, id);
    if (props.deployerArnPatterns.length === 0) {
      throw new Error(
        'BackstopGuardrailPolicy: deployerArnPatterns must name who deploys Backstop (otherwise nobody could update it)',
      );
    }
    const partition = props.partition ?? 'aws';
    const exempt = [...props.deployerArnPatterns, `arn:${partition}:iam::*:role${IAM_PATH}*`];
    const unlessBackstop = { ArnNotLike: { 'aws:PrincipalArn': exempt } };
    this.document = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ProtectBackstopIam',
          Effect: 'Deny',
          Action: ['iam:*'],
          Resource: [
            `arn:${partition}:iam::*:role${IAM_PATH}*`,
            `arn:${partition}:iam::*:policy${IAM_PATH}*`,
          ],
          // Backstop's own roles read these (verify reads the deny policies); their own policies
          // keep them from changing them.
          Condition: unlessBackstop,
        },
        {
          Sid: 'ProtectAgentRoles',
          Effect: 'Deny',
          Action: [
            'iam:AttachRolePolicy',
            'iam:DeleteRolePermissionsBoundary',
            'iam:DeleteRolePolicy',
            'iam:DetachRolePolicy',
            'iam:PutRolePermissionsBoundary',
            'iam:PutRolePolicy',
            'iam:UpdateAssumeRolePolicy',
          ],
          Resource: `arn:${partition}:iam::*:role/*`,
          Condition: { ...unlessBackstop, Null: { [`aws:ResourceTag/${AGENT_TAG}`]: 'false' } },
        },
        {
          Sid: 'ProtectBackstopTags',
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { ...unlessBackstop, 'ForAnyValue:StringLike': { 'aws:TagKeys': 'backstop:*' } },
        },
        {
          Sid: 'ProtectIsolationGroups',
          Effect: 'Deny',
          Action: [
            'ec2:AuthorizeSecurityGroupEgress',
            'ec2:AuthorizeSecurityGroupIngress',
            'ec2:DeleteSecurityGroup',
            'ec2:ModifySecurityGroupRules',
            'ec2:RevokeSecurityGroupEgress',
            'ec2:RevokeSecurityGroupIngress',
          ],
          Resource: `arn:${partition}:ec2:*:*:security-group/*`,
          Condition: { ...unlessBackstop, Null: { [`aws:ResourceTag/${ISOLATION_TAG}`]: 'false' } },
        },
        {
          Sid: 'IdentitiesOnlyWithABoundary',
          Effect: 'Deny',
          Action: ['iam:CreateRole', 'iam:CreateUser'],
          Resource: '*',
          Condition: { ...unlessBackstop, Null: { 'iam:PermissionsBoundary': 'true' } },
        },
      ],
    };
    this.policy = new organizations.CfnPolicy(this, 'Policy', {
      name: props.policyName ?? 'BackstopGuardrails',
      description:
        "Backstop: keeps the kill switch's footprint and the agents' boundaries out of everyone's reach",
      type: 'SERVICE_CONTROL_POLICY',
      content: this.document,
      targetIds: props.targetIds ? [...props.targetIds] : undefined,
    });
  }
}
