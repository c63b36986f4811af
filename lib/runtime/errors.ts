/** The modes of an agent's control flag, loosest first (the same order as the kill path's). */
export const GUARD_MODES = ['normal', 'approval_gated', 'draft_only', 'read_only', 'full_stop'] as const;
export type GuardMode = (typeof GUARD_MODES)[number];

/**
 * Why a check was refused:
 * - `full_stop`, `read_only`, `draft_only`, `approval_gated`: the agent's mode forbids the action.
 * - `flag_unavailable`: the control flag could not be read within the staleness bound, and the
 *   action is a write or high-risk (those fail closed).
 */
export type RefusalReason = GuardMode | 'flag_unavailable';

export interface RefusalDetail {
  readonly agentId: string;
  readonly action: string;
  readonly resource?: string;
  readonly reason: Exclude<RefusalReason, 'normal'>;
  /** The mode the refusal was decided on: the flag's, or the last one read when it is unavailable. */
  readonly mode?: GuardMode;
  /** The incident that set the mode, when the flag names one. */
  readonly incidentId?: string;
}

/**
 * Thrown by `BackstopGuard.check` when the agent may not perform an action. The agent must not
 * retry the action: it stays refused until a person restores the agent.
 */
export class BackstopRefusedError extends Error {
  override readonly name = 'BackstopRefusedError';
  readonly agentId: string;
  readonly action: string;
  readonly resource?: string;
  readonly reason: Exclude<RefusalReason, 'normal'>;
  readonly mode?: GuardMode;
  readonly incidentId?: string;

  constructor(message: string, detail: RefusalDetail) {
    super(message);
    this.agentId = detail.agentId;
    this.action = detail.action;
    this.resource = detail.resource;
    this.reason = detail.reason;
    this.mode = detail.mode;
    this.incidentId = detail.incidentId;
  }
}

/** The guard was built with options it cannot work with: the message names the option. */
export class BackstopGuardConfigError extends Error {
  override readonly name = 'BackstopGuardConfigError';
}
