/**
 * ActorAttributed (lambda/audit-seal): the caller CloudTrail recorded for a kill's or a restore's
 * StartExecution, written into the execution's incident and sealed, on the embedded simulator.
 *
 * The CloudTrail event below is written by hand, not recorded: it follows the shape AWS documents
 * for EventBridge's `AWS API Call via CloudTrail` events (the envelope) and for Step Functions'
 * CloudTrail entries (`requestParameters.stateMachineArn`/`name`, the input hidden,
 * `responseElements.executionArn`/`startDate`), with an assumed-role caller signed in with MFA.
 */
import type { AuditRecord } from '../../../lambda/shared/audit';
import {
  type AttributionResult,
  attributeExecution,
  type CloudTrailApiCallEvent,
} from '../../../lambda/audit-seal/attribution';
import { run } from '../../../lambda/audit-seal/handler';
import { verifyAudit } from '../../../lambda/shared/audit-verify';
import { CONTROL_PLANE } from '../../../lambda/shared/naming';
import { sealIncident } from '../../../lambda/shared/seal';
import { matchesPattern } from '../../helpers/event-pattern';
import { synthStacks } from '../../helpers/cdk';
import { ResolvedTemplate } from '../../security/iam-policies';
import {
  type AuditWorld,
  auditWorld,
  CP,
  chainOf,
  killRecords,
  REGION,
  seal,
  sealedKill,
} from '../shared/audit-world';

const KILL_SM = `arn:aws:states:${REGION}:${CP}:stateMachine:${CONTROL_PLANE.killStateMachineName}`;
const RESTORE_SM = `arn:aws:states:${REGION}:${CP}:stateMachine:${CONTROL_PLANE.restoreStateMachineName}`;
const ALICE = `arn:aws:sts::${CP}:assumed-role/backstop-break-glass/alice`;

function startExecutionEvent(
  at: Date,
  stateMachineArn: string,
  name: string,
  caller = ALICE,
  extra: Record<string, unknown> = {},
): CloudTrailApiCallEvent {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.states',
    account: CP,
    time: at.toISOString(),
    region: REGION,
    detail: {
      eventVersion: '1.09',
      userIdentity: {
        type: 'AssumedRole',
        principalId: 'AROAEXAMPLEBREAKGLASS:alice',
        arn: caller,
        accountId: CP,
        accessKeyId: 'ASIAEXAMPLEEXAMPLE',
        sessionContext: {
          sessionIssuer: {
            type: 'Role',
            arn: `arn:aws:iam::${CP}:role/backstop/backstop-break-glass`,
            userName: 'backstop-break-glass',
          },
          attributes: { creationDate: at.toISOString(), mfaAuthenticated: 'true' },
        },
      },
      eventTime: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventSource: 'states.amazonaws.com',
      eventName: 'StartExecution',
      awsRegion: REGION,
      sourceIPAddress: '203.0.113.10',
      userAgent: 'aws-cli/2.15.0 md/awscrt#0.19.19 ua/2.0 os/linux',
      requestParameters: { stateMachineArn, name, input: 'HIDDEN_DUE_TO_SECURITY_REASONS' } as {
        stateMachineArn: string;
        name: string;
      },
      responseElements: {
        executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
        startDate: 'Mar 1, 2026, 12:00:00 PM',
      },
      requestID: '0c6b9f2e-4b7a-4f6e-9d55-2f0a6f1e8d11',
      eventID: 'c2b1f7a0-1d3e-4e8a-a5f4-7d9b3c2e1f00',
      readOnly: false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: CP,
      eventCategory: 'Management',
      ...extra,
    },
  };
}

/** The execution as Step Functions holds it (the attribution reads its input). */
async function execution(
  w: AuditWorld,
  stateMachine: 'backstop-kill' | 'backstop-restore',
  name: string,
  input: object,
) {
  await w.root.states.CreateStateMachine({
    name: stateMachine,
    definition: JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Succeed' } } }),
    roleArn: `arn:aws:iam::${CP}:role/sfn`,
  });
  await w.root.states.StartExecution({
    stateMachineArn: `arn:aws:states:${REGION}:${CP}:stateMachine:${stateMachine}`,
    name,
    input: JSON.stringify(input),
  });
}

