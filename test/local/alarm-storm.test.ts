/**
 * Alarm storms on the local engine: the synthesized rule's pattern and input transformation turn
 * each CloudWatch alarm event into the trigger's input, the real trigger handler starts kills
 * through the SDK, and the kill state machine "deployed" in the simulated control plane runs on
 * the local engine with the real handlers (lib/local/kill-machine-bridge.ts).
 */
import { type AlarmTriggerEvent, run, type TriggerDeps } from '../../lambda/alarm-trigger/trigger';
import { createClientFactory } from '../../lambda/shared/clients';
import { CONTROL_PLANE, IAM_PATH } from '../../lambda/shared/naming';
import { incidentIdFor } from '../../lambda/shared/request';
import { StateStore } from '../../lambda/shared/state-store';
import { parseConfig } from '../../lib/config';
import { ALARM_TRIGGER_ROLE_NAME } from '../../lib/constructs/alarm-trigger';
import { createDrillWorld, type DrillWorld, readIncidentRecords } from '../../lib/local/drill/run';
import {
  DRILL_AGENT,
  DRILL_CONFIG,
  DRILL_CONTROL_PLANE,
  DRILL_WORKLOAD,
} from '../../lib/local/drill/scenario';
import { bridgeKillStateMachine } from '../../lib/local/kill-machine-bridge';
import { Simulator, seedBackstopControlPlane } from '../../lib/local/simulator';
import { synthStacks } from '../helpers/cdk';

const { accountId: W, region: R } = DRILL_WORKLOAD;
const CP = DRILL_CONTROL_PLANE.accountId;
const ALARM = 'support-bot-spend-spike';
const silent = { info: () => {}, warn: () => {}, error: () => {} };

// ---- the rule as CloudFormation deploys it -----------------------------------------------------

const config = parseConfig(
  {
    ...DRILL_CONFIG,
    agents: DRILL_CONFIG.agents?.map((a) => ({
      ...a,
      alarms: [{ alarmName: ALARM, mode: 'full_stop' as const }],
    })),
  },
  'storm',
);
const template = synthStacks(config).controlPlaneTemplate().toJSON() as {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
};
const rule = Object.values(template.Resources).find(
  (r) =>
    r.Type === 'AWS::Events::Rule' &&
    JSON.stringify(r.Properties.EventPattern).includes(`"alarmName":["${ALARM}"]`),
)?.Properties as {
  EventPattern: Record<string, unknown>;
  Targets: { InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string } }[];
};

/** EventBridge's matching of the patterns the rule uses: every listed field must hold a listed value. */
function matches(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.includes(event);
  if (typeof pattern !== 'object' || pattern === null) return false;
  return Object.entries(pattern).every(([key, sub]) =>
    matches(sub, (event as Record<string, unknown> | undefined)?.[key]),
  );
}

/**
 * EventBridge's input transformer for the `$.a.b` paths the rule uses: a placeholder inside a JSON
 * string is replaced by the value's text, one outside by the value as JSON.
 */
function transform(event: Record<string, unknown>): AlarmTriggerEvent {
  const t = rule.Targets[0]?.InputTransformer;
  if (!t) throw new Error('the trigger rule has no input transformer');
  const value = (name: string) =>
    (t.InputPathsMap[name] ?? '')
      .replace(/^\$\./, '')
      .split('.')
      .reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], event);
  const text = t.InputTemplate.split('"')
    .map((part, i) =>
      part.replace(/<([\w-]+)>/g, (_, name: string) =>
        i % 2 === 1 ? String(value(name)) : JSON.stringify(value(name)),
      ),
    )
    .join('"');
  return JSON.parse(text) as AlarmTriggerEvent;
}

/** A CloudWatch alarm state change as the workload account forwards it to the Backstop bus. */
function alarmEvent(second: number, state: 'ALARM' | 'OK' = 'ALARM'): Record<string, unknown> {
  const time = new Date(Date.UTC(2026, 10, 22, 1, 0, second)).toISOString().replace('.000', '');
  return {
    version: '0',
    id: `event-${second}-${state}`,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: W,
    time,
    region: R,
    resources: [`arn:aws:cloudwatch:${R}:${W}:alarm:${ALARM}`],
    detail: {
      alarmName: ALARM,
      state: { value: state, reason: 'Threshold Crossed', timestamp: time },
      previousState: { value: state === 'ALARM' ? 'OK' : 'ALARM' },
    },
  };
}

