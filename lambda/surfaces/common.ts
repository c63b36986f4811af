import { GetResourcesCommand } from '@aws-sdk/client-resource-groups-tagging-api';
import { isArn, type ResourceKind, resourceKind, unqualifiedFunctionArn } from '../shared/arn';
import { errorMessage, errorName, isNotFound, toFailure } from '../shared/aws-errors';
import { mapLimit } from '../shared/concurrency';
import { AGENT_TAG } from '../shared/naming';
import type {
  Change,
  ContainResult,
  Failure,
  Mismatch,
  PlannedAction,
  PlannedSkip,
  ResourceSnapshot,
  RestoreResult,
  Skipped,
  SurfaceContext,
  SurfacePlan,
  VerifyResult,
} from './types';

/**
 * Helpers every surface shares: pagination, bounded concurrency, tag discovery, the result
 * accumulators, the per-invocation read cache and the per-resource runners of each phase. Nothing
 * here calls AWS except `agentTaggedArns`: every other AWS call stays in the surface that makes it.
 */

/**
 * A snapshot read that failed. The resource stays in the snapshot so the failure is on record;
 * contain still makes the cut where the cut loses nothing (it reads what it replaces and records it
 * in its change), and never takes away what restore could not put back (IAM policies).
 */
export interface ReadError {
  readonly error: string;
  readonly message: string;
}

export function readError(e: unknown): ReadError {
  return { error: errorName(e), message: errorMessage(e) };
}

/** The failure contain and verify report for a resource whose state before the kill is unknown. */
export function unreadFailure(resource: string, err: ReadError, what = 'not changed'): Failure {
  return {
    resource,
    action: 'Snapshot',
    error: err.error,
    message: `${what}: its state before the kill could not be read, so it could not be put back (${err.message})`,
  };
}

/**
 * What restore reports for a resource whose state before the kill is unknown: `what` could not be
 * read, so restore leaves the resource as it is; `fix` says what a person can do instead.
 */
export function unreadNotRestorable(
  resource: string,
  what: string,
  err: ReadError | undefined,
  fix: string,
): Skipped {
  return {
    resource,
    reason: `its ${what} before the kill could not be read (${err?.message ?? 'unknown'}): ${fix}`,
  };
}

/**
 * Reads every page of a paginated AWS list call. `fetch` gets the token of the page to read
 * (undefined for the first) and returns the page's items and the next token. A token that
 * repeats is an error, not an endless loop.
 */
export async function paginate<T>(
  fetch: (token: string | undefined) => Promise<{ items?: readonly T[]; next?: string }>,
): Promise<T[]> {
  const all: T[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await fetch(token);
    all.push(...(page.items ?? []));
    token = page.next || undefined;
    if (token !== undefined) {
      if (seen.has(token)) throw new Error(`pagination token repeated: ${token}`);
      seen.add(token);
    }
  } while (token !== undefined);
  return all;
}

export function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

/** Same members, in any order (security group lists). */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

/** The Tagging API's resource types (`ResourceTypeFilters`) the surfaces ask for, as ARN kinds. */
const TAGGING_TYPES: Readonly<Record<string, ResourceKind>> = {
  'lambda:function': 'lambda-function',
  'lambda:event-source-mapping': 'event-source-mapping',
  sqs: 'sqs-queue',
  'states:stateMachine': 'state-machine',
  'events:rule': 'event-rule',
  'ec2:network-interface': 'network-interface',
};

const taggedByContext = new WeakMap<SurfaceContext, Promise<string[]>>();

/**
 * Every resource tagged for the agent in its account and region, whatever its type: one
 * paginated GetResources per invocation, shared by every surface and phase that asks (a surface
 * that needs functions, queues and mappings makes one call, not three).
 */