const record = (w: AuditWorld, key: string) =>
  JSON.parse(w.sim.s3.objectVersions(w.cp.auditBucketName, key)[0]!.body) as AuditRecord;
const manifests = (w: AuditWorld) => w.sim.s3.keys(w.cp.auditBucketName, 'manifests/inc-1/');

describe('attributeExecution', () => {
  it('records the StartExecution caller CloudTrail saw in the incident, sealed after the kill', async () => {
    const w = await auditWorld();
    await execution(w, 'backstop-kill', 'cli-1', {
      agentId: 'agent-1',
      mode: 'full_stop',
      reason: 'x',
      incidentId: 'inc-1',
    });
    await sealedKill(w, 'inc-1');
    const result = await attributeExecution(
      startExecutionEvent(new Date(w.clock.now()), KILL_SM, 'cli-1'),
      w.sealer,
    );

    expect(result).toMatchObject({ status: 'ATTRIBUTED', incidentId: 'inc-1', alreadyRecorded: false });
    const attributed = result as Extract<AttributionResult, { status: 'ATTRIBUTED' }>;
    expect(attributed.manifestKey).toBe('manifests/inc-1/0002-attribution.json');
    const r = record(w, attributed.recordKey);
    expect(r).toMatchObject({
      type: 'ActorAttributed',
      actor: { type: 'iam', arn: ALICE, detail: { source: 'CloudTrail' } },
      detail: {
        path: 'kill',
        executionArn: `arn:aws:states:${REGION}:${CP}:execution:backstop-kill:cli-1`,
        incidentFrom: 'request',
        principalArn: ALICE,
        principalType: 'AssumedRole',
        roleArn: `arn:aws:iam::${CP}:role/backstop/backstop-break-glass`,
        mfaAuthenticated: true,
        sourceIPAddress: '203.0.113.10',
        eventID: 'c2b1f7a0-1d3e-4e8a-a5f4-7d9b3c2e1f00',
      },
    });
    const report = await verifyAudit(w.verifyOptions());
    expect(report.ok).toBe(true);
    expect(report.incidents[0]!.startedBy).toBe(ALICE);
  });

  it('writes nothing new when EventBridge delivers the same event again', async () => {
    const w = await auditWorld();
    await execution(w, 'backstop-kill', 'inc-1', { agentId: 'agent-1', mode: 'full_stop', reason: 'x' });
    await sealedKill(w, 'inc-1');
    const event = startExecutionEvent(new Date(w.clock.now()), KILL_SM, 'inc-1');
    await attributeExecution(event, w.sealer);
    const before = manifests(w);
    const again = await attributeExecution(event, w.sealer);
    expect(again).toMatchObject({ status: 'ATTRIBUTED', alreadyRecorded: true });
    expect(manifests(w)).toEqual(before);
  });

  it('refuses a second, different attribution of one execution (a forged event): the first stays, an alarm metric fires', async () => {
    const w = await auditWorld();
    await execution(w, 'backstop-kill', 'inc-1', { agentId: 'agent-1', mode: 'full_stop', reason: 'x' });
    await sealedKill(w, 'inc-1');
    const at = new Date(w.clock.now());
    const first = (await attributeExecution(startExecutionEvent(at, KILL_SM, 'inc-1'), w.sealer)) as Extract<
      AttributionResult,
      { status: 'ATTRIBUTED' }
    >;
    const forged = startExecutionEvent(
      at,
      KILL_SM,
      'inc-1',
      `arn:aws:sts::${CP}:assumed-role/someone-else/x`,
    );
    const result = await attributeExecution(forged, w.sealer);
    expect(result).toMatchObject({ status: 'CONFLICT', recordKey: first.recordKey });
    expect(record(w, first.recordKey).detail.principalArn).toBe(ALICE);
    expect(w.sim.cloudwatch.metrics().filter((m) => m.metricName === 'AttributionConflicts')).toEqual([
      expect.objectContaining({ value: 1 }),
    ]);
  });

  it.each([
    [
      'a refused call (no execution started)',
      startExecutionEvent(new Date(), KILL_SM, 'inc-1', ALICE, { errorCode: 'AccessDenied' }),
    ],
    [
      'another state machine',
      startExecutionEvent(new Date(), `arn:aws:states:${REGION}:${CP}:stateMachine:payroll`, 'inc-1'),
    ],
    [
      'another account',
      startExecutionEvent(
        new Date(),
        `arn:aws:states:${REGION}:999999999999:stateMachine:backstop-kill`,
        'inc-1',
      ),
    ],
    [
      'another API call',
      startExecutionEvent(new Date(), KILL_SM, 'inc-1', ALICE, { eventName: 'StopExecution' }),
    ],
  ])('ignores %s and writes nothing', async (_name, event) => {
    const w = await auditWorld();
    const result = await attributeExecution(event, w.sealer);
    expect(result.status).toBe('IGNORED');
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/')).toEqual([]);
  });

  it('attributes a restore execution to the incident it restores', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    await execution(w, 'backstop-restore', 'restore-7', { incidentId: 'inc-1', agentId: 'agent-1' });
    await seal(w, 'inc-1', 'restore');
    const result = await attributeExecution(
      startExecutionEvent(new Date(w.clock.now()), RESTORE_SM, 'restore-7'),
      w.sealer,
    );
    expect(result).toMatchObject({ status: 'ATTRIBUTED', incidentId: 'inc-1' });
    expect(record(w, (result as { recordKey: string }).recordKey).detail.path).toBe('restore');
  });

  it('derives the incident from the execution name when the request names none', async () => {
    const w = await auditWorld();
    await execution(w, 'backstop-kill', 'inc-2', { agentId: 'agent-1', mode: 'full_stop', reason: 'x' });
    await sealedKill(w, 'inc-2');
    const result = await attributeExecution(
      startExecutionEvent(new Date(w.clock.now()), KILL_SM, 'inc-2'),
      w.sealer,
    );
    expect(result).toMatchObject({ status: 'ATTRIBUTED', incidentId: 'inc-2' });
    expect(record(w, (result as { recordKey: string }).recordKey).detail.incidentFrom).toBe('execution name');
  });

  it('waits for the kill to seal its own records when CloudTrail is faster than the kill', async () => {
    const w = await auditWorld();
    await execution(w, 'backstop-kill', 'inc-1', { agentId: 'agent-1', mode: 'full_stop', reason: 'x' });
    await killRecords(w, 'inc-1');
    const event = startExecutionEvent(new Date(w.clock.now()), KILL_SM, 'inc-1');
    let waits = 0;
    const deps = {
      ...w.sealer,
      sleep: async (ms: number) => {
        waits += 1;
        await w.clock.advance(ms);
        if (waits === 2) {
          // The kill finishes meanwhile: Finalize seals.
          const finalize = chainOf(w, 'inc-1', 'finalize-00000003', w.sealer);
          void finalize.write('KillCompleted', { detail: { status: 'CONTAINED' } });
          await sealIncident(w.sealer, {
            incidentId: 'inc-1',
            kind: 'kill',
            chain: finalize,
          });
        }
      },
    };
    const result = await attributeExecution(event, deps, { pollMs: 1000, waitForManifestMs: 60_000 });
    expect(waits).toBe(2);
    // The record landed before Finalize listed the incident: the kill's own manifest seals it,
    // and the attribution's seal finds nothing new.
    expect(result).toMatchObject({ status: 'ATTRIBUTED', manifestKey: 'manifests/inc-1/0001-kill.json' });
    expect(manifests(w)).toEqual(['manifests/inc-1/0001-kill.json']);
    const kill = JSON.parse(
      w.sim.s3.objectVersions(w.cp.auditBucketName, 'manifests/inc-1/0001-kill.json')[0]!.body,
    ) as { manifest: { records: { key: string }[] } };
    expect(kill.manifest.records.map((r) => r.key)).toContain((result as { recordKey: string }).recordKey);
    expect((await verifyAudit(w.verifyOptions())).ok).toBe(true);
  });
});

