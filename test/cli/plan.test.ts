/**
 * `backstop plan` is a dry run: on the embedded simulator, in every mode, every surface of the
 * workload account reads the same before and after it, no call to the workload account writes,
 * and the plan lists, resource by resource, what a kill would cut and what it would leave.
 */
import { PlanStore, type StoredSurfacePlan } from '../../lambda/shared/plan-store';
import { KILL_MODES, type KillMode } from '../../lambda/shared/types';
import { createDrillWorld, type DrillWorld } from '../../lib/local/drill/run';
import { DRILL_AGENT, DRILL_WORKLOAD } from '../../lib/local/drill/scenario';

const { accountId: W, region: R } = DRILL_WORKLOAD;

/** Reads every page of a simulator list call. */
async function all<T>(page: (token?: string) => Promise<{ items?: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const p = await page(token);
    out.push(...(p.items ?? []));
    token = p.next;
  } while (token);
  return out;
}

/** Everything a kill could change in the workload account, read as the account root. */
async function workloadState(world: DrillWorld) {
  const api = world.simulator.as(W, R);
  const roles = await all(async (Marker) => {
    const o = await api.iam.ListRoles({ Marker });
    return { items: o.Roles, next: o.IsTruncated ? o.Marker : undefined };
  });
  const iam = [];
  for (const role of roles) {
    const RoleName = role.RoleName as string;
    const attached = await all(async (Marker) => {
      const o = await api.iam.ListAttachedRolePolicies({ RoleName, Marker });
      return { items: o.AttachedPolicies, next: o.IsTruncated ? o.Marker : undefined };
    });
    const inline = await all(async (Marker) => {
      const o = await api.iam.ListRolePolicies({ RoleName, Marker });
      return { items: o.PolicyNames, next: o.IsTruncated ? o.Marker : undefined };
    });
    const documents = [];
    for (const PolicyName of inline) {
      documents.push((await api.iam.GetRolePolicy({ RoleName, PolicyName })).PolicyDocument);
    }
    const got = await api.iam.GetRole({ RoleName });
    iam.push({ RoleName, attached, inline, documents, boundary: got.Role?.PermissionsBoundary ?? null });
  }
  const functions = await all(async (Marker) => {
    const o = await api.lambda.ListFunctions({ Marker });
    return { items: o.Functions, next: o.NextMarker };
  });
  const lambda = [];
  for (const f of functions) {
    const FunctionName = f.FunctionName as string;
    lambda.push({
      FunctionName,
      concurrency:
        (await api.lambda.GetFunctionConcurrency({ FunctionName })).ReservedConcurrentExecutions ?? null,
      vpc: (await api.lambda.GetFunctionConfiguration({ FunctionName })).VpcConfig ?? null,
    });
  }
  const mappings = await all(async (Marker) => {
    const o = await api.lambda.ListEventSourceMappings({ Marker });
    return { items: o.EventSourceMappings, next: o.NextMarker };
  });
  const buses = await all(async (NextToken) => {
    const o = await api.events.ListEventBuses({ NextToken });
    return { items: o.EventBuses, next: o.NextToken };
  });
  const rules = [];
  for (const bus of buses) {
    rules.push(
      ...(await all(async (NextToken) => {
        const o = await api.events.ListRules({ EventBusName: bus.Name, NextToken });
        return { items: o.Rules, next: o.NextToken };
      })),
    );
  }
  const schedules = await all(async (NextToken) => {
    const o = await api.scheduler.ListSchedules({ NextToken });
    return { items: o.Schedules, next: o.NextToken };
  });
  const executions = world.inventory.executions.map((arn) => world.simulator.states.executionStatus(arn));
  const interfaces = await all(async (NextToken) => {
    const o = await api.ec2.DescribeNetworkInterfaces({ NextToken });
    return { items: o.NetworkInterfaces, next: o.NextToken };
  });
  return {
    iam,
    lambda,
    mappings: mappings.map((m) => ({ uuid: m.UUID, state: m.State })),
    rules: rules.map((r) => ({ arn: r.Arn, state: r.State })),
    schedules: schedules.map((s) => ({ arn: s.Arn, state: s.State })),
    executions,
    interfaces: interfaces.map((i) => ({
      id: i.NetworkInterfaceId,
      groups: i.Groups?.map((g) => g.GroupId),
    })),
  };
}

const READ_ONLY_CALL = /^(Get|List|Describe)/;

async function plan(mode: KillMode) {
  const world = await createDrillWorld();
  const before = await workloadState(world);
  const firstCall = world.simulator.calls.length;
  const run = await world.runner.kill(
    { agentId: DRILL_AGENT, mode, reason: 'test: what would a kill cut?', dryRun: true },
    { executionName: `plan-${mode}`, waitScale: 0 },
  );
  const calls = world.simulator.calls.slice(firstCall).filter((c) => c.accountId === W);
  const plans = await new PlanStore(world.clients.controlPlane().dynamo, world.controlPlane.tableName).list(
    run.result?.incidentId ?? '',
  );
  const bySurface = Object.fromEntries(plans.map((p) => [p.surface, p])) as Record<string, StoredSurfacePlan>;
  return { world, run, before, after: await workloadState(world), calls, plans, bySurface };
}

