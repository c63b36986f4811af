/**
 * STS: GetCallerIdentity, and AssumeRole checked against the target role's trust policy (see
 * policy.ts for what the evaluator understands; anything else is refused, never allowed). Each
 * session is recorded with its name, source identity and account, and its credentials resolve
 * back to it on every later call.
 */
import type {
  AssumeRoleCommandInput,
  AssumeRoleCommandOutput,
  GetCallerIdentityCommandInput,
  GetCallerIdentityCommandOutput,
} from '@aws-sdk/client-sts';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { evaluate, parsePolicy, UnsupportedPolicyError } from './policy';
import type { CallContext, Principal } from './world';

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** One AssumeRole that succeeded, for tests and the drill timeline. */
export interface SessionRecord {
  readonly roleArn: string;
  readonly accountId: string;
  readonly roleSessionName: string;
  readonly sourceIdentity?: string;
  readonly callerArn: string;
  readonly accessKeyId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** The share (percent) of the packed session policy and tags limit a request uses, as STS reports it. */
function packedPolicySize(input: AssumeRoleCommandInput): number {
  const tags = (input.Tags ?? []).reduce((n, t) => n + (t.Key?.length ?? 0) + (t.Value?.length ?? 0), 0);
  return Math.min(100, Math.ceil((100 * ((input.Policy?.length ?? 0) + tags)) / 2048));
}

function validation(message: string): SimError {
  return new SimError('ValidationError', message, 400);
}

export class StsService {
  private readonly issued: SessionRecord[] = [];

  constructor(private readonly core: SimCore) {}

  GetCallerIdentity(
    _input: GetCallerIdentityCommandInput,
    ctx: CallContext,
  ): Out<GetCallerIdentityCommandOutput> {
    return { UserId: ctx.caller.userId, Account: ctx.caller.accountId, Arn: ctx.caller.arn };
  }

  AssumeRole(input: AssumeRoleCommandInput, ctx: CallContext): Out<AssumeRoleCommandOutput> {
    const caller = ctx.caller;
    if (!input.RoleArn) {
      throw validation(
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
      );
    }
    const sessionName = input.RoleSessionName;
    if (!sessionName) {
      throw validation(
        "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
      );
    }
    if (!SESSION_NAME.test(sessionName)) {
      throw validation(
        `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*, length 2-64`,
      );
    }
    if (input.SourceIdentity !== undefined) {
      if (!SESSION_NAME.test(input.SourceIdentity)) {
        throw validation(
          `1 validation error detected: Value '${input.SourceIdentity}' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*, length 2-64`,
        );
      }
      if (input.SourceIdentity.toLowerCase().startsWith('aws:')) {
        throw validation('SourceIdentity cannot start with the reserved prefix "aws:"');
      }
    }
    const denied = (why?: string) =>
      new SimError(
        'AccessDenied',
        `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}${why ? ` (${why})` : ''}`,
        403,
      );
    if (caller.sourceIdentity && input.SourceIdentity && input.SourceIdentity !== caller.sourceIdentity) {
      throw denied('the source identity of a session cannot be changed by role chaining');
    }
    const role = this.core.services.iam.roleByArn(input.RoleArn);
    if (!role) throw denied();

    const chained = caller.kind === 'role-session';
    const duration = input.DurationSeconds ?? 3600;
    if (duration < 900)
      throw validation('The requested DurationSeconds is less than the minimum of 900 seconds.');
    if (chained && duration > 3600) {
      throw validation(
        'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
      );
    }
    if (duration > role.maxSessionDuration) {
      throw validation('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    }

    const sourceIdentity = input.SourceIdentity ?? caller.sourceIdentity;
    const actions = ['sts:AssumeRole'];
    if (input.SourceIdentity !== undefined) actions.push('sts:SetSourceIdentity');
    if ((input.Tags?.length ?? 0) > 0 || (input.TransitiveTagKeys?.length ?? 0) > 0)
      actions.push('sts:TagSession');
    const keys: Record<string, string | undefined> = {
      'sts:rolesessionname': sessionName,
      'sts:sourceidentity': sourceIdentity,
      'sts:externalid': input.ExternalId,
    };
    for (const tag of input.Tags ?? [])
      if (tag.Key) keys[`aws:requesttag/${tag.Key.toLowerCase()}`] = tag.Value;
    try {
      const decision = evaluate(parsePolicy(role.trustPolicy, 'trust'), actions, {
        principal: caller,
        keys,
        organizationId: this.core.organizationOf(caller.accountId),
      });
      if (!decision.allowed) throw denied(`trust policy of the role: ${decision.reason}`);
    } catch (e) {
      if (e instanceof UnsupportedPolicyError) {
        throw denied(`the simulator cannot evaluate this trust policy, so it refuses: ${e.message}`);
      }
      throw e;
    }

    const roleAccount = input.RoleArn.split(':')[4];
    const issuedAt = ctx.now.getTime();
    const sessionTags: Record<string, string> = { ...(caller.sessionTags ?? {}) };
    for (const tag of input.Tags ?? []) if (tag.Key) sessionTags[tag.Key] = tag.Value ?? '';
    const principal: Principal = {
      kind: 'role-session',
      accountId: roleAccount,
      partition: ctx.partition,
      principalArn: role.arn,
      arn: `arn:${ctx.partition}:sts::${roleAccount}:assumed-role/${role.roleName}/${sessionName}`,
      userId: `${role.roleId}:${sessionName}`,
      roleName: role.roleName,
      sessionName,
      sourceIdentity,
      sessionTags,
      chained,
      issuedAt,
      expiresAt: issuedAt + duration * 1000,
    };
    role.recordUse(ctx.now, ctx.region);
    const credentials = this.core.issueCredentials(principal);
    this.issued.push({
      roleArn: role.arn,
      accountId: roleAccount,
      roleSessionName: sessionName,
      sourceIdentity,
      callerArn: caller.arn,
      accessKeyId: credentials.accessKeyId,
      issuedAt: new Date(issuedAt),
      expiresAt: new Date(principal.expiresAt!),
    });
    return {
      Credentials: {
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken!,
        Expiration: new Date(principal.expiresAt!),
      },
      AssumedRoleUser: { AssumedRoleId: principal.userId, Arn: principal.arn },
      ...(input.Policy || input.Tags?.length ? { PackedPolicySize: packedPolicySize(input) } : {}),
      ...(sourceIdentity ? { SourceIdentity: sourceIdentity } : {}),
    };
  }

  /** Every session AssumeRole handed out, oldest first. */
  sessions(): readonly SessionRecord[] {
    return [...this.issued];
  }
}
