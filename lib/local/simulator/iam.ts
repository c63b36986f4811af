/**
 * IAM, per account: roles (trust policy, tags, boundary, managed and inline policies, last use),
 * customer managed policies, and a global set of AWS managed policies. Documents come back
 * URL-encoded, as the IAM query API returns them.
 *
 * The simulator models trust (checked by STS AssumeRole), not authorization: identity policies,
 * boundaries and deny policies attached to a role are stored and listed but never evaluated for
 * other calls. Tests that need a call refused use `Simulator.denyAction`, or an authorizer
 * (`Simulator.authorize`) that decides each call as IAM would. The one exception is
 * SimulatePrincipalPolicy, which evaluates a role's policies and boundary (iam-simulate.ts).
 * Managed policies keep their versions (CreatePolicyVersion); the default one is what GetPolicy names.
 */
import type {
  AttachRolePolicyCommandInput,
  AttachRolePolicyCommandOutput,
  CreatePolicyCommandInput,
  CreatePolicyCommandOutput,
  CreatePolicyVersionCommandInput,
  CreatePolicyVersionCommandOutput,
  CreateRoleCommandInput,
  CreateRoleCommandOutput,
  DeleteRolePermissionsBoundaryCommandInput,
  DeleteRolePermissionsBoundaryCommandOutput,
  DeleteRolePolicyCommandInput,
  DeleteRolePolicyCommandOutput,
  DetachRolePolicyCommandInput,
  DetachRolePolicyCommandOutput,
  GetPolicyCommandInput,
  GetPolicyCommandOutput,
  GetPolicyVersionCommandInput,
  GetPolicyVersionCommandOutput,
  GetRoleCommandInput,
  GetRoleCommandOutput,
  GetRolePolicyCommandInput,
  GetRolePolicyCommandOutput,
  ListAttachedRolePoliciesCommandInput,
  ListAttachedRolePoliciesCommandOutput,
  ListRolePoliciesCommandInput,
  ListRolePoliciesCommandOutput,
  ListRolesCommandInput,
  ListRolesCommandOutput,
  ListRoleTagsCommandInput,
  ListRoleTagsCommandOutput,
  Policy,
  PutRolePermissionsBoundaryCommandInput,
  PutRolePermissionsBoundaryCommandOutput,
  PutRolePolicyCommandInput,
  PutRolePolicyCommandOutput,
  Role,
  SimulatePrincipalPolicyCommandInput,
  SimulatePrincipalPolicyCommandOutput,
  TagRoleCommandInput,
  TagRoleCommandOutput,
  UntagRoleCommandInput,
  UntagRoleCommandOutput,
} from '@aws-sdk/client-iam';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { type Page, paginate, sortedBy } from './pagination';
import { simulatePrincipalPolicy } from './iam-simulate';
import { MalformedPolicyError, type PolicyDocument, parsePolicy } from './policy';
import {
  type CallContext,
  compact,
  copy,
  parseArn,
  type TagList,
  tagsFromList,
  tagsToList,
  validateTags,
} from './world';

interface RoleRecord {
  readonly RoleName: string;
  readonly RoleId: string;
  readonly Arn: string;
  readonly Path: string;
  readonly CreateDate: Date;
  trustPolicy: string;
  Description?: string;
  MaxSessionDuration: number;
  boundaryArn?: string;
  readonly tags: Map<string, string>;
  lastUsed?: { date: Date; region: string };
  /** Attached managed policy ARNs with the order they were attached in. */
  attached: { arn: string; seq: number }[];
  readonly inline: Map<string, string>;
}

interface PolicyRecord {
  readonly PolicyName: string;
  readonly PolicyId: string;
  readonly Arn: string;
  readonly Path: string;
  readonly Description?: string;
  /** The document of the default version. */
  document: string;
  readonly CreateDate: Date;
  readonly tags: Map<string, string>;
  attachments: number;
  boundaryUsage: number;
  /** Every version, oldest first (IAM keeps at most five). */
  versions: { id: string; document: string; createDate: Date }[];
  defaultVersionId: string;
}