export function agentTaggedArns(ctx: SurfaceContext): Promise<string[]> {
  let found = taggedByContext.get(ctx);
  if (!found) {
    found = paginate(async (token) => {
      const out = await ctx.clients.tagging.send(
        new GetResourcesCommand({
          TagFilters: [{ Key: AGENT_TAG, Values: [ctx.agent.agentId] }],
          PaginationToken: token,
          ResourcesPerPage: 100,
        }),
      );
      return {
        items: (out.ResourceTagMappingList ?? []).map((m) => m.ResourceARN ?? ''),
        next: out.PaginationToken,
      };
    }).then((arns) => unique(arns.filter((arn) => arn !== '')));
    taggedByContext.set(ctx, found);
    // A failed lookup is not remembered: the next phase asks again.
    found.catch(() => taggedByContext.delete(ctx));
  }
  return found;
}

/** ARNs of the agent's resources of the given Tagging API types (`lambda:function`, `sqs`, ...). */
export async function taggedArns(ctx: SurfaceContext, resourceTypes: readonly string[]): Promise<string[]> {
  const kinds = new Set(
    resourceTypes.map((t) => {
      const kind = TAGGING_TYPES[t];
      if (!kind) throw new Error(`taggedArns: resource type ${t} is not one the surfaces use`);
      return kind;
    }),
  );
  return (await agentTaggedArns(ctx)).filter((arn) => kinds.has(resourceKind(arn)));
}

/**
 * What a surface read of each resource in this invocation, so that a later phase of the same
 * invocation does not read it again (contain after snapshot, a re-cut after a read-back). A value
 * is taken once: the phase that acts on it reads afresh the next time. The read-back always reads.
 */
export class ReadCache<S> {
  private readonly byContext = new WeakMap<SurfaceContext, Map<string, S>>();

  set(ctx: SurfaceContext, id: string, state: S): void {
    let map = this.byContext.get(ctx);
    if (!map) {
      map = new Map();
      this.byContext.set(ctx, map);
    }
    map.set(id, state);
  }

  get(ctx: SurfaceContext, id: string): S | undefined {
    return this.byContext.get(ctx)?.get(id);
  }

  /** The value read in this invocation, if any, forgotten once taken. */
  take(ctx: SurfaceContext, id: string): S | undefined {
    const map = this.byContext.get(ctx);
    const value = map?.get(id);
    map?.delete(id);
    return value;
  }
}

/** The agent's declared ARNs of one kind. */
export function declared(ctx: SurfaceContext, ...kinds: readonly ResourceKind[]): string[] {
  return ctx.agent.resourceArns.filter((arn) => kinds.includes(resourceKind(arn)));
}

/**
 * The agent's Lambda functions, unqualified (concurrency and VPC settings belong to the function,
 * not to a version or alias): tagged `lambda:function` plus declared function ARNs.
 */
export async function agentFunctionArns(ctx: SurfaceContext): Promise<string[]> {
  const tagged = await taggedArns(ctx, ['lambda:function']);
  return unique([...declared(ctx, 'lambda-function'), ...tagged].map(unqualifiedFunctionArn));
}

/** The agent's state machines: tagged `states:stateMachine` plus declared. */
export async function agentStateMachineArns(ctx: SurfaceContext): Promise<string[]> {
  const tagged = await taggedArns(ctx, ['states:stateMachine']);
  return unique([...declared(ctx, 'state-machine'), ...tagged]);
}

/**
 * ARNs a rule or a schedule may name as its target when it drives the agent: the agent's functions
 * (unqualified and as declared, so an alias target matches), queues and state machines, tagged or
 * declared.
 */
export async function agentTargetArns(ctx: SurfaceContext): Promise<string[]> {
  const tagged = await taggedArns(ctx, ['lambda:function', 'sqs', 'states:stateMachine']);
  return unique([
    ...declaredTargetArns(ctx),
    ...tagged.filter((a) => resourceKind(a) === 'lambda-function').map(unqualifiedFunctionArn),
    ...tagged.filter(isArn),
  ]);
}

/** The targets {@link agentTargetArns} knows without a read: the declared ones. */
export function declaredTargetArns(ctx: SurfaceContext): string[] {
  return unique([
    ...declared(ctx, 'lambda-function', 'sqs-queue', 'state-machine'),
    ...declared(ctx, 'lambda-function').map(unqualifiedFunctionArn),
  ]);
}

