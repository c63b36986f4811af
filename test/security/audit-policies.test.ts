/**
 * The audit log's resource policies as deployed, against the principals that could rewrite it:
 * an administrator of the security account whose identity policy allows everything, the account
 * root, the kill worker (which an attacker may have turned), and the roles that legitimately write.
 * Evaluated with an IAM simulator on the synthesized control plane (key policies and bucket
 * policies as CloudFormation would deploy them).
 */
import {
  auditManifestKey,
  auditRecordKey,
  CONTROL_PLANE,
  publicKeyObjectKey,
} from '../../lambda/shared/naming';
import { KEY_TAMPER_ACTIONS } from '../../lib/constructs/audit-key-protection';
import { synthStacks } from '../helpers/cdk';
import {
  ALLOW_EVERYTHING,
  evaluate,
  type NamedPolicy,
  type PolicyDocument,
  ResolvedTemplate,
} from './iam-policies';

const CP = '111111111111';
const REGION = 'us-east-1';
const synth = synthStacks();
const stack = synth.controlPlane;
const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
const deployed = (value: string): string => template.resolve(stack.resolve(value));

const BUCKET = deployed(stack.auditBucket.bucketArn);
const LOGS_BUCKET = deployed(stack.accessLogsBucket.bucketArn);
const AUDIT_KEY = deployed(stack.auditKey.keyArn);
const SIGNING_KEY = deployed(stack.manifestSigningKey.keyArn);
const RECORD = `${BUCKET}/${auditRecordKey('inc-42', 'prepare-1', 1, 'KillRequested')}`;
const MANIFEST = `${BUCKET}/${auditManifestKey('inc-42', 1, 'kill')}`;
const PUBLIC_KEY = `${BUCKET}/${publicKeyObjectKey(SIGNING_KEY)}`;

const KEY_POLICIES = new Map(
  template
    .find('AWS::KMS::Key')
    .map(([id, key]) => [
      template.physical(id, 'Arn'),
      template.resolve<PolicyDocument>(key.Properties?.KeyPolicy),
    ]),
);
const BUCKET_POLICIES = new Map(
  template
    .find('AWS::S3::BucketPolicy')
    .map(([, p]) => [
      `arn:aws:s3:::${template.resolve<string>(p.Properties?.Bucket)}`,
      template.resolve<PolicyDocument>(p.Properties?.PolicyDocument),
    ]),
);

const ADMIN = `arn:aws:iam::${CP}:role/administrator`;
const ROOT = `arn:aws:iam::${CP}:root`;
const role = (name: string) => template.role(name);
const WORKER = role(CONTROL_PLANE.killWorkerRoleName);
const SEALER = role(CONTROL_PLANE.auditSealerRoleName);
const PUBLISHER = role(CONTROL_PLANE.publicKeyPublisherRoleName);
const TLS = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };
const WRITE_ONCE = {
  's3:x-amz-server-side-encryption': 'aws:kms',
  's3:x-amz-server-side-encryption-aws-kms-key-id': AUDIT_KEY,
  's3:if-none-match': '*',
};

async function decide(
  principal: string,
  identity: readonly NamedPolicy[],
  action: string,
  resource: string,
  context: Record<string, string> = {},
) {
  const resourcePolicy = resource.startsWith('arn:aws:kms:')
    ? KEY_POLICIES.get(resource)
    : BUCKET_POLICIES.get(resource.split('/')[0] as string);
  return evaluate({ principal, action, resource, identity, resourcePolicy, context: { ...TLS, ...context } });
}
const admin = (action: string, resource: string, context?: Record<string, string>) =>
  decide(ADMIN, [ALLOW_EVERYTHING], action, resource, context);

describe('the key policies of the audit key and the signing key', () => {
  it.each([
    ['audit key', AUDIT_KEY],
    ['signing key', SIGNING_KEY],
  ])(
    'deny disabling, deleting and re-policing the %s to an administrator and to the account root',
    async (_n, key) => {
      expect(KEY_POLICIES.get(key)).toBeDefined();
      for (const action of KEY_TAMPER_ACTIONS) {
        await expect(admin(action, key)).resolves.toBe('ExplicitlyDenied');
        await expect(decide(ROOT, [], action, key)).resolves.toBe('ExplicitlyDenied');
      }
      // Everyday administration of the key is not taken away.
      await expect(admin('kms:DescribeKey', key)).resolves.toBe('Allowed');
    },
  );

  it('let only the sealer sign, and only a digest', async () => {
    await expect(
      decide(SEALER.arn, SEALER.identity, 'kms:Sign', SIGNING_KEY, { 'kms:MessageType': 'DIGEST' }),
    ).resolves.toBe('Allowed');
    await expect(
      decide(SEALER.arn, SEALER.identity, 'kms:Sign', SIGNING_KEY, { 'kms:MessageType': 'RAW' }),
    ).resolves.toBe('ExplicitlyDenied');
    for (const [principal, identity] of [
      [ADMIN, [ALLOW_EVERYTHING]],
      [WORKER.arn, [...WORKER.identity, ALLOW_EVERYTHING]],
      [ROOT, []],
    ] as const) {
      await expect(
        decide(principal, identity, 'kms:Sign', SIGNING_KEY, { 'kms:MessageType': 'DIGEST' }),
      ).resolves.toBe('ExplicitlyDenied');
    }
  });

  it('let the publisher read the public key, which anyone may then verify with', async () => {
    await expect(decide(PUBLISHER.arn, PUBLISHER.identity, 'kms:GetPublicKey', SIGNING_KEY)).resolves.toBe(
      'Allowed',
    );
  });
});

