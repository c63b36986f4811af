/**
 * The kill path end to end: the synthesized state machine run by the local engine, the real
 * handlers, the embedded simulator as the AWS accounts. Each scenario asserts where every surface
 * ends, what the audit log holds, and the final status.
 */
import { fullStopPolicyName, iamPolicyArn, killBoundaryArn } from '../../lambda/shared/naming';
import { StateStore } from '../../lambda/shared/state-store';
import type { KillRequest } from '../../lambda/shared/types';
import { createDrillWorld, type DrillWorld, readAndVerifyIncident } from '../../lib/local/drill/run';
import { DRILL_AGENT, DRILL_WORKLOAD } from '../../lib/local/drill/scenario';

const { accountId: W, region: R } = DRILL_WORKLOAD;
const FULL_STOP = iamPolicyArn('aws', W, fullStopPolicyName(R));
const KILL_BOUNDARY = killBoundaryArn('aws', W, R);
const RUNTIME_ROLE = 'support-bot-runtime';

let counter = 0;
async function kill(world: DrillWorld, request: Partial<KillRequest> = {}) {
  const executionName = `test-${++counter}`;
  const outcome = await world.runner.kill(
    { agentId: DRILL_AGENT, mode: 'full_stop', reason: 'test: contain the agent', ...request },
    { executionName, waitScale: 0 },
  );
  const incidentId = outcome.result?.incidentId ?? executionName;
  const audit = await readAndVerifyIncident(world, incidentId);
  return { ...outcome, ...audit, types: audit.records.map((r) => r.record.type) };
}

async function surfaceState(world: DrillWorld) {
  const sim = world.simulator;
  const api = sim.as(W, R);
  const role = (name: string) => sim.iam.roleByName(W, name);
  const vpcFunction = await api.lambda.GetFunctionConfiguration({ FunctionName: 'support-bot-tools' });
  return {
    runtimeRole: {
      attached: [...(role(RUNTIME_ROLE)?.attachedPolicyArns ?? [])].sort(),
      inline: Object.keys(role(RUNTIME_ROLE)?.inlinePolicies ?? {}).sort(),
      boundary: role(RUNTIME_ROLE)?.boundaryArn,
    },
    toolsRole: [...(role('support-bot-tools-exec')?.attachedPolicyArns ?? [])].sort(),
    concurrency: world.inventory.functions.map((f) => sim.lambda.reservedConcurrency(W, R, f)),
    mappings: world.inventory.mappings.map((uuid) => sim.lambda.mappingState(uuid)),
    rules: [
      sim.events.ruleState(W, R, 'support-bot-nightly-digest'),
      sim.events.ruleState(W, R, 'support-bot-ticket-created', 'support-events'),
    ],
    schedule: sim.scheduler.scheduleState(W, R, 'support-bot-hourly-sweep'),
    executions: world.inventory.executions.map((arn) => sim.states.executionStatus(arn)),
    eni: sim.ec2.interfaceGroups(W, R, world.inventory.networkInterfaces[0] as string),
    vpcFunctionGroups: vpcFunction.VpcConfig?.SecurityGroupIds,
  };
}

function store(world: DrillWorld) {
  return new StateStore({
    doc: world.clients.controlPlane().dynamo,
    tableName: world.controlPlane.tableName,
  });
}

const closedGroup = (world: DrillWorld) => world.workload.isolationGroups[DRILL_WORKLOAD.vpcId]?.closed;

