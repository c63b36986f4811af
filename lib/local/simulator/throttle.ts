/**
 * Per-account, per-region, per-service token buckets. A call takes one token from every bucket
 * whose rule covers its action; an empty bucket answers the service's throttling error at once
 * (the SDK's retry strategy then backs off and retries, exactly as against AWS).
 */
import type { ServiceName } from './errors';
import type { SimClock } from './world';

/** One token bucket rule of a service. */
export interface ThrottleRule {
  /** Bucket size: the burst a caller can make from a full bucket. */
  readonly capacity: number;
  /** Tokens added per second, up to the capacity. */
  readonly refillPerSecond: number;
  /** Actions this bucket counts (e.g. `ModifyNetworkInterfaceAttribute`). @default - every action of the service */
  readonly actions?: readonly string[];
  /** Actions this bucket does not count. @default - none */
  readonly excludeActions?: readonly string[];
}

export type ThrottlingConfig = Partial<Record<ServiceName, ThrottleRule | readonly ThrottleRule[]>>;

const IAM_WRITES = [
  'AttachRolePolicy',
  'DetachRolePolicy',
  'PutRolePolicy',
  'DeleteRolePolicy',
  'TagRole',
  'UntagRole',
  'CreateRole',
  'CreatePolicy',
  'UpdateAssumeRolePolicy',
  'PutRolePermissionsBoundary',
  'DeleteRolePermissionsBoundary',
];

/**
 * The quotas of docs/design.md section 11, for the benchmark: Lambda's control plane 15 requests/s
 * (concurrency and event source mapping calls share it; GetFunction is not counted, as AWS
 * documents), EC2 `ModifyNetworkInterfaceAttribute` bucket 100 refilled at 5/s, EventBridge 50/s,
 * IAM writes 10/s (unpublished by AWS; the plan value).
 */
export const DESIGN_QUOTAS: ThrottlingConfig = {
  lambda: { capacity: 15, refillPerSecond: 15, excludeActions: ['GetFunction', 'Invoke', 'GetPolicy'] },
  ec2: { capacity: 100, refillPerSecond: 5, actions: ['ModifyNetworkInterfaceAttribute'] },
  events: { capacity: 50, refillPerSecond: 50 },
  iam: { capacity: 10, refillPerSecond: 10, actions: IAM_WRITES },
};

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class Throttler {
  private readonly rules: ReadonlyMap<ServiceName, readonly ThrottleRule[]>;
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    config: ThrottlingConfig | undefined,
    private readonly clock: SimClock,
  ) {
    const rules = new Map<ServiceName, readonly ThrottleRule[]>();
    for (const [service, value] of Object.entries(config ?? {})) {
      if (!value) continue;
      const list: readonly ThrottleRule[] = Array.isArray(value) ? value : [value as ThrottleRule];
      for (const rule of list) {
        if (!(rule.capacity >= 1) || !(rule.refillPerSecond > 0)) {
          throw new Error(`throttling.${service}: capacity must be >= 1 and refillPerSecond > 0`);
        }
      }
      rules.set(service as ServiceName, list);
    }
    this.rules = rules;
  }

  /**
   * Takes a token from every bucket that covers the call. Returns false (and takes nothing) when
   * one of them is empty.
   */
  take(accountId: string, region: string, service: ServiceName, action: string): boolean {
    const rules = this.rules.get(service);
    if (!rules) return true;
    const now = this.clock.now();
    const scope = service === 'iam' ? 'global' : region;
    const hit: Bucket[] = [];
    for (const [index, rule] of rules.entries()) {
      if (rule.actions && !rule.actions.includes(action)) continue;
      if (rule.excludeActions?.includes(action)) continue;
      const key = `${accountId}|${scope}|${service}|${index}`;
      let bucket = this.buckets.get(key);
      if (!bucket) {
        bucket = { tokens: rule.capacity, updatedAt: now };
        this.buckets.set(key, bucket);
      }
      const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
      bucket.tokens = Math.min(rule.capacity, bucket.tokens + elapsed * rule.refillPerSecond);
      bucket.updatedAt = now;
      if (bucket.tokens < 1) return false;
      hit.push(bucket);
    }
    for (const bucket of hit) bucket.tokens -= 1;
    return true;
  }
}
