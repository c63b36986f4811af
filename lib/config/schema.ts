import { z } from 'zod';
import { KILL_MODES } from '../../lambda/shared/types';
import {
  DEFAULT_AGENTS_PER_BATCH,
  DEFAULT_AUDIT_MODE,
  DEFAULT_CANARY_INTERVAL_MINUTES,
  DEFAULT_AUDIT_RETENTION_DAYS,
  DEFAULT_CLOUDTRAIL_EXISTING_TRAIL,
  DEFAULT_HIGH_RISK_ACTIONS,
  DEFAULT_MAX_CONCURRENT_AGENTS,
  DEFAULT_MAX_CONCURRENT_BATCHES,
  DEFAULT_PARTITION,
  DEFAULT_RESTORE_APPROVAL_TIMEOUT_HOURS,
  MAX_AGENTS_PER_BATCH,
  DEFAULT_RESTORE_QUORUM,
} from './defaults';
import { previewValue } from './errors';

/**
 * The schema of backstop.config.json. Field-level rules (formats, ranges, defaults) live here;
 * rules that relate fields to each other (an agent's account must be declared, a role ARN must be
 * in the agent's account...) live in validate.ts, which runs once this schema has passed.
 */

export const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const;
export const AUDIT_MODES = ['COMPLIANCE', 'GOVERNANCE'] as const;

export const ACCOUNT_ID = /^\d{12}$/;
export const REGION = /^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
export const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
export const VPC_ID = /^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
export const AGENT_ID = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
export const AGENT_ID_MAX_LENGTH = 32;
/** `service:Action`, where the action part may use IAM wildcards (the service part never may). */
export const IAM_ACTION = /^[a-z0-9-]+:[A-Za-z0-9*?]+$/;
/** arn:partition:service:region:account:resource. Region and account may be empty (S3 buckets). */
export const ARN = /^arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws)?:(.+)$/;
/** An IAM role ARN, path included: arn:partition:iam::account:role/path/name. */
export const IAM_ROLE_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** An IAM user or role ARN: the identities a person signs in as. */
export const IAM_PRINCIPAL_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):(?:role|user)\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** An IAM path: starts and ends with a slash, printable ASCII in between. */
export const IAM_PATH_PATTERN = /^\/(?:[\x21-\x2e\x30-\x7e]+\/)*$/;
/** A prefix of Lambda function names: letters, digits, `-` and `_`, at least 3 of them. */
export const FUNCTION_PREFIX_PATTERN = /^[A-Za-z0-9_-]{3,40}$/;

const accountId = z.string({ error: 'must be a 12-digit AWS account id' }).regex(ACCOUNT_ID, {
  error: (issue) => `must be a 12-digit AWS account id, got ${previewValue(issue.input)}`,
});

const region = z.string({ error: 'must be an AWS region name such as us-east-1' }).regex(REGION, {
  error: (issue) => `must be an AWS region name such as us-east-1, got ${previewValue(issue.input)}`,
});

const arn = z.string({ error: 'must be an ARN' }).regex(ARN, {
  error: (issue) =>
    `must be an ARN (arn:partition:service:region:account:resource), got ${previewValue(issue.input)}`,
});

const roleArn = z.string({ error: 'must be an IAM role ARN' }).regex(IAM_ROLE_ARN, {
  error: (issue) =>
    `must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got ${previewValue(issue.input)}`,
});

const principalArn = z.string({ error: 'must be an IAM user or role ARN' }).regex(IAM_PRINCIPAL_ARN, {
  error: (issue) =>
    `must be an IAM user or role ARN (arn:aws:iam::<account>:user/<name> or :role/<name>), got ${previewValue(issue.input)}`,
});

const iamAction = z
  .string({ error: 'must be an IAM action name such as s3:DeleteObject' })
  .regex(IAM_ACTION, {
    error: (issue) =>
      `must be an IAM action name such as s3:DeleteObject (a wildcard may appear in the action part, never in the service), got ${previewValue(issue.input)}`,
  });

