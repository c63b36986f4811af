/**
 * The audit bucket's policy as plain JSON: the AuditBucket construct deploys it, and the embedded
 * simulator's control plane seed installs the same document, so the drill runs against the
 * policy AWS would enforce. No aws-cdk-lib here: values may be CDK tokens or plain strings.
 */
import { PUBLIC_KEY_PREFIX } from '../../lambda/shared/naming';

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
  // The policy itself and the bucket's encryption stay as deployed. S3 always lets the account's
  // root user change or delete a bucket policy: the SCP in the README closes that door.
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutEncryptionConfiguration',
] as const;

/** The principals allowed to write, by what they write; everyone else is denied. */
export interface AuditWriters {
  /**
   * Roles of the kill and restore paths, which write records and manifests (`incidents/*`,
   * `manifests/*`): the kill and restore workers and the sealer. Only the sealer can sign a
   * manifest (the signing key's policy), so a manifest any other role wrote fails verification.
   */
  readonly records: readonly string[];
  /** Roles that write the published public keys (`public-keys/*`). */
  readonly publicKeys: readonly string[];
  /** The one role that may remove a legal hold (the sealer, after a two-person approval). */
  readonly holdReleasers: readonly string[];
}

export interface AuditBucketPolicyInput {
  readonly bucketArn: string;
  readonly auditKeyArn: string;
  /** @default - no principal restriction (every other statement still applies) */
  readonly writers?: AuditWriters;
}

type Json = Record<string, unknown>;

/** The statements of the audit bucket policy, in the IAM JSON grammar. */
export function auditBucketPolicyStatements(input: AuditBucketPolicyInput): Json[] {
  const { bucketArn, auditKeyArn, writers } = input;
  const objects = `${bucketArn}/*`;
  const anyone = { AWS: '*' };
  const statements: Json[] = [
    {
      Sid: 'DenyDeletingOrUnlockingAuditRecords',
      Effect: 'Deny',
      Principal: anyone,
      Action: [...AUDIT_BUCKET_DENIED_ACTIONS],
      Resource: [bucketArn, objects],
    },
    // Two statements, because conditions inside one statement are ANDed: either header, when a
    // writer sends it, must name the audit key (a record under another key could be made
    // unreadable by deleting that key). Writers that send neither get the bucket default.
    {
      Sid: 'DenyRecordsNotEncryptedWithKms',
      Effect: 'Deny',
      Principal: anyone,
      Action: 's3:PutObject',
      Resource: objects,
      Condition: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
    },
    {
      Sid: 'DenyRecordsEncryptedWithAnotherKey',
      Effect: 'Deny',
      Principal: anyone,
      Action: 's3:PutObject',
      Resource: objects,
      Condition: {
        StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption-aws-kms-key-id': auditKeyArn },
      },
    },
    // Every object is written once: a write without `If-None-Match: *` could add a new current
    // version over a record (the original stays locked, but readers of current versions see the
    // new one). A missing header fails StringNotEquals too.
    {
      Sid: 'DenyWritesThatCouldOverwrite',
      Effect: 'Deny',
      Principal: anyone,
      Action: 's3:PutObject',
      Resource: objects,
      Condition: { StringNotEquals: { 's3:if-none-match': '*' } },
    },
  ];
  if (!writers) return statements;
  const others = (arns: readonly string[]) => ({ ArnNotEquals: { 'aws:PrincipalArn': [...arns] } });
  return [
    ...statements,
    {
      Sid: 'DenyAuditObjectsFromAnyoneButTheKillAndRestorePaths',
      Effect: 'Deny',
      Principal: anyone,
      Action: 's3:PutObject',
      Resource: [`${bucketArn}/incidents/*`, `${bucketArn}/manifests/*`],
      Condition: others(writers.records),
    },
    {
      Sid: 'DenyPublicKeysFromAnyoneButThePublisher',
      Effect: 'Deny',
      Principal: anyone,
      Action: 's3:PutObject',
      Resource: `${bucketArn}/${PUBLIC_KEY_PREFIX}*`,
      Condition: others(writers.publicKeys),
    },
    {
      Sid: 'DenyObjectsOutsideTheAuditPrefixes',
      Effect: 'Deny',
      Principal: anyone,
      Action: 's3:PutObject',
      NotResource: [
        `${bucketArn}/incidents/*`,
        `${bucketArn}/manifests/*`,
        `${bucketArn}/${PUBLIC_KEY_PREFIX}*`,
      ],
    },
    {
      Sid: 'DenyRemovingLegalHoldsToAnyoneButTheSealer',
      Effect: 'Deny',
      Principal: anyone,
      Action: 's3:PutObjectLegalHold',
      Resource: objects,
      Condition: {
        StringEquals: { 's3:object-lock-legal-hold': 'OFF' },
        ...others(writers.holdReleasers),
      },
    },
  ];
}
