/**
 * The restore path end to end (issue 9): the synthesized `backstop-restore` state machine run by
 * the local engine with the real handlers, on the embedded simulator, after a real kill of the
 * drill's sample agent. Each scenario asserts where the agent ends (its whole state, read back as a
 * kill snapshots it), what the restore returned, and what the audit log holds, refusals included.
 */
import { PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { snapshotSha256 } from '../../lambda/shared/hash';
import { CONTROL_PLANE, denyPolicyArn, REVOKE_SESSIONS_POLICY } from '../../lambda/shared/naming';
import { DASHBOARD_METRICS } from '../../lib/constructs/operator-dashboard';
import { RestoreRefusedError } from '../../lambda/restore-shared/request';
import type { RestoreInput } from '../../lambda/restore-shared/types';
import type { AuthorizedCall } from '../../lib/local/simulator/simulator';
import { revokedBefore, type RoleSnapshot } from '../../lambda/surfaces/iam-roles';
import type { ResourceSnapshot } from '../../lambda/surfaces/types';
import {
  AGENT,
  type AgentState,
  agentState,
  ALICE,
  as,
  auditOf,
  BOB,
  CAROL,
  type KilledWorld,
  killedWorld,
  MALLORY,
  R,
  stateStore,
  W,
  waitFor,
  withoutSessionDeny,
} from './restore-support';

function sessionDenyCutoffs(state: AgentState): (string | undefined)[] {
  return state.iam.map((r) => {
    const deny = (r.state as RoleSnapshot).inlinePolicies.find(
      (p) => p.policyName === REVOKE_SESSIONS_POLICY,
    );
    return deny ? revokedBefore(deny.document)?.toISOString() : undefined;
  });
}

const statusOf = (snaps: ResourceSnapshot[]) => snaps.map((s) => (s.state as { status: string }).status);

const input = (k: KilledWorld, extra: Partial<RestoreInput> = {}): RestoreInput => ({
  incidentId: k.incidentId,
  agentId: AGENT,
  toMode: 'normal',
  reason: 'test: the incident is over',
  ...extra,
});

/** Runs a restore asked for by `requester`; `script` plays the people once the request is recorded. */
async function restore(
  k: KilledWorld,
  requester: string,
  script: (restoreId: string) => Promise<void>,
  extra: Partial<RestoreInput> = {},
) {
  let playing: Promise<void> = Promise.resolve();
  const outcome = await k.runner.restore(await as(k.world, requester), input(k, extra), {
    waitScale: 0,
    onRequested: ({ record }) => {
      playing = script(record.restoreId);
    },
  });
  await playing;
  return outcome;
}

async function decide(
  k: KilledWorld,
  who: string,
  restoreId: string,
  action: 'approve' | 'reject' = 'approve',
  reason?: string,
) {
  return (await k.runner.decide(await as(k.world, who), { action, restoreId, ...(reason && { reason }) }))
    .result;
}

/** Approves as each of `who`, once the restore waits. */
const approvedBy =
  (k: KilledWorld, ...who: string[]) =>
  async (restoreId: string) => {
    await waitFor(k.runner, restoreId, 'AWAITING_APPROVAL');
    for (const w of who) await decide(k, w, restoreId);
  };

function refusalCodes(records: { detail: Record<string, unknown> }[]): unknown[] {
  return records.map((r) => r.detail.code);
}

describe('restore path on the embedded simulator', () => {
  it('kill then restore returns the sample agent to its exact prior state, but for sessions issued before the kill', async () => {
    const k = await killedWorld();
    expect((await agentState(k.world)).lambda).not.toEqual(k.before.lambda);
    const requester = await as(k.world, ALICE);
    const approvals: unknown[] = [];

    const outcome = await k.runner.restore(
      requester,
      { incidentId: k.incidentId, agentId: AGENT, toMode: 'normal', reason: 'test: the incident is over' },
      {
        waitScale: 0,
        onRequested: ({ record }) => {
          void (async () => {
            await waitFor(k.runner, record.restoreId, 'AWAITING_APPROVAL');
            for (const approver of [BOB, CAROL]) {
              approvals.push(
                (
                  await k.runner.decide(await as(k.world, approver), {
                    action: 'approve',
                    restoreId: record.restoreId,
                  })
                ).result,
              );
            }
          })();
        },
      },
    );

    expect(outcome.execution.status).toBe('SUCCEEDED');
    expect(outcome.result).toEqual(
      expect.objectContaining({ status: 'COMPLETED', requester: ALICE, approvers: [BOB, CAROL] }),
    );
    expect(approvals).toEqual([
      expect.objectContaining({ accepted: true, status: 'AWAITING_APPROVAL', approvals: 1, quorum: 2 }),
      expect.objectContaining({ accepted: true, status: 'APPROVED', approvals: 2, quorum: 2 }),
    ]);
    const after = await agentState(k.world);
    // Everything the kill changed is back, exactly, but the executions it stopped (listed, never
    // restarted) and the dated session deny on every role.
    expect({ ...withoutSessionDeny(after), executions: [] }).toEqual({ ...k.before, executions: [] });
    expect(statusOf(k.before.executions)).toEqual(['RUNNING']);
    expect(k.before.executions.map((e) => k.world.simulator.states.executionStatus(e.id))).toEqual([
      'ABORTED',
    ]);
    expect(outcome.result?.outcome?.stoppedExecutions.map((e) => e.executionArn)).toEqual(
      k.before.executions.map((e) => e.id),
    );
    const killStart = new Date(k.kill.execution.startTime).toISOString();
    expect(sessionDenyCutoffs(after)).toEqual(after.iam.map(() => killStart));
    expect(await stateStore(k.world).getMode(AGENT)).toEqual(
      expect.objectContaining({ mode: 'normal', highRiskToolsEnabled: true }),
    );
    // Restored snapshots go to the history: the next kill takes a fresh one.
    for (const surface of ['iam', 'lambda', 'network'] as const) {
      expect(await stateStore(k.world).getSnapshot(AGENT, surface)).toEqual([]);
    }
    const audit = await auditOf(k.world, k.incidentId);
    expect(audit.audit.ok).toBe(true);
    expect(audit.audit.incidents[0]?.manifests.map((m) => m.kind)).toEqual([
      'kill',
      'attribution',
      'restore',
    ]);
    expect(audit.ofType('RestoreRequested')).toEqual([
      expect.objectContaining({ actor: expect.objectContaining({ type: 'iam', arn: ALICE }) }),
    ]);
    expect(
      audit
        .ofType('ApprovalRecorded')
        .map((r) => r.detail.approver)
        .sort(),
    ).toEqual([BOB, CAROL].sort());
    expect(audit.ofType('RestoreCompleted')).toHaveLength(1);
    expect(audit.ofType('ResourceRestored').length).toBeGreaterThan(10);
    // What the operator dashboard charts under "Restores pending and completed".
    const metrics = k.world.simulator.cloudwatch.metrics({ namespace: CONTROL_PLANE.metricsNamespace });
    const values = (name: string) => metrics.filter((m) => m.metricName === name).map((m) => m.value);
    expect(values(DASHBOARD_METRICS.restoresCompleted)).toEqual([1]);
    expect(values(DASHBOARD_METRICS.restoresPending)).toEqual([1, 0]);
    expect(values(DASHBOARD_METRICS.timeToRestore)).toHaveLength(1);
  });

  it('one approval is not enough, the same approver twice counts once, and one rejection ends it unchanged', async () => {
    const k = await killedWorld();
    const killed = await agentState(k.world);
    const seen: unknown[] = [];
    const outcome = await restore(k, ALICE, async (restoreId) => {
      await waitFor(k.runner, restoreId, 'AWAITING_APPROVAL');
      seen.push(await decide(k, BOB, restoreId));
      seen.push(await decide(k, BOB, restoreId));
      seen.push(await decide(k, CAROL, restoreId, 'reject', 'the agent still misbehaves in staging'));
      seen.push(await decide(k, BOB, restoreId));
    });

    expect(seen).toEqual([
      expect.objectContaining({ accepted: true, approvals: 1, status: 'AWAITING_APPROVAL' }),
      expect.objectContaining({ accepted: false, code: 'ALREADY_APPROVED', approvals: 1 }),
      expect.objectContaining({ accepted: true, status: 'REJECTED' }),
      expect.objectContaining({ accepted: false, code: 'ALREADY_DECIDED' }),
    ]);
    expect(outcome.result).toEqual(expect.objectContaining({ status: 'REJECTED', outcome: null }));
    expect(outcome.result?.message).toMatch(/rejected by .*oncall-carol.*still misbehaves/);
    expect(await agentState(k.world)).toEqual(killed);
    expect((await stateStore(k.world).getMode(AGENT))?.mode).toBe('full_stop');
    const audit = await auditOf(k.world, k.incidentId);
    expect(audit.audit.ok).toBe(true);
    expect(refusalCodes(audit.ofType('ApprovalRefused')).sort()).toEqual([
      'ALREADY_APPROVED',
      'ALREADY_DECIDED',
    ]);
    expect(audit.ofType('RestoreRejected').map((r) => r.detail.rejectedBy ?? r.detail.status)).toEqual(
      expect.arrayContaining([CAROL]),
    );
    expect(audit.ofType('ResourceRestored')).toEqual([]);
    expect(() =>
      k.runner.decide({ arn: CAROL, source: 'sts' }, { action: 'reject', restoreId: outcome.restoreId }),
    ).toThrow(/reason: a rejection says why/);
  });

  it("the requester, the kill's initiator and anyone not an approver cannot approve; without quorum it times out unchanged", async () => {
    let offset = 0;
    const k = await killedWorld({ runner: { clock: () => new Date(Date.now() + offset) } });
    const killed = await agentState(k.world);
    const seen: unknown[] = [];
    const outcome = await restore(k, BOB, async (restoreId) => {
      await waitFor(k.runner, restoreId, 'AWAITING_APPROVAL');
      for (const who of [BOB, ALICE, MALLORY, CAROL]) seen.push(await decide(k, who, restoreId));
      offset = 25 * 3600 * 1000; // past restore.approvalTimeoutHours (24)
    });

    expect(seen).toEqual([
      expect.objectContaining({ accepted: false, code: 'REQUESTER' }),
      expect.objectContaining({ accepted: false, code: 'KILL_INITIATOR' }),
      expect.objectContaining({ accepted: false, code: 'NOT_AN_APPROVER' }),
      expect.objectContaining({ accepted: true, approvals: 1, status: 'AWAITING_APPROVAL' }),
    ]);
    expect(outcome.result).toEqual(expect.objectContaining({ status: 'TIMED_OUT' }));
    expect(outcome.result?.message).toMatch(/no quorum of approvals before .*nothing was changed/);
    expect(await agentState(k.world)).toEqual(killed);
    const audit = await auditOf(k.world, k.incidentId);
    expect(audit.audit.ok).toBe(true);
    const refused = audit.ofType('ApprovalRefused');
    expect(refusalCodes(refused).sort()).toEqual(['KILL_INITIATOR', 'NOT_AN_APPROVER', 'REQUESTER']);
    expect(refused.map((r) => r.actor.arn).sort()).toEqual([ALICE, BOB, MALLORY].sort());
    expect(audit.ofType('RestoreTimedOut')).toHaveLength(1);
  });

  it('refuses every approval while who started the kill is not known (no ActorAttributed yet): fail closed', async () => {
    const k = await killedWorld({ killer: null });
    const seen: unknown[] = [];
    const outcome = await restore(k, ALICE, async (restoreId) => {
      await waitFor(k.runner, restoreId, 'AWAITING_APPROVAL');
      for (const who of [BOB, CAROL]) seen.push(await decide(k, who, restoreId));
      seen.push(await decide(k, CAROL, restoreId, 'reject', 'cannot tell who started the kill'));
    });
    expect(seen).toEqual([
      expect.objectContaining({ accepted: false, code: 'INITIATOR_UNKNOWN' }),
      expect.objectContaining({ accepted: false, code: 'INITIATOR_UNKNOWN' }),
      expect.objectContaining({ accepted: true, status: 'REJECTED' }),
    ]);
    expect((seen[0] as { message: string }).message).toMatch(/is not known yet.*has not been attributed/);
    expect(outcome.result?.status).toBe('REJECTED');
  });

  it('a tampered snapshot stops the restore before anything changes', async () => {
    const k = await killedWorld();
    const killed = await agentState(k.world);
    // Someone with write access to the state table raises the planner's concurrency in its
    // snapshot, and fixes the stored hash to match.
    const { dynamo } = k.world.clients.controlPlane();
    const table = k.world.controlPlane.tableName;
    const planner = `arn:aws:lambda:${R}:${W}:function:support-bot-planner`;
    const key = { pk: `SNAPSHOT#${AGENT}`, sk: `lambda#${planner}` };
    const item = (await dynamo.send(new GetCommand({ TableName: table, Key: key }))).Item as Record<
      string,
      string
    >;
    const forged = { functionArn: planner, reservedConcurrentExecutions: 1000 };
    await dynamo.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...item,
          state: JSON.stringify(forged),
          sha256: snapshotSha256({ id: planner, state: forged }),
        },
      }),
    );

    const outcome = await restore(k, ALICE, approvedBy(k, BOB, CAROL));

    expect(outcome.result).toEqual(expect.objectContaining({ status: 'REFUSED' }));
    expect(outcome.result?.message).toMatch(/do not match what the kill recorded in the audit log/);
    expect(await agentState(k.world)).toEqual(killed);
    expect((await stateStore(k.world).getMode(AGENT))?.mode).toBe('full_stop');
    const audit = await auditOf(k.world, k.incidentId);
    const refused = audit.ofType('RestoreRefused');
    expect(refusalCodes(refused)).toEqual(['SNAPSHOT_MISMATCH']);
    expect(refused[0]?.detail.mismatches).toEqual([
      expect.objectContaining({
        surface: 'lambda',
        resource: planner,
        reason: expect.stringMatching(/not what the kill recorded/),
      }),
    ]);
    expect(audit.ofType('ResourceRestored')).toEqual([]);
  });

  it('graded restore full_stop -> read_only gives back exactly what read_only allows; a second restore finishes it', async () => {
    const k = await killedWorld();
    const graded = await restore(k, ALICE, approvedBy(k, BOB, CAROL), { toMode: 'read_only' });
    expect(graded.result?.status).toBe('COMPLETED');
    expect((await stateStore(k.world).getMode(AGENT))?.mode).toBe('read_only');

    const sorted = (iam: ResourceSnapshot[]) =>
      iam.map((r) => {
        const role = r.state as RoleSnapshot;
        const attachedPolicies = [...role.attachedPolicies].sort((a, b) =>
          a.policyArn.localeCompare(b.policyArn),
        );
        return { id: r.id, state: { ...role, attachedPolicies } };
      });
    const after = withoutSessionDeny(await agentState(k.world));
    // Every surface a read_only kill leaves alone is back as it was before the kill...
    for (const surface of [
      'lambda',
      'event-source-mappings',
      'eventbridge-rules',
      'schedules',
      'network',
    ] as const) {
      expect([surface, after[surface]]).toEqual([surface, k.before[surface]]);
    }
    // ...and each role holds its own policies and boundary again, plus the read_only deny.
    const readOnly = denyPolicyArn('aws', W, R, AGENT, 'read_only');
    expect(sorted(after.iam)).toEqual(
      sorted(
        k.before.iam.map((r) => {
          const role = r.state as RoleSnapshot;
          return {
            id: r.id,
            state: {
              ...role,
              attachedPolicies: [
                ...role.attachedPolicies,
                { policyArn: readOnly, policyName: readOnly.split('/').pop() },
              ],
            },
          };
        }),
      ),
    );
    // IAM keeps its snapshot (the next restore needs it); the rest went to the history.
    expect(await stateStore(k.world).getSnapshot(AGENT, 'iam')).toHaveLength(3);
    expect(await stateStore(k.world).getSnapshot(AGENT, 'lambda')).toEqual([]);

    const rest = await restore(k, ALICE, approvedBy(k, BOB, CAROL));
    expect(rest.result?.status).toBe('COMPLETED');
    expect({ ...withoutSessionDeny(await agentState(k.world)), executions: [] }).toEqual({
      ...k.before,
      executions: [],
    });
    expect((await stateStore(k.world).getMode(AGENT))?.mode).toBe('normal');
    expect((await auditOf(k.world, k.incidentId)).audit.ok).toBe(true);
  });

  it('a kill during a pending restore cancels it and wins', async () => {
    const k = await killedWorld();
    let secondKill: Awaited<ReturnType<typeof k.world.runner.kill>> | undefined;
    const late: unknown[] = [];
    const outcome = await restore(k, ALICE, async (restoreId) => {
      await waitFor(k.runner, restoreId, 'AWAITING_APPROVAL');
      await decide(k, BOB, restoreId);
      secondKill = await k.world.runner.kill(
        { agentId: AGENT, mode: 'full_stop', reason: 'test: the agent acts up again' },
        { executionName: 'kill-during-pending-restore', waitScale: 0 },
      );
      late.push(await decide(k, CAROL, restoreId));
    });

    expect(secondKill?.result?.status).toBe('CONTAINED');
    expect(outcome.result).toEqual(expect.objectContaining({ status: 'CANCELLED' }));
    expect(outcome.result?.message).toMatch(
      /cancelled by the kill of incident kill-during-pending-restore: the kill wins/,
    );
    expect(late).toEqual([
      expect.objectContaining({ accepted: false, code: 'ALREADY_DECIDED', status: 'CANCELLED' }),
    ]);
    expect((await stateStore(k.world).getMode(AGENT))?.mode).toBe('full_stop');
    const kill2 = await auditOf(k.world, 'kill-during-pending-restore');
    expect(kill2.ofType('RestoreCancelled').map((r) => r.detail.restoreId)).toEqual([outcome.restoreId]);
    expect((await auditOf(k.world, k.incidentId)).ofType('RestoreCancelled')).toHaveLength(1);
  });

  it('a kill that lands while the restore is applying stops it before the next surface, and wins', async () => {
    const k = await killedWorld();
    const killed = await agentState(k.world);
    let lockReads = 0;
    let secondKill: Awaited<ReturnType<typeof k.world.runner.kill>> | undefined;
    const restoreWorker = k.world.controlPlane.restoreWorkerRoleArn;
    // Between two surfaces the restore reads the agent's kill lock: the second time, a kill comes.
    k.world.simulator.authorize(async (call: AuthorizedCall) => {
      const key = (call.input as { Key?: { pk?: { S?: string }; sk?: { S?: string } } }).Key;
      if (call.caller.principalArn === restoreWorker && call.action === 'GetItem' && key?.sk?.S === 'LOCK') {
        if (++lockReads === 2) {
          secondKill = await k.world.runner.kill(
            { agentId: AGENT, mode: 'full_stop', reason: 'test: the agent acts up mid-restore' },
            { executionName: 'kill-during-apply', waitScale: 0 },
          );
        }
      }
      return true;
    });

    const outcome = await restore(k, ALICE, approvedBy(k, BOB, CAROL));

    expect(secondKill?.result?.status).toBe('CONTAINED');
    expect(outcome.result?.status).toBe('CANCELLED');
    const surfaces = outcome.result?.outcome?.surfaces ?? [];
    expect(surfaces.filter((s) => !s.skipped).map((s) => s.surface)).toEqual(['network']);
    expect(surfaces.find((s) => s.surface === 'iam')?.skipped).toMatch(
      /cancelled by the kill of incident kill-during-apply/,
    );
    // The agent is as the kill leaves it: the one surface put back is cut again.
    expect(await agentState(k.world)).toEqual(killed);
    expect((await stateStore(k.world).getMode(AGENT))?.mode).toBe('full_stop');
  });

  it('refuses, and records, a restore of an agent with no recorded kill, a second live restore, and every bad request', async () => {
    const k = await killedWorld();
    const refuse = async (who: string, body: unknown) => {
      try {
        await k.runner.request(await as(k.world, who), body);
      } catch (e) {
        if (e instanceof RestoreRefusedError) return [e.code, e.message];
      }
      return ['not refused'];
    };
    expect(await refuse(ALICE, input(k, { incidentId: 'no-such-kill' }))).toEqual([
      'NO_RECORDED_KILL',
      'there is no recorded kill of agent support-bot in incident no-such-kill: nothing to restore',
    ]);
    expect(await refuse(ALICE, input(k, { agentId: 'other-bot' }))).toEqual([
      'UNKNOWN_AGENT',
      expect.stringMatching(/agent other-bot is not in backstop.config.json/),
    ]);
    expect(await refuse(MALLORY, input(k))).toEqual([
      'NOT_A_REQUESTER',
      expect.stringMatching(/mallory may not ask for a restore/),
    ]);
    expect(await refuse(ALICE, input(k, { toMode: 'full_stop' }))).toEqual([
      'WOULD_RAISE',
      expect.stringMatching(/toMode full_stop is not below the agent's mode full_stop/),
    ]);
    expect(await refuse(ALICE, { ...input(k), requester: BOB, toMode: 'paused' })).toEqual([
      'INVALID_REQUEST',
      expect.stringMatching(/unknown field\(s\) requester.*; toMode: one of normal/),
    ]);
    const first = await k.runner.request(await as(k.world, ALICE), input(k));
    expect(await refuse(BOB, input(k))).toEqual([
      'RESTORE_RUNNING',
      `restore ${first.record.restoreId} of agent support-bot is still live: two restores of one agent never run at once`,
    ]);
    const audit = await auditOf(k.world, k.incidentId);
    expect(refusalCodes(audit.ofType('RestoreRefused')).sort()).toEqual(
      ['NOT_A_REQUESTER', 'RESTORE_RUNNING', 'UNKNOWN_AGENT', 'WOULD_RAISE', 'INVALID_REQUEST'].sort(),
    );
  });

  it('refuses a restore execution that was not requested through the endpoint, and changes nothing', async () => {
    const k = await killedWorld();
    const killed = await agentState(k.world);
    const execution = await k.runner.engine.run(input(k), {
      executionName: 'restore-started-by-hand',
      waitScale: 0,
    });
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.output).toEqual(
      expect.objectContaining({
        status: 'REFUSED',
        message: expect.stringMatching(/no restore restore-started-by-hand was requested/),
      }),
    );
    expect(await agentState(k.world)).toEqual(killed);
    const audit = await auditOf(k.world, k.incidentId);
    expect(refusalCodes(audit.ofType('RestoreRefused'))).toEqual(['NOT_REQUESTED']);
    expect(audit.audit.ok).toBe(true);
  });
});
