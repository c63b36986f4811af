import type { CallRecord, ServiceName, ThrottleRule, ThrottlingConfig } from '../simulator';
import { SERVICES } from '../simulator/errors';

/**
 * The performance model of docs/design.md section 11, applied to the calls a kill made: every account
 * (and region; IAM is global) has one token bucket per quota, each call that a bucket covers takes
 * a token, and a bucket that starts full serves its capacity at once and then `refillPerSecond`.
 * Draining `tokens` through it takes at least `(tokens - capacity) / refillPerSecond` seconds.
 * Buckets of different accounts and services drain in parallel (the kill path runs its branches
 * in parallel), so the kill cannot be faster than the slowest bucket plus the latency of its
 * longest chain of dependent calls.
 */

/** The load one token bucket carried during a kill. */
export interface BucketLoad {
  readonly accountId: string;
  /** The bucket's region, or `global` (IAM). */
  readonly scope: string;
  readonly service: ServiceName;
  /** `lambda`, `IAM writes`, `ec2 ModifyNetworkInterfaceAttribute`... */
  readonly label: string;
  readonly capacity: number;
  readonly refillPerSecond: number;
  /** Calls the bucket let through (each took one token). */
  readonly tokens: number;
  /** The tokens by action, most first. */
  readonly actions: Readonly<Record<string, number>>;
  /** Calls the bucket refused with the service's throttling error. */
  readonly throttled: number;
  /** Least time to let `tokens` calls through a bucket that starts full. */
  readonly drainMs: number;
}

/** Whether the simulator answered the call with its service's throttling error. */
export function isThrottled(call: CallRecord): boolean {
  return call.outcome === SERVICES[call.service].throttle.code;
}

function rulesOf(value: ThrottleRule | readonly ThrottleRule[]): readonly ThrottleRule[] {
  return Array.isArray(value) ? value : [value as ThrottleRule];
}

function covers(rule: ThrottleRule, action: string): boolean {
  if (rule.actions && !rule.actions.includes(action)) return false;
  return !rule.excludeActions?.includes(action);
}

function labelOf(service: ServiceName, rule: ThrottleRule): string {
  if (service === 'iam' && rule.actions) return 'IAM writes';
  if (rule.actions?.length === 1) return `${service} ${rule.actions[0]}`;
  return rule.actions ? `${service} (${rule.actions.length} actions)` : service;
}

/**
 * The load of every bucket the quotas define, from the calls the simulator recorded. A refused
 * call takes no token (as in the simulator's throttler); each bucket a call passed counts it.
 */
export function bucketLoads(calls: readonly CallRecord[], quotas: ThrottlingConfig): BucketLoad[] {
  const loads = new Map<
    string,
    { rule: ThrottleRule; load: Omit<BucketLoad, 'drainMs' | 'actions'>; actions: Map<string, number> }
  >();
  for (const call of calls) {
    const configured = quotas[call.service];
    if (!configured) continue;
    const scope = call.service === 'iam' ? 'global' : call.region;
    const throttled = isThrottled(call);
    for (const [index, rule] of rulesOf(configured).entries()) {
      if (!covers(rule, call.action)) continue;
      const key = `${call.accountId}|${scope}|${call.service}|${index}`;
      let entry = loads.get(key);
      if (!entry) {
        entry = {
          rule,
          load: {
            accountId: call.accountId,
            scope,
            service: call.service,
            label: labelOf(call.service, rule),
            capacity: rule.capacity,
            refillPerSecond: rule.refillPerSecond,
            tokens: 0,
            throttled: 0,
          },
          actions: new Map(),
        };
        loads.set(key, entry);
      }
      if (throttled) {
        entry.load = { ...entry.load, throttled: entry.load.throttled + 1 };
      } else {
        entry.load = { ...entry.load, tokens: entry.load.tokens + 1 };
        entry.actions.set(call.action, (entry.actions.get(call.action) ?? 0) + 1);
      }
    }
  }
  return [...loads.values()].map(({ rule, load, actions }) => ({
    ...load,
    actions: Object.fromEntries([...actions].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    drainMs: (Math.max(0, load.tokens - rule.capacity) / rule.refillPerSecond) * 1000,
  }));
}

/**
 * The longest chain of calls that do not overlap in time (greedy by earliest end): in a run
 * where every call costs the same latency and nothing throttles, it is the number of calls on
 * the critical path, since no chain of dependent calls is longer than a chain of disjoint ones
 * and the run's own critical path is one of those.
 */
export function longestDisjointChain(calls: readonly CallRecord[]): number {
  const spans = calls
    .map((c) => ({ start: c.at, end: c.at + c.durationMs }))
    .sort((a, b) => a.end - b.end || a.start - b.start);
  let count = 0;
  let free = Number.NEGATIVE_INFINITY;
  for (const s of spans) {
    if (s.start >= free) {
      count += 1;
      free = s.end;
    }
  }
  return count;
}

export interface ContainBound {
  /** The slowest bucket's drain time: buckets of other accounts and services drain in parallel. */
  readonly drainMs: number;
  /** The bucket that sets `drainMs`; absent when no bucket had to refill. */
  readonly binding?: BucketLoad;
  /** Calls on the critical path of a one-agent kill, times the per-call latency. */
  readonly criticalPathMs: number;
  /** `drainMs + criticalPathMs`. */
  readonly boundMs: number;
}

/** The model's lower bound on the time to contain, given the buckets' loads. */
export function containBound(
  loads: readonly BucketLoad[],
  latencyMs: number,
  criticalPathCalls: number,
): ContainBound {
  let binding: BucketLoad | undefined;
  for (const load of loads) {
    if (load.drainMs > 0 && (!binding || load.drainMs > binding.drainMs)) binding = load;
  }
  const drainMs = binding?.drainMs ?? 0;
  const criticalPathMs = latencyMs * criticalPathCalls;
  return { drainMs, binding, criticalPathMs, boundMs: drainMs + criticalPathMs };
}
