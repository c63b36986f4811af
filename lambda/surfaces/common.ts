import { GetResourcesCommand } from '@aws-sdk/client-resource-groups-tagging-api';
import { isArn, type ResourceKind, resourceKind, unqualifiedFunctionArn } from '../shared/arn';
import { errorMessage, errorName, toFailure } from '../shared/aws-errors';
import { AGENT_TAG } from '../shared/naming';
import type { ContainResult, Failure, RestoreResult, SurfaceContext, VerifyResult } from './types';

/**
 * Helpers every surface shares: pagination, bounded concurrency, tag discovery and the result
 * accumulators. Nothing here calls AWS except `taggedArns`.
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

/** Runs `fn` over `items` with at most `limit` calls in flight, keeping the order of the results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
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

/** ARNs of the agent's resources of the given Tagging API types (`lambda:function`, `sqs`, ...). */
export async function taggedArns(ctx: SurfaceContext, resourceTypes: readonly string[]): Promise<string[]> {
  const arns = await paginate(async (token) => {
    const out = await ctx.clients.tagging.send(
      new GetResourcesCommand({
        TagFilters: [{ Key: AGENT_TAG, Values: [ctx.agent.agentId] }],
        ResourceTypeFilters: [...resourceTypes],
        PaginationToken: token,
        ResourcesPerPage: 100,
      }),
    );
    return {
      items: (out.ResourceTagMappingList ?? []).map((m) => m.ResourceARN ?? ''),
      next: out.PaginationToken,
    };
  });
  return unique(arns.filter((arn) => arn !== ''));
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
  const functions = [
    ...declared(ctx, 'lambda-function'),
    ...tagged.filter((a) => resourceKind(a) === 'lambda-function'),
  ];
  return unique([
    ...declared(ctx, 'lambda-function', 'sqs-queue', 'state-machine'),
    ...functions.map(unqualifiedFunctionArn),
    ...tagged.filter(isArn),
  ]);
}

export function emptyContain(): ContainResult {
  return { changes: [], skipped: [], failures: [] };
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
