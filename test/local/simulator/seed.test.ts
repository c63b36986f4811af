import { denyDocument, killBoundaryDocument } from '../../../lambda/shared/policy-documents';
import { Simulator, seedBackstopControlPlane, seedBackstopWorkload } from '../../../lib/local/simulator';
import { CP, REGION, WL } from './helpers';

describe('seeding a deployed Backstop', () => {
  test('the workload seed creates the execution roles, deny policies, boundary, isolation groups and forwarder', async () => {
    const sim = new Simulator({ checkOutputShapes: true });
    const wl = await seedBackstopWorkload(sim, {
      accountId: WL,
      region: REGION,
      controlPlaneAccountId: CP,
      vpcIds: ['vpc-0a1b2c3d4e5f60718', 'vpc-0123456789abcdef0'],
      agents: [{ agentId: 'bot-a', highRiskActions: ['s3:DeleteObject'] }, { agentId: 'bot-b' }],
      alarmNames: ['bot-a-errors'],
    });
    expect(wl.killRoleArn).toBe(`arn:aws:iam::${WL}:role/backstop/backstop-kill-${REGION}`);
    expect(wl.restoreRoleArn).toBe(`arn:aws:iam::${WL}:role/backstop/backstop-restore-${REGION}`);
    const trust = sim.iam.trustPolicyOf(wl.killRoleArn) as {
      Statement: { Condition: Record<string, Record<string, string>> }[];
    };
    expect(trust.Statement[0].Condition.ArnEquals['aws:PrincipalArn']).toBe(
      `arn:aws:iam::${CP}:role/backstop/backstop-kill-worker`,
    );
    expect(Object.keys(wl.denyPolicyArns.approvalGated)).toEqual(['bot-a', 'bot-b']);
    // Exactly the document the workload stack deploys (one builder for both).
    expect(JSON.parse(sim.iam.policyDocument(wl.denyPolicyArns.approvalGated['bot-a'])!)).toEqual(
      denyDocument('approval_gated', { highRiskActions: ['s3:DeleteObject'], draftResources: [] }),
    );
    expect(JSON.parse(sim.iam.policyDocument(wl.killBoundaryArn)!)).toEqual(killBoundaryDocument());
    expect(Object.keys(wl.isolationGroups)).toEqual(['vpc-0a1b2c3d4e5f60718', 'vpc-0123456789abcdef0']);
    expect(sim.events.ruleState(WL, REGION, 'backstop-alarm-forwarder')).toBe('ENABLED');
  });

  test('the control plane seed creates the worker roles, the locked audit bucket, the table, topic and keys', async () => {
    const sim = new Simulator({ checkOutputShapes: true });
    const cp = await seedBackstopControlPlane(sim, {
      accountId: CP,
      region: REGION,
      retentionDays: 30,
      retentionMode: 'GOVERNANCE',
    });
    expect(cp.killWorkerRoleArn).toBe(`arn:aws:iam::${CP}:role/backstop/backstop-kill-worker`);
    const config = await sim.as(CP, REGION).s3.GetObjectLockConfiguration({ Bucket: cp.auditBucketName });
    expect(config.ObjectLockConfiguration?.Rule?.DefaultRetention).toMatchObject({
      Mode: 'GOVERNANCE',
      Days: 30,
    });
    expect(sim.dynamodb.items(CP, REGION, cp.tableName)).toEqual([]);
    const key = await sim.as(CP, REGION).kms.GetPublicKey({ KeyId: cp.manifestSigningKeyArn });
    expect(key.KeySpec).toBe('ECC_NIST_P256');
    expect(cp.topicArn).toBe(`arn:aws:sns:${REGION}:${CP}:backstop-notifications`);
    expect(cp.eventBusArn).toBe(`arn:aws:events:${REGION}:${CP}:event-bus/backstop`);
  });

  test('seeding the same account twice fails loudly instead of duplicating', async () => {
    const sim = new Simulator();
    await seedBackstopControlPlane(sim, { accountId: CP, region: REGION });
    await expect(seedBackstopControlPlane(sim, { accountId: CP, region: REGION })).rejects.toThrow(
      /already exists/,
    );
  });
});
