import { RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * Backstop's secure defaults, in one place. Constructs start from these; the settings marked
 * non-negotiable are applied again after any override a caller passes, so an override can change
 * how a resource looks but never weaken what Backstop relies on.
 */

/** Everything that holds evidence or state outlives its stack: a stack deletion never deletes a record. */
export const RETAIN = RemovalPolicy.RETAIN;

/** Minimum TLS version accepted by the buckets (older versions are denied by bucket policy). */
export const MINIMUM_TLS_VERSION = 1.2;

/**
 * Bucket settings no caller can turn off: TLS only, all public access blocked, versioning,
 * ACLs disabled, retained on stack deletion.
 */
export const NON_NEGOTIABLE_BUCKET_SETTINGS = {
  enforceSSL: true,
  minimumTLSVersion: MINIMUM_TLS_VERSION,
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  versioned: true,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  removalPolicy: RETAIN,
  autoDeleteObjects: false,
} as const satisfies Partial<s3.BucketProps>;

/**
 * Caller overrides merged under the non-negotiable settings: whatever the caller passed for a
 * non-negotiable key is replaced.
 */
export function withNonNegotiableBucketSettings(overrides: Partial<s3.BucketProps> = {}): s3.BucketProps {
  return { ...overrides, ...NON_NEGOTIABLE_BUCKET_SETTINGS };
}

/** Object Lock settings of the audit bucket that no override can drop. */
export function auditBucketLockSettings(retention: s3.ObjectLockRetention): Partial<s3.BucketProps> {
  return {
    objectLockEnabled: true,
    objectLockDefaultRetention: retention,
    // An expiration rule would make S3 itself write delete markers that hide records.
    lifecycleRules: [],
  };
}