describe('backstop plan on the embedded simulator', () => {
  it.each(KILL_MODES)('changes nothing in %s: every surface reads the same after the plan', async (mode) => {
    const p = await plan(mode);

    expect(p.run.result?.status).toBe('PLANNED');
    expect(p.after).toEqual(p.before);
    expect(p.calls.length).toBeGreaterThan(0);
    expect(p.calls.filter((c) => !READ_ONLY_CALL.test(c.action)).map((c) => c.action)).toEqual([]);
    // The state machine carries counts only: the plan itself is in the state table.
    const branches = p.run.execution.events
      .filter((e) => e.type === 'TaskSucceeded')
      .map((e) => e.output as { surface?: string; plan?: unknown })
      .filter((o) => o?.surface !== undefined);
    expect(branches).toHaveLength(7);
    for (const b of branches) {
      expect(b).not.toHaveProperty('plan');
      expect(JSON.stringify(b).length).toBeLessThan(4096);
    }
    expect(p.plans.map((s) => s.surface).sort()).toEqual([
      'event-source-mappings',
      'eventbridge-rules',
      'executions',
      'iam',
      'lambda',
      'network',
      'schedules',
    ]);
  });

  it('lists, for full_stop, every resource of every surface with the action and its state now', async () => {
    const { bySurface } = await plan('full_stop');
    const rows = (surface: string) =>
      bySurface[surface]?.actions.map((a) => [
        a.label ?? a.resource.split(/[:/]/).pop(),
        a.action,
        a.current,
      ]);

    expect(rows('lambda')).toEqual([
      ['support-bot-tools', 'PutFunctionConcurrency 0', 'unreserved'],
      ['support-bot-planner', 'PutFunctionConcurrency 0', 'reserved 25'],
      ['support-bot-inbox-worker', 'PutFunctionConcurrency 0', 'unreserved'],
    ]);
    expect(
      rows('event-source-mappings')
        ?.map(([label, action, now]) => [label, action, now])
        .sort(),
    ).toEqual([
      [
        'queue support-bot-escalations -> function support-bot-planner',
        'UpdateEventSourceMapping Enabled=false',
        'Enabled',
      ],
      [
        'queue support-bot-inbox -> function support-bot-inbox-worker',
        'UpdateEventSourceMapping Enabled=false',
        'Enabled',
      ],
    ]);
    expect(rows('schedules')).toEqual([
      ['support-bot-hourly-sweep', 'UpdateSchedule State=DISABLED', 'ENABLED, rate(1 hour)'],
    ]);
    expect(rows('executions')).toEqual([
      ['ticket-4711', 'StopExecution error=Backstop.Killed', expect.stringMatching(/^RUNNING since /)],
    ]);
    expect(
      rows('eventbridge-rules')
        ?.map((r) => r[0])
        .sort(),
    ).toEqual(['support-bot-nightly-digest', 'support-bot-ticket-created']);
    expect(bySurface.network?.actions.map((a) => a.label)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^eni-[0-9a-f]+ \(support-bot browser sandbox\)$/),
        'function support-bot-tools (VpcConfig)',
      ]),
    );
    expect(bySurface.network?.actions.every((a) => /support-bot-app/.test(a.current))).toBe(true);
    const runtime = bySurface.iam?.actions.filter((a) => a.label === 'role support-bot-runtime');
    expect(runtime?.map((a) => a.action)).toEqual([
      'AttachRolePolicy backstop-full-stop-us-east-1',
      'PutRolePermissionsBoundary BackstopKillBoundary-us-east-1',
      'DetachRolePolicy x3, DeleteRolePolicy x2',
    ]);
    expect(runtime?.[2]?.current).toBe(
      'support-bot-crm-write, support-bot-s3-read, support-bot-queue-consume, email-send (inline), tickets-write (inline)',
    );
    expect(Object.values(bySurface).every((s) => s.applies && s.skipped.length === 0)).toBe(true);
  });

  it('says what a read_only kill leaves running, surface by surface, and why', async () => {
    const { bySurface } = await plan('read_only');

    expect(bySurface.iam?.actions.map((a) => a.action)).toEqual([
      'AttachRolePolicy backstop-read-only-us-east-1',
      'AttachRolePolicy backstop-read-only-us-east-1',
      'AttachRolePolicy backstop-read-only-us-east-1',
    ]);
    for (const surface of [
      'lambda',
      'event-source-mappings',
      'eventbridge-rules',
      'schedules',
      'executions',
      'network',
    ]) {
      const s = bySurface[surface];
      expect(s?.applies).toBe(false);
      expect(s?.actions).toEqual([]);
      expect(s?.skipped.length).toBe(s?.resources);
      expect(new Set(s?.skipped.map((k) => k.reason))).toEqual(
        new Set(['a read_only kill leaves it as it is (only full_stop cuts this surface)']),
      );
    }
    expect(bySurface.schedules?.skipped).toEqual([
      expect.objectContaining({ current: 'ENABLED, rate(1 hour)' }),
    ]);
    expect(bySurface['event-source-mappings']?.skipped.map((k) => k.current)).toEqual(['Enabled', 'Enabled']);
  });
});
