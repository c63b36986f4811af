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
import { type ConfigIssue, ConfigLimitError } from '../config/errors';
import type { AgentConfig } from '../config/schema';

export interface DenyPoliciesProps {
  readonly partition: string;
  readonly accountId: string;
  readonly region: string;
  /**
   * The agents whose `draft_only` and `approval_gated` policies this stack holds: every agent of
   * the account and region, or the first group of them when they are spread over several stacks
   * ({@link planAgentDenyPolicyStacks}).
   */
  readonly agents: readonly AgentConfig[];
}

/** A managed policy's document may hold at most this many characters, whitespace aside (IAM). */
export const MANAGED_POLICY_MAX_CHARS = 6144;

const policyPath = IAM_PATH;

/** Creates one deny policy on Backstop's path. */
function denyPolicy(
  scope: Construct,
  constructId: string,
  name: string,
  description: string,
  document: PolicyDocumentJson,
): iam.ManagedPolicy {
  return new iam.ManagedPolicy(scope, constructId, {
    managedPolicyName: name,
    path: policyPath,
    description,
    document: iam.PolicyDocument.fromJson(document),
  });
}

export interface AgentDenyPoliciesProps {
  readonly region: string;
  /** Each gets a `draft_only` and an `approval_gated` policy. */
  readonly agents: readonly AgentConfig[];
}

/**
 * The per-agent deny policies of a group of agents: `draft_only` (denies writes except on the
 * agent's draft resources) and `approval_gated` (denies its high-risk actions and undoing the
 * cut). They cannot be merged across agents (another agent's deny would apply), so a region with
 * many agents spreads them over several stacks; their names never change with the stack they are
 * in, since the kill role attaches them by name pattern.
 */
export class AgentDenyPolicies extends Construct {
  readonly draftOnly: ReadonlyMap<string, iam.ManagedPolicy>;
  readonly approvalGated: ReadonlyMap<string, iam.ManagedPolicy>;

  constructor(scope: Construct, id: string, props: AgentDenyPoliciesProps) {
    super(scope, id);
    const draftOnly = new Map<string, iam.ManagedPolicy>();
    const approvalGated = new Map<string, iam.ManagedPolicy>();
    for (const agent of props.agents) {
      draftOnly.set(
        agent.id,
        denyPolicy(
          scope,
          `DraftOnly-${agent.id}`,
          draftOnlyPolicyName(agent.id, props.region),
          `Backstop draft_only for ${agent.id}: denies writes except on its draft resources`,
          denyDocument('draft_only', agent),
        ),
      );
      approvalGated.set(
        agent.id,
        denyPolicy(
          scope,
          `ApprovalGated-${agent.id}`,
          approvalGatedPolicyName(agent.id, props.region),
          `Backstop approval_gated for ${agent.id}: denies its high-risk actions and undoing the cut`,
          denyDocument('approval_gated', agent),
        ),
      );
    }
    this.draftOnly = draftOnly;
    this.approvalGated = approvalGated;
  }
}

/** Characters of a policy document as IAM counts them (JSON without whitespace). */
export function policySize(document: PolicyDocumentJson): number {
  return JSON.stringify(document).length;
}

/** Bytes a resource of this document takes in a synthesized template (1-space indentation, 3 levels deep). */
function templateBytes(document: PolicyDocumentJson, name: string, description: string): number {
  const resource = {
    Type: 'AWS::IAM::ManagedPolicy',
    Properties: {
      Description: description,
      ManagedPolicyName: name,
      Path: policyPath,
      PolicyDocument: document,
    },
    Metadata: { 'aws:cdk:path': `Backstop-Workload-000000000000-xx-xxxx-0/DenyPolicies/${name}/Resource` },
  };
  const text = JSON.stringify(resource, undefined, 1);
  return text.length + 3 * text.split('\n').length + name.length + 40;
}

