/**
 * The restore endpoint's handler (lambda/approval-endpoint) with function URL events, on the
 * embedded simulator after a real kill: who asks and who approves comes from the URL's IAM
 * authorizer only; an assumed-role session counts as its role; the task token is used by the
 * endpoint and never answered; every refusal is a record.
 */
import { run as awaitApprovals } from '../../../lambda/restore-await/await';
import { type FunctionUrlEvent, run } from '../../../lambda/approval-endpoint/handler';
import { HOLD_RELEASE_REQUEST_PREFIX } from '../../../lambda/approval-endpoint/hold-release';
import {
  HOLD_RELEASE_PREFIX,
  holdReleaseRequestId,
  placeIncidentHolds,
  releaseIncidentHolds,
} from '../../../lambda/shared/legal-hold';
import type { RestoreSettings } from '../../../lambda/restore-shared/settings';
import { CONTROL_PLANE } from '../../../lambda/shared/naming';
import {
  AGENT,
  ALICE,
  auditOf,
  BOB,
  CAROL,
  CP,
  type KilledWorld,
  killedWorld,
  MALLORY,
} from '../../local/restore-support';

const APPROVER_ROLE = `arn:aws:iam::${CP}:role/approvers/oncall-approver`;
const session = (name: string) => `arn:aws:sts::${CP}:assumed-role/oncall-approver/${name}`;

let k: KilledWorld;
let settings: RestoreSettings;
const sealed: string[] = [];

beforeAll(async () => {
  k = await killedWorld();
  settings = {
    ...k.runner.settings,
    // Alice (who started the kill and asks for the restore) is an approver too: she still may not approve.
    approvers: [ALICE, BOB, CAROL, APPROVER_ROLE],
    stateMachineArn: `arn:aws:states:us-east-1:${CP}:stateMachine:${CONTROL_PLANE.restoreStateMachineName}`,
  };
  // Step Functions holds the restore state machine (the simulator does not run it).
  await k.world.simulator.as(CP, 'us-east-1').states.CreateStateMachine({
    name: CONTROL_PLANE.restoreStateMachineName,
    definition: JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Succeed' } } }),
    roleArn: `arn:aws:iam::${CP}:role/sfn`,
  });
});

function call(caller: string | undefined, body: unknown) {
  const event: FunctionUrlEvent = {
    body: JSON.stringify(body),
    requestContext: {
      http: { method: 'POST' },
      ...(caller && { authorizer: { iam: { userArn: caller, accountId: CP } } }),
    },
  };
  return run(event, k.runner.deps(), {
    settings,
    requestSeal: async (incidentId) => {
      sealed.push(incidentId);
    },
    // What the audit sealer does for `release-holds`, as the sealer's role.
    releaseHolds: (incidentId, requestId) =>
      releaseIncidentHolds(k.runner.deps(undefined, 'sealer'), {
        incidentId,
        requestId,
        approvers: settings.approvers,
        quorum: settings.quorum,
      }),
  }).then((r) => ({ status: r.statusCode, body: JSON.parse(r.body) as Record<string, unknown> }));
}

const request = () => ({
  action: 'request',
  incidentId: k.incidentId,
  agentId: AGENT,
  toMode: 'normal',
  reason: 'test: through the endpoint',
});

describe('the restore endpoint', () => {
  it('refuses any call that is not signed (no IAM authorizer in the event): a body cannot say who calls', async () => {
    const forged = await call(undefined, { ...request(), requester: BOB });
    expect(forged).toEqual({
      status: 401,
      body: expect.objectContaining({ error: 'NOT_SIGNED' }),
    });
    const named = await call(ALICE, { ...request(), requester: BOB });
    expect(named.status).toBe(400);
    expect(named.body.message).toMatch(/unknown field\(s\) requester/);
  });

  it('records the requester from the authorizer, starts the restore path, and never answers the task token', async () => {
    const started = await call(ALICE, request());
    expect(started.status).toBe(202);
    const restoreId = started.body.restoreId as string;
    expect(started.body.executionArn).toBe(
      `arn:aws:states:us-east-1:${CP}:execution:${CONTROL_PLANE.restoreStateMachineName}:${restoreId}`,
    );
    // The restore path's wait stores its token.
    await awaitApprovals(
      { restoreId, executionId: 'e', taskToken: 'secret-task-token' },
      k.runner.deps(),
      settings,
    );

    const status = await call(BOB, { action: 'status', restoreId });
    expect(status.status).toBe(200);
    expect(status.body).toEqual(
      expect.objectContaining({
        status: 'AWAITING_APPROVAL',
        requester: { arn: ALICE, source: 'function-url' },
      }),
    );
    expect(JSON.stringify(status.body)).not.toContain('secret-task-token');

    // Two sessions of one approver role are one approver; a non-approver counts for nothing.
    const first = await call(session('dave'), { action: 'approve', restoreId });
    expect(first).toEqual({ status: 200, body: expect.objectContaining({ accepted: true, approvals: 1 }) });
    const again = await call(session('erin'), { action: 'approve', restoreId });
    expect(again).toEqual({
      status: 409,
      body: expect.objectContaining({ accepted: false, code: 'ALREADY_APPROVED' }),
    });
    const mallory = await call(MALLORY, { action: 'approve', restoreId });
    expect(mallory).toEqual({ status: 403, body: expect.objectContaining({ code: 'NOT_AN_APPROVER' }) });
    const requester = await call(ALICE, { action: 'approve', restoreId });
    expect(requester.body.code).toBe('REQUESTER');

    // Quorum: the endpoint hands the decision to the waiting task with the token from the table.
    const second = await call(BOB, { action: 'approve', restoreId, reason: 'looked at the incident' });
    expect(second.body).toEqual(
      expect.objectContaining({ accepted: true, status: 'APPROVED', approvals: 2 }),
    );
    expect(JSON.stringify(second.body)).not.toContain('secret-task-token');
    const sent = k.world.simulator.calls.filter((c) => c.action === 'SendTaskSuccess');
    expect(sent.map((c) => (c.input as { taskToken: string }).taskToken)).toEqual(['secret-task-token']);

    const audit = await auditOf(k.world, k.incidentId);
    expect(audit.ofType('RestoreRequested')[0]?.actor).toEqual(
      expect.objectContaining({ type: 'iam', arn: ALICE, detail: { vouchedBy: 'function URL (AWS_IAM)' } }),
    );
    expect(
      audit
        .ofType('ApprovalRecorded')
        .map((r) => [r.actor.arn, r.detail.approver])
        .sort(),
    ).toEqual(
      [
        [BOB, BOB],
        [session('dave'), APPROVER_ROLE],
      ].sort(),
    );
    expect(
      audit
        .ofType('ApprovalRefused')
        .map((r) => r.detail.code)
        .sort(),
    ).toEqual(['ALREADY_APPROVED', 'NOT_AN_APPROVER', 'REQUESTER'].sort());
  });

  it('answers refusals with their code, and bad bodies with the field at fault', async () => {
    expect((await call(ALICE, { action: 'dance' })).body.message).toMatch(
      /action: one of request, approve, reject, status/,
    );
    expect((await call(BOB, { action: 'reject', restoreId: 'restore-x' })).body.message).toMatch(
      /reason: a rejection says why/,
    );
    expect((await call(BOB, { action: 'approve', restoreId: 'restore-does-not-exist' })).status).toBe(404);
    const noKill = await call(ALICE, { ...request(), incidentId: 'never-killed' });
    expect(noKill).toEqual({ status: 404, body: expect.objectContaining({ error: 'NO_RECORDED_KILL' }) });
  });
});

