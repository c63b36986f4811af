/**
 * The compliance side of the control plane as synthesized: who runs as the audit sealer, the
 * trail that CloudTrail attribution needs (created unless the config says one exists), the Glue
 * table over the records, and the published public key.
 */
import { ENV } from '../../lambda/shared/env';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { auditTableDdl, AUDIT_GLUE_COLUMNS } from '../../lib/constructs/audit-glue-table';
import { ConfigError } from '../../lib/config';
import { configWith, synthStacks } from '../helpers/cdk';
import { ResolvedTemplate } from '../security/iam-policies';
import { auditWorld, chainOf, write } from '../lambda/shared/audit-world';

const CP = '111111111111';
const REGION = 'us-east-1';
const synth = synthStacks();
const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
const sealerArn = template.role(CONTROL_PLANE.auditSealerRoleName).arn;

const roleOfFunction = (match: (p: Record<string, unknown>) => boolean) =>
  template.find('AWS::Lambda::Function', match).map(([, f]) => template.resolve<string>(f.Properties?.Role));

describe('the audit sealer', () => {
  it('is the role of Finalize and of the sealer function, and of no kill handler that holds a workload role', () => {
    const handler = (name: string) => (p: Record<string, unknown>) =>
      (p.Environment as { Variables?: Record<string, string> } | undefined)?.Variables?.[ENV.handler] ===
      name;
    expect(roleOfFunction(handler('kill-finalize'))).toEqual([sealerArn]);
    expect(roleOfFunction((p) => p.FunctionName === CONTROL_PLANE.auditSealerFunctionName)).toEqual([
      sealerArn,
    ]);
    for (const name of ['kill-prepare', 'kill-surface', 'kill-verify']) {
      expect(roleOfFunction(handler(name))).not.toContain(sealerArn);
    }
  });
});

describe('CloudTrail for attribution and key alarms', () => {
  it('creates a multi-region trail, its logs under Object Lock, recording the audit bucket’s writes, by default', () => {
    const trails = template.find('AWS::CloudTrail::Trail');
    expect(trails).toHaveLength(1);
    const trail = template.resolve<Record<string, unknown>>(trails[0]![1].Properties);
    expect(trail).toMatchObject({ IsMultiRegionTrail: true, EnableLogFileValidation: true, IsLogging: true });
    const bucket = template.resolve<string>(
      synth.controlPlane.resolve(synth.controlPlane.auditBucket.bucketArn),
    );
    expect(JSON.stringify(trail.EventSelectors)).toContain(`${bucket}/`);
    const trailBucket = template.resolve<string>(trail.S3BucketName);
    const [, props] = template
      .find('AWS::S3::Bucket')
      .find(([id]) => template.physical(id) === trailBucket) as [
      string,
      { Properties: Record<string, unknown> },
    ];
    expect(props.Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } } },
    });
  });

  it('creates none when the config says a trail exists, and still attributes through it', () => {
    const existing = synthStacks(configWith((c) => (c.cloudTrail = { existingTrail: true })));
    const t = new ResolvedTemplate(existing.controlPlaneTemplate(), 'aws', CP, REGION);
    expect(t.find('AWS::CloudTrail::Trail')).toHaveLength(0);
    expect(
      t.find('AWS::Events::Rule', (p) =>
        String(p.Description).includes('attribute every kill and restore execution'),
      ),
    ).toHaveLength(1);
  });

  it('refuses a cloudTrail setting that is not true or false, naming the field', () => {
    expect(() => configWith((c) => (c.cloudTrail = { existingTrail: 'yes' as never }))).toThrow(ConfigError);
    expect(() => configWith((c) => (c.cloudTrail = { existingTrail: 'yes' as never }))).toThrow(
      /cloudTrail\.existingTrail/,
    );
  });
});

describe('the Glue table over the records', () => {
  it('reads every record in place, with a column for every field a record has', async () => {
    const [, table] = template.find('AWS::Glue::Table')[0]!;
    const input = template.resolve<{ StorageDescriptor: { Location: string; Columns: { Name: string }[] } }>(
      table.Properties?.TableInput,
    );
    const bucket = template.resolve<string>(
      synth.controlPlane.resolve(synth.controlPlane.auditBucket.bucketName),
    );
    expect(input.StorageDescriptor.Location).toBe(`s3://${bucket}/incidents/`);

    // A record as the writer writes it, every optional field set.
    const w = await auditWorld();
    const chain = chainOf(w, 'inc-1', 'prepare-1');
    await write(chain, [
      [
        'ResourceChanged',
        {
          agentId: 'a',
          accountId: '222222222222',
          region: REGION,
          surface: 'iam',
          mode: 'full_stop',
          reason: 'r',
          detail: { resource: 'x', action: 'y' },
        },
      ],
    ]);
    const [key] = w.sim.s3.keys(w.cp.auditBucketName, 'incidents/');
    const fields = Object.keys(JSON.parse(w.sim.s3.objectVersions(w.cp.auditBucketName, key!)[0]!.body)).map(
      (k) => k.toLowerCase(),
    );
    expect(input.StorageDescriptor.Columns.map((c) => c.Name).sort()).toEqual(fields.sort());
  });

  it('is the same table as the DDL the README gives', () => {
    const ddl = auditTableDdl('my-bucket');
    for (const c of AUDIT_GLUE_COLUMNS) expect(ddl).toContain(`\`${c.name}\` ${c.type}`);
    expect(ddl).toContain("LOCATION 's3://my-bucket/incidents/'");
  });
});
