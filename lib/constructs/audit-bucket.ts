import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { auditBucketName } from '../../lambda/shared/naming';
import { DEFAULT_AUDIT_MODE, DEFAULT_AUDIT_RETENTION_DAYS } from '../config/defaults';
import { type AuditWriters, auditBucketPolicyStatements } from './audit-bucket-policy';
import { protectKey } from './audit-key-protection';
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
  /**
   * Who may write what (role ARNs). Everyone else is denied every write, and removing a legal
   * hold is denied to all but `holdReleasers`.
   * @default - no principal restriction (writes still need If-None-Match and the audit key)
   */
  readonly writers?: AuditWriters;
}

export { AUDIT_BUCKET_DENIED_ACTIONS, type AuditWriters } from './audit-bucket-policy';

/** What the access-log bucket denies to everyone: it holds the only record of reads and writes. */
export const ACCESS_LOG_BUCKET_DENIED_ACTIONS = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:PutLifecycleConfiguration',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutEncryptionConfiguration',
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
  /** The default retention of every object (also used for the trail's log bucket). */
  readonly retention: s3.ObjectLockRetention;

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

    const retention = (this.retention =
      this.mode === s3.ObjectLockMode.COMPLIANCE
        ? s3.ObjectLockRetention.compliance(Duration.days(this.retentionDays))
        : s3.ObjectLockRetention.governance(Duration.days(this.retentionDays)));

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

    for (const statement of auditBucketPolicyStatements({
      bucketArn: this.bucket.bucketArn,
      auditKeyArn: this.encryptionKey.keyArn,
      writers: props.writers,
    })) {
      this.bucket.addToResourcePolicy(iam.PolicyStatement.fromJson(statement));
    }
    // S3 refuses Object Lock on a server access log destination: the log bucket is versioned and
    // its objects can be neither deleted nor expired, nor its policy changed, by anyone.
    if (this.accessLogsBucket instanceof s3.Bucket) {
      this.accessLogsBucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'DenyDeletingOrExpiringAccessLogs',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: [...ACCESS_LOG_BUCKET_DENIED_ACTIONS],
          resources: [this.accessLogsBucket.bucketArn, this.accessLogsBucket.arnForObjects('*')],
        }),
      );
    }
    if (this.encryptionKey instanceof kms.Key) protectKey(this.encryptionKey);
  }
}
