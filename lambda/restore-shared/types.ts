/**
 * What flows through the restore path (issue 9): the request, the restore's record in the state
 * table, and the payloads of the `backstop-restore` state machine. The construct builds the
 * payloads with JSONPath; the handlers declare them here (handler code never imports the construct).
 */
import type { Mismatch } from '../surfaces/types';
import type { KillMode, Mode, SurfaceName } from '../shared/types';

/** The restore path's input, as `backstop restore` and the endpoint send it to StartExecution. */
export interface RestoreInput {
  readonly incidentId: string;
  readonly agentId: string;
  readonly toMode: Mode;
  /** Surfaces to put back. @default - every surface the kill cut */
  readonly surfaces?: readonly SurfaceName[];
  readonly reason: string;
}

/**
 * Where a restore is:
 * REQUESTED -> AWAITING_APPROVAL -> APPROVED -> APPLYING -> COMPLETED | PARTIAL, or it ends
 * REJECTED, TIMED_OUT, CANCELLED (a kill won), REFUSED (nothing changed) or FAILED.
 */
export const RESTORE_STATUSES = [
  'REQUESTED',
  'AWAITING_APPROVAL',
  'APPROVED',
  'APPLYING',
  'COMPLETED',
  'PARTIAL',
  'REJECTED',
  'TIMED_OUT',
  'CANCELLED',
  'REFUSED',
  'FAILED',
] as const;
export type RestoreStatus = (typeof RESTORE_STATUSES)[number];

/** A restore in one of these is over: it holds no lock and takes no approval. */
export const FINISHED_STATUSES: readonly RestoreStatus[] = [
  'COMPLETED',
  'PARTIAL',
  'REJECTED',
  'TIMED_OUT',
  'CANCELLED',
  'REFUSED',
  'FAILED',
];
/** A restore in one of these has changed nothing yet, or is changing things: a kill cancels it. */
export const LIVE_STATUSES: readonly RestoreStatus[] = [
  'REQUESTED',
  'AWAITING_APPROVAL',
  'APPROVED',
  'APPLYING',
];

export function isFinished(status: RestoreStatus): boolean {
  return FINISHED_STATUSES.includes(status);
}

/** An identity AWS vouched for: the function URL's IAM authorizer, or STS GetCallerIdentity. */
export interface CallerIdentity {
  /** The caller's ARN as AWS reports it (an IAM user, or an STS assumed-role session). */
  readonly arn: string;
  /** Who vouched for it. */
  readonly source: 'function-url' | 'sts';
}

/** The decision that ended the wait for approvals. */
export interface RestoreDecision {
  readonly status: 'APPROVED' | 'REJECTED';
  /** ISO 8601. */
  readonly at: string;
  /** APPROVED: the configured approvers counted. REJECTED: the one who rejected. */
  readonly by: readonly string[];
  readonly reason?: string;
}

/** One restore, as the state table keeps it (the task token is never returned to a caller). */
export interface RestoreRecord {
  readonly restoreId: string;
  readonly incidentId: string;
  readonly agentId: string;
  readonly fromMode: KillMode;
  readonly toMode: Mode;
  readonly surfaces: readonly SurfaceName[];
  readonly reason: string;
  readonly requester: CallerIdentity;
  /** ISO 8601. */
  readonly requestedAt: string;
  readonly status: RestoreStatus;
  /** ISO 8601: when the restore stops waiting for approvals. */
  readonly approvalDeadline: string;
  readonly executionArn?: string;
  /** Set while the restore waits for approvals: the Step Functions task token (control plane only). */
  readonly taskToken?: string;
  readonly awaitingSince?: string;
  readonly decision?: RestoreDecision;
  /** The kill incident that cancelled it. */
  readonly cancelledBy?: string;
  /** ISO 8601, set by the step that ended it. */
  readonly finishedAt?: string;
  /** What the restore did, in short (the audit log has every change). */
  readonly outcome?: RestoreOutcome;
  /** How it ended, in one sentence (set when it ends). */
  readonly message?: string;
}

/** What a restore did to one surface, in short. */
export interface SurfaceRestore {
  readonly surface: SurfaceName;
  readonly resources: number;
  readonly changes: number;
  /** Resources that are not back, each with the reason (read-back mismatch, failure, not restorable). */
  readonly notBack: { readonly resource: string; readonly reason: string }[];
  /** The surface was not touched (a kill took over, or the restore was narrowed). */
  readonly skipped?: string;
}

/** How the restore left the control flag. */
export interface FlagOutcome {
  readonly before: Mode;
  readonly after: Mode;
  readonly lowered: boolean;
  readonly note?: string;
}

export interface RestoreOutcome {
  readonly status: 'COMPLETED' | 'PARTIAL' | 'CANCELLED' | 'REFUSED' | 'FAILED';
  readonly surfaces: SurfaceRestore[];
  /** Executions the kill stopped: listed for a person to re-drive, never restarted. */
  readonly stoppedExecutions: { readonly executionArn: string; readonly reason: string }[];
  readonly flag?: FlagOutcome;
  /** ISO 8601: when the approvals reached quorum, and when the read-back ended. */
  readonly approvedAt?: string;
  readonly restoredAt?: string;
  /** From quorum to the last read-back. */
  readonly timeToRestoreMs?: number;
  readonly message?: string;
}

// ---- State machine payloads -------------------------------------------------------------------

export interface RestorePrepareInput {
  /** The execution input, as given: checked against the recorded request, never trusted. */
  readonly request: unknown;
  readonly executionId: string;
  readonly executionName: string;
  readonly startTime: string;
}

export interface RestorePrepareOutput {
  readonly restoreId: string;
  readonly incidentId: string | null;
  readonly agentId: string | null;
  readonly toMode: Mode | null;
  readonly executionId: string;
  readonly status: 'ACCEPTED' | 'REFUSED';
  readonly refusal: { readonly code: string; readonly message: string } | null;
}

export interface RestoreAwaitInput {
  readonly restoreId: string;
  readonly executionId: string;
  readonly taskToken: string;
}

/** What the approval task is completed with (SendTaskSuccess output). */
export interface ApprovalResult {
  readonly decision: 'APPROVED';
  readonly approvers: readonly string[];
  readonly approvedAt: string;
}

export interface RestoreApplyInput {
  readonly restoreId: string;
  readonly executionId: string;
}

export interface RestoreFinalizeInput {
  readonly prepare: RestorePrepareOutput;
  readonly approval?: ApprovalResult;
  readonly apply?: RestoreOutcome;
  /** Set when a step failed (the approval task: rejected, cancelled, timed out). */
  readonly caught?: { readonly Error?: string; readonly Cause?: string };
}

/** The restore path's output: what `backstop restore` prints. */
export interface RestoreResult {
  readonly restoreId: string;
  readonly incidentId: string | null;
  readonly agentId: string | null;
  readonly status: Exclude<RestoreStatus, 'REQUESTED' | 'AWAITING_APPROVAL' | 'APPROVED' | 'APPLYING'>;
  readonly toMode: Mode | null;
  readonly requester: string | null;
  readonly approvers: readonly string[];
  readonly message: string;
  readonly outcome: RestoreOutcome | null;
  readonly manifestKey: string | null;
}

/** A read-back that found a resource not as its snapshot holds it. */
export type NotBack = Mismatch;

/** Error names the approval task fails with, caught by the state machine. */
export const RESTORE_ERRORS = {
  rejected: 'Backstop.RestoreRejected',
  cancelled: 'Backstop.RestoreCancelled',
  timeout: 'States.Timeout',
} as const;
