/**
 * The benchmark's fleet: a generated configuration that the CLI's own parser accepts, and a
 * simulated deployment where a kill of several agents in several accounts ends CONTAINED with
 * every surface of every agent cut. Timing is never asserted here: `npm run bench` prints it.
 */
import { fullStopPolicyName, iamPolicyArn, killBoundaryArn } from '../../../lambda/shared/naming';
import { parseConfig } from '../../../lib/config';
import { fleetConfig, fleetLayout, WARM_UP_ACCOUNT_ID } from '../../../lib/local/bench/fleet';
import { floorBound } from '../../../lib/local/bench/floor';
import { requestOrder, runFleetKill } from '../../../lib/local/bench/measure';
import { bucketLoads, containBound, longestDisjointChain } from '../../../lib/local/bench/model';
import { createFleetWorld } from '../../../lib/local/bench/world';
import { type CallRecord, DESIGN_QUOTAS } from '../../../lib/local/simulator';

describe('benchmark fleet', () => {
  it('generates a configuration the config parser accepts, ten agents to an account', () => {
    const layout = fleetLayout({ agents: 25 });
    const config = parseConfig(fleetConfig(layout), 'test');

    expect(layout.accounts.map((a) => a.agentIds.length)).toEqual([10, 10, 5]);
    expect(config.workloadAccounts.map((w) => w.accountId)).toEqual(layout.accounts.map((a) => a.accountId));
    expect(config.agents).toHaveLength(25);
    const last = config.agents[24];
    expect(last?.accountId).toBe(layout.accounts[2]?.accountId);
    expect(last?.roleArns).toEqual([`arn:aws:iam::${last?.accountId}:role/agents/agent-0025-runtime`]);
    expect(last?.resourceArns).toEqual([
      `arn:aws:lambda:us-east-1:${last?.accountId}:function:agent-0025-tools`,
      `arn:aws:lambda:us-east-1:${last?.accountId}:function:agent-0025-worker`,
      `arn:aws:sqs:us-east-1:${last?.accountId}:agent-0025-inbox`,
    ]);
  });

  it('keeps a small fleet in one account', () => {
    expect(fleetLayout({ agents: 10 }).accounts).toHaveLength(1);
    expect(fleetLayout({ agents: 1000 }).accounts).toHaveLength(100);
  });

  it.each([0, 10_001, 2.5])('refuses a fleet of %p agents', (agents) => {
    expect(() => fleetLayout({ agents })).toThrow(/fleet size must be a whole number from 1 to 10000/);
  });

  it('lists the agents account by account, or one of each account in turn', () => {
    const accounts = [{ agentIds: ['a1', 'a2', 'a3'] }, { agentIds: ['b1', 'b2'] }];
    expect(requestOrder(accounts, 'grouped')).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(requestOrder(accounts, 'interleaved')).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
  });

  it('contains every surface of three agents in two accounts with one kill', async () => {
    const world = await createFleetWorld({ agents: 3, agentsPerAccount: 2 });
    const agentIds = world.layout.agents.map((a) => a.agentId);

    const outcome = await world.runner.kill(
      { agentIds, mode: 'full_stop', reason: 'test: kill the fleet' },
      { executionName: 'fleet-test', waitScale: 0 },
    );

    expect(outcome.execution.status).toBe('SUCCEEDED');
    expect(outcome.result?.status).toBe('CONTAINED');
    const statuses = outcome.result?.agents.map((a) => [a.agentId, a.status]) ?? [];
    expect(statuses.sort()).toEqual(agentIds.map((id) => [id, 'CONTAINED']));
    expectEverySurfaceCut(world);
  });

  it('warms up on agents of its own account, and measures only the fleet kill', async () => {
    const m = await runFleetKill({ agents: 2, warmUp: true, latencyMs: 0, retryScale: 0 });

    expect(m.status).toBe('CONTAINED');
    expect(m.accounts).toBe(1);
    // The fleet kill's sessions only (Prepare's one for the account, and per agent seven surfaces
    // and the read-back): none of the seeding's, none of the three warm-up kills'.
    expect(m.callsByService.sts?.calls).toBe(1 + 2 * 8);
    expect(m.buckets.every((b) => b.accountId !== WARM_UP_ACCOUNT_ID)).toBe(true);
  });

  it("cuts a fleet larger than a batch in child executions, each within Step Functions' quotas", async () => {
    // 7 agents, 3 to a batch: the distributed Map runs 3 child executions of the per-agent states.
    const world = await createFleetWorld({ agents: 7, agentsPerAccount: 3, killPath: { agentsPerBatch: 3 } });
    const agentIds = world.layout.agents.map((a) => a.agentId);

    const outcome = await world.runner.kill(
      { agentIds, mode: 'full_stop', reason: 'test: kill a fleet in batches' },
      { executionName: 'fleet-batches', waitScale: 0 },
    );

    expect(outcome.execution.status).toBe('SUCCEEDED');
    expect(outcome.result?.status).toBe('CONTAINED');
    expect(outcome.result?.counts).toEqual({ CONTAINED: 7 });
    const children = outcome.execution.histories.filter((h) => h.childExecution !== undefined);
    expect(children.map((h) => h.map)).toEqual(['Cut each batch', 'Cut each batch', 'Cut each batch']);
    for (const h of outcome.execution.histories) {
      expect(h.events).toBeLessThan(25_000);
      expect(h.largestPayloadBytes).toBeLessThan(256 * 1024);
    }
    // Every agent was cut inside a child execution, none by the execution's own per-agent Map.
    const cutBy = new Set(
      outcome.execution.events
        .filter((e) => e.type === 'TaskScheduled' && e.stateName?.startsWith('Cut IAM authority'))
        .map((e) => `${e.stateName} ${e.childExecution === undefined ? 'parent' : 'child'}`),
    );
    expect([...cutBy]).toEqual(['Cut IAM authority (batch) child']);
    expectEverySurfaceCut(world);
  });
});