interface Account {
  readonly roles: Map<string, RoleRecord>; // by lower-case name: IAM names are case-insensitive
  readonly policies: Map<string, PolicyRecord>; // by ARN
}

const NAME = /^[\w+=,.@-]{1,64}$/;
const PATH = /^\/(?:[\x21-\x7E]*\/)?$/;
const INLINE_POLICY_LIMIT = 10_240;
const POLICY_VERSION_LIMIT = 5;
const MANAGED_POLICY_LIMIT = 6_144;

/** A few AWS managed policies that exist in every account, for seeding agent roles. */
const AWS_MANAGED: readonly { name: string; path: string; actions: string[] }[] = [
  { name: 'AdministratorAccess', path: '/', actions: ['*'] },
  { name: 'ReadOnlyAccess', path: '/', actions: ['*:Describe*', '*:Get*', '*:List*'] },
  { name: 'AWSLambdaBasicExecutionRole', path: '/service-role/', actions: ['logs:*'] },
  { name: 'AWSLambdaVPCAccessExecutionRole', path: '/service-role/', actions: ['ec2:*NetworkInterface*'] },
  { name: 'AWSLambdaSQSQueueExecutionRole', path: '/service-role/', actions: ['sqs:*'] },
  { name: 'AmazonS3FullAccess', path: '/', actions: ['s3:*'] },
  { name: 'AmazonS3ReadOnlyAccess', path: '/', actions: ['s3:Get*', 's3:List*'] },
  { name: 'AmazonSQSFullAccess', path: '/', actions: ['sqs:*'] },
  { name: 'AmazonDynamoDBFullAccess', path: '/', actions: ['dynamodb:*'] },
  { name: 'AmazonBedrockFullAccess', path: '/', actions: ['bedrock:*'] },
  { name: 'AWSStepFunctionsFullAccess', path: '/', actions: ['states:*'] },
];

function encodeDocument(doc: string): string {
  return encodeURIComponent(doc);
}

function noSuchRole(name: string): SimError {
  return new SimError('NoSuchEntityException', `The role with name ${name} cannot be found.`, 404);
}

