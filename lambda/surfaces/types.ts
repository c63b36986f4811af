import type { WorkloadClients } from '../shared/clients';
import type { AgentTarget, KillMode, Mode, SurfaceName } from '../shared/types';

/** Minimal structured logger (Powertools' Logger satisfies it). */
export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** What a surface module gets for one agent in one account and region. */
export interface SurfaceContext {
  readonly agent: AgentTarget;
  readonly incidentId: string;
  /** When the kill was requested: sessions issued before it are revoked. */
  readonly killStartedAt: Date;
  /** Clients under the kill (or, for restore, the restore) execution role of the agent's account. */
  readonly clients: WorkloadClients;
  readonly clock: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Log;
  /**
   * When Prepare attached the kill mode's deny to every role the agent declares (ISO 8601): the
   * authority cut of those roles is done, and recorded in Prepare's audit chain. @default - not done
   */
  readonly authorityCutAt?: string;
}

/** One thing a surface changed, with what was there before and what is there after. */
export interface Change {
  readonly resource: string;
  readonly action: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** A resource the surface found but could not or would not change, with the reason. */
export interface Skipped {
  readonly resource: string;
  readonly reason: string;
}

/** A call that failed after the SDK's retries, with the AWS error name and message. */
export interface Failure {
  readonly resource: string;
  readonly action: string;
  readonly error: string;
  readonly message: string;
}

/**
 * Something the agent (or anyone) planted that claims to be Backstop's, recorded verbatim: a
 * Backstop-named policy whose document is not what Backstop would write, a Backstop policy whose
 * content was changed. Never trusted: the cut is judged by what IAM would decide.
 */
export interface Evidence {
  readonly resource: string;
  readonly kind: 'planted-policy' | 'tampered-policy';
  readonly policy: string;
  /** The document found, exactly as IAM returned it (decoded). */
  readonly document: string;
  /** What Backstop would have written under that name (undefined where Backstop writes nothing). */
  readonly expected?: unknown;
  readonly note: string;
}

export interface ContainResult {
  readonly changes: Change[];
  readonly skipped: Skipped[];
  readonly failures: Failure[];
  readonly evidence: Evidence[];
}

/** A resource whose read-back does not match what the mode requires. */
export interface Mismatch {
  readonly resource: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

export interface VerifyResult {
  /** Not yet in the expected state but moving there (an event source mapping in `Disabling`). */
  readonly pending: Mismatch[];
  /** Not in the expected state and not moving there: the agent (or someone) undid the cut. */
  readonly drifted: Mismatch[];
  /** Read-backs that failed. */
  readonly failures: Failure[];
}

export interface RestoreResult {
  readonly changes: Change[];
  /** What cannot be put back (a stopped execution), said plainly. */
  readonly notRestorable: Skipped[];
  readonly failures: Failure[];
}

/**
 * One change a kill would make, as a dry run (`backstop plan`) reports it. Built from the snapshot
 * the dry run already took: planning never calls AWS.
 */
export interface PlannedAction {
  /** The resource's ARN or id, as the audit log names it. */
  readonly resource: string;
  /** What a person calls it when the id alone does not say (the queue of a mapping). */
  readonly label?: string;
  /** The call the kill would make, and with what. */
  readonly action: string;
  /** The state now, in words. */
  readonly current: string;
  /** The state the kill would leave it in. */
  readonly after: string;
}

/** A resource a kill would leave as it is, and why (already cut, managed by AWS, not in this mode). */
export interface PlannedSkip {
  readonly resource: string;
  readonly label?: string;
  readonly current?: string;
  readonly reason: string;
}

export interface SurfacePlan {
  readonly actions: PlannedAction[];
  readonly skipped: PlannedSkip[];
}

/**
 * The state of one resource before the kill touched it: everything restore needs to put it back
 * exactly. `id` is the resource's ARN (or, where AWS has none, a stable identifier such as an
 * ENI id or an event source mapping UUID). `state` is surface-specific and JSON-serializable.
 */
export interface ResourceSnapshot<S = unknown> {
  readonly id: string;
  readonly state: S;
}

/**
 * One authority surface. Every module in lambda/surfaces exports one of these and is listed in
 * lambda/surfaces/index.ts. Rules all surfaces follow:
 * - `discover` and `snapshot` only read; `cut` adds a deny and nothing else.
 * - `contain` acts only on resources in the snapshot it is given, is idempotent (a second call
 *   re-cuts what drifted and changes nothing else), catches per-resource errors into `failures`
 *   and carries on with the next resource.
 * - `verify` only reads.
 * - `plan` calls nothing: it says, from the snapshot, what `contain` would do in the mode.
 * - `restore` puts back exactly what the snapshot holds, in reverse order of contain.
 */
export interface Surface<S = unknown> {
  readonly name: SurfaceName;
  /** Whether this surface is cut in the given mode (IAM is cut in every mode; the rest in full_stop). */
  appliesTo(mode: KillMode): boolean;
  /**
   * Resources known without a single call (declared ARNs), so that `cut` can start before
   * discovery has finished. @default - none
   */
  known?(ctx: SurfaceContext): string[];
  /** Identifiers of the agent's resources on this surface (tags, declared ARNs, and what derives from them). */
  discover(ctx: SurfaceContext): Promise<string[]>;
  /**
   * The authority cut: the first write a kill makes on each resource, before any snapshot. Only a
   * write that destroys nothing belongs here (attaching a deny); where it must replace something
   * (a permissions boundary) it reads the old value first and records it in its change's
   * `before`, which `snapshot` then keeps as the pre-kill state. Idempotent. @default - the
   * surface has no cut that can go before its snapshot
   */
  cut?(ctx: SurfaceContext, mode: KillMode, ids: readonly string[]): Promise<ContainResult>;
  /**
   * The current state of each discovered resource, read verbatim. `cut` is what this kill's cut
   * changed already: its `before` values are the pre-kill state of what it replaced.
   */
  snapshot(ctx: SurfaceContext, ids: readonly string[], cut?: ContainResult): Promise<ResourceSnapshot<S>[]>;
  contain(
    ctx: SurfaceContext,
    mode: KillMode,
    snapshot: readonly ResourceSnapshot<S>[],
  ): Promise<ContainResult>;
  /**
   * What `contain` would do in `mode` to each resource of the snapshot, without calling AWS. In a
   * mode the surface does not apply to, the same rows tell what the mode leaves alone.
   */
  plan(ctx: SurfaceContext, mode: KillMode, snapshot: readonly ResourceSnapshot<S>[]): SurfacePlan;
  verify(
    ctx: SurfaceContext,
    mode: KillMode,
    snapshot: readonly ResourceSnapshot<S>[],
  ): Promise<VerifyResult>;
  /** Puts back the snapshot. `toMode` is the mode after restore (IAM keeps that mode's deny). */
  restore(
    ctx: SurfaceContext,
    toMode: Mode,
    snapshot: readonly ResourceSnapshot<S>[],
  ): Promise<RestoreResult>;
}