/** Every surface of every agent of the fleet is in its full_stop state. */
function expectEverySurfaceCut(world: Awaited<ReturnType<typeof createFleetWorld>>): void {
  const sim = world.simulator;
  const state = world.inventory.map((agent) => {
    const role = sim.iam.roleByName(agent.accountId, agent.roleName);
    const closed = world.workloads.get(agent.accountId)?.isolationGroups[
      world.layout.accounts.find((a) => a.accountId === agent.accountId)?.vpcId ?? ''
    ]?.closed;
    return {
      attached: [...(role?.attachedPolicyArns ?? [])],
      inline: Object.keys(role?.inlinePolicies ?? {}),
      boundary: role?.boundaryArn,
      concurrency: agent.functionNames.map((f) =>
        sim.lambda.reservedConcurrency(agent.accountId, 'us-east-1', f),
      ),
      mappings: agent.mappingUuids.map((u) => sim.lambda.mappingState(u)),
      rules: agent.ruleNames.map((r) => sim.events.ruleState(agent.accountId, 'us-east-1', r)),
      schedules: agent.scheduleNames.map((s) => sim.scheduler.scheduleState(agent.accountId, 'us-east-1', s)),
      isolated: agent.networkInterfaceIds.map(
        (eni) => sim.ec2.interfaceGroups(agent.accountId, 'us-east-1', eni)?.join() === closed,
      ),
    };
  });
  expect(state).toEqual(
    world.inventory.map((agent) => ({
      attached: [iamPolicyArn('aws', agent.accountId, fullStopPolicyName('us-east-1'))],
      inline: [],
      boundary: killBoundaryArn('aws', agent.accountId, 'us-east-1'),
      concurrency: [0, 0],
      mappings: ['Disabled'],
      rules: ['DISABLED'],
      schedules: ['DISABLED'],
      isolated: [true],
    })),
  );
}

describe('benchmark model', () => {
  const call = (over: Partial<CallRecord>): CallRecord => ({
    seq: 0,
    at: 0,
    durationMs: 10,
    accountId: '200000000001',
    region: 'us-east-1',
    service: 'lambda',
    action: 'PutFunctionConcurrency',
    caller: 'test',
    input: {},
    outcome: 'ok',
    httpStatusCode: 200,
    ...over,
  });

  it('counts the tokens each bucket let through, not throttled attempts, and bounds by the slowest', () => {
    const calls = [
      ...Array.from({ length: 45 }, () => call({})),
      ...Array.from({ length: 7 }, () => call({ outcome: 'TooManyRequestsException', httpStatusCode: 429 })),
      // GetFunction is outside Lambda's control plane bucket.
      ...Array.from({ length: 30 }, () => call({ action: 'GetFunction' })),
      // IAM writes count per account whatever the region; reads are not in the bucket.
      ...Array.from({ length: 12 }, (_, i) =>
        call({ service: 'iam', action: 'AttachRolePolicy', region: i % 2 ? 'us-east-1' : 'eu-west-1' }),
      ),
      call({ service: 'iam', action: 'ListRoles' }),
    ];

    const loads = bucketLoads(calls, DESIGN_QUOTAS);

    const lambda = loads.find((l) => l.service === 'lambda');
    expect(lambda).toEqual(
      expect.objectContaining({
        tokens: 45,
        throttled: 7,
        drainMs: 2000,
        actions: { PutFunctionConcurrency: 45 },
      }),
    );
    const iam = loads.find((l) => l.service === 'iam');
    expect(iam).toEqual(expect.objectContaining({ scope: 'global', tokens: 12, drainMs: 200 }));
    const bound = containBound(loads, 20, 50);
    expect(bound).toEqual(expect.objectContaining({ drainMs: 2000, criticalPathMs: 1000, boundMs: 3000 }));
    expect(bound.binding?.service).toBe('lambda');
  });

  it("bounds a fleet independently: the busiest account's slowest quota, plus the dependent chain", () => {
    // One agent: every quota's burst covers it; 10 dependent calls at 20 ms.
    expect(floorBound(1, 20)).toEqual({ boundMs: 200, drainMs: 0, pathMs: 200 });
    // Ten in one account: 50 IAM writes past a burst of 10 at 10/s (lambda: 50 past 15 at 15/s).
    expect(floorBound(10, 20)).toEqual({ boundMs: 4200, drainMs: 4000, pathMs: 200, binding: 'IAM writes' });
  });

  it('counts the longest chain of calls that do not overlap', () => {
    const spans = [
      [0, 10],
      [5, 10],
      [10, 10],
      [12, 10],
      [20, 10],
    ].map(([at, durationMs]) => call({ at, durationMs }));
    expect(longestDisjointChain(spans)).toBe(3);
  });
});
