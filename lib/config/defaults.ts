/**
 * Every default of backstop.config.json, in one place. The schema applies them; the docs of each
 * field name them; the tests check that an empty optional field ends up with exactly these.
 */

/** Path of the configuration file, relative to the working directory, unless `-c config=` or `--config` says otherwise. */
export const DEFAULT_CONFIG_PATH = 'backstop.config.json';

/** AWS partition of every ARN Backstop builds. */
export const DEFAULT_PARTITION = 'aws';

/** Default Object Lock retention of audit records, in days. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

/** Default Object Lock mode of audit records: nobody, not even the root user, can shorten or remove it. */
export const DEFAULT_AUDIT_MODE = 'COMPLIANCE';

/**
 * Whether the control plane account already has a CloudTrail trail that logs management events.
 * The default (none) makes the control plane create one: without a trail, CloudTrail sends no
 * API events to EventBridge, and kills could not be attributed nor key tampering alarmed.
 */
export const DEFAULT_CLOUDTRAIL_EXISTING_TRAIL = false;

/** Distinct approvals a restore needs. Never below 2: restoring authority is a two-person decision. */
export const DEFAULT_RESTORE_QUORUM = 2;

/**
 * Hours a restore waits for its approvals before it ends without changing anything (the
 * `waitForTaskToken` timeout of the restore path).
 */
export const DEFAULT_RESTORE_APPROVAL_TIMEOUT_HOURS = 24;

/**
 * Actions denied in `approval_gated` when an agent declares no `highRiskActions` of its own:
 * actions that grant or escalate authority, reach into other roles, or destroy data or keys.
 * An agent that declares its own list gets exactly its list instead.
 */
export const DEFAULT_HIGH_RISK_ACTIONS: readonly string[] = [
  'iam:AttachRolePolicy',
  'iam:AttachUserPolicy',
  'iam:CreateAccessKey',
  'iam:CreatePolicyVersion',
  'iam:CreateRole',
  'iam:CreateUser',
  'iam:PassRole',
  'iam:PutRolePolicy',
  'iam:PutUserPolicy',
  'iam:UpdateAssumeRolePolicy',
  'sts:AssumeRole',
  'organizations:LeaveOrganization',
  'kms:DisableKey',
  'kms:PutKeyPolicy',
  'kms:ScheduleKeyDeletion',
  's3:DeleteBucket',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:PutBucketPolicy',
  's3:PutBucketPublicAccessBlock',
  'ec2:AuthorizeSecurityGroupIngress',
  'ec2:TerminateInstances',
  'rds:DeleteDBCluster',
  'rds:DeleteDBInstance',
  'dynamodb:DeleteTable',
  'lambda:AddPermission',
  'lambda:CreateFunctionUrlConfig',
  'lambda:DeleteFunction',
  'secretsmanager:DeleteSecret',
];

/**
 * Agents of one execution cut at once (the per-agent Map's MaxConcurrency). Every agent runs its
 * seven surface handlers at once, so 40 agents keep about 280 handlers busy in the control plane.
 */
export const DEFAULT_MAX_CONCURRENT_AGENTS = 40;

/** Agents per child execution of a fleet kill (about 60 history events each, of 25,000). */
export const DEFAULT_AGENTS_PER_BATCH = 100;

/**
 * Most agents one child execution may take. Its history holds 25,000 events: an agent costs about
 * 60, and up to about 160 when every read-back polls to its last attempt (12), so 150 agents fit
 * even then, with room for the state machine's retries.
 */
export const MAX_AGENTS_PER_BATCH = 150;

/** Child executions of a fleet kill running at once. */
export const DEFAULT_MAX_CONCURRENT_BATCHES = 10;
/** Minutes between two canary rehearsals of a kill, in every workload account and region. */
export const DEFAULT_CANARY_INTERVAL_MINUTES = 60;
