/**
 * The canary on the embedded simulator: the drill's deployment (kill role seeded with what a kill
 * needs), the canary's findings when the role is missing, a permission is taken away, or an
 * agent's surfaces cannot be read, and what the scheduled handler publishes.
 */
import { type CanaryDeps, type CanaryFinding, runCanary } from '../../lambda/canary/canary';
import { CANARY_METRICS, handle } from '../../lambda/canary/handler';
import { CONTROL_PLANE, killExecutionRoleName } from '../../lambda/shared/naming';
import type { AgentTarget, Directory } from '../../lambda/shared/types';
import { toDirectory } from '../../lib/config';
import { createDrillWorld, type DrillWorld } from '../../lib/local/drill/run';
import { DRILL_AGENT, DRILL_WORKLOAD } from '../../lib/local/drill/scenario';

const { accountId: W, region: R } = DRILL_WORKLOAD;
const TARGET = { accountId: W, region: R };
const silent = { info: () => {}, warn: () => {}, error: () => {} };

function deps(world: DrillWorld, directory: Directory = toDirectory(world.config)): CanaryDeps {
  return {
    directory,
    clients: world.clients,
    clock: () => new Date('2026-11-22T01:00:00Z'),
    sleep: async () => {},
    log: silent,
  };
}

const summary = (f: CanaryFinding) => [f.kind, f.agentId, f.surface, f.action, f.cause, f.effect];

describe('the canary on a healthy deployment', () => {
  it('rehearses every surface of every agent, finds nothing wrong, and changes nothing', async () => {
    const world = await createDrillWorld();
    const before = world.simulator.calls.length;
    const report = await runCanary(TARGET, deps(world));
    expect(report.findings).toEqual([]);
    expect(report.agents).toEqual([DRILL_AGENT]);
    expect(report.killRoleArn).toBe(`arn:aws:iam::${W}:role/backstop/${killExecutionRoleName(R)}`);
    expect(report.checks).toBeGreaterThan(60);

    const calls = world.simulator.calls.slice(before);
    const workload = calls.filter((c) => c.accountId === W);
    // Only reads and the simulation: a canary never cuts.
    expect(
      [...new Set(workload.map((c) => `${c.service}:${c.action}`))].filter(
        (a) => !/:(Get|List|Describe|SimulatePrincipalPolicy)/.test(a),
      ),
    ).toEqual([]);
    expect(
      workload.every((c) => c.caller.includes(`assumed-role/${killExecutionRoleName(R)}/backstop-canary-`)),
    ).toBe(true);
    expect(world.simulator.lambda.reservedConcurrency(W, R, 'support-bot-planner')).toBe(25);
    // It simulated the cuts on the resources it found, with the context a kill's request carries.
    const simulations = workload.filter((c) => c.action === 'SimulatePrincipalPolicy').map((c) => c.input);
    expect(simulations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ActionNames: ['events:DisableRule'],
          ResourceArns: [`arn:aws:events:${R}:${W}:rule/support-events/support-bot-ticket-created`],
        }),
        expect.objectContaining({
          ActionNames: ['iam:AttachRolePolicy'],
          ContextEntries: expect.arrayContaining([
            expect.objectContaining({
              ContextKeyName: 'iam:PolicyARN',
              ContextKeyValues: [`arn:aws:iam::${W}:policy/backstop/backstop-full-stop-${R}`],
            }),
          ]),
        }),
        expect.objectContaining({
          ActionNames: ['iam:PassRole'],
          ResourceArns: [`arn:aws:iam::${W}:role/agents/support-bot-scheduler`],
        }),
      ]),
    );
  });
});

