/**
 * The pieces every service model shares: the clock, deterministic identifiers, the identities
 * (access keys) the simulator has handed out, the context of one call, and small helpers for
 * ARNs, tags and glob patterns.
 */

import type { ServiceName } from './errors';
import { SimError } from './errors';

/** Time as the simulator sees it. Latency, token buckets and settle timers all read this clock. */
export interface SimClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock. */
  sleep(ms: number): Promise<void>;
}

/** Wall-clock time and real timers. */
export const realClock: SimClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A clock that moves only when told to, for tests: `sleep` resolves when `advance` passes its
 * deadline.
 */
export class ManualClock implements SimClock {
  private current: number;
  private readonly timers: { at: number; resolve: () => void }[] = [];

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.timers.push({ at: this.current + ms, resolve });
      this.timers.sort((a, b) => a.at - b.at);
    });
  }

  /** Moves time forward, waking every sleeper whose deadline passes, in deadline order. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    while (this.timers.length > 0 && this.timers[0].at <= target) {
      const timer = this.timers.shift()!;
      this.current = timer.at;
      timer.resolve();
      // Let the woken work run (and possibly schedule further sleeps) before moving on.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.current = target;
  }

  /** Number of sleepers waiting. */
  get pending(): number {
    return this.timers.length;
  }
}

/**
 * Deterministic pseudo-random source (mulberry32) for identifiers, so that a seeded drill prints
 * the same ids every run. Never used for key material.
 */
export class Ids {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  private next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private pick(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }

  hex(length: number): string {
    return this.pick('0123456789abcdef', length);
  }

  /** Upper-case letters and digits, as in IAM unique ids and access key ids. */
  upper(length: number): string {
    return this.pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', length);
  }

  secret(length = 40): string {
    return this.pick('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', length);
  }

  uuid(): string {
    const h = this.hex(32);
    const variant = '89ab'[Math.floor(this.next() * 4)];
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** An integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
}

/** Who is calling: resolved from the access key id of the client's credentials. */
export interface Principal {
  readonly kind: 'root' | 'user' | 'role-session';
  readonly accountId: string;
  readonly partition: string;
  /** `aws:PrincipalArn`: the role ARN for a role session, else the user or root ARN. */
  readonly principalArn: string;
  /** What GetCallerIdentity answers: the assumed-role ARN for a role session. */
  readonly arn: string;
  readonly userId: string;
  readonly roleName?: string;
  readonly sessionName?: string;
  readonly sourceIdentity?: string;
  /** Session tags (sts:TagSession). */
  readonly sessionTags?: Readonly<Record<string, string>>;
  /** Whether the session was itself obtained by a role session (role chaining caps it at 1 hour). */
  readonly chained?: boolean;
  readonly issuedAt: number;
  /** Epoch ms after which the credentials are refused. @default - never */
  readonly expiresAt?: number;
}

/** Static credentials as the SDK takes them. */
export interface SimCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** The context a service model sees for one call. */
export interface CallContext {
  readonly service: ServiceName;
  readonly action: string;
  readonly caller: Principal;
  /** The caller's account: every call acts on the caller's own account. */
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
  /** The clock's time when the call reached the model. */
  readonly now: Date;
  /** HTTP headers the SDK built (S3 checksums travel here, not in the input). */
  readonly headers: Readonly<Record<string, string>>;
  /** True for calls made through the seeding API: resources are created in their settled state. */
  readonly seeding: boolean;
}

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  return 'aws';
}

export interface ParsedArn {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

export function parseArn(arn: string): ParsedArn | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return {
    partition: parts[1],
    service: parts[2],
    region: parts[3],
    account: parts[4],
    resource: parts.slice(5).join(':'),
  };
}

export const ACCOUNT_ID = /^\d{12}$/;

export function checkAccountId(accountId: string): void {
  if (!ACCOUNT_ID.test(accountId)) throw new Error(`"${accountId}" is not a 12-digit AWS account id`);
}

/** Glob with `*` (any run, also empty) and `?` (one character), as IAM and EC2 filters use them. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (!ignoreCase && !pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  const cache = ignoreCase ? globsIgnoringCase : globs;
  let re = cache.get(pattern);
  if (!re) {
    const escaped = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${escaped}$`, ignoreCase ? 'is' : 's');
    // Patterns come from policies, deny rules and filters: few and reused on every call.
    if (cache.size >= MAX_CACHED_GLOBS) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(value);
}

const MAX_CACHED_GLOBS = 10_000;
const globs = new Map<string, RegExp>();
const globsIgnoringCase = new Map<string, RegExp>();

export type TagList = { Key?: string; Value?: string }[];

export function tagsFromList(list: TagList | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of list ?? []) if (t.Key !== undefined) out.set(t.Key, t.Value ?? '');
  return out;
}

export function tagsToList(tags: ReadonlyMap<string, string>): { Key: string; Value: string }[] {
  return [...tags].map(([Key, Value]) => ({ Key, Value }));
}

/**
 * Checks tags the way most services do: at most 50, keys 1-128 characters, values up to 256, and
 * no `aws:` prefix. `code` is the service's validation error name.
 */
export function validateTags(tags: ReadonlyMap<string, string>, code: string, existing = 0): void {
  if (tags.size + existing > 50) throw new SimError(code, 'Tags cannot exceed 50 per resource.');
  for (const [k, v] of tags) {
    if (k.length < 1 || k.length > 128)
      throw new SimError(code, `Tag key "${k}" must be 1-128 characters long.`);
    if (v.length > 256) throw new SimError(code, `Tag value of "${k}" must be at most 256 characters long.`);
    if (k.toLowerCase().startsWith('aws:'))
      throw new SimError(code, `Tag keys starting with "aws:" are reserved.`);
  }
}

/**
 * Adds `added` to a resource's `tags` (TagResource, CreateTags): the merged set is checked with
 * {@link validateTags} first, so a refused request changes nothing.
 */
export function mergeTags(tags: Map<string, string>, added: ReadonlyMap<string, string>, code: string): void {
  validateTags(new Map([...tags, ...added]), code);
  for (const [k, v] of added) tags.set(k, v);
}

/** A resource that carries tags, as each model lists them for the Resource Groups Tagging API. */
export interface TaggedResource {
  readonly accountId: string;
  readonly region: string;
  readonly arn: string;
  readonly tags: ReadonlyMap<string, string>;
}

/** A deep copy, so that callers can never change simulator state through an output object. */
export function copy<T>(value: T): T {
  return structuredClone(value);
}

/** Removes keys whose value is undefined (AWS omits absent members). */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Key of a per-account-and-region store. */
export function scopeKey(accountId: string, region: string): string {
  return `${accountId}|${region}`;
}

/** A lazily-filled map of per-scope state. */
export class Scoped<T> {
  private readonly states = new Map<string, T>();

  constructor(private readonly create: (accountId: string, region: string) => T) {}

  get(accountId: string, region: string): T {
    const key = scopeKey(accountId, region);
    let state = this.states.get(key);
    if (!state) {
      state = this.create(accountId, region);
      this.states.set(key, state);
    }
    return state;
  }

  /** Every scope created so far, with its account and region. */
  *entries(): Generator<[string, string, T]> {
    for (const [key, state] of this.states) {
      const [accountId, region] = key.split('|');
      yield [accountId, region, state];
    }
  }
}
