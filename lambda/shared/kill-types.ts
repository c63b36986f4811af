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
}

export interface PrepareOutput {
  readonly incidentId: string;
  readonly executionId: string;
  readonly mode: KillMode | null;
  readonly reason: string | null;
  readonly dryRun: boolean;
  readonly requestedAt: string;
  readonly status: 'ACCEPTED' | 'REJECTED' | 'JOINED';
  /** Agents this execution cuts. Empty when rejected or when every agent joined another kill. */
  readonly targets: KillTarget[];
  /** Agents already being killed by another incident at the same or a stricter mode. */
  readonly joined: { agentId: string; incidentId: string; mode: string }[];
  readonly rejection: { code: string; message: string } | null;
  /** Agents whose account refused the kill role (missing stack or broken trust): not cut at all. */
  readonly unreachable?: { agentId: string; accountId: string; region: string; message: string }[];
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
  readonly verify: { attempt: number; recut: SurfaceName[] };
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