export function emptyContain(): ContainResult {
  return { changes: [], skipped: [], failures: [], evidence: [] };
}

/** Two results of contain phases, one after the other (a cut, then the rest of contain). */
export function mergeContain(a: ContainResult, b: ContainResult): ContainResult {
  return {
    changes: [...a.changes, ...b.changes],
    skipped: [...a.skipped, ...b.skipped],
    failures: [...a.failures, ...b.failures],
    evidence: [...a.evidence, ...b.evidence],
  };
}

export function emptyVerify(): VerifyResult {
  return { pending: [], drifted: [], failures: [] };
}

export function emptyRestore(): RestoreResult {
  return { changes: [], notRestorable: [], failures: [] };
}

/**
 * Runs `fn` for each resource with bounded concurrency, each with its own accumulator, and merges
 * the accumulators in the order of `items` (so records come out in a stable order whatever the
 * timing). An error that `fn` lets escape becomes that resource's failure: one resource never stops
 * the others.
 */
export async function forEachResource<T, R extends ContainResult | VerifyResult | RestoreResult>(
  items: readonly T[],
  limit: number,
  empty: () => R,
  resourceOf: (item: T) => string,
  fn: (item: T, out: R) => Promise<void>,
): Promise<R> {
  const parts = await mapLimit(items, limit, async (item) => {
    const out = empty();
    try {
      await fn(item, out);
    } catch (e) {
      out.failures.push(toFailure(resourceOf(item), 'Unexpected', e));
    }
    return out;
  });
  const total = empty();
  for (const part of parts) {
    for (const key of Object.keys(total) as (keyof R)[]) {
      (total[key] as unknown[]).push(...(part[key] as unknown[]));
    }
  }
  return total;
}

/** Copies an SDK output into plain JSON: Dates become ISO strings, `$metadata` is dropped. */
export function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v) => (key === '$metadata' ? undefined : v)));
}

/** One thing a surface changed: `before` as it read it, `after` as it left it. */
export function change(resource: string, action: string, before: unknown, after: unknown): Change {
  return { resource, action, before, after };
}

/** A read-back that does not match what the mode requires. */
export function mismatch(resource: string, expected: unknown, actual: unknown): Mismatch {
  return { resource, expected, actual };
}

/**
 * Reads the state of each resource before the kill, with at most `limit` reads in flight. A
 * resource that is gone (AWS answers not-found, or `read` finds nothing) is left out, after `gone`
 * has said so. One whose read failed for another reason stays in, as `unread` builds it, so the
 * failure is on record (see `ReadError`).
 */
export async function snapshotEach<S>(
  ids: readonly string[],
  limit: number,
  reader: {
    readonly read: (id: string) => Promise<S | undefined>;
    readonly unread: (id: string, err: ReadError) => S;
    /** @default - the resource is left out without a word */
    readonly gone?: (id: string) => void;
  },
): Promise<ResourceSnapshot<S>[]> {
  const snaps = await mapLimit(ids, limit, async (id): Promise<ResourceSnapshot<S> | undefined> => {
    let state: S | undefined;
    try {
      state = await reader.read(id);
    } catch (e) {
      if (!isNotFound(e)) return { id, state: reader.unread(id, readError(e)) };
    }
    if (state === undefined) {
      reader.gone?.(id);
      return undefined;
    }
    return { id, state };
  });
  return snaps.filter((s) => s !== undefined);
}

/** A value that is the same for every resource, or depends on the resource's snapshot. */
export type PerResource<S> = string | ((state: S) => string);

function valueFor<S>(value: PerResource<S>, state: S): string {
  return typeof value === 'string' ? value : value(state);
}

/** How the records of one phase name a resource and the AWS call that failed on it. */
export interface StepNames<S> {
  /** The resource every record of the phase names. */
  readonly resource: (state: S) => string;
  /** The action a failure names: the write of contain and restore, the read-back of verify. */
  readonly action: PerResource<S>;
}

