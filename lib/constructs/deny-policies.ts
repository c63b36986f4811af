import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  approvalGatedPolicyName,
  draftOnlyPolicyName,
  fullStopPolicyName,
  IAM_PATH,
  iamPolicyArn,
  killBoundaryName,
  readOnlyPolicyName,
} from '../../lambda/shared/naming';
import {
  denyDocument,
  killBoundaryDocument,
  type PolicyDocumentJson,
} from '../../lambda/shared/policy-documents';
import type { AgentConfig } from '../config/schema';

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
 * - `approval_gated` (per agent): deny the agent's high-risk actions, and the actions that would
 *   undo the cut (HOLD_THE_CUT_ACTIONS). Every agent has them: when the config lists none, the
 *   defaults apply, so the kill path never attaches a missing policy.
 *
 * Plus the kill boundary. Every document comes from lambda/shared/policy-documents.ts, the module
 * the handlers compare the documents in force against, and holds Deny statements only.
 */
export class DenyPolicies extends Construct {
  readonly fullStop: iam.ManagedPolicy;
  readonly readOnly: iam.ManagedPolicy;
  readonly draftOnly: ReadonlyMap<string, iam.ManagedPolicy>;
  readonly approvalGated: ReadonlyMap<string, iam.ManagedPolicy>;
  /**
   * `BackstopKillBoundary-<region>`: the permissions boundary a kill sets on an agent role (every
   * full_stop kill, and any kill where the mode's deny cannot be attached). It denies everything.
   */
  readonly killBoundary: iam.ManagedPolicy;
  /**
   * `ArnLike` patterns that match exactly this region's deny policies (per-agent names by pattern,
   * so the pattern does not grow with the fleet). The kill role may attach nothing else.
   */
  readonly attachableArnPatterns: readonly string[];

  constructor(scope: Construct, id: string, props: DenyPoliciesProps) {
    super(scope, id);
    const { partition, accountId, region } = props;
    const policy = (constructId: string, name: string, description: string, document: PolicyDocumentJson) =>
      new iam.ManagedPolicy(this, constructId, {
        managedPolicyName: name,
        path: IAM_PATH,
        description,
        document: iam.PolicyDocument.fromJson(document),
      });
    // full_stop and read_only name no agent: any agent's fields give the same document.
    const anyAgent = { highRiskActions: [], draftResources: [] };

    this.fullStop = policy(
      'FullStop',
      fullStopPolicyName(region),
      'Backstop full_stop: denies every action',
      denyDocument('full_stop', anyAgent),
    );
    this.readOnly = policy(
      'ReadOnly',
      readOnlyPolicyName(region),
      'Backstop read_only: denies every action except reads',
      denyDocument('read_only', anyAgent),
    );
    this.killBoundary = policy(
      'KillBoundary',
      killBoundaryName(region),
      'Backstop kill boundary: set on a killed agent role, denies every action of every session',
      killBoundaryDocument(),
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
          denyDocument('draft_only', agent),
        ),
      );
      approvalGated.set(
        agent.id,
        policy(
          `ApprovalGated-${agent.id}`,
          approvalGatedPolicyName(agent.id, region),
          `Backstop approval_gated for ${agent.id}: denies its high-risk actions and undoing the cut`,
          denyDocument('approval_gated', agent),
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
