/**
 * Types shared by every handler, the local engine and the CDK app. This file imports nothing,
 * so handler code and lib/ can both depend on it without pulling in aws-cdk-lib.
 */

/** Kill modes, loosest first. A kill never moves an agent to a lower mode; only restore does. */
export const MODES = ['normal', 'approval_gated', 'draft_only', 'read_only', 'full_stop'] as const;
export type Mode = (typeof MODES)[number];
/** Modes a kill may ask for (everything but `normal`). */
export const KILL_MODES = ['approval_gated', 'draft_only', 'read_only', 'full_stop'] as const;
export type KillMode = (typeof KILL_MODES)[number];

export function modeRank(mode: Mode): number {
  return MODES.indexOf(mode);
}

export function isKillMode(value: unknown): value is KillMode {
  return typeof value === 'string' && (KILL_MODES as readonly string[]).includes(value);
}

/** The authority surfaces, in the order a kill cuts them (restore walks them backwards). */
export const SURFACE_NAMES = [
  'iam',
  'lambda',
  'event-source-mappings',
  'eventbridge-rules',
  'schedules',
  'executions',
  'network',
] as const;
export type SurfaceName = (typeof SURFACE_NAMES)[number];

/** One agent as the handlers see it: resolved from backstop.config.json at synth time. */
export interface AgentTarget {
  readonly agentId: string;
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
  /** IAM role ARNs declared for the agent in the config (tagged roles are discovered as well). */
  readonly roleArns: readonly string[];
  /** Other resource ARNs declared for the agent: functions, queues, state machines, rules, schedules, ENIs. */
  readonly resourceArns: readonly string[];
  /** IAM action names denied in `approval_gated`. */
  readonly highRiskActions: readonly string[];
  /** Resource ARNs the agent may still write in `draft_only`. */
  readonly draftResources: readonly string[];
}

/** The workload accounts and regions that have a WorkloadAccountStack (and so a kill role). */
export interface WorkloadTarget {
  readonly accountId: string;
  readonly region: string;
}

/** Everything the kill path needs to know about the fleet, compiled from the config. */
export interface Directory {
  readonly partition: string;
  readonly controlPlane: { readonly accountId: string; readonly region: string };
  readonly workloads: readonly WorkloadTarget[];
  readonly agents: readonly AgentTarget[];
  /** IAM path under which agent roles live, in addition to the `backstop:agent` tag. @default '/' (tag only) */
  readonly agentRolePath?: string;
  /**
   * Agents per child execution of a fleet kill: a kill of more runs them through a distributed Map.
   * @default 100 (the config's killPath.agentsPerBatch)
   */
  readonly agentsPerBatch?: number;
}

/** Settings every control plane handler reads from its environment (see lambda/shared/env.ts). */
export interface HandlerEnv {
  readonly tableName: string;
  readonly auditBucketName: string;
  readonly auditKmsKeyArn: string;
  readonly manifestSigningKeyArn: string;
  readonly topicArn: string;
  readonly metricsNamespace: string;
  readonly directory: Directory;
}

/** Input of a kill execution, as a person, an alarm rule or the CLI sends it. */
export interface KillRequest {
  readonly agentId?: string;
  readonly agentIds?: readonly string[];
  /** Every agent the directory declares in this account (instead of agentId or agentIds). */
  readonly accountId?: string;
  readonly mode?: string;
  readonly reason?: string;
  readonly incidentId?: string;
  readonly dryRun?: boolean;
}

export type SurfaceStatus = 'CONTAINED' | 'FAILED' | 'PLANNED' | 'NOT_APPLICABLE';
export type VerifyStatus = 'VERIFIED' | 'PENDING' | 'RECUT' | 'FAILED' | 'NOT_APPLICABLE';
export type KillStatus = 'CONTAINED' | 'PARTIAL' | 'FAILED' | 'REJECTED' | 'JOINED' | 'PLANNED';