/**
 * Runs `step` for each resource of the snapshot, at most `limit` at once (see `forEachResource`),
 * and owns the error bookkeeping every surface shares: when `step` throws, a not-found error means
 * the resource is gone and goes to `gone`; any other becomes the resource's failure, named by
 * `names`. A step still records what it finds (changes, skips, its own failures) itself.
 */
function eachResource<S, R extends ContainResult | VerifyResult | RestoreResult>(
  snap: readonly ResourceSnapshot<S>[],
  limit: number,
  empty: () => R,
  names: StepNames<S>,
  gone: (state: S, out: R) => void,
  step: (state: S, out: R) => Promise<void>,
): Promise<R> {
  return forEachResource(
    snap,
    limit,
    empty,
    (s) => names.resource(s.state),
    async ({ state }, out) => {
      try {
        await step(state, out);
      } catch (e) {
        if (isNotFound(e)) gone(state, out);
        else out.failures.push(toFailure(names.resource(state), valueFor(names.action, state), e));
      }
    },
  );
}

/**
 * Runs contain's `step` for each resource (see `eachResource`). A resource found gone is already
 * cut: it is skipped with the reason `gone`, or passed over without a record when there is none.
 */
export function containEach<S>(
  snap: readonly ResourceSnapshot<S>[],
  limit: number,
  names: StepNames<S> & {
    /** @default - passed over without a record */
    readonly gone?: PerResource<S>;
  },
  step: (state: S, out: ContainResult) => Promise<void>,
): Promise<ContainResult> {
  const { gone } = names;
  const skip = (state: S, out: ContainResult) => {
    if (gone !== undefined)
      out.skipped.push({ resource: names.resource(state), reason: valueFor(gone, state) });
  };
  return eachResource(snap, limit, emptyContain, names, skip, step);
}

/** Runs verify's `step` for each resource (see `eachResource`). A resource found gone has no authority left: no record. */
export function verifyEach<S>(
  snap: readonly ResourceSnapshot<S>[],
  limit: number,
  names: StepNames<S>,
  step: (state: S, out: VerifyResult) => Promise<void>,
): Promise<VerifyResult> {
  return eachResource(snap, limit, emptyVerify, names, () => {}, step);
}

/** Runs restore's `step` for each resource (see `eachResource`). A resource found gone is not restorable, for the reason `gone`. */
export function restoreEach<S>(
  snap: readonly ResourceSnapshot<S>[],
  limit: number,
  names: StepNames<S> & { readonly gone: PerResource<S> },
  step: (state: S, out: RestoreResult) => Promise<void>,
): Promise<RestoreResult> {
  const notRestorable = (state: S, out: RestoreResult) => {
    out.notRestorable.push({ resource: names.resource(state), reason: valueFor(names.gone, state) });
  };
  return eachResource(snap, limit, emptyRestore, names, notRestorable, step);
}

/**
 * Builds a surface's plan: `each` is called once per resource of the snapshot and adds at most one
 * action or one skip. Planning reads the snapshot only, never AWS.
 */
export function planEach<S>(
  snap: readonly ResourceSnapshot<S>[],
  each: (state: S, out: { act: (a: PlannedAction) => void; skip: (s: PlannedSkip) => void }) => void,
): SurfacePlan {
  const plan: SurfacePlan = { actions: [], skipped: [] };
  const act = (a: PlannedAction) => plan.actions.push(a);
  const skip = (s: PlannedSkip) => plan.skipped.push(s);
  for (const { state } of snap) each(state, { act, skip });
  return plan;
}

/** What a plan says about a resource whose state the dry run could not read. */
export function unreadState(err: ReadError): string {
  return `unknown (${err.error}: ${err.message})`;
}

/** The last part of an ARN, or the value itself: `arn:aws:sqs:us-east-1:1:inbox` becomes `inbox`. */
export function lastName(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const parts = value.split(/[:/]/);
  return parts[parts.length - 1] || value;
}

export { mapLimit };
