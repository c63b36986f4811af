/**
 * Who is who in a restore. Identities come only from AWS (the function URL's IAM authorizer, STS
 * GetCallerIdentity, CloudTrail), never from a request body, and are compared as principals:
 * an IAM user by account and name, a role by account and name, and an assumed-role session
 * (`arn:<p>:sts::<account>:assumed-role/<role>/<session>`) as its role. The STS ARN carries no
 * path, so role paths are ignored on both sides; a user or role name is unique in its account.
 */

export interface Principal {
  readonly partition: string;
  readonly accountId: string;
  readonly kind: 'user' | 'role' | 'root';
  readonly name: string;
}

const USER = /^arn:([^:]+):iam::(\d{12}):user\/(?:[^/]+\/)*([^/]+)$/;
const ROLE = /^arn:([^:]+):iam::(\d{12}):role\/(?:[^/]+\/)*([^/]+)$/;
const SESSION = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;
const ROOT = /^arn:([^:]+):iam::(\d{12}):root$/;

/** The principal an ARN stands for; undefined for anything that is not a user, role, session or root. */
export function principalOf(arn: string): Principal | undefined {
  if (typeof arn !== 'string') return undefined;
  const user = USER.exec(arn);
  if (user) return { partition: user[1], accountId: user[2], kind: 'user', name: user[3] };
  const role = ROLE.exec(arn) ?? SESSION.exec(arn);
  if (role) return { partition: role[1], accountId: role[2], kind: 'role', name: role[3] };
  const root = ROOT.exec(arn);
  if (root) return { partition: root[1], accountId: root[2], kind: 'root', name: 'root' };
  return undefined;
}

export function samePrincipal(a: Principal | undefined, b: Principal | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.partition === b.partition &&
    a.accountId === b.accountId &&
    a.kind === b.kind &&
    a.name === b.name
  );
}

/** The configured ARN (approver, requester) the caller counts as, or undefined. */
export function configuredAs(callerArn: string, configured: readonly string[]): string | undefined {
  const caller = principalOf(callerArn);
  if (!caller) return undefined;
  return configured.find((c) => samePrincipal(principalOf(c), caller));
}

/** Whether the caller is one of `others` (ARNs of any form, undefined entries ignored). */
export function isAnyOf(callerArn: string, others: readonly (string | null | undefined)[]): boolean {
  const caller = principalOf(callerArn);
  return others.some((o) => typeof o === 'string' && samePrincipal(principalOf(o), caller));
}
