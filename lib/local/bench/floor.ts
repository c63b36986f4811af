import type { ThrottleRule } from '../simulator';

/**
 * An independent lower bound on the time to contain a full_stop kill of the benchmark's fleet
 * (fleet.ts), from the published quotas and the fewest calls any kill path could make, not from
 * the calls Backstop's kill path made (model.ts's bound). The derivation is in the benchmark's
 * README ("The independent bound"); the numbers here are that derivation.
 */

/** The fewest calls one agent of the benchmark costs each throttled quota of its account. */
export interface FloorQuota {
  readonly label: string;
  readonly rule: ThrottleRule;
  /** Fewest calls per agent this quota must let through, with why. */
  readonly callsPerAgent: number;
  readonly why: string;
}

export const FLOOR_QUOTAS: readonly FloorQuota[] = [
  {
    label: 'IAM writes',
    rule: { capacity: 10, refillPerSecond: 10 },
    callsPerAgent: 5,
    why: 'the deny first (the only write that needs no read before it), the kill boundary, detach 2 managed policies, delete 1 inline policy',
  },
  {
    label: 'lambda',
    rule: { capacity: 15, refillPerSecond: 15 },
    callsPerAgent: 5,
    why: '2 PutFunctionConcurrency, 1 UpdateEventSourceMapping, the mapping read before (its state is what restore puts back) and read back once',
  },
  {
    label: 'events',
    rule: { capacity: 50, refillPerSecond: 50 },
    callsPerAgent: 3,
    why: 'DescribeRule before, DisableRule, DescribeRule back',
  },
  {
    label: 'ec2 ModifyNetworkInterfaceAttribute',
    rule: { capacity: 100, refillPerSecond: 5 },
    callsPerAgent: 1,
    why: 'the interface moved to the isolation group once',
  },
];

/**
 * Dependent calls no kill can avoid for one agent, each after the one before: claim the incident
 * (a conditional write: two kills of one agent must not both cut), take the agent's lock, assume
 * the kill role, find the agent's mapping (by tag), read its state, store that snapshot (before
 * the change), disable it, read it back (an event source mapping answers Disabling first, so
 * twice), store the outcome Finalize reads. Audit records, the control flag and every other
 * surface fit beside this chain.
 */
export const FLOOR_CHAIN_CALLS = 10;

export interface FloorBound {
  readonly boundMs: number;
  readonly drainMs: number;
  readonly pathMs: number;
  /** The quota that sets `drainMs`; absent when every quota's burst covers the busiest account. */
  readonly binding?: string;
}

/**
 * The bound for a fleet whose busiest account holds `agentsInBusiestAccount` agents: its buckets
 * drain in parallel with every other account's (so only the busiest counts), plus the chain.
 */
export function floorBound(agentsInBusiestAccount: number, latencyMs: number): FloorBound {
  let drainMs = 0;
  let binding: string | undefined;
  for (const q of FLOOR_QUOTAS) {
    const tokens = q.callsPerAgent * agentsInBusiestAccount;
    const ms = (Math.max(0, tokens - q.rule.capacity) / q.rule.refillPerSecond) * 1000;
    if (ms > drainMs) {
      drainMs = ms;
      binding = q.label;
    }
  }
  const pathMs = FLOOR_CHAIN_CALLS * latencyMs;
  return { boundMs: drainMs + pathMs, drainMs, pathMs, ...(binding ? { binding } : {}) };
}