describe('the sealer handler', () => {
  const settings = {
    approvers: ['arn:aws:iam::111111111111:user/a', 'arn:aws:iam::111111111111:user/b'],
    quorum: 2,
  };

  it('seals on request, for a handler that may not sign itself', async () => {
    const w = await auditWorld();
    await killRecords(w, 'inc-1');
    const result = await run({ action: 'seal', incidentId: 'inc-1', kind: 'restore' }, w.sealer, settings);
    expect(result).toMatchObject({ status: 'SEALED', key: 'manifests/inc-1/0001-restore.json' });
  });

  it('refuses an unknown action, kind or incident, naming the field', async () => {
    const w = await auditWorld();
    await expect(run({ action: 'erase', incidentId: 'inc-1' }, w.sealer, settings)).rejects.toThrow(
      /Unknown action "erase": seal, hold or release-holds/,
    );
    await expect(run({ action: 'seal', incidentId: 'inc-1', kind: 'x' }, w.sealer, settings)).rejects.toThrow(
      /kind must be one of kill, attribution, restore, hold/,
    );
    await expect(run({ action: 'seal', incidentId: '../x' }, w.sealer, settings)).rejects.toThrow(
      /incidentId/,
    );
    await expect(run('hello', w.sealer, settings)).rejects.toThrow(/takes a CloudTrail StartExecution event/);
  });
});

