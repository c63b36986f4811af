/**
 * Physical names shared by the CDK stacks and the handlers. The workload stacks create these
 * resources with exactly these names, and the control plane derives their ARNs from here, so
 * neither side ever parses an ARN it did not build. Per-region suffixes keep global IAM names
 * unique when one account runs agents in several regions.
 */

export const AGENT_TAG = 'backstop:agent';
export const ISOLATION_TAG = 'backstop:isolation';
export const IAM_PATH = '/backstop/';
/** Name of the inline policy that revokes sessions issued before a kill; restore leaves it. */
export const REVOKE_SESSIONS_POLICY = 'BackstopRevokeOlderSessions';
/** Name of the inline deny used when a role is already at its managed-policy limit. */
export const INLINE_DENY_POLICY = 'BackstopInlineDeny';

export function killExecutionRoleName(region: string): string {
  return `backstop-kill-${region}`;
}

export function restoreExecutionRoleName(region: string): string {
  return `backstop-restore-${region}`;
}

export function agentBoundaryName(region: string): string {
  return `BackstopAgentBoundary-${region}`;
}

export function fullStopPolicyName(region: string): string {
  return `backstop-full-stop-${region}`;
}

export function readOnlyPolicyName(region: string): string {
  return `backstop-read-only-${region}`;
}

export function draftOnlyPolicyName(agentId: string, region: string): string {
  return `backstop-draft-only-${agentId}-${region}`;
}

export function approvalGatedPolicyName(agentId: string, region: string): string {
  return `backstop-approval-gated-${agentId}-${region}`;
}

export function iamRoleArn(partition: string, accountId: string, name: string, path = IAM_PATH): string {
  return `arn:${partition}:iam::${accountId}:role${path}${name}`;
}

export function iamPolicyArn(partition: string, accountId: string, name: string, path = IAM_PATH): string {
  return `arn:${partition}:iam::${accountId}:policy${path}${name}`;
}

export function killExecutionRoleArn(partition: string, accountId: string, region: string): string {
  return iamRoleArn(partition, accountId, killExecutionRoleName(region));
}

export function restoreExecutionRoleArn(partition: string, accountId: string, region: string): string {
  return iamRoleArn(partition, accountId, restoreExecutionRoleName(region));
}

/** The deny policy ARN a kill attaches to every role of the agent for the given mode. */
export function denyPolicyArn(
  partition: string,
  accountId: string,
  region: string,
  agentId: string,
  mode: 'approval_gated' | 'draft_only' | 'read_only' | 'full_stop',
): string {
  switch (mode) {
    case 'full_stop':
      return iamPolicyArn(partition, accountId, fullStopPolicyName(region));
    case 'read_only':
      return iamPolicyArn(partition, accountId, readOnlyPolicyName(region));
    case 'draft_only':
      return iamPolicyArn(partition, accountId, draftOnlyPolicyName(agentId, region));
    case 'approval_gated':
      return iamPolicyArn(partition, accountId, approvalGatedPolicyName(agentId, region));
  }
}

/** Every role session the kill path opens is named after the incident, for CloudTrail. */
export function killSessionName(incidentId: string): string {
  return `backstop-${incidentId}`.slice(0, 64);
}

/** Audit record key: one folder per incident, one chain per handler invocation. */
export function auditRecordKey(incidentId: string, chainId: string, seq: number, type: string): string {
  return `incidents/${incidentId}/${chainId}/${String(seq).padStart(4, '0')}-${type}.json`;
}

export function auditManifestKey(incidentId: string): string {
  return `manifests/${incidentId}.json`;
}

/**
 * The state table's name. Fixed, so the CLI finds it from the configuration alone (DynamoDB table
 * names are unique per account and region; the control plane has one of each).
 */
export function stateTableName(): string {
  return 'backstop-state';
}

/** The audit bucket's name: S3 names are global, so the account and region make it unique. */
export function auditBucketName(accountId: string, region: string): string {
  return `backstop-audit-${accountId}-${region}`;
}

/** Names of the control plane's fixed-name resources (worker roles are referenced by the workload trust). */
export const CONTROL_PLANE = {
  killWorkerRoleName: 'backstop-kill-worker',
  restoreWorkerRoleName: 'backstop-restore-worker',
  killStateMachineName: 'backstop-kill',
  eventBusName: 'backstop',
  metricsNamespace: 'Backstop',
} as const;
