/**
 * Physical names shared by the CDK stacks and the handlers. The workload stacks create these
 * resources with exactly these names, and the control plane derives their ARNs from here, so
 * neither side ever parses an ARN it did not build. Per-region suffixes keep global IAM names
 * unique when one account runs agents in several regions.
 */

export const AGENT_TAG = 'backstop:agent';
export const ISOLATION_TAG = 'backstop:isolation';
export const IAM_PATH = '/backstop/';
/**
 * Name of the inline policy a restore leaves on a role it gives authority back to: it denies every
 * session issued before the kill. The kill itself writes no inline policy (it cannot: its role may
 * not write a policy document), so any other document under this name is planted.
 */
export const REVOKE_SESSIONS_POLICY = 'BackstopRevokeOlderSessions';
/**
 * An inline policy name earlier Backstop versions wrote at the managed-policy quota. Backstop no
 * longer writes it; a policy of this name is judged by its content like any other.
 */
export const INLINE_DENY_POLICY = 'BackstopInlineDeny';
/** Inline policy names that claim to be Backstop's: their documents are checked, never trusted. */
export const BACKSTOP_INLINE_POLICY_NAMES: readonly string[] = [REVOKE_SESSIONS_POLICY, INLINE_DENY_POLICY];

export function killExecutionRoleName(region: string): string {
  return `backstop-kill-${region}`;
}

export function restoreExecutionRoleName(region: string): string {
  return `backstop-restore-${region}`;
}

export function agentBoundaryName(region: string): string {
  return `BackstopAgentBoundary-${region}`;
}

/** The permissions boundary a full_stop kill sets on every agent role (it denies everything). */
export function killBoundaryName(region: string): string {
  return `BackstopKillBoundary-${region}`;
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

export function killBoundaryArn(partition: string, accountId: string, region: string): string {
  return iamPolicyArn(partition, accountId, killBoundaryName(region));
}

export function agentBoundaryArn(partition: string, accountId: string, region: string): string {
  return iamPolicyArn(partition, accountId, agentBoundaryName(region));
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

/** What a manifest of an incident's series seals (see lambda/shared/manifest.ts). */
export const MANIFEST_KINDS = ['kill', 'attribution', 'restore', 'hold'] as const;
export type ManifestKind = (typeof MANIFEST_KINDS)[number];

/** Where the manifests of one incident live: one object per manifest of its series. */
export function auditManifestPrefix(incidentId: string): string {
  return `manifests/${incidentId}/`;
}

/** Manifest `seq` (1, 2, ...) of an incident's series: `manifests/<incidentId>/<seq>-<kind>.json`. */
export function auditManifestKey(incidentId: string, seq: number, kind: ManifestKind): string {
  return `${auditManifestPrefix(incidentId)}${String(seq).padStart(4, '0')}-${kind}.json`;
}

/**
 * Where the public half of a manifest signing key is published in the audit bucket (PEM, SPKI),
 * under the bucket's Object Lock, so that a reviewer verifies signatures without asking KMS.
 * `keyIdOrArn` is the key id or its ARN.
 */
export function publicKeyObjectKey(keyIdOrArn: string): string {
  const keyId = keyIdOrArn.includes('/') ? keyIdOrArn.slice(keyIdOrArn.lastIndexOf('/') + 1) : keyIdOrArn;
  return `${PUBLIC_KEY_PREFIX}${keyId}.pem`;
}

export const PUBLIC_KEY_PREFIX = 'public-keys/';
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
  /** The restore path's state machine: its StartExecution calls are attributed like the kill's. */
  restoreStateMachineName: 'backstop-restore',
  /** The role of every handler that signs manifests or changes legal holds (and nothing else does). */
  auditSealerRoleName: 'backstop-audit-sealer',
  /** The function that seals incidents, attributes executions and places or releases legal holds. */
  auditSealerFunctionName: 'backstop-audit-sealer',
  /** The role of the deploy-time function that publishes the public signing key. */
  publicKeyPublisherRoleName: 'backstop-public-key-publisher',
  eventBusName: 'backstop',
  metricsNamespace: 'Backstop',
} as const;