// ---- the trigger's identity and clients ---------------------------------------------------------

async function triggerDeps(
  sim: Simulator,
  tableName: string,
  stateMachineArn: string,
  plugin = sim.plugin(),
): Promise<TriggerDeps> {
  const role = await sim.as(CP, R).iam.CreateRole({
    RoleName: ALARM_TRIGGER_ROLE_NAME,
    Path: IAM_PATH,
    AssumeRolePolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    }),
  });
  const cp = createClientFactory({
    region: R,
    plugins: [plugin],
    credentials: sim.credentialsFor(role.Role?.Arn as string),
  }).controlPlane();
  return { sfn: cp.sfn, dynamo: cp.dynamo, tableName, stateMachineArn, log: silent };
}

function flagOf(world: { clients: DrillWorld['clients']; controlPlane: { tableName: string } }) {
  return new StateStore({
    doc: world.clients.controlPlane().dynamo,
    tableName: world.controlPlane.tableName,
  }).getMode(DRILL_AGENT);
}

describe('an alarm storm on the local engine', () => {
  it('fifty ALARM events for one agent within a minute start one kill and write one snapshot; OK restores nothing', async () => {
    expect(rule).toBeDefined();
    const world = await createDrillWorld();
    const bridge = await bridgeKillStateMachine(world.simulator, world.runner);
    const deps = await triggerDeps(
      world.simulator,
      world.controlPlane.tableName,
      bridge.stateMachineArn,
      bridge.plugin,
    );
    const events = Array.from({ length: 50 }, (_, i) => alarmEvent(i));
    expect(events.every((e) => matches(rule.EventPattern, e))).toBe(true);

    // Thirty arrive while the kill is starting and running, twenty after it has ended.
    const during = await Promise.all(events.slice(0, 30).map((e) => run(transform(e), deps)));
    await bridge.settled();
    const after = await Promise.all(events.slice(30).map((e) => run(transform(e), deps)));
    await bridge.settled();

    const outcomes = [...during, ...after].map((o) => o.outcome);
    expect(outcomes.filter((o) => o === 'STARTED')).toHaveLength(1);
    expect(outcomes.every((o) => ['STARTED', 'JOINED', 'ALREADY_HELD'].includes(o))).toBe(true);
    expect(after.map((o) => o.outcome)).toEqual(Array(20).fill('ALREADY_HELD'));

    // One execution of the kill state machine, run to CONTAINED.
    expect([...bridge.runs.keys()]).toEqual([`alarm-${DRILL_AGENT}-full_stop-v0`]);
    const outcome = await bridge.runs.get(`alarm-${DRILL_AGENT}-full_stop-v0`);
    expect(outcome?.result?.status).toBe('CONTAINED');
    const listed = await world.simulator
      .as(CP, R)
      .states.ListExecutions({ stateMachineArn: bridge.stateMachineArn });
    expect(listed.executions).toEqual([
      expect.objectContaining({ name: `alarm-${DRILL_AGENT}-full_stop-v0`, status: 'SUCCEEDED' }),
    ]);

    // One incident in the audit log, one snapshot per surface, all taken by it.
    const incidentId = incidentIdFor(`alarm-${DRILL_AGENT}-full_stop-v0`);
    const incidents = new Set(
      world.simulator.s3.keys(world.controlPlane.auditBucketName, 'incidents/').map((k) => k.split('/')[1]),
    );
    expect([...incidents]).toEqual([incidentId]);
    const records = await readIncidentRecords(
      world.clients.controlPlane().s3,
      world.controlPlane.auditBucketName,
      incidentId,
    );
    const snapshots = records.filter((r) => r.record.type === 'SnapshotTaken');
    expect(snapshots.map((r) => r.record.surface).sort()).toEqual(
      [
        'event-source-mappings',
        'eventbridge-rules',
        'executions',
        'iam',
        'lambda',
        'network',
        'schedules',
      ].sort(),
    );
    expect(records.filter((r) => r.record.type === 'SnapshotPreserved')).toEqual([]);
    const stored = world.simulator.dynamodb
      .items(CP, R, world.controlPlane.tableName)
      .filter((i) => i.pk?.S === `SNAPSHOT#${DRILL_AGENT}`);
    expect(stored.length).toBeGreaterThan(7);
    expect(new Set(stored.map((i) => i.incidentId?.S))).toEqual(new Set([incidentId]));
    expect(records.find((r) => r.record.type === 'KillRequested')?.record.reason).toMatch(
      new RegExp(`^CloudWatch alarm ${ALARM} in ${W}/${R} went to ALARM at 2026-11-22T01:00:\\d\\dZ$`),
    );

    // The alarm returns to OK: no rule matches it, and the trigger would start nothing anyway.
    const ok = alarmEvent(59, 'OK');
    expect(matches(rule.EventPattern, ok)).toBe(false);
    await expect(run(transform(ok), deps)).resolves.toMatchObject({ outcome: 'IGNORED' });
    await bridge.settled();
    expect(bridge.runs.size).toBe(1);
    await expect(flagOf(world)).resolves.toMatchObject({ mode: 'full_stop', incidentId });
    expect(world.simulator.lambda.reservedConcurrency(W, R, 'support-bot-planner')).toBe(0);
    expect(world.simulator.events.ruleState(W, R, 'support-bot-nightly-digest')).toBe('DISABLED');
  });
});