/** A CloudWatch alarm that triggers a kill of the agent when it goes to ALARM. */
const alarmSchema = z.strictObject({
  /** Name of the CloudWatch alarm, in the agent's account and region. */
  alarmName: z
    .string({ error: 'must be a CloudWatch alarm name' })
    .min(1, { error: 'must not be empty' })
    .max(255, { error: 'must be at most 255 characters' }),
  /** Mode the kill moves the agent to when the alarm fires. */
  mode: z.enum(KILL_MODES, { error: `must be one of ${KILL_MODES.join(', ')}` }),
});

/** One AI agent and how to find its authority surfaces. */
const agentSchema = z.strictObject({
  /** Lowercase id, `[a-z0-9-]`, at most 32 characters: it is part of resource names and the `backstop:agent` tag value. */
  id: z
    .string({ error: 'must be an agent id' })
    .max(AGENT_ID_MAX_LENGTH, { error: `must be at most ${AGENT_ID_MAX_LENGTH} characters` })
    .regex(AGENT_ID, {
      error: (issue) =>
        `must be lowercase letters, digits and dashes, starting and ending with a letter or digit, got ${previewValue(issue.input)}`,
    }),
  /** Workload account the agent runs in; must be declared in `workloadAccounts`. */
  accountId,
  /** Region the agent runs in; must be declared for its account in `workloadAccounts`. */
  region,
  /** IAM roles of the agent, in the agent's account, besides those tagged `backstop:agent=<id>`. @default [] */
  roleArns: z.array(roleArn).default([]),
  /** Other resources of the agent (functions, queues, state machines, rules, schedules, ENIs). @default [] */
  resourceArns: z.array(arn).default([]),
  /**
   * IAM actions denied in `approval_gated`.
   * @default DEFAULT_HIGH_RISK_ACTIONS (actions that grant authority or destroy data)
   */
  highRiskActions: z
    .array(iamAction)
    .min(1, { error: 'must list at least one action; omit the field to use the default high-risk actions' })
    .default([...DEFAULT_HIGH_RISK_ACTIONS]),
  /** Resource ARNs (wildcards allowed in the resource part) the agent may still write in `draft_only`. @default [] */
  draftResources: z.array(arn).default([]),
  /** CloudWatch alarms that trigger a kill. @default [] */
  alarms: z.array(alarmSchema).default([]),
});

/** One region of a workload account. */
const workloadRegionSchema = z.strictObject({
  region,
  /** VPCs that get a pair of isolation security groups. @default [] */
  vpcIds: z
    .array(
      z.string({ error: 'must be a VPC id' }).regex(VPC_ID, {
        error: (issue) => `must be a VPC id such as vpc-0abc12345def67890, got ${previewValue(issue.input)}`,
      }),
    )
    .default([]),
});

/** One workload account: an account where agents run and a WorkloadAccountStack is deployed per region. */
const workloadAccountSchema = z.strictObject({
  accountId,
  /** Regions where agents of this account run. */
  regions: z.array(workloadRegionSchema).min(1, { error: 'must declare at least one region' }),
});

