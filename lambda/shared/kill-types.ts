/**
 * Payloads that flow between the kill path's states. The state machine construct builds them
 * with JSONPath; the handlers declare them here (handler code never imports the construct).
 */
import type { Failure, Mismatch } from '../surfaces/types';
import type { KillMode, KillStatus, SurfaceName, SurfaceStatus, VerifyStatus } from './types';

export interface PrepareInput {
  /** The execution input, as given: validated here, never trusted. */
  readonly request: unknown;
  readonly executionId: string;
  readonly executionName: string;
  readonly startTime: string;
}

export interface KillTarget {
  readonly agentId: string;
  readonly accountId: string;
  readonly region: string;
  /**
   * When Prepare attached the mode's deny to every role the agent declares (ISO 8601), or null:
   * the IAM branch then does the whole cut itself. Always present, so the Map can pass it on.
   */
  readonly authorityCutAt: string | null;
}

export interface PrepareOutput {
  readonly incidentId: string;
  readonly executionId: string;
  readonly mode: KillMode | null;
  readonly reason: string | null;
  readonly dryRun: boolean;
  readonly requestedAt: string;
  readonly status: 'ACCEPTED' | 'REJECTED' | 'JOINED';
  /**
   * Agents this execution cuts, when they fit one batch (the execution's own per-agent Map takes
   * them). Empty when rejected, when every agent joined another kill, or in a fleet kill of more
   * agents than a batch holds: then `batches` names them.
   */
  readonly targets: KillTarget[];
  /**
   * A fleet kill: one entry per batch, each cut by a child execution; the agents of each batch
   * are in the state table (BatchStore). @default - none: `targets` holds every agent
   */
  readonly batches?: BatchRef[];
  /** Agents this execution cuts, in `targets` or in `batches`. @default targets.length */
  readonly targetCount?: number;
  /** Agents already being killed by another incident at the same or a stricter mode (at most 100 listed). */
  readonly joined: { agentId: string; incidentId: string; mode: string }[];
  /** All of them, when more than `joined` lists (the state table keeps the rest). @default joined.length */
  readonly joinedCount?: number;
  readonly rejection: { code: string; message: string } | null;
  /** Agents whose account refused the kill role (missing stack or broken trust): not cut at all (at most 100 listed). */
  readonly unreachable?: { agentId: string; accountId: string; region: string; message: string }[];
  /** All of them, when more than `unreachable` lists. @default unreachable.length */
  readonly unreachableCount?: number;
}

/** One batch of a fleet kill, as the distributed Map hands it to its child execution. */
export interface BatchRef {
  readonly batch: number;
  readonly agents: number;
}

/** What a child execution of a fleet kill asks Prepare's function for: its batch's agents. */
export interface LoadBatchInput {
  readonly loadBatch: { readonly incidentId: string; readonly batch: number };
}

export interface LoadBatchOutput {
  readonly targets: KillTarget[];
}

/** Input of one surface branch for one agent. */
export interface SurfaceTaskInput {
  readonly incidentId: string;
  readonly executionId: string;
  readonly mode: KillMode;
  readonly dryRun: boolean;
  readonly requestedAt: string;
  readonly agentId: string;
  readonly surface: SurfaceName;
  /** See {@link KillTarget.authorityCutAt}. @default null */
  readonly authorityCutAt?: string | null;
}

export interface SurfaceOutcome {
  readonly agentId: string;
  readonly surface: SurfaceName;
  readonly status: SurfaceStatus;
  readonly resources: number;
  readonly changes: number;
  readonly skipped: { resource: string; reason: string }[];
  readonly failures: Failure[];
  /** Set when the whole branch failed (a Lambda error caught by the state machine). */
  readonly error?: string;
  readonly cause?: string;
  /** What would be cut (dry run only). */
  readonly plan?: { resource: string }[];
  /**
   * When the surface's authority cut was in force on every resource it found (ISO 8601): the
   * first write of the kill, before snapshots and dismantling. Only surfaces that have a cut.
   */
  readonly authorityCutAt?: string;
}

export interface VerifyInput {
  readonly incidentId: string;
  readonly executionId: string;
  readonly mode: KillMode;
  readonly dryRun: boolean;
  readonly requestedAt: string;
  readonly agentId: string;
  readonly contain: SurfaceOutcome[];
  /** The previous read-back (VerifyOutput) or, before the first, `{ attempt: 0, recut: [] }`. */
  readonly verify: { attempt: number; recut: SurfaceName[]; surfaces?: SurfaceVerification[] };
}

export interface SurfaceVerification {
  readonly surface: SurfaceName;
  readonly status: VerifyStatus;
  readonly pending: Mismatch[];
  readonly drifted: Mismatch[];
  readonly failures: Failure[];
  readonly message?: string;
}

export interface VerifyOutput {
  readonly agentId: string;
  readonly attempt: number;
  readonly recut: SurfaceName[];
  /** True while something is still settling (or was just re-cut) and another read-back is due. */
  readonly pending: boolean;
  readonly surfaces: SurfaceVerification[];
  /** Set on the last read-back, once the agent's full outcome is in the state table. */
  readonly status?: KillStatus;
}

export interface AgentKillResult {
  readonly agentId: string;
  readonly contain: SurfaceOutcome[];
  readonly verify: VerifyOutput;
}

/** What each Map iteration returns: one line; the full outcome is in the state table. */
export interface AgentLine {
  readonly agentId: string;
  readonly status: KillStatus;
}

export interface FinalizeInput {
  readonly prepare: PrepareOutput;
  readonly agents?: AgentLine[];
}

export interface KillResult {
  readonly incidentId: string;
  readonly status: KillStatus;
  readonly mode: KillMode | null;
  readonly dryRun: boolean;
  readonly timeToContainMs: number | null;
  /**
   * From the request until the authority cut was in force on every agent role of the kill (the
   * first write, before snapshots and dismantling). null for a dry run or when it is not on record.
   */
  readonly timeToAuthorityCutMs: number | null;
  /** Agents by status. */
  readonly counts: Partial<Record<KillStatus, number>>;
  /**
   * Every agent when the kill had at most MAX_LISTED_AGENTS of them; otherwise the ones that are
   * not contained (the audit log's KillCompleted record lists them all).
   */
  readonly agents: {
    agentId: string;
    status: KillStatus;
    surfaces: { surface: SurfaceName; contain: SurfaceStatus; verify: VerifyStatus; detail?: string }[];
    /** Why the agent could not be cut at all (its kill role was refused). */
    detail?: string;
  }[];
  readonly joined: PrepareOutput['joined'];
  readonly unreachable: NonNullable<PrepareOutput['unreachable']>;
  readonly rejection: PrepareOutput['rejection'];
  readonly manifestKey: string | null;
}
