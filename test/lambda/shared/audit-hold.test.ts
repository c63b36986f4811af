/**
 * Legal holds over an incident (lambda/shared/legal-hold.ts) on the embedded simulator: placed on
 * every version, recorded and sealed; released only for a request the configured approvers reached
 * the quorum on, and only by the sealer role (the bucket policy refuses everyone else).
 */
import type { AuditRecord } from '../../../lambda/shared/audit';
import { verifyAudit } from '../../../lambda/shared/audit-verify';
import {
  approverFor,
  HoldReleaseNotApprovedError,
  holdReleaseRequestId,
  IncidentNotFoundError,
  LegalHoldError,
  placeIncidentHolds,
  releaseIncidentHolds,
} from '../../../lambda/shared/legal-hold';
import { StateStore } from '../../../lambda/shared/state-store';
import { type AuditWorld, auditWorld, sealedKill } from './audit-world';

const ALICE = 'arn:aws:iam::111111111111:user/oncall-alice';
const BOB = 'arn:aws:iam::111111111111:role/approvers/oncall-bob';
const APPROVERS = [ALICE, BOB];

function holds(w: AuditWorld, incidentId: string): (string | undefined)[] {
  return [
    ...w.sim.s3.keys(w.cp.auditBucketName, `incidents/${incidentId}/`),
    ...w.sim.s3.keys(w.cp.auditBucketName, `manifests/${incidentId}/`),
  ].flatMap((key) => w.sim.s3.objectVersions(w.cp.auditBucketName, key).map((v) => v.legalHold));
}

async function approve(w: AuditWorld, requestId: string, ...who: string[]): Promise<void> {
  const store = new StateStore({ doc: w.sealer.clients.controlPlane().dynamo, tableName: w.cp.tableName });
  for (const arn of who) await store.recordApproval('inc-1', requestId, arn, new Date(w.clock.now()));
}

async function held(): Promise<AuditWorld> {
  const w = await auditWorld();
  await sealedKill(w, 'inc-1');
  await placeIncidentHolds(w.sealer, { incidentId: 'inc-1', requestedBy: ALICE, reason: 'litigation 7' });
  return w;
}

describe('placeIncidentHolds', () => {
  it('holds every version of every record and manifest, including what recording it wrote', async () => {
    const w = await auditWorld();
    await sealedKill(w, 'inc-1');
    const result = await placeIncidentHolds(w.sealer, {
      incidentId: 'inc-1',
      requestedBy: ALICE,
      reason: 'case 7',
    });
    expect(result.status).toBe('PLACED');
    expect(result.manifestKey).toBe('manifests/inc-1/0002-hold.json');
    expect(holds(w, 'inc-1').every((h) => h === 'ON')).toBe(true);
    expect(result.versions).toHaveLength(holds(w, 'inc-1').length);
    const record = JSON.parse(
      w.sim.s3.objectVersions(w.cp.auditBucketName, result.recordKey as string)[0]!.body,
    ) as AuditRecord;
    expect(record).toMatchObject({
      type: 'LegalHoldPlaced',
      reason: 'case 7',
      actor: { type: 'cli', detail: { requestedBy: ALICE, asReportedByTheCaller: true } },
      detail: { count: 8 },
    });
    expect((await verifyAudit(w.verifyOptions())).ok).toBe(true);
  });

  it('refuses an incident with no object, and changes nothing', async () => {
    const w = await auditWorld();
    await expect(placeIncidentHolds(w.sealer, { incidentId: 'inc-9' })).rejects.toBeInstanceOf(
      IncidentNotFoundError,
    );
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/')).toEqual([]);
  });
});

describe('releaseIncidentHolds', () => {
  const request = (requestId = holdReleaseRequestId('inc-1')) => ({
    incidentId: 'inc-1',
    requestId,
    approvers: APPROVERS,
    quorum: 2,
  });

  it('removes every hold once two configured approvers approved, records who, and seals it', async () => {
    const w = await held();
    const requestId = holdReleaseRequestId('inc-1');
    await approve(w, requestId, ALICE, 'arn:aws:sts::111111111111:assumed-role/oncall-bob/bob-laptop');
    const result = await releaseIncidentHolds(w.sealer, request());
    expect(result.status).toBe('RELEASED');
    expect(holds(w, 'inc-1').filter((h) => h === 'ON')).toEqual([]);
    const record = JSON.parse(
      w.sim.s3.objectVersions(w.cp.auditBucketName, result.recordKey as string)[0]!.body,
    ) as AuditRecord;
    expect(record.type).toBe('LegalHoldReleased');
    expect((record.detail.approvals as { approver: string }[]).map((a) => a.approver)).toEqual([ALICE, BOB]);
    expect(result.manifestKey).toBe('manifests/inc-1/0003-hold.json');
    expect((await verifyAudit(w.verifyOptions())).ok).toBe(true);
  });

  it.each([
    ['no approval', []],
    ['one approver', [ALICE]],
    [
      'one approver twice (two sessions of the same role)',
      [
        'arn:aws:sts::111111111111:assumed-role/oncall-bob/a',
        'arn:aws:sts::111111111111:assumed-role/oncall-bob/b',
      ],
    ],
    ['an approver and someone who is not one', [ALICE, 'arn:aws:iam::111111111111:user/mallory']],
  ])('refuses with %s, and every hold stays', async (_name, who) => {
    const w = await held();
    await approve(w, holdReleaseRequestId('inc-1'), ...who);
    const error = await releaseIncidentHolds(w.sealer, request()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HoldReleaseNotApprovedError);
    expect((error as Error).message).toMatch(/needs 2 distinct configured approvers; .*Nothing was released/);
    expect(holds(w, 'inc-1').every((h) => h === 'ON')).toBe(true);
  });

  it('never counts a restore’s approvals, nor a quorum below two', async () => {
    const w = await held();
    await approve(w, 'restore-1', ALICE, BOB);
    await expect(releaseIncidentHolds(w.sealer, request('restore-1'))).rejects.toThrow(
      /is not a hold release request of incident inc-1/,
    );
    await approve(w, holdReleaseRequestId('inc-1'), ALICE);
    await expect(releaseIncidentHolds(w.sealer, { ...request(), quorum: 1 })).rejects.toThrow(
      /quorum of at least 2 approvers, got 1/,
    );
    expect(holds(w, 'inc-1').every((h) => h === 'ON')).toBe(true);
  });

  it('is refused by the bucket policy to anyone but the sealer, even with the approvals', async () => {
    const w = await held();
    await approve(w, holdReleaseRequestId('inc-1'), ALICE, BOB);
    await expect(releaseIncidentHolds(w.worker, request())).rejects.toBeInstanceOf(LegalHoldError);
    expect(holds(w, 'inc-1').every((h) => h === 'ON')).toBe(true);
  });
});

describe('approverFor', () => {
  it('matches a configured user or role, or a session of that role, in the same account only', () => {
    expect(approverFor(ALICE, APPROVERS)).toBe(ALICE);
    expect(approverFor('arn:aws:sts::111111111111:assumed-role/oncall-bob/s', APPROVERS)).toBe(BOB);
    expect(approverFor('arn:aws:sts::999999999999:assumed-role/oncall-bob/s', APPROVERS)).toBeUndefined();
    expect(approverFor('arn:aws:iam::111111111111:user/oncall-bob', APPROVERS)).toBeUndefined();
  });
});