function malformed(e: unknown): SimError {
  if (e instanceof MalformedPolicyError)
    return new SimError('MalformedPolicyDocumentException', e.message, 400);
  throw e;
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === null || (typeof value === 'string' && value === '')) {
    throw new SimError(
      'ValidationError',
      `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

function checkName(value: string, member: string): void {
  if (!NAME.test(value)) {
    throw new SimError(
      'ValidationError',
      `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`,
    );
  }
}

function checkPolicyName(value: string): void {
  if (!/^[\w+=,.@-]{1,128}$/.test(value)) {
    throw new SimError(
      'ValidationError',
      `1 validation error detected: Value '${value}' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ (1-128 characters)`,
    );
  }
}

function checkPath(value: string): void {
  if (!PATH.test(value) || value.length > 512) {
    throw new SimError(
      'ValidationError',
      `The specified value for path is invalid. It must begin and end with / and contain only printable ASCII characters.`,
    );
  }
}

function nonWhitespaceLength(doc: string): number {
  return doc.replace(/\s/g, '').length;
}

export class IamService {
  private readonly accounts = new Map<string, Account>();
  /** AWS managed policies by ARN (all partitions share the names; ARNs are built per partition). */
  private readonly awsManaged = new Map<string, PolicyRecord>();
  /** Orders attachments, for ListAttachedRolePolicies. */
  private attachSeq = 0;

  constructor(private readonly core: SimCore) {}

  private account(accountId: string): Account {
    let account = this.accounts.get(accountId);
    if (!account) {
      account = { roles: new Map(), policies: new Map() };
      this.accounts.set(accountId, account);
    }
    return account;
  }

  private managedAwsPolicy(arn: string): PolicyRecord | undefined {
    const existing = this.awsManaged.get(arn);
    if (existing) return existing;
    const parsed = parseArn(arn);
    if (parsed?.account !== 'aws' || !parsed.resource.startsWith('policy/')) return undefined;
    const known = AWS_MANAGED.find((p) => `policy${p.path}${p.name}` === parsed.resource);
    if (!known) return undefined;
    const record: PolicyRecord = {
      PolicyName: known.name,
      PolicyId: `ANPA${this.core.ids.upper(17)}`,
      Arn: arn,
      Path: known.path,
      document: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: known.actions, Resource: '*' }],
      }),
      CreateDate: new Date(Date.UTC(2015, 1, 6, 18, 39, 46)),
      tags: new Map(),
      attachments: 0,
      boundaryUsage: 0,
      versions: [],
      defaultVersionId: 'v1',
    };
    record.versions.push({ id: 'v1', document: record.document, createDate: record.CreateDate });
    this.awsManaged.set(arn, record);
    return record;
  }

  /** A policy by ARN: customer managed in its account, or AWS managed. */
  private policy(arn: string, ctx: CallContext): PolicyRecord | undefined {
    const parsed = parseArn(arn);
    if (parsed?.service !== 'iam' || !parsed.resource.startsWith('policy/')) {
      throw new SimError('InvalidInputException', `ARN ${arn} is not valid.`, 400);
    }
    if (parsed.account === 'aws') return this.managedAwsPolicy(arn);
    if (parsed.account !== ctx.accountId) return undefined;
    return this.account(ctx.accountId).policies.get(arn);
  }

  private role(ctx: CallContext, name: string | undefined): RoleRecord {
    const roleName = required(name, 'roleName');
    const role = this.account(ctx.accountId).roles.get(roleName.toLowerCase());
    if (!role) throw noSuchRole(roleName);
    return role;
  }

  private roleOutput(role: RoleRecord, withDetails: boolean): Role {
    return compact({
      Path: role.Path,
      RoleName: role.RoleName,
      RoleId: role.RoleId,
      Arn: role.Arn,
      CreateDate: new Date(role.CreateDate),
      AssumeRolePolicyDocument: encodeDocument(role.trustPolicy),
      Description: role.Description,
      MaxSessionDuration: role.MaxSessionDuration,
      PermissionsBoundary:
        withDetails && role.boundaryArn
          ? {
              PermissionsBoundaryType: 'PermissionsBoundaryPolicy' as const,
              PermissionsBoundaryArn: role.boundaryArn,
            }
          : undefined,
      Tags: withDetails && role.tags.size > 0 ? tagsToList(role.tags) : undefined,
      RoleLastUsed: withDetails
        ? role.lastUsed
          ? { LastUsedDate: new Date(role.lastUsed.date), Region: role.lastUsed.region }
          : {}
        : undefined,
    });
  }

  private policyOutput(p: PolicyRecord): Policy {
    return compact({
      PolicyName: p.PolicyName,
      PolicyId: p.PolicyId,
      Arn: p.Arn,
      Path: p.Path,
      DefaultVersionId: p.defaultVersionId,
      AttachmentCount: p.attachments,
      PermissionsBoundaryUsageCount: p.boundaryUsage,
      IsAttachable: true,
      Description: p.Description,
      CreateDate: new Date(p.CreateDate),
      UpdateDate: new Date(p.CreateDate),
      Tags: p.tags.size > 0 ? tagsToList(p.tags) : undefined,
    });
  }

  /** A page of a List* call: Marker and MaxItems, 100 items unless asked, at most 1000. */
  private page<T>(
    items: readonly T[],
    input: { Marker?: string; MaxItems?: number },
    keyOf: (item: T) => string,
  ): Page<T> {
    return paginate(items, this.core.settings.pageSize, {
      token: input.Marker,
      requested: input.MaxItems,
      awsDefault: 100,
      max: 1000,
      keyOf,
      errorCode: 'ValidationError',
      sizeName: 'maxItems',
    });
  }

  // ---- AWS actions ----

  CreateRole(input: CreateRoleCommandInput, ctx: CallContext): Out<CreateRoleCommandOutput> {
    const name = required(input.RoleName, 'roleName');
    checkName(name, 'roleName');
    const trust = required(input.AssumeRolePolicyDocument, 'assumeRolePolicyDocument');
    const path = input.Path ?? '/';
    checkPath(path);
    let doc: PolicyDocument;
    try {
      doc = parsePolicy(trust, 'trust');
    } catch (e) {
      throw malformed(e);
    }
    this.checkTrustPrincipals(doc);
    const account = this.account(ctx.accountId);
    if (account.roles.has(name.toLowerCase())) {
      throw new SimError('EntityAlreadyExistsException', `Role with name ${name} already exists.`, 409);
    }
    const maxSession = input.MaxSessionDuration ?? 3600;
    if (maxSession < 3600 || maxSession > 43200) {
      throw new SimError('ValidationError', `MaxSessionDuration must be between 3600 and 43200 seconds.`);
    }
    if (input.PermissionsBoundary) {
      const boundary = this.policy(input.PermissionsBoundary, ctx);
      if (!boundary) {
        throw new SimError(
          'NoSuchEntityException',
          `Scope ARN: ${input.PermissionsBoundary} does not exist or is not attachable.`,
          404,
        );
      }
      boundary.boundaryUsage += 1;
    }
    const tags = tagsFromList(input.Tags as TagList | undefined);
    validateTags(tags, 'InvalidInputException');
    const role: RoleRecord = {
      RoleName: name,
      RoleId: `AROA${this.core.ids.upper(17)}`,
      Arn: `arn:${ctx.partition}:iam::${ctx.accountId}:role${path}${name}`,
      Path: path,
      CreateDate: ctx.now,
      trustPolicy: trust,
      Description: input.Description,
      MaxSessionDuration: maxSession,
      boundaryArn: input.PermissionsBoundary,
      tags,
      attached: [],
      inline: new Map(),
    };
    account.roles.set(name.toLowerCase(), role);
    const out = this.roleOutput(role, false);
    return {
      Role: compact({
        ...out,
        PermissionsBoundary: role.boundaryArn
          ? {
              PermissionsBoundaryType: 'PermissionsBoundaryPolicy' as const,
              PermissionsBoundaryArn: role.boundaryArn,
            }
          : undefined,
        Tags: tags.size > 0 ? tagsToList(tags) : undefined,
      }),
    };
  }

  /** AWS refuses a trust policy naming a role or user that does not exist. */
  private checkTrustPrincipals(doc: PolicyDocument): void {
    for (const st of doc.Statement) {
      if (st.Principal === undefined || st.Principal === '*') continue;
      for (const value of [st.Principal.AWS ?? []].flat()) {
        const parsed = parseArn(value);
        if (parsed?.service !== 'iam') continue;
        if (!parsed.resource.startsWith('role/')) continue;
        const name = parsed.resource.split('/').pop() ?? '';
        const target = this.accounts.get(parsed.account)?.roles.get(name.toLowerCase());
        if (!target || target.Arn !== value) {
          throw new SimError(
            'MalformedPolicyDocumentException',
            `Invalid principal in policy: "AWS":"${value}"`,
            400,
          );
        }
      }
    }
  }

  GetRole(input: GetRoleCommandInput, ctx: CallContext): Out<GetRoleCommandOutput> {
    return { Role: this.roleOutput(this.role(ctx, input.RoleName), true) };
  }

  ListRoles(input: ListRolesCommandInput, ctx: CallContext): Out<ListRolesCommandOutput> {
    const prefix = input.PathPrefix ?? '/';
    const roles = sortedBy(
      [...this.account(ctx.accountId).roles.values()].filter((r) => r.Path.startsWith(prefix)),
      (r) => r.RoleName.toLowerCase(),
    );
    const page = this.page(roles, input, (r) => r.RoleName.toLowerCase());
    return compact({
      Roles: page.items.map((r) => this.roleOutput(r, false)),
      IsTruncated: page.next !== undefined,
      Marker: page.next,
    });
  }

  ListRoleTags(input: ListRoleTagsCommandInput, ctx: CallContext): Out<ListRoleTagsCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const tags = sortedBy(tagsToList(role.tags), (t) => t.Key);
    const page = this.page(tags, input, (t) => t.Key);
    return compact({ Tags: page.items, IsTruncated: page.next !== undefined, Marker: page.next });
  }

  TagRole(input: TagRoleCommandInput, ctx: CallContext): Out<TagRoleCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const tags = tagsFromList(required(input.Tags, 'tags') as TagList);
    const merged = new Map([...role.tags, ...tags]);
    validateTags(merged, 'InvalidInputException');
    if (merged.size > 50)
      throw new SimError('LimitExceededException', 'Cannot exceed quota for TagsPerRole: 50', 409);
    for (const [k, v] of tags) role.tags.set(k, v);
    return {};
  }

  UntagRole(input: UntagRoleCommandInput, ctx: CallContext): Out<UntagRoleCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    for (const key of required(input.TagKeys, 'tagKeys')) role.tags.delete(key);
    return {};
  }

  ListAttachedRolePolicies(
    input: ListAttachedRolePoliciesCommandInput,
    ctx: CallContext,
  ): Out<ListAttachedRolePoliciesCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const prefix = input.PathPrefix ?? '/';
    const attached = role.attached
      .map((a) => ({ a, policy: this.policy(a.arn, ctx) }))
      .filter(({ policy }) => policy?.Path.startsWith(prefix));
    const key = (x: (typeof attached)[number]) => String(x.a.seq).padStart(12, '0');
    const page = this.page(attached, input, key);
    return compact({
      AttachedPolicies: page.items.map(({ policy }) => ({
        PolicyName: policy!.PolicyName,
        PolicyArn: policy!.Arn,
      })),
      IsTruncated: page.next !== undefined,
      Marker: page.next,
    });
  }

  AttachRolePolicy(
    input: AttachRolePolicyCommandInput,
    ctx: CallContext,
  ): Out<AttachRolePolicyCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const arn = required(input.PolicyArn, 'policyArn');
    const policy = this.policy(arn, ctx);
    if (!policy)
      throw new SimError('NoSuchEntityException', `Policy ${arn} does not exist or is not attachable.`, 404);
    if (role.attached.some((a) => a.arn === arn)) return {};
    const limit = this.core.settings.managedPolicyLimit;
    if (role.attached.length >= limit) {
      throw new SimError('LimitExceededException', `Cannot exceed quota for PoliciesPerRole: ${limit}`, 409);
    }
    this.attachSeq += 1;
    role.attached.push({ arn, seq: this.attachSeq });
    policy.attachments += 1;
    return {};
  }

  DetachRolePolicy(
    input: DetachRolePolicyCommandInput,
    ctx: CallContext,
  ): Out<DetachRolePolicyCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const arn = required(input.PolicyArn, 'policyArn');
    const index = role.attached.findIndex((a) => a.arn === arn);
    if (index < 0) throw new SimError('NoSuchEntityException', `Policy ${arn} was not found.`, 404);
    role.attached.splice(index, 1);
    const policy = this.policy(arn, ctx);
    if (policy) policy.attachments -= 1;
    return {};
  }

  ListRolePolicies(
    input: ListRolePoliciesCommandInput,
    ctx: CallContext,
  ): Out<ListRolePoliciesCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const names = sortedBy(role.inline.keys(), (n) => n);
    const page = this.page(names, input, (n) => n);
    return compact({ PolicyNames: page.items, IsTruncated: page.next !== undefined, Marker: page.next });
  }

  GetRolePolicy(input: GetRolePolicyCommandInput, ctx: CallContext): Out<GetRolePolicyCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const name = required(input.PolicyName, 'policyName');
    const doc = role.inline.get(name);
    if (doc === undefined) {
      throw new SimError('NoSuchEntityException', `The role policy with name ${name} cannot be found.`, 404);
    }
    return { RoleName: role.RoleName, PolicyName: name, PolicyDocument: encodeDocument(doc) };
  }

  PutRolePolicy(input: PutRolePolicyCommandInput, ctx: CallContext): Out<PutRolePolicyCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const name = required(input.PolicyName, 'policyName');
    checkPolicyName(name);
    const doc = required(input.PolicyDocument, 'policyDocument');
    try {
      parsePolicy(doc, 'identity');
    } catch (e) {
      throw malformed(e);
    }
    let total = nonWhitespaceLength(doc);
    for (const [other, text] of role.inline) if (other !== name) total += nonWhitespaceLength(text);
    if (total > INLINE_POLICY_LIMIT) {
      throw new SimError(
        'LimitExceededException',
        `Maximum policy size of ${INLINE_POLICY_LIMIT} bytes exceeded for role ${role.RoleName}`,
        409,
      );
    }
    role.inline.set(name, doc);
    return {};
  }

  DeleteRolePolicy(
    input: DeleteRolePolicyCommandInput,
    ctx: CallContext,
  ): Out<DeleteRolePolicyCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const name = required(input.PolicyName, 'policyName');
    if (!role.inline.delete(name)) {
      throw new SimError('NoSuchEntityException', `The role policy with name ${name} cannot be found.`, 404);
    }
    return {};
  }

  CreatePolicy(input: CreatePolicyCommandInput, ctx: CallContext): Out<CreatePolicyCommandOutput> {
    const name = required(input.PolicyName, 'policyName');
    checkPolicyName(name);
    const path = input.Path ?? '/';
    checkPath(path);
    const doc = required(input.PolicyDocument, 'policyDocument');
    try {
      parsePolicy(doc, 'identity');
    } catch (e) {
      throw malformed(e);
    }
    if (nonWhitespaceLength(doc) > MANAGED_POLICY_LIMIT) {
      throw new SimError(
        'LimitExceededException',
        `Cannot exceed quota for PolicySize: ${MANAGED_POLICY_LIMIT}`,
        409,
      );
    }
    const arn = `arn:${ctx.partition}:iam::${ctx.accountId}:policy${path}${name}`;
    const account = this.account(ctx.accountId);
    if ([...account.policies.values()].some((p) => p.PolicyName.toLowerCase() === name.toLowerCase())) {
      throw new SimError(
        'EntityAlreadyExistsException',
        `A policy called ${name} already exists. Duplicate names are not allowed.`,
        409,
      );
    }
    const tags = tagsFromList(input.Tags as TagList | undefined);
    validateTags(tags, 'InvalidInputException');
    const record: PolicyRecord = {
      PolicyName: name,
      PolicyId: `ANPA${this.core.ids.upper(17)}`,
      Arn: arn,
      Path: path,
      Description: input.Description,
      document: doc,
      CreateDate: ctx.now,
      tags,
      attachments: 0,
      boundaryUsage: 0,
      versions: [{ id: 'v1', document: doc, createDate: ctx.now }],
      defaultVersionId: 'v1',
    };
    account.policies.set(arn, record);
    const out = this.policyOutput(record);
    return { Policy: { ...out, Description: undefined } };
  }

  GetPolicy(input: GetPolicyCommandInput, ctx: CallContext): Out<GetPolicyCommandOutput> {
    const arn = required(input.PolicyArn, 'policyArn');
    const policy = this.policy(arn, ctx);
    if (!policy) throw new SimError('NoSuchEntityException', `Policy ${arn} was not found.`, 404);
    return { Policy: this.policyOutput(policy) };
  }

  GetPolicyVersion(
    input: GetPolicyVersionCommandInput,
    ctx: CallContext,
  ): Out<GetPolicyVersionCommandOutput> {
    const arn = required(input.PolicyArn, 'policyArn');
    const versionId = required(input.VersionId, 'versionId');
    const policy = this.policy(arn, ctx);
    if (!policy) throw new SimError('NoSuchEntityException', `Policy ${arn} was not found.`, 404);
    const version = policy.versions.find((v) => v.id === versionId);
    if (!version) {
      throw new SimError(
        'NoSuchEntityException',
        `Policy ${arn} version ${versionId} does not exist or is not attachable.`,
        404,
      );
    }
    return {
      PolicyVersion: {
        Document: encodeDocument(version.document),
        VersionId: version.id,
        IsDefaultVersion: version.id === policy.defaultVersionId,
        CreateDate: new Date(version.createDate),
      },
    };
  }

  CreatePolicyVersion(
    input: CreatePolicyVersionCommandInput,
    ctx: CallContext,
  ): Out<CreatePolicyVersionCommandOutput> {
    const arn = required(input.PolicyArn, 'policyArn');
    const doc = required(input.PolicyDocument, 'policyDocument');
    const policy = this.policy(arn, ctx);
    if (!policy || parseArn(arn)?.account === 'aws') {
      throw new SimError('NoSuchEntityException', `Policy ${arn} was not found.`, 404);
    }
    try {
      parsePolicy(doc, 'identity');
    } catch (e) {
      throw malformed(e);
    }
    if (policy.versions.length >= POLICY_VERSION_LIMIT) {
      throw new SimError(
        'LimitExceededException',
        `A managed policy can have up to ${POLICY_VERSION_LIMIT} versions. Before you create a new version, you must delete an existing version.`,
        409,
      );
    }
    const next = Math.max(...policy.versions.map((v) => Number(v.id.slice(1)))) + 1;
    const version = { id: `v${next}`, document: doc, createDate: ctx.now };
    policy.versions.push(version);
    if (input.SetAsDefault) {
      policy.defaultVersionId = version.id;
      policy.document = doc;
    }
    return {
      PolicyVersion: {
        VersionId: version.id,
        IsDefaultVersion: input.SetAsDefault === true,
        CreateDate: new Date(version.createDate),
      },
    };
  }

  PutRolePermissionsBoundary(
    input: PutRolePermissionsBoundaryCommandInput,
    ctx: CallContext,
  ): Out<PutRolePermissionsBoundaryCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    const arn = required(input.PermissionsBoundary, 'permissionsBoundary');
    const boundary = this.policy(arn, ctx);
    if (!boundary) {
      throw new SimError(
        'NoSuchEntityException',
        `Scope ARN: ${arn} does not exist or is not attachable.`,
        404,
      );
    }
    if (role.boundaryArn === arn) return {};
    if (role.boundaryArn) {
      const previous = this.policy(role.boundaryArn, ctx);
      if (previous) previous.boundaryUsage -= 1;
    }
    role.boundaryArn = arn;
    boundary.boundaryUsage += 1;
    return {};
  }

  DeleteRolePermissionsBoundary(
    input: DeleteRolePermissionsBoundaryCommandInput,
    ctx: CallContext,
  ): Out<DeleteRolePermissionsBoundaryCommandOutput> {
    const role = this.role(ctx, input.RoleName);
    if (!role.boundaryArn) {
      throw new SimError(
        'NoSuchEntityException',
        `The role with name ${role.RoleName} does not have a permissions boundary.`,
        404,
      );
    }
    const previous = this.policy(role.boundaryArn, ctx);
    if (previous) previous.boundaryUsage -= 1;
    role.boundaryArn = undefined;
    return {};
  }

  SimulatePrincipalPolicy(
    input: SimulatePrincipalPolicyCommandInput,
    ctx: CallContext,
  ): Out<SimulatePrincipalPolicyCommandOutput> {
    const arn = required(input.PolicySourceArn, 'policySourceArn');
    const parsed = parseArn(arn);
    if (parsed?.service !== 'iam' || !parsed.resource.startsWith('role/')) {
      throw new SimError(
        'InvalidInputException',
        `The embedded simulator models SimulatePrincipalPolicy for roles only, not ${arn}.`,
        400,
      );
    }
    const role = parsed.account === ctx.accountId ? this.roleByArn(arn) : undefined;
    if (!role) throw new SimError('NoSuchEntityException', `The role with ARN ${arn} cannot be found.`, 404);
    const results = simulatePrincipalPolicy(input, {
      inline: role.inlinePolicies,
      managed: role.attachedPolicyArns.map((policyArn) => ({
        arn: policyArn,
        document: this.policy(policyArn, ctx)?.document,
      })),
      boundary: role.boundaryArn
        ? { arn: role.boundaryArn, document: this.policy(role.boundaryArn, ctx)?.document }
        : undefined,
    });
    const page = this.page(results, input, (r) => r.key);
    return compact({
      EvaluationResults: page.items.map((r) => r.result),
      IsTruncated: page.next !== undefined,
      Marker: page.next,
    });
  }

  // ---- used by other models and by tests ----

  /** The role with this ARN, if it exists (STS reads the trust policy and records last use). */
  roleByArn(arn: string): RoleView | undefined {
    const parsed = parseArn(arn);
    if (parsed?.service !== 'iam' || !parsed.resource.startsWith('role/')) return undefined;
    const name = parsed.resource.split('/').pop() ?? '';
    const role = this.accounts.get(parsed.account)?.roles.get(name.toLowerCase());
    if (!role || role.Arn !== arn) return undefined;
    return this.view(role);
  }

  roleByName(accountId: string, name: string): RoleView | undefined {
    const role = this.accounts.get(accountId)?.roles.get(name.toLowerCase());
    return role ? this.view(role) : undefined;
  }

  private view(role: RoleRecord): RoleView {
    return {
      arn: role.Arn,
      roleName: role.RoleName,
      roleId: role.RoleId,
      trustPolicy: role.trustPolicy,
      maxSessionDuration: role.MaxSessionDuration,
      boundaryArn: role.boundaryArn,
      tags: Object.fromEntries(role.tags),
      attachedPolicyArns: role.attached.map((a) => a.arn),
      inlinePolicies: Object.fromEntries(role.inline),
      recordUse: (date: Date, region: string) => {
        role.lastUsed = { date, region };
      },
    };
  }

  /** Every role of an account, for inspection. */
  roles(accountId: string): RoleView[] {
    return [...(this.accounts.get(accountId)?.roles.values() ?? [])].map((r) => this.view(r));
  }

  /** The document of a customer managed policy, for inspection. */
  policyDocument(arn: string): string | undefined {
    const parsed = parseArn(arn);
    if (!parsed) return undefined;
    if (parsed.account === 'aws') return this.managedAwsPolicy(arn)?.document;
    return this.accounts.get(parsed.account)?.policies.get(arn)?.document;
  }

  /** Parsed copy of the trust policy of a role, for tests. */
  trustPolicyOf(arn: string): unknown {
    const role = this.roleByArn(arn);
    return role ? copy(JSON.parse(role.trustPolicy)) : undefined;
  }
}

/** A read-only view of a role, for other models and tests. */
export interface RoleView {
  readonly arn: string;
  readonly roleName: string;
  readonly roleId: string;
  readonly trustPolicy: string;
  readonly maxSessionDuration: number;
  readonly boundaryArn?: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly attachedPolicyArns: readonly string[];
  readonly inlinePolicies: Readonly<Record<string, string>>;
  recordUse(date: Date, region: string): void;
}