describe('the canary’s findings', () => {
  it('a missing kill role: every agent of the account and region, a kill would be FAILED', async () => {
    const world = await createDrillWorld();
    const base = toDirectory(world.config);
    const ghost: AgentTarget = {
      ...(base.agents[0] as AgentTarget),
      agentId: 'ghost-bot',
      accountId: '444444444444',
    };
    const directory: Directory = {
      ...base,
      workloads: [...base.workloads, { accountId: '444444444444', region: R }],
      agents: [...base.agents, ghost],
    };
    const report = await runCanary({ accountId: '444444444444', region: R }, deps(world, directory));
    expect(report.findings.map(summary)).toEqual([
      [
        'KILL_ROLE_UNUSABLE',
        'ghost-bot',
        undefined,
        undefined,
        expect.stringMatching(/^AccessDenied/),
        'FAILED',
      ],
    ]);
    expect(report.findings[0]?.message).toMatch(
      /^agent ghost-bot: the kill role backstop-kill-us-east-1 in 444444444444\/us-east-1 cannot be assumed/,
    );
  });

  it('a permission denied to the kill role: names the agent, the surface, the action and the resources', async () => {
    const world = await createDrillWorld();
    await world.simulator.as(W, R).iam.PutRolePolicy({
      RoleName: killExecutionRoleName(R),
      PolicyName: 'someone-added-this',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Action: 'events:DisableRule', Resource: '*' }],
      }),
    });
    const report = await runCanary(TARGET, deps(world));
    expect(report.findings.map(summary)).toEqual([
      [
        'PERMISSION_MISSING',
        DRILL_AGENT,
        'eventbridge-rules',
        'events:DisableRule',
        'explicitDeny',
        'PARTIAL',
      ],
    ]);
    expect(report.findings[0]?.resources).toEqual([
      `arn:aws:events:${R}:${W}:rule/support-bot-nightly-digest`,
      `arn:aws:events:${R}:${W}:rule/support-events/support-bot-ticket-created`,
    ]);
    expect(report.findings[0]?.message).toContain(
      'agent support-bot: the kill role is not allowed events:DisableRule (explicitDeny)',
    );
  });

  it('a permission the kill role lost (its policy replaced by one without it)', async () => {
    const world = await createDrillWorld();
    const api = world.simulator.as(W, R);
    const role = world.simulator.iam.roleByName(W, killExecutionRoleName(R));
    const current = role?.attachedPolicyArns[0] as string;
    const document = JSON.parse(world.simulator.iam.policyDocument(current) as string) as {
      Statement: { Action: string | string[] }[];
    };
    for (const st of document.Statement) {
      if (Array.isArray(st.Action))
        st.Action = st.Action.filter((a) => a !== 'lambda:PutFunctionConcurrency');
    }
    const weaker = await api.iam.CreatePolicy({
      PolicyName: 'kill-v2',
      PolicyDocument: JSON.stringify(document),
    });
    await api.iam.DetachRolePolicy({ RoleName: killExecutionRoleName(R), PolicyArn: current });
    await api.iam.AttachRolePolicy({ RoleName: killExecutionRoleName(R), PolicyArn: weaker.Policy?.Arn });
    const report = await runCanary(TARGET, deps(world));
    expect(report.findings.map(summary)).toEqual([
      [
        'PERMISSION_MISSING',
        DRILL_AGENT,
        'lambda',
        'lambda:PutFunctionConcurrency',
        'implicitDeny',
        'PARTIAL',
      ],
    ]);
    expect(report.findings[0]?.resources).toHaveLength(3);
  });

  it('an agent whose surfaces cannot be read: the surface, the resources and the error', async () => {
    const world = await createDrillWorld();
    // GetFunction answers both the Lambda surface (reserved concurrency) and the network surface
    // (VpcConfig) during a kill: refused, both are unreadable.
    world.simulator.denyAction({ accountId: W, service: 'scheduler', action: 'ListScheduleGroups' });
    world.simulator.denyAction({ accountId: W, service: 'lambda', action: 'GetFunction' });
    const report = await runCanary(TARGET, deps(world));
    expect(report.findings.map(summary)).toEqual([
      [
        'SURFACE_UNREADABLE',
        DRILL_AGENT,
        'lambda',
        undefined,
        expect.stringMatching(/^AccessDenied/),
        'PARTIAL',
      ],
      [
        'SURFACE_UNREADABLE',
        DRILL_AGENT,
        'schedules',
        undefined,
        expect.stringMatching(/^AccessDenied/),
        'PARTIAL',
      ],
      [
        'SURFACE_UNREADABLE',
        DRILL_AGENT,
        'network',
        undefined,
        expect.stringMatching(/^AccessDenied/),
        'PARTIAL',
      ],
    ]);
    expect(report.findings[0]?.resources).toHaveLength(3);
    expect(report.findings[1]?.message).toMatch(
      /^agent support-bot: the kill role cannot read its schedules/,
    );
  });

  it('a kill role that may not simulate its own policies: nothing is proven, and it says so', async () => {
    const world = await createDrillWorld();
    world.simulator.denyAction({ accountId: W, service: 'iam', action: 'SimulatePrincipalPolicy' });
    const report = await runCanary(TARGET, deps(world));
    expect(report.findings.map(summary)).toEqual([
      [
        'PERMISSIONS_UNCHECKED',
        undefined,
        undefined,
        'iam:SimulatePrincipalPolicy',
        expect.stringMatching(/^AccessDenied/),
        'UNPROVEN',
      ],
    ]);
  });
});

describe('the scheduled canary', () => {
  it('publishes its findings count and notifies the topic, naming the agent and the missing permission', async () => {
    const world = await createDrillWorld();
    await world.simulator.as(W, R).iam.PutRolePolicy({
      RoleName: killExecutionRoleName(R),
      PolicyName: 'deny-stop',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Action: 'states:StopExecution', Resource: '*' }],
      }),
    });
    const handlerDeps = {
      ...deps(world),
      topicArn: world.controlPlane.topicArn,
      metricsNamespace: CONTROL_PLANE.metricsNamespace,
    };
    const report = await handle(TARGET, handlerDeps);
    expect(report.findings).toHaveLength(1);
    const metrics = world.simulator.cloudwatch.metrics({ namespace: CONTROL_PLANE.metricsNamespace });
    expect(metrics.map((m) => [m.metricName, m.dimensions, m.value])).toEqual([
      [CANARY_METRICS.findings, {}, 1],
      [CANARY_METRICS.findings, { AccountId: W, Region: R }, 1],
      [CANARY_METRICS.agentsChecked, {}, 1],
    ]);
    const [message] = world.simulator.sns.published(world.controlPlane.topicArn);
    expect(message?.subject).toBe(`Backstop canary: 1 problem(s) in ${W}/${R}`);
    expect(message?.message).toContain(
      'agent support-bot: the kill role is not allowed states:StopExecution',
    );

    await expect(handle({ accountId: '999999999999', region: R }, handlerDeps)).rejects.toThrow(
      'is not a workload account and region of the directory',
    );
  });

  it('publishes a zero when all is well, and notifies nobody', async () => {
    const world = await createDrillWorld();
    await handle(TARGET, {
      ...deps(world),
      topicArn: world.controlPlane.topicArn,
      metricsNamespace: CONTROL_PLANE.metricsNamespace,
    });
    expect(
      world.simulator.cloudwatch.metrics({ metricName: CANARY_METRICS.findings }).map((m) => m.value),
    ).toEqual([0, 0]);
    expect(world.simulator.sns.published()).toEqual([]);
  });
});
