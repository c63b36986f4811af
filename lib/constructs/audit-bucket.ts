import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { auditBucketName } from '../../lambda/shared/naming';
import { DEFAULT_AUDIT_MODE, DEFAULT_AUDIT_RETENTION_DAYS } from '../config/defaults';
import { auditBucketLockSettings, RETAIN, withNonNegotiableBucketSettings } from './secure-defaults';

export interface AuditBucketProps {
  /** Default Object Lock retention of every record, in days (at least 1). @default 365 */
  readonly retentionDays?: number;
  /** Default Object Lock mode of every record. @default s3.ObjectLockMode.COMPLIANCE */
  readonly mode?: s3.ObjectLockMode;
  /** Key that encrypts the records. @default - a new customer-managed key with automatic rotation, retained */
  readonly encryptionKey?: kms.IKey;
  /**
   * Bucket that receives the server access logs of the audit bucket.
   * @default - a new bucket: SSE-S3 encrypted (the only encryption S3 log delivery supports),
   * TLS only, public access blocked, versioned, retained
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * Further settings for the audit bucket. Object Lock, versioning, KMS encryption, TLS only,
   * blocked public access, no lifecycle rules and retention on stack deletion are applied after
   * these and cannot be overridden.
   * @default - none
   */
  readonly bucketOverrides?: Partial<s3.BucketProps>;
}

/** Actions the bucket policy denies to every principal, and why. */
export const AUDIT_BUCKET_DENIED_ACTIONS = [
  // A delete marker hides a record even where the version itself is locked.
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  // GOVERNANCE retention can be shortened with this permission; nobody gets it.
  's3:BypassGovernanceRetention',
  // Lowering the default retention or switching it to GOVERNANCE would weaken every future record.
  // Consequence: a retention change in the config needs this statement lifted in a reviewed change first.
  's3:PutBucketObjectLockConfiguration',
  // An expiration rule makes S3 itself add delete markers, which a DeleteObject deny does not stop.
  's3:PutLifecycleConfiguration',
] as const;

/**
 * The audit log bucket: every kill and restore record lands here under Object Lock, encrypted
 * with a customer-managed key, readable only over TLS, never public, never deletable.
 */
export class AuditBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly encryptionKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  readonly retentionDays: number;
  readonly mode: s3.ObjectLockMode;

  constructor(scope: Construct, id: string, props: AuditBucketProps = {}) {
    super(scope, id);
    // S3 log delivery authorised by bucket policy, not by the legacy log-delivery ACL (ACLs stay disabled).
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    this.retentionDays = props.retentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
    this.mode = props.mode ?? s3.ObjectLockMode[DEFAULT_AUDIT_MODE];
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < 1) {
      throw new Error(
        `AuditBucket: retentionDays must be a whole number of at least 1, got ${this.retentionDays}`,
      );
    }

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: 'Backstop audit log: encrypts every kill and restore record',
        enableKeyRotation: true,
        removalPolicy: RETAIN,
      });

    this.accessLogsBucket =
      props.accessLogsBucket ??
      new s3.Bucket(
        this,
        'AccessLogs',
        withNonNegotiableBucketSettings({ encryption: s3.BucketEncryption.S3_MANAGED }),
      );

    const retention =
      this.mode === s3.ObjectLockMode.COMPLIANCE
        ? s3.ObjectLockRetention.compliance(Duration.days(this.retentionDays))
        : s3.ObjectLockRetention.governance(Duration.days(this.retentionDays));

    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: auditBucketName(Stack.of(this).account, Stack.of(this).region),
      ...withNonNegotiableBucketSettings(props.bucketOverrides),
      ...auditBucketLockSettings(retention),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'audit-bucket/',
    });

    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyDeletingOrUnlockingAuditRecords',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...AUDIT_BUCKET_DENIED_ACTIONS],
        resources: [this.bucket.bucketArn, this.bucket.arnForObjects('*')],
      }),
    );
    // Two statements, because conditions inside one statement are ANDed: either header, when a
    // writer sends it, must name the audit key (a record under another key could be made
    // unreadable by deleting that key). Writers that send neither get the bucket default.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyRecordsNotEncryptedWithKms',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
      }),
    );
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyRecordsEncryptedWithAnotherKey',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: {
          StringNotEqualsIfExists: {
            's3:x-amz-server-side-encryption-aws-kms-key-id': this.encryptionKey.keyArn,
          },
        },
      }),
    );
  }
}