describe('the audit bucket policy', () => {
  it('refuses an administrator every write: records, manifests, public keys and anything else', async () => {
    for (const resource of [RECORD, MANIFEST, PUBLIC_KEY, `${BUCKET}/elsewhere.json`]) {
      await expect(admin('s3:PutObject', resource, WRITE_ONCE)).resolves.toBe('ExplicitlyDenied');
    }
  });

  it('refuses a write without If-None-Match, even to the roles that write', async () => {
    const { 's3:if-none-match': _, ...withoutCondition } = WRITE_ONCE;
    for (const r of [WORKER, SEALER]) {
      await expect(decide(r.arn, r.identity, 's3:PutObject', RECORD, withoutCondition)).resolves.toBe(
        'ExplicitlyDenied',
      );
      await expect(
        decide(r.arn, r.identity, 's3:PutObject', RECORD, {
          ...withoutCondition,
          's3:if-none-match': '"etag"',
        }),
      ).resolves.toBe('ExplicitlyDenied');
      await expect(decide(r.arn, r.identity, 's3:PutObject', RECORD, WRITE_ONCE)).resolves.toBe('Allowed');
    }
    await expect(decide(SEALER.arn, SEALER.identity, 's3:PutObject', MANIFEST, WRITE_ONCE)).resolves.toBe(
      'Allowed',
    );
    await expect(
      decide(PUBLISHER.arn, PUBLISHER.identity, 's3:PutObject', PUBLIC_KEY, WRITE_ONCE),
    ).resolves.toBe('Allowed');
  });

  it('refuses the writers anything outside their own prefix', async () => {
    await expect(
      decide(PUBLISHER.arn, [...PUBLISHER.identity, ALLOW_EVERYTHING], 's3:PutObject', RECORD, WRITE_ONCE),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(
      decide(WORKER.arn, [...WORKER.identity, ALLOW_EVERYTHING], 's3:PutObject', PUBLIC_KEY, WRITE_ONCE),
    ).resolves.toBe('ExplicitlyDenied');
  });

  it('refuses everyone deleting, unlocking, re-policing or re-encrypting the bucket', async () => {
    for (const [action, resource] of [
      ['s3:DeleteObject', RECORD],
      ['s3:DeleteObjectVersion', MANIFEST],
      ['s3:BypassGovernanceRetention', RECORD],
      ['s3:PutBucketObjectLockConfiguration', BUCKET],
      ['s3:PutLifecycleConfiguration', BUCKET],
      ['s3:PutBucketPolicy', BUCKET],
      ['s3:DeleteBucketPolicy', BUCKET],
      ['s3:PutEncryptionConfiguration', BUCKET],
    ] as const) {
      await expect(admin(action, resource)).resolves.toBe('ExplicitlyDenied');
      await expect(decide(SEALER.arn, [ALLOW_EVERYTHING], action, resource)).resolves.toBe(
        'ExplicitlyDenied',
      );
    }
  });

  it('lets anyone with the permission place a legal hold, and only the sealer remove one', async () => {
    await expect(admin('s3:PutObjectLegalHold', RECORD, { 's3:object-lock-legal-hold': 'ON' })).resolves.toBe(
      'Allowed',
    );
    await expect(
      admin('s3:PutObjectLegalHold', RECORD, { 's3:object-lock-legal-hold': 'OFF' }),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(
      decide(WORKER.arn, [ALLOW_EVERYTHING], 's3:PutObjectLegalHold', MANIFEST, {
        's3:object-lock-legal-hold': 'OFF',
      }),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(
      decide(SEALER.arn, SEALER.identity, 's3:PutObjectLegalHold', RECORD, {
        's3:object-lock-legal-hold': 'OFF',
      }),
    ).resolves.toBe('Allowed');
  });
});

describe('the access-log bucket policy (S3 allows no Object Lock on a log destination)', () => {
  it('refuses an administrator deleting or expiring access logs, or changing the policy', async () => {
    for (const [action, resource] of [
      ['s3:DeleteObject', `${LOGS_BUCKET}/audit-bucket/2026-01-01-log`],
      ['s3:DeleteObjectVersion', `${LOGS_BUCKET}/audit-bucket/2026-01-01-log`],
      ['s3:PutLifecycleConfiguration', LOGS_BUCKET],
      ['s3:PutBucketPolicy', LOGS_BUCKET],
    ] as const) {
      await expect(admin(action, resource)).resolves.toBe('ExplicitlyDenied');
    }
  });
});