describe('the alarm trigger', () => {
  async function bare() {
    const sim = new Simulator();
    const cp = await seedBackstopControlPlane(sim, { accountId: CP, region: R });
    const { stateMachineArn } = await sim.as(CP, R).states.CreateStateMachine({
      name: CONTROL_PLANE.killStateMachineName,
      definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      roleArn: `arn:aws:iam::${CP}:role/backstop-kill-machine`,
    });
    const deps = await triggerDeps(sim, cp.tableName, stateMachineArn as string);
    const store = new StateStore({ doc: deps.dynamo, tableName: cp.tableName });
    const event = (second: number, mode = 'full_stop') => ({ ...transform(alarmEvent(second)), mode });
    return { sim, deps, store, event };
  }

  it('lets a later alarm start a kill when the earlier one ended without holding the agent', async () => {
    const { sim, deps, event } = await bare();
    const first = await run(event(1), deps);
    expect(first).toMatchObject({ outcome: 'STARTED', executionName: `alarm-${DRILL_AGENT}-full_stop-v0` });
    sim.states.finishExecution((first as { executionArn: string }).executionArn, 'FAILED');
    const [second, third] = await Promise.all([run(event(2), deps), run(event(3), deps)]);
    expect([second, third].map((o) => o.outcome).sort()).toEqual(['JOINED', 'STARTED']);
    expect([second, third].map((o) => (o as { executionName: string }).executionName)).toEqual([
      `alarm-${DRILL_AGENT}-full_stop-v0-2`,
      `alarm-${DRILL_AGENT}-full_stop-v0-2`,
    ]);
  });

  it('starts nothing for an agent already held at the mode, a new kill after a restore, and raises a lower hold', async () => {
    const { deps, store, event } = await bare();
    await store.raiseMode(DRILL_AGENT, {
      mode: 'full_stop',
      incidentId: 'inc-1',
      reason: 'by hand',
      at: new Date(),
    });
    await expect(run(event(1), deps)).resolves.toEqual({
      outcome: 'ALREADY_HELD',
      mode: 'full_stop',
      incidentId: 'inc-1',
    });
    await store.lowerMode(DRILL_AGENT, {
      mode: 'read_only',
      incidentId: 'inc-1',
      reason: 'restore',
      at: new Date(),
    });
    await expect(run(event(2, 'read_only'), deps)).resolves.toMatchObject({ outcome: 'ALREADY_HELD' });
    await expect(run(event(3), deps)).resolves.toMatchObject({
      outcome: 'STARTED',
      executionName: `alarm-${DRILL_AGENT}-full_stop-v2`,
    });
  });

  it('refuses an input that is not the rule’s, naming what is wrong, and starts nothing', async () => {
    const { sim, deps, event } = await bare();
    await expect(run({ ...event(1), agentId: 'Support Bot', mode: 'loosen' }, deps)).rejects.toThrow(
      'agentId "Support Bot" is not an agent id; mode "loosen" is not a kill mode',
    );
    expect(sim.calls.filter((c) => c.action === 'StartExecution')).toEqual([]);
  });
});
