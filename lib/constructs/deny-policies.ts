import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  approvalGatedPolicyName,
  draftOnlyPolicyName,
  fullStopPolicyName,
  IAM_PATH,
  iamPolicyArn,
  readOnlyPolicyName,
} from '../../lambda/shared/naming';
import type { AgentConfig } from '../config/schema';
import { READ_ONLY_ACTIONS } from './actions';
import { PolicyBuilder } from './policy-builder';

export interface DenyPoliciesProps {
  readonly partition: string;
  readonly accountId: string;
  readonly region: string;
  /** The agents of this account and region: each gets a `draft_only` and an `approval_gated` policy. */
  readonly agents: readonly AgentConfig[];
}

/**
 * The pre-made deny policies a kill attaches to an agent's roles, one per mode, on Backstop's
 * IAM path (which the agent boundary forbids agents to touch):
 * - `full_stop`: deny everything.
 * - `read_only`: deny everything but the reads of {@link READ_ONLY_ACTIONS}.
 * - `draft_only` (per agent): the same, except on the agent's draft resources.
 * - `approval_gated` (per agent): deny the agent's high-risk actions. Every agent has them: when
 *   the config lists none, the defaults apply, so the kill path never attaches a missing policy.
 */
export class DenyPolicies extends Construct {
  readonly fullStop: iam.ManagedPolicy;
  readonly readOnly: iam.ManagedPolicy;
  readonly draftOnly: ReadonlyMap<string, iam.ManagedPolicy>;
  readonly approvalGated: ReadonlyMap<string, iam.ManagedPolicy>;
  /**
   * `ArnLike` patterns that match exactly this region's deny policies (per-agent names by pattern,
   * so the pattern does not grow with the fleet). The kill role may attach nothing else.
   */
  readonly attachableArnPatterns: readonly string[];

  constructor(scope: Construct, id: string, props: DenyPoliciesProps) {
    super(scope, id);
    const { partition, accountId, region } = props;
    const policy = (constructId: string, name: string, description: string, builder: PolicyBuilder) =>
      new iam.ManagedPolicy(this, constructId, {
        managedPolicyName: name,
        path: IAM_PATH,
        description,
        document: builder.document(),
      });

    this.fullStop = policy(
      'FullStop',
      fullStopPolicyName(region),
      'Backstop full_stop: denies every action',
      new PolicyBuilder().deny({ sid: 'BackstopFullStop', actions: ['*'] }),
    );

    this.readOnly = policy(
      'ReadOnly',
      readOnlyPolicyName(region),
      'Backstop read_only: denies every action except reads',
      new PolicyBuilder().deny({ sid: 'BackstopReadOnly', notActions: READ_ONLY_ACTIONS }),
    );

    const draftOnly = new Map<string, iam.ManagedPolicy>();
    const approvalGated = new Map<string, iam.ManagedPolicy>();
    for (const agent of props.agents) {
      draftOnly.set(
        agent.id,
        policy(
          `DraftOnly-${agent.id}`,
          draftOnlyPolicyName(agent.id, region),
          `Backstop draft_only for ${agent.id}: denies writes except on its draft resources`,
          new PolicyBuilder().deny({
            sid: 'BackstopDraftOnly',
            notActions: READ_ONLY_ACTIONS,
            ...(agent.draftResources.length > 0
              ? { notResources: agent.draftResources }
              : { resources: ['*'] }),
          }),
        ),
      );
      approvalGated.set(
        agent.id,
        policy(
          `ApprovalGated-${agent.id}`,
          approvalGatedPolicyName(agent.id, region),
          `Backstop approval_gated for ${agent.id}: denies its high-risk actions`,
          new PolicyBuilder().deny({ sid: 'BackstopApprovalGated', actions: agent.highRiskActions }),
        ),
      );
    }
    this.draftOnly = draftOnly;
    this.approvalGated = approvalGated;

    this.attachableArnPatterns = [
      iamPolicyArn(partition, accountId, fullStopPolicyName(region)),
      iamPolicyArn(partition, accountId, readOnlyPolicyName(region)),
      iamPolicyArn(partition, accountId, draftOnlyPolicyName('*', region)),
      iamPolicyArn(partition, accountId, approvalGatedPolicyName('*', region)),
    ];
  }
}
