/**
 * The policy documents Backstop writes into workload accounts, built in one place for the CDK
 * stacks (which deploy them) and the handlers (which compare what is in force with what Backstop
 * would have written). This file imports nothing, so handler bundles stay free of aws-cdk-lib.
 *
 * Every document here holds Deny statements only: attaching one, or setting one as a permissions
 * boundary, can take authority away and never add it. The security tests prove it on the
 * synthesized templates.
 */

import type { KillMode } from './types';

export interface PolicyStatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
}

export interface PolicyDocumentJson {
  readonly Version: string;
  readonly Statement: readonly PolicyStatementJson[];
}

/**
 * What `read_only` and `draft_only` still allow: the `NotAction` of their deny. Reads of a service
 * that is not listed are denied too (fail closed). Deliberately absent although they start with
 * Get: `sts:GetSessionToken` and `sts:GetFederationToken` (they mint credentials),
 * `redshift:GetClusterCredentials` (it creates database users), `sso:GetRoleCredentials`;
 * `sqs:ReceiveMessage` (it hides messages from other consumers), `states:GetActivityTask` (it
 * takes work). Present although IAM does not classify it as a read: `kms:Decrypt` (needed to read
 * SSE-KMS data, changes nothing). Bedrock model invocation (`bedrock:InvokeModel*`, which
 * Converse also uses) is a read: without it a read-only agent could not think at all.
 */
export const READ_ONLY_ACTIONS = [
  'acm:Describe*',
  'acm:Get*',
  'acm:List*',
  'apigateway:GET',
  'athena:BatchGet*',
  'athena:GetQuery*',
  'athena:GetWorkGroup',
  'athena:List*',
  'autoscaling:Describe*',
  'bedrock:Get*',
  'bedrock:InvokeModel',
  'bedrock:InvokeModelWithResponseStream',
  'bedrock:List*',
  'cloudformation:Describe*',
  'cloudformation:Get*',
  'cloudformation:List*',
  'cloudfront:Get*',
  'cloudfront:List*',
  'cloudtrail:Describe*',
  'cloudtrail:Get*',
  'cloudtrail:List*',
  'cloudtrail:LookupEvents',
  'cloudwatch:Describe*',
  'cloudwatch:Get*',
  'cloudwatch:List*',
  'codebuild:BatchGet*',
  'codebuild:List*',
  'codecommit:BatchGet*',
  'codecommit:Describe*',
  'codecommit:Get*',
  'codecommit:GitPull',
  'codecommit:List*',
  'codepipeline:Get*',
  'codepipeline:List*',
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:Describe*',
  'dynamodb:GetItem',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:List*',
  'dynamodb:PartiQLSelect',
  'dynamodb:Query',
  'dynamodb:Scan',
  'ec2:Describe*',
  'ec2:Get*',
  'ecr:BatchCheckLayerAvailability',
  'ecr:BatchGetImage',
  'ecr:Describe*',
  'ecr:Get*',
  'ecr:List*',
  'ecs:Describe*',
  'ecs:List*',
  'eks:Describe*',
  'eks:List*',
  'elasticache:Describe*',
  'elasticache:List*',
  'elasticloadbalancing:Describe*',
  'es:Describe*',
  'es:ESHttpGet',
  'es:ESHttpHead',
  'es:List*',
  'events:Describe*',
  'events:List*',
  'firehose:Describe*',
  'firehose:List*',
  'glue:BatchGetPartition',
  'glue:GetDatabase*',
  'glue:GetPartition*',
  'glue:GetTable*',
  'glue:SearchTables',
  'iam:Get*',
  'iam:List*',
  'kinesis:Describe*',
  'kinesis:Get*',
  'kinesis:List*',
  'kms:Decrypt',
  'kms:Describe*',
  'kms:Get*',
  'kms:List*',
  'lambda:Get*',
  'lambda:List*',
  'logs:Describe*',
  'logs:FilterLogEvents',
  'logs:Get*',
  'logs:List*',
  'organizations:Describe*',
  'organizations:List*',
  'rds:Describe*',
  'rds:List*',
  'resource-groups:Get*',
  'resource-groups:List*',
  'route53:Get*',
  'route53:List*',
  's3:Get*',
  's3:List*',
  'sagemaker:Describe*',
  'sagemaker:List*',
  'scheduler:Get*',
  'scheduler:List*',
  'secretsmanager:Describe*',
  'secretsmanager:GetResourcePolicy',
  'secretsmanager:GetSecretValue',
  'secretsmanager:List*',
  'sns:Get*',
  'sns:List*',
  'sqs:Get*',
  'sqs:List*',
  'ssm:Describe*',
  'ssm:Get*',
  'ssm:List*',
  'states:Describe*',
  'states:GetExecutionHistory',
  'states:List*',
  'sts:GetCallerIdentity',
  'tag:Get*',
  'xray:BatchGet*',
  'xray:Get*',
] as const;

/**
 * Actions an agent could use to undo its own cut or to build itself a way back. `approval_gated`
 * denies them besides the agent's own high-risk actions, so that even a short high-risk list
 * cannot leave the deny detachable; the stricter modes deny them already.
 */