describe('kill path on the embedded simulator', () => {
  it('contains every surface of the agent, proves it, and leaves a verifiable audit trail', async () => {
    const world = await createDrillWorld();
    const before = await surfaceState(world);
    expect(before.runtimeRole.attached).toHaveLength(3);
    expect(before.runtimeRole.inline).toEqual(['email-send', 'tickets-write']);

    const run = await kill(world);

    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.result?.status).toBe('CONTAINED');
    expect(run.result?.agents[0]?.surfaces.map((s) => [s.surface, s.verify])).toEqual([
      ['iam', 'VERIFIED'],
      ['lambda', 'VERIFIED'],
      ['event-source-mappings', 'VERIFIED'],
      ['eventbridge-rules', 'VERIFIED'],
      ['schedules', 'VERIFIED'],
      ['executions', 'VERIFIED'],
      ['network', 'VERIFIED'],
    ]);
    expect(await surfaceState(world)).toEqual({
      runtimeRole: { attached: [FULL_STOP], inline: [], boundary: KILL_BOUNDARY },
      toolsRole: [FULL_STOP],
      concurrency: [0, 0, 0],
      mappings: ['Disabled', 'Disabled'],
      rules: ['DISABLED', 'DISABLED'],
      schedule: 'DISABLED',
      executions: ['ABORTED'],
      eni: [closedGroup(world)],
      vpcFunctionGroups: [closedGroup(world)],
    });

    // The state machine carries one line per agent (the outcome is in the state table), so a
    // fleet of 1000 stays under Step Functions' 256 KB payload limit.
    const mapExit = run.execution.events.find(
      (e) => e.type === 'StateExited' && e.stateName === 'Cut each agent',
    );
    expect((mapExit?.output as { agents: unknown }).agents).toEqual([
      { agentId: DRILL_AGENT, status: 'CONTAINED' },
    ]);
    // The control flag the agent runtime reads.
    expect(await store(world).getMode(DRILL_AGENT)).toEqual(expect.objectContaining({ mode: 'full_stop' }));
    // Every step is in the audit log, and the log verifies as a compliance reviewer would check it.
    expect(run.audit.ok).toBe(true);
    expect(run.audit.findings.filter((f) => f.severity === 'error')).toEqual([]);
    for (const type of [
      'KillRequested',
      'LockAcquired',
      'ControlFlagSet',
      'KillCompleted',
      'ManifestWritten',
    ]) {
      expect(run.types).toContain(type);
    }
    expect(run.types.filter((t) => t === 'SnapshotTaken')).toHaveLength(7);
    const detach = run.records.find(
      (r) =>
        r.record.type === 'ResourceChanged' &&
        (r.record.detail as { action?: string }).action === 'DetachRolePolicy',
    );
    expect(detach?.record.detail).toEqual(
      expect.objectContaining({
        before: expect.objectContaining({ policyArn: expect.stringContaining(':policy/') }),
      }),
    );
    // The on-call person is told, and the time to contain is measured.
    expect(world.simulator.sns.published(world.controlPlane.topicArn)).toEqual([
      expect.objectContaining({ subject: expect.stringContaining('CONTAINED') }),
    ]);
    expect(world.simulator.cloudwatch.metrics({ metricName: 'TimeToContain' })).toHaveLength(1);
  });

  it('rides out throttling that clears after retries', async () => {
    const world = await createDrillWorld();
    world.simulator.failNext({
      accountId: W,
      service: 'iam',
      action: 'AttachRolePolicy',
      error: 'throttle',
      times: 3,
    });
    world.simulator.failNext({
      accountId: W,
      service: 'lambda',
      action: 'PutFunctionConcurrency',
      error: 'throttle',
      times: 2,
    });

    const run = await kill(world);

    expect(run.result?.status).toBe('CONTAINED');
    const attach = world.simulator.calls.filter(
      (c) => c.service === 'iam' && c.action === 'AttachRolePolicy',
    );
    expect(attach.filter((c) => c.outcome !== 'ok').length).toBe(3);
    expect((await surfaceState(world)).runtimeRole.attached).toEqual([FULL_STOP]);
  });

  it('ends PARTIAL when one surface is denied, with the others still contained and the failure recorded', async () => {
    const world = await createDrillWorld();
    world.simulator.denyAction({ accountId: W, service: 'events', action: 'DisableRule' });

    const run = await kill(world);

    expect(run.result?.status).toBe('PARTIAL');
    const surfaces = Object.fromEntries(
      run.result?.agents[0]?.surfaces.map((s) => [s.surface, s.verify]) ?? [],
    );
    expect(surfaces).toEqual(
      expect.objectContaining({
        'eventbridge-rules': 'FAILED',
        iam: 'VERIFIED',
        lambda: 'VERIFIED',
        network: 'VERIFIED',
      }),
    );
    const state = await surfaceState(world);
    expect(state.rules).toEqual(['ENABLED', 'ENABLED']);
    expect(state.concurrency).toEqual([0, 0, 0]);
    const failure = run.records.find(
      (r) => r.record.type === 'SurfaceFailed' && r.record.surface === 'eventbridge-rules',
    );
    expect(failure?.record.detail).toEqual(expect.objectContaining({ error: 'AccessDeniedException' }));
    expect(world.simulator.cloudwatch.metrics({ metricName: 'KillsNotContained' })).toEqual([
      expect.objectContaining({ value: 1 }),
    ]);
    expect(run.audit.ok).toBe(true);
  });

  it('ends PARTIAL when an event source mapping stays in Disabling, after polling it', async () => {
    const world = await createDrillWorld();
    const stuck = world.inventory.mappings[0] as string;
    world.simulator.lambda.stickMapping(stuck);

    const run = await kill(world);

    expect(run.result?.status).toBe('PARTIAL');
    const esm = run.result?.agents[0]?.surfaces.find((s) => s.surface === 'event-source-mappings');
    expect(esm).toEqual(
      expect.objectContaining({ verify: 'FAILED', detail: expect.stringMatching(/still settling/) }),
    );
    expect(world.simulator.lambda.mappingState(stuck)).toBe('Disabling');
    expect(run.types.filter((t) => t === 'VerifyPending').length).toBeGreaterThan(3);
    // Messages stay in the queue: the mapping is never deleted.
    expect(world.simulator.calls.some((c) => c.action === 'DeleteEventSourceMapping')).toBe(false);
  });

  it('keeps the first snapshot when the agent is killed again, and re-cuts what drifted', async () => {
    const world = await createDrillWorld();
    const first = await kill(world);
    expect(first.result?.status).toBe('CONTAINED');
    const snapshotBefore = await store(world).getSnapshot(DRILL_AGENT, 'iam');

    // Someone re-enables a rule between the two kills.
    await world.simulator.as(W, R).events.EnableRule({ Name: 'support-bot-nightly-digest' });
    const second = await kill(world, { reason: 'test: second kill' });

    expect(second.result?.status).toBe('CONTAINED');
    const snapshotAfter = await store(world).getSnapshot(DRILL_AGENT, 'iam');
    expect(snapshotAfter).toEqual(snapshotBefore);
    const runtime = snapshotAfter.find((s) => s.id.endsWith(`/${RUNTIME_ROLE}`));
    const state = runtime?.state as { attachedPolicies: { policyArn: string }[] } | undefined;
    expect(state?.attachedPolicies).toHaveLength(3);
    expect(second.types).toContain('SnapshotPreserved');
    const recut = second.records.filter(
      (r) => r.record.type === 'ResourceChanged' && r.record.surface === 'eventbridge-rules',
    );
    expect(recut).toHaveLength(1);
    expect((await surfaceState(world)).rules).toEqual(['DISABLED', 'DISABLED']);
  });

  it('re-cuts and records drift when the agent fights back between contain and verify', async () => {
    let fought = false;
    const world = await createDrillWorld({
      beforeHandler: async (handler) => {
        if (handler !== 'kill-verify' || fought) return;
        fought = true;
        const api = world.simulator.as(W, R);
        // Wait for the mapping to settle in Disabled, as a script re-enabling it would, then undo the cut.
        await api.lambda.GetEventSourceMapping({ UUID: world.inventory.mappings[1] });
        await api.lambda.UpdateEventSourceMapping({ UUID: world.inventory.mappings[1], Enabled: true });
        await api.iam.AttachRolePolicy({
          RoleName: RUNTIME_ROLE,
          PolicyArn: `arn:aws:iam::${W}:policy/support-bot-crm-write`,
        });
      },
    });

    const run = await kill(world);

    expect(fought).toBe(true);
    expect(run.result?.status).toBe('CONTAINED');
    expect(run.types).toContain('DriftDetected');
    expect(run.types).toContain('Recut');
    const drifted = run.records
      .filter((r) => r.record.type === 'DriftDetected')
      .map((r) => r.record.surface)
      .sort();
    expect(drifted).toEqual(['event-source-mappings', 'iam']);
    const state = await surfaceState(world);
    expect(state.mappings).toEqual(['Disabled', 'Disabled']);
    expect(state.runtimeRole.attached).toEqual([FULL_STOP]);
  });

  it('cuts authority even when the audit bucket refuses every write, keeping the records and raising the alarm', async () => {
    const world = await createDrillWorld({ sleep: async () => {} });
    world.simulator.denyAction({
      accountId: world.config.controlPlane.accountId,
      service: 's3',
      action: 'PutObject',
    });

    const outcome = await world.runner.kill(
      { agentId: DRILL_AGENT, mode: 'full_stop', reason: 'test: audit bucket down' },
      { executionName: 'audit-down', waitScale: 0 },
    );

    expect(outcome.result?.status).toBe('CONTAINED');
    expect((await surfaceState(world)).concurrency).toEqual([0, 0, 0]);
    const pending = await store(world).listPendingAudit('audit-down');
    expect(pending.map((p) => p.type)).toEqual(
      expect.arrayContaining(['KillRequested', 'SnapshotTaken', 'KillCompleted']),
    );
    const failures = world.simulator.cloudwatch.metrics({ metricName: 'AuditWriteFailures' });
    expect(failures.reduce((n, m) => n + (m.value ?? 0), 0)).toBeGreaterThanOrEqual(pending.length);
  });

  it.each([
    ['an unknown agent', { agentId: 'ghost' }, /UNKNOWN_AGENT|unknown agent/],
    ['an empty reason', { reason: '  ' }, /reason: missing or empty/],
    ['an unknown mode', { mode: 'halt' }, /mode: unknown mode/],
  ])('refuses %s fast, with a KillRejected record and no change', async (_name, request, message) => {
    const world = await createDrillWorld();
    const before = await surfaceState(world);
    const calls = world.simulator.calls.length;

    const run = await kill(world, request as Partial<KillRequest>);

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error).toBe('Backstop.KillRejected');
    expect(run.execution.cause).toMatch(message);
    expect(run.types).toContain('KillRejected');
    expect(run.types).not.toContain('ControlFlagSet');
    expect(await surfaceState(world)).toEqual(before);
    const workloadCalls = world.simulator.calls.slice(calls).filter((c) => c.accountId === W);
    expect(workloadCalls).toEqual([]);
    expect(await store(world).getMode(DRILL_AGENT)).toBeUndefined();
  });

  it("refuses fast, with no change, when the agent's account refuses the kill role", async () => {
    const world = await createDrillWorld();
    world.simulator.denyAction({
      accountId: world.config.controlPlane.accountId,
      service: 'sts',
      action: 'AssumeRole',
      resource: world.workload.killRoleArn,
    });
    const before = await surfaceState(world);

    const run = await kill(world);

    expect(run.execution.error).toBe('Backstop.KillRejected');
    expect(run.execution.cause).toMatch(
      /account 222222222222 region us-east-1: the Backstop kill role cannot be assumed/,
    );
    expect(run.records.find((r) => r.record.type === 'KillRejected')?.record.detail).toEqual(
      expect.objectContaining({ code: 'NO_KILL_ROLE' }),
    );
    expect(await surfaceState(world)).toEqual(before);
    expect(await store(world).getMode(DRILL_AGENT)).toBeUndefined();
  });

  it('joins a kill of the agent that is still running, and changes nothing itself', async () => {
    const world = await createDrillWorld();
    const cp = world.simulator.as(world.config.controlPlane.accountId, world.config.controlPlane.region);
    const machine = await cp.states.CreateStateMachine({
      name: 'backstop-kill',
      roleArn: world.controlPlane.killWorkerRoleArn,
      definition: JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 60, End: true } } }),
    });
    const running = await cp.states.StartExecution({
      stateMachineArn: machine.stateMachineArn,
      name: 'first-kill',
    });
    await store(world).acquireLock(DRILL_AGENT, {
      incidentId: 'first-kill',
      mode: 'full_stop',
      at: new Date(),
      ttlSeconds: 900,
      executionId: running.executionArn,
    });
    const before = await surfaceState(world);

    const run = await kill(world);

    expect(run.result?.status).toBe('JOINED');
    expect(run.result?.joined).toEqual([
      { agentId: DRILL_AGENT, incidentId: 'first-kill', mode: 'full_stop' },
    ]);
    expect(await surfaceState(world)).toEqual(before);
  });

  it('takes over the lock of a kill that died without releasing it, and cuts', async () => {
    const world = await createDrillWorld();
    await store(world).acquireLock(DRILL_AGENT, {
      incidentId: 'crashed-kill',
      mode: 'full_stop',
      at: new Date(),
      ttlSeconds: 900,
      executionId: 'arn:aws:states:us-east-1:111111111111:execution:backstop-kill:crashed-kill',
    });

    const run = await kill(world);

    expect(run.result?.status).toBe('CONTAINED');
    const lock = run.records.find((r) => r.record.type === 'LockAcquired');
    expect(lock?.record.detail).toEqual(
      expect.objectContaining({
        outcome: 'TAKEN_OVER',
        previousHolder: expect.objectContaining({ incidentId: 'crashed-kill' }),
      }),
    );
    expect((await surfaceState(world)).concurrency).toEqual([0, 0, 0]);
  });

  it('plans without changing anything (dry run)', async () => {
    const world = await createDrillWorld();
    const before = await surfaceState(world);

    const run = await kill(world, { dryRun: true });

    expect(run.result?.status).toBe('PLANNED');
    expect(await surfaceState(world)).toEqual(before);
    expect(await store(world).getMode(DRILL_AGENT)).toBeUndefined();
    const planned = run.result?.agents[0]?.surfaces
      .filter((s) => s.contain === 'PLANNED')
      .map((s) => s.surface);
    expect(planned).toHaveLength(7);
  });

  it('a real kill that starts while a plan runs cuts: it never joins the dry run', async () => {
    let real: Awaited<ReturnType<typeof kill>> | undefined;
    let started = false;
    const world: DrillWorld = await createDrillWorld({
      beforeHandler: async (handler) => {
        if (handler === 'kill-surface' && !started) {
          started = true; // once: the real kill's own branches pass through here too
          real = await kill(world, { reason: 'test: the real thing, mid-plan' });
        }
      },
    });

    const plan = await kill(world, { dryRun: true });

    expect(plan.result?.status).toBe('PLANNED');
    expect(real?.result?.status).toBe('CONTAINED');
    expect(real?.result?.joined).toEqual([]);
    expect(await store(world).getMode(DRILL_AGENT)).toEqual(expect.objectContaining({ mode: 'full_stop' }));
  });

  it('escalates: a full_stop kill of an agent held at read_only raises its flag, and cuts', async () => {
    const world = await createDrillWorld();
    const first = await kill(world, { mode: 'read_only', reason: 'test: read only first' });
    expect(first.result?.status).toBe('CONTAINED');

    const run = await kill(world, { reason: 'test: now stop it' });

    expect(run.result?.status).toBe('CONTAINED');
    expect(await store(world).getMode(DRILL_AGENT)).toEqual(
      expect.objectContaining({ mode: 'full_stop', incidentId: run.result?.incidentId }),
    );
    // The read_only kill ended and let its lock go; its flag stays until a restore.
    const lock = run.records.find((r) => r.record.type === 'LockAcquired')?.record.detail;
    expect(lock).toMatchObject({ outcome: 'ACQUIRED' });
    const flag = run.records.find((r) => r.record.type === 'ControlFlagSet')?.record.detail;
    expect(flag).toMatchObject({
      before: { mode: 'read_only' },
      after: { mode: 'full_stop' },
      changed: true,
    });
    expect((await surfaceState(world)).concurrency.every((c) => c === 0)).toBe(true);
    expect(run.audit.ok).toBe(true);
  });

  it('never loosens: a read_only kill of an agent held at full_stop is refused', async () => {
    const world = await createDrillWorld();
    await kill(world);

    const run = await kill(world, { mode: 'read_only', reason: 'test: lower it' });

    expect(run.execution.error).toBe('Backstop.KillRejected');
    expect(run.execution.cause).toMatch(/would loosen/);
    expect(await store(world).getMode(DRILL_AGENT)).toEqual(expect.objectContaining({ mode: 'full_stop' }));
  });
});