describe('the EventBridge rules on CloudTrail events (as synthesized)', () => {
  const synth = synthStacks();
  const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
  const patternOf = (description: RegExp) => {
    const [rule] = template.find('AWS::Events::Rule', (p) => description.test(String(p.Description)));
    if (!rule) throw new Error(`no rule ${description}`);
    return template.resolve<Record<string, unknown>>(rule[1].Properties?.EventPattern);
  };

  it('sends the sealer every kill and restore StartExecution, and nothing else', () => {
    const pattern = patternOf(/attribute every kill and restore execution/);
    expect(matchesPattern(pattern, startExecutionEvent(new Date(), KILL_SM, 'inc-1'))).toBe(true);
    expect(matchesPattern(pattern, startExecutionEvent(new Date(), RESTORE_SM, 'r-1'))).toBe(true);
    const other = startExecutionEvent(new Date(), `arn:aws:states:${REGION}:${CP}:stateMachine:payroll`, 'p');
    expect(matchesPattern(pattern, other)).toBe(false);
    expect(
      matchesPattern(
        pattern,
        startExecutionEvent(new Date(), KILL_SM, 'i', ALICE, { eventName: 'StopExecution' }),
      ),
    ).toBe(false);
  });

  it('alarms on an attempt to disable, delete or re-policy the audit or signing key, denied or not', () => {
    const pattern = patternOf(/disable, delete or re-policy the audit or manifest signing key/);
    const key = template.resolve<string>(
      synth.controlPlane.resolve(synth.controlPlane.manifestSigningKey.keyArn),
    );
    const keyId = key.split('/').pop() as string;
    const kmsEvent = (eventName: string, keyIdParam: string) => ({
      source: 'aws.kms',
      'detail-type': 'AWS API Call via CloudTrail',
      detail: {
        eventSource: 'kms.amazonaws.com',
        eventName,
        errorCode: 'AccessDeniedException',
        userIdentity: { arn: `arn:aws:sts::${CP}:assumed-role/Admin/mallory` },
        requestParameters: { keyId: keyIdParam, pendingWindowInDays: 7 },
      },
    });
    expect(matchesPattern(pattern, kmsEvent('ScheduleKeyDeletion', key))).toBe(true);
    expect(matchesPattern(pattern, kmsEvent('DisableKey', keyId))).toBe(true);
    expect(matchesPattern(pattern, kmsEvent('PutKeyPolicy', keyId))).toBe(true);
    expect(matchesPattern(pattern, kmsEvent('DisableKey', 'some-other-key'))).toBe(false);
    expect(matchesPattern(pattern, kmsEvent('EnableKey', keyId))).toBe(false);
  });
});