export const HOLD_THE_CUT_ACTIONS = [
  'events:EnableRule',
  'events:PutRule',
  'iam:AttachRolePolicy',
  'iam:CreateAccessKey',
  'iam:CreatePolicyVersion',
  'iam:CreateRole',
  'iam:CreateUser',
  'iam:DeleteRolePermissionsBoundary',
  'iam:DeleteRolePolicy',
  'iam:DetachRolePolicy',
  'iam:PassRole',
  'iam:PutRolePermissionsBoundary',
  'iam:PutRolePolicy',
  'iam:SetDefaultPolicyVersion',
  'iam:TagRole',
  'iam:UntagRole',
  'iam:UpdateAssumeRolePolicy',
  'lambda:DeleteFunctionConcurrency',
  'lambda:PutFunctionConcurrency',
  'lambda:UpdateEventSourceMapping',
  'scheduler:CreateSchedule',
  'scheduler:UpdateSchedule',
  'sts:AssumeRole',
] as const;

/** What a mode's deny needs to know about the agent it is written for. */
export interface AgentDenyInput {
  /** IAM actions denied in `approval_gated`. */
  readonly highRiskActions: readonly string[];
  /** Resource ARNs still writable in `draft_only`. */
  readonly draftResources: readonly string[];
}

const document = (statements: readonly PolicyStatementJson[]): PolicyDocumentJson => ({
  Version: '2012-10-17',
  Statement: statements,
});

const uniqueSorted = (values: readonly string[]): string[] => [...new Set(values)].sort();

/** The statement of a mode's deny policy (one statement per mode, so one statement proves a cut). */
export function denyStatement(mode: KillMode, agent: AgentDenyInput): PolicyStatementJson {
  switch (mode) {
    case 'full_stop':
      return { Sid: 'BackstopFullStop', Effect: 'Deny', Action: '*', Resource: '*' };
    case 'read_only':
      return { Sid: 'BackstopReadOnly', Effect: 'Deny', NotAction: [...READ_ONLY_ACTIONS], Resource: '*' };
    case 'draft_only':
      return agent.draftResources.length > 0
        ? {
            Sid: 'BackstopDraftOnly',
            Effect: 'Deny',
            NotAction: [...READ_ONLY_ACTIONS],
            NotResource: uniqueSorted(agent.draftResources),
          }
        : { Sid: 'BackstopDraftOnly', Effect: 'Deny', NotAction: [...READ_ONLY_ACTIONS], Resource: '*' };
    case 'approval_gated':
      return {
        Sid: 'BackstopApprovalGated',
        Effect: 'Deny',
        Action: uniqueSorted([...agent.highRiskActions, ...HOLD_THE_CUT_ACTIONS]),
        Resource: '*',
      };
  }
}

/** The document of the deny policy a kill attaches in `mode`. */
export function denyDocument(mode: KillMode, agent: AgentDenyInput): PolicyDocumentJson {
  return document([denyStatement(mode, agent)]);
}

/**
 * The kill boundary: the permissions boundary a full_stop kill sets on every agent role. It denies
 * everything, so it cuts every session of the role at once (those issued before the kill too) and
 * makes every later change to the role's own policies powerless until a restore puts the role's
 * boundary back.
 */
export function killBoundaryDocument(): PolicyDocumentJson {
  return document([{ Sid: 'BackstopKillBoundary', Effect: 'Deny', Action: '*', Resource: '*' }]);
}

/**
 * The inline deny a restore leaves on a role when it gives authority back: every session issued
 * before the kill stays dead (the condition the IAM console's "Revoke active sessions" writes).
 */
export function revokeSessionsDocument(killStartedAt: Date): PolicyDocumentJson {
  return document([
    {
      Sid: 'BackstopRevokeOlderSessions',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': killStartedAt.toISOString() } },
    },
  ]);
}

/**
 * A policy document in a form where two documents IAM treats the same compare equal: statements
 * keep their order, `Sid` and `Version` are kept, single values become one-element lists, lists
 * are sorted and de-duplicated (IAM treats them as sets), condition values likewise.
 */
export function canonicalPolicy(doc: unknown): unknown {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return doc;
  const { Statement, ...rest } = doc as { Statement?: unknown };
  const statements = Array.isArray(Statement) ? Statement : Statement === undefined ? [] : [Statement];
  return sortKeys({ ...rest, Statement: statements.map(canonicalStatement) });
}

const SET_FIELDS = new Set(['Action', 'NotAction', 'Resource', 'NotResource']);

function canonicalStatement(statement: unknown): unknown {
  if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) return statement;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(statement)) {
    if (SET_FIELDS.has(key)) out[key] = asSet(value);
    else if (key === 'Condition' && typeof value === 'object' && value !== null) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([op, keys]) => [
          op,
          typeof keys === 'object' && keys !== null
            ? Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, asSet(v)]))
            : keys,
        ]),
      );
    } else out[key] = value;
  }
  return out;
}

function asSet(value: unknown): unknown {
  const list = Array.isArray(value) ? value : [value];
  return list.every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    ? [...new Set(list.map(String))].sort()
    : list;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

/** Whether two policy documents (objects or JSON text) are the same to IAM (see canonicalPolicy). */
export function samePolicy(a: unknown, b: unknown): boolean {
  const parse = (v: unknown) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  };
  return (
    JSON.stringify(sortKeys(canonicalPolicy(parse(a)))) ===
    JSON.stringify(sortKeys(canonicalPolicy(parse(b))))
  );
}