describe('releasing legal holds through the endpoint (backstop audit hold --release)', () => {
  const holds = () => {
    const bucket = k.world.controlPlane.auditBucketName;
    const sim = k.world.simulator.s3;
    return [
      ...sim.keys(bucket, `incidents/${k.incidentId}/`),
      ...sim.keys(bucket, `manifests/${k.incidentId}/`),
    ].flatMap((key) =>
      sim.objectVersions(bucket, key).map((v) => [String(`${key}#${v.versionId}`), v.legalHold] as const),
    );
  };
  /** The hold of each version held when the holds were placed (records written since are new objects). */
  let placed: string[] = [];
  const heldNow = () => {
    const now = new Map(holds());
    return placed.map((v) => now.get(v));
  };

  it('releases only once two distinct approvers approved hold-release-<incident>; every refusal is a record', async () => {
    expect(HOLD_RELEASE_REQUEST_PREFIX).toBe(HOLD_RELEASE_PREFIX);
    await placeIncidentHolds(k.runner.deps(undefined, 'sealer'), {
      incidentId: k.incidentId,
      reason: 'case 7',
    });
    placed = holds().map(([v]) => v);
    expect(placed.length).toBeGreaterThan(10);
    expect(heldNow().every((h) => h === 'ON')).toBe(true);
    const requestId = holdReleaseRequestId(k.incidentId);

    const mallory = await call(MALLORY, { action: 'approve', restoreId: requestId });
    expect(mallory).toEqual({ status: 403, body: expect.objectContaining({ code: 'NOT_AN_APPROVER' }) });
    const rejected = await call(BOB, { action: 'reject', restoreId: requestId, reason: 'no' });
    expect(rejected.status).toBe(400);
    const unknown = await call(BOB, {
      action: 'approve',
      restoreId: `${HOLD_RELEASE_PREFIX}no-such-incident`,
    });
    expect(unknown).toEqual({ status: 404, body: expect.objectContaining({ code: 'UNKNOWN_INCIDENT' }) });

    const first = await call(session('dave'), { action: 'approve', restoreId: requestId });
    expect(first).toEqual({ status: 200, body: expect.objectContaining({ accepted: true, approvals: 1 }) });
    const sameRole = await call(session('erin'), { action: 'approve', restoreId: requestId });
    expect(sameRole).toEqual({ status: 409, body: expect.objectContaining({ code: 'ALREADY_APPROVED' }) });
    expect(heldNow().every((h) => h === 'ON')).toBe(true);

    const second = await call(BOB, { action: 'approve', restoreId: requestId, reason: 'case closed' });
    expect(second.status).toBe(200);
    expect(second.body).toEqual(expect.objectContaining({ accepted: true, approvals: 2 }));
    expect(second.body.message).toMatch(/legal holds of .* released: \d+ object version/);
    expect(heldNow().filter((h) => h === 'ON')).toEqual([]);

    const audit = await auditOf(k.world, k.incidentId);
    const about = (r: { detail: Record<string, unknown> }) => r.detail.requestId === requestId;
    expect(
      audit
        .ofType('ApprovalRecorded')
        .filter(about)
        .map((r) => String(r.detail.approver))
        .sort(),
    ).toEqual([APPROVER_ROLE, BOB].sort());
    expect(
      audit
        .ofType('ApprovalRefused')
        .filter(about)
        .map((r) => r.detail.code)
        .sort(),
    ).toEqual(['ALREADY_APPROVED', 'INVALID_REQUEST', 'NOT_AN_APPROVER']);
    expect(audit.ofType('LegalHoldReleased')).toHaveLength(1);
  });
});