export const configSchema = z.strictObject({
  /** JSON Schema reference for editors; ignored. */
  $schema: z.string().optional(),
  /** The security account and region that run the control plane. */
  controlPlane: z.strictObject({ accountId, region }),
  /** AWS Organizations id (o-xxxxxxxxxx). When set, workload trust also requires `aws:PrincipalOrgID`. @default - no organization condition */
  organizationId: z
    .string()
    .regex(ORGANIZATION_ID, {
      error: (issue) => `must be an organization id such as o-a1b2c3d4e5, got ${previewValue(issue.input)}`,
    })
    .optional(),
  /** AWS partition. @default 'aws' */
  partition: z
    .enum(PARTITIONS, { error: `must be one of ${PARTITIONS.join(', ')}` })
    .default(DEFAULT_PARTITION),
  /** The audit log's Object Lock settings. @default { retentionDays: 365, mode: 'COMPLIANCE' } */
  audit: z
    .strictObject({
      /** Default Object Lock retention of every audit record, in days. @default 365 */
      retentionDays: z
        .number({ error: 'must be a whole number of days' })
        .int({ error: 'must be a whole number of days' })
        .min(1, { error: (issue) => `must be at least 1 day, got ${previewValue(issue.input)}` })
        .max(36500, { error: 'must be at most 36500 days (100 years)' })
        .default(DEFAULT_AUDIT_RETENTION_DAYS),
      /** Object Lock mode. `GOVERNANCE` can be lifted by privileged users, so it needs `allowGovernance`. @default 'COMPLIANCE' */
      mode: z
        .enum(AUDIT_MODES, { error: `must be one of ${AUDIT_MODES.join(', ')}` })
        .default(DEFAULT_AUDIT_MODE),
      /** Explicit opt-in for `GOVERNANCE` mode, for drills and dev accounts. @default false */
      allowGovernance: z.boolean({ error: 'must be true or false' }).default(false),
    })
    .default({
      retentionDays: DEFAULT_AUDIT_RETENTION_DAYS,
      mode: DEFAULT_AUDIT_MODE,
      allowGovernance: false,
    }),
  /**
   * CloudTrail in the control plane account: `existingTrail: true` when a trail (an organization
   * trail counts) already logs its management events; otherwise the control plane creates one.
   * @default { existingTrail: false }
   */
  cloudTrail: z
    .strictObject({
      existingTrail: z.boolean({ error: 'must be true or false' }).default(DEFAULT_CLOUDTRAIL_EXISTING_TRAIL),
    })
    .default({ existingTrail: DEFAULT_CLOUDTRAIL_EXISTING_TRAIL }),
  /** Accounts and regions where agents run. */
  workloadAccounts: z
    .array(workloadAccountSchema)
    .min(1, { error: 'must declare at least one workload account' }),
  /**
   * IAM path under which every role is an agent role, in addition to roles tagged `backstop:agent`.
   * @default - agent roles are found by tag and by `agents[].roleArns` only
   */
  agentRolePath: z
    .string()
    .regex(IAM_PATH_PATTERN, {
      error: (issue) => `must be an IAM path that starts and ends with "/", got ${previewValue(issue.input)}`,
    })
    .optional(),
  /**
   * Prefix of the names of Lambda functions that belong to agents, in every workload account and
   * region (for example `agent-`). The execution roles then reach those functions, and the event
   * source mappings of those functions, by name pattern instead of naming every declared function:
   * IAM sees only the function's ARN on a mapping, never its tags.
   * @default - functions are reached by tag and by the ARNs declared in `agents[].resourceArns`
   */
  agentFunctionPrefix: z
    .string()
    .regex(FUNCTION_PREFIX_PATTERN, {
      error: (issue) =>
        `must be 3 to 40 letters, digits, "-" or "_" (a function name prefix such as "agent-"), got ${JSON.stringify(issue.input)}`,
    })
    .optional(),
  /** How the kill path fans out over a fleet. @default {} (every field at its default) */
  killPath: z
    .strictObject({
      /**
       * Agents of one execution (or of one child execution) cut at once. Each agent runs seven
       * surface handlers at a time: keep 7 x this x maxConcurrentBatches under the control plane
       * account's Lambda concurrency.
       * @default DEFAULT_MAX_CONCURRENT_AGENTS
       */
      maxConcurrentAgents: z
        .number({ error: 'must be a whole number' })
        .int({ error: 'must be a whole number' })
        .min(1, { error: 'must be at least 1' })
        .max(40, { error: 'must be at most 40: an inline Map runs at most 40 iterations at once' })
        .default(DEFAULT_MAX_CONCURRENT_AGENTS),
      /**
       * Agents per child execution of a fleet kill. A kill of more agents than this runs them in
       * child executions (a distributed Map), each with its own 25,000-event history.
       * @default DEFAULT_AGENTS_PER_BATCH
       */
      agentsPerBatch: z
        .number({ error: 'must be a whole number' })
        .int({ error: 'must be a whole number' })
        .min(1, { error: 'must be at least 1' })
        .max(MAX_AGENTS_PER_BATCH, {
          error: `must be at most ${MAX_AGENTS_PER_BATCH}: a child execution's history holds 25,000 events, up to about 160 per agent`,
        })
        .default(DEFAULT_AGENTS_PER_BATCH),
      /** Child executions running at once in a fleet kill. @default DEFAULT_MAX_CONCURRENT_BATCHES */
      maxConcurrentBatches: z
        .number({ error: 'must be a whole number' })
        .int({ error: 'must be a whole number' })
        .min(1, { error: 'must be at least 1' })
        .max(1000, { error: 'must be at most 1000' })
        .default(DEFAULT_MAX_CONCURRENT_BATCHES),
    })
    .default({
      maxConcurrentAgents: DEFAULT_MAX_CONCURRENT_AGENTS,
      agentsPerBatch: DEFAULT_AGENTS_PER_BATCH,
      maxConcurrentBatches: DEFAULT_MAX_CONCURRENT_BATCHES,
    }),
  /** The agents Backstop can kill. */
  agents: z.array(agentSchema).default([]),
  /** Who may press the button: the break-glass role trusts these principals (with MFA). */
  breakGlass: z.strictObject({
    principals: z.array(principalArn).min(1, { error: 'must list at least one principal' }),
  }),
  /**
   * The canary that rehearses a kill (discovery and a permission check, no cut) in every workload
   * account and region, and alarms when a real kill would end PARTIAL or FAILED.
   * @default { intervalMinutes: 60 }
   */
  canary: z
    .strictObject({
      /** Minutes between two rehearsals. @default 60 */
      intervalMinutes: z
        .number({ error: 'must be a whole number of minutes' })
        .int({ error: 'must be a whole number of minutes' })
        .min(5, { error: (issue) => `must be at least 5 minutes, got ${String(issue.input)}` })
        .max(720, {
          error: (issue) =>
            `must be at most 720 minutes (12 hours: the canary's silence alarm watches two intervals within a day), got ${String(issue.input)}`,
        })
        .default(DEFAULT_CANARY_INTERVAL_MINUTES),
    })
    .optional(),
  /** Who approves a restore, and how many of them must. */
  restore: z.strictObject({
    approvers: z
      .array(principalArn)
      .min(2, { error: 'must list at least two approvers: a restore needs two people' }),
    /** Distinct approvals a restore needs. @default 2 */
    quorum: z
      .number({ error: 'must be a whole number' })
      .int({ error: 'must be a whole number' })
      .min(2, {
        error: (issue) =>
          `must be at least 2 (restoring authority is a two-person decision), got ${previewValue(issue.input)}`,
      })
      .default(DEFAULT_RESTORE_QUORUM),
    /** Hours a restore waits for its approvals; then it ends and changes nothing. @default 24 */
    approvalTimeoutHours: z
      .number({ error: 'must be a number of hours' })
      .int({ error: 'must be a whole number of hours' })
      .min(1, { error: (issue) => `must be at least 1 hour, got ${String(issue.input)}` })
      .max(720, { error: 'must be at most 720 hours (30 days)' })
      .default(DEFAULT_RESTORE_APPROVAL_TIMEOUT_HOURS),
  }),
});

/** The configuration as written in the file (defaults not yet applied). */
export type BackstopConfigInput = z.input<typeof configSchema>;
/** The validated configuration, every default applied. */
export type BackstopConfig = z.output<typeof configSchema>;
export type AgentConfig = BackstopConfig['agents'][number];
export type AlarmConfig = AgentConfig['alarms'][number];
export type WorkloadAccountConfig = BackstopConfig['workloadAccounts'][number];
export type WorkloadRegionConfig = WorkloadAccountConfig['regions'][number];
export type KillPathConfig = BackstopConfig['killPath'];