/** Template bytes of one agent's two deny policies, and every document that is over IAM's limit. */
function agentDenyFootprint(agent: AgentConfig, region: string): { bytes: number; tooLarge: string[] } {
  let bytes = 0;
  const tooLarge: string[] = [];
  for (const mode of ['draft_only', 'approval_gated'] as const) {
    const document = denyDocument(mode, agent);
    const name =
      mode === 'draft_only'
        ? draftOnlyPolicyName(agent.id, region)
        : approvalGatedPolicyName(agent.id, region);
    bytes += templateBytes(
      document,
      name,
      `Backstop ${mode} for ${agent.id}: ...........................................`,
    );
    const size = policySize(document);
    if (size > MANAGED_POLICY_MAX_CHARS) tooLarge.push(`${mode} (${size} characters)`);
  }
  return { bytes, tooLarge };
}

/**
 * CloudFormation's limits on one template, with the share the per-agent deny policies may take:
 * what the workload stack holds besides them (execution roles and their policies, boundaries,
 * isolation groups, outputs) stays under {@link WORKLOAD_BASE_RESERVE}.
 */
export const TEMPLATE_LIMITS = { bytes: 1_048_576, resources: 500 } as const;
/** Room kept in the first workload stack of a region for everything but the per-agent deny policies. */
export const WORKLOAD_BASE_RESERVE = { bytes: 200_000, resources: 80 } as const;
/** Room kept in every stack for what the estimate of a policy's template bytes may miss. */
const MARGIN = { bytes: 100_000, resources: 20 } as const;

/**
 * Spreads the per-agent deny policies of one account and region over as few stacks as fit
 * CloudFormation's limits (1 MB and 500 resources per template): the first group stays in the
 * workload stack, each further group gets a stack of its own. Agents keep config order, so the
 * same config always gives the same stacks. An agent whose deny document is over IAM's 6,144
 * characters fails synth here with a {@link ConfigLimitError}.
 */
export function planAgentDenyPolicyStacks(
  agents: readonly AgentConfig[],
  region: string,
  configIndex: (agent: AgentConfig) => number,
): AgentConfig[][] {
  const issues: ConfigIssue[] = [];
  const groups: AgentConfig[][] = [[]];
  let bytes = WORKLOAD_BASE_RESERVE.bytes + MARGIN.bytes;
  let resources = WORKLOAD_BASE_RESERVE.resources + MARGIN.resources;
  for (const agent of agents) {
    const { bytes: size, tooLarge } = agentDenyFootprint(agent, region);
    if (tooLarge.length > 0) {
      issues.push({
        path: `agents[${configIndex(agent)}]`,
        message: `the ${tooLarge.join(' and ')} deny policy of agent ${agent.id} is over the ${MANAGED_POLICY_MAX_CHARS} characters IAM allows in a managed policy: list fewer highRiskActions or draftResources (wildcards in the resource part cover many at once)`,
      });
      continue;
    }
    if (bytes + size > TEMPLATE_LIMITS.bytes || resources + 2 > TEMPLATE_LIMITS.resources) {
      groups.push([]);
      bytes = MARGIN.bytes;
      resources = MARGIN.resources;
    }
    groups[groups.length - 1].push(agent);
    bytes += size;
    resources += 2;
  }
  if (issues.length > 0) throw new ConfigLimitError(issues);
  return groups;
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

    const perAgent = new AgentDenyPolicies(this, 'Agents', { region, agents: props.agents });
    this.draftOnly = perAgent.draftOnly;
    this.approvalGated = perAgent.approvalGated;

    this.attachableArnPatterns = [
      iamPolicyArn(partition, accountId, fullStopPolicyName(region)),
      iamPolicyArn(partition, accountId, readOnlyPolicyName(region)),
      iamPolicyArn(partition, accountId, draftOnlyPolicyName('*', region)),
      iamPolicyArn(partition, accountId, approvalGatedPolicyName('*', region)),
    ];
  }
}
