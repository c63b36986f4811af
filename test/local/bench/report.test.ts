/**
 * The benchmark's report: every line fits 100 columns whatever the sizes, and it prints the
 * independent bound beside the kill path's own. Timing is never asserted: figures are made up.
 */
import type { FleetKillMeasurement } from '../../../lib/local/bench/measure';
import { benchRow, formatBenchReport, REPORT_WIDTH, wrap } from '../../../lib/local/bench/report';

function measurement(agents: number): FleetKillMeasurement {
  const accounts = Math.max(1, Math.ceil(agents / 10));
  return {
    agents,
    accounts,
    order: 'grouped',
    latencyMs: 20,
    executionStatus: 'SUCCEEDED',
    status: 'CONTAINED',
    agentStatuses: { CONTAINED: agents },
    unverified: {},
    timeToContainMs: 4_000 + agents * 100,
    timeToAuthorityCutMs: 300 + agents,
    wallMs: 10_000 + agents * 500,
    cpuMs: 9_000 + agents * 450,
    setupMs: 1_000,
    phases: { prepareEndMs: 300, cutEndMs: 4_000 + agents * 100, finalizeEndMs: 5_000 + agents * 100 },
    callsByService: {
      iam: { calls: 36_100 * agents, throttled: 10_100 * agents },
      s3: { calls: 88_800, throttled: 0 },
    },
    totalCalls: 195_000 * agents,
    throttledCalls: 15_000 * agents,
    buckets: [
      {
        accountId: '200000000001',
        scope: 'global',
        service: 'iam',
        label: 'IAM writes',
        capacity: 10,
        refillPerSecond: 10,
        tokens: 50_000,
        actions: { DetachRolePolicy: 20_000, AttachRolePolicy: 10_000, DeleteRolePolicy: 10_000 },
        throttled: 101_000,
        drainMs: 4_999_000,
      },
      {
        accountId: '200000000001',
        scope: 'us-east-1',
        service: 'ec2',
        label: 'ec2 ModifyNetworkInterfaceAttribute',
        capacity: 100,
        refillPerSecond: 5,
        tokens: 20_000,
        actions: { ModifyNetworkInterfaceAttribute: 20_000 },
        throttled: 10_000,
        drainMs: 3_980_000,
      },
    ],
    branchRetries: 12_345,
    maxAgentsInFlight: 400,
    mapMaxConcurrency: 40,
    accountsPerWave: 3.3,
    finalizeInputBytes: 300_000,
    work: {
      transitions: 18 * agents,
      payloadBytes: 23_000 * agents,
      childExecutions: Math.ceil(agents / 100),
      maxHistoryEvents: 24_999,
      largestPayloadBytes: 200_000,
    },
  };
}

it('fits every line of the report in 100 columns, from one agent to ten thousand', () => {
  const criticalPath = { calls: 15, latencyMs: 100, wallMs: 2_000 };
  const rows = [1, 10, 100, 1000, 10_000].map((n) => benchRow(measurement(n), 8_000, criticalPath, 10));
  const text = formatBenchReport({
    settings: {
      latencyMs: 20,
      waitScale: 0,
      retryScale: 1,
      retryQuota: 'per-invocation',
      agentsPerAccount: 10,
      order: 'interleaved',
      warmUp: true,
    },
    criticalPath,
    rows,
  });
  const long = text.split('\n').filter((line) => line.length > REPORT_WIDTH);
  expect(long).toEqual([]);
  // The independent bound stands beside the kill path's own, with both ratios.
  expect(text).toMatch(/floor s +TTC\/floor +own s +TTC\/own/);
  expect(rows[1]?.floor).toEqual({ boundMs: 4200, drainMs: 4000, pathMs: 200, binding: 'IAM writes' });
});

it('wraps text at word boundaries, indenting what follows', () => {
  expect(wrap('aaa bbb ccc ddd', 8, '  ')).toEqual(['aaa bbb', '  ccc', '  ddd']);
});
