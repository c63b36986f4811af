/**
 * A small IAM policy evaluator for what the simulator checks: role trust policies on AssumeRole
 * and the Deny statements of S3 bucket policies. It understands principals (`*`, account,
 * root, role, user and assumed-role ARNs), Action/Resource globs, and the condition operators
 * String*, Arn*, Null and Bool (with IfExists) on a known set of keys. Anything else (NotPrincipal,
 * ForAnyValue/ForAllValues, policy variables, unknown keys or operators) raises
 * `UnsupportedPolicyError`: a caller must then refuse, never allow.
 */
import { globMatch, type Principal } from './world';

export class UnsupportedPolicyError extends Error {
  override readonly name = 'UnsupportedPolicyError';
}

export class MalformedPolicyError extends Error {
  override readonly name = 'MalformedPolicyError';
}

type StringOrList = string | string[];

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: '*' | Readonly<Record<string, StringOrList>>;
  readonly NotPrincipal?: unknown;
  readonly Action?: StringOrList;
  readonly NotAction?: StringOrList;
  readonly Resource?: StringOrList;
  readonly NotResource?: StringOrList;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly PolicyStatement[];
}

const list = (v: StringOrList | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Parses and checks the structure of a policy document. `kind` decides what a statement must
 * hold: a trust policy needs a Principal and no Resource; an identity policy needs a Resource and
 * no Principal; a resource policy needs both.
 */
export function parsePolicy(text: string, kind: 'trust' | 'identity' | 'resource'): PolicyDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MalformedPolicyError('This policy contains invalid Json');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new MalformedPolicyError('This policy contains invalid Json');
  }
  const doc = raw as { Version?: unknown; Statement?: unknown };
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    throw new MalformedPolicyError(
      `The policy failed legacy parsing: unknown Version ${String(doc.Version)}`,
    );
  }
  if (doc.Statement === undefined) throw new MalformedPolicyError('Missing required field Statement');
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as PolicyStatement[];
  if (statements.length === 0)
    throw new MalformedPolicyError('Policy statement must contain at least one statement');
  for (const st of statements) {
    if (typeof st !== 'object' || st === null) throw new MalformedPolicyError('Statement must be an object');
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny')
      throw new MalformedPolicyError('Missing required field Effect');
    if (st.Action === undefined && st.NotAction === undefined) {
      throw new MalformedPolicyError('Missing required field Action');
    }
    const hasPrincipal = st.Principal !== undefined || st.NotPrincipal !== undefined;
    const hasResource = st.Resource !== undefined || st.NotResource !== undefined;
    if (kind === 'identity' && hasPrincipal) {
      throw new MalformedPolicyError('Policy document should not specify a principal.');
    }
    if (kind !== 'identity' && !hasPrincipal)
      throw new MalformedPolicyError('Missing required field Principal');
    if (kind === 'trust' && hasResource) {
      throw new MalformedPolicyError('Has prohibited field Resource');
    }
    if (kind !== 'trust' && !hasResource) throw new MalformedPolicyError('Missing required field Resource');
  }
  return { Version: doc.Version as string | undefined, Statement: statements };
}

/** What the request brings to a policy evaluation. Condition keys are matched case-insensitively. */
export interface RequestFacts {
  readonly principal: Principal;
  readonly resource?: string;
  /** Request-specific condition keys (lower case), e.g. `sts:rolesessionname`. */
  readonly keys: Readonly<Record<string, string | undefined>>;
  readonly organizationId?: string;
}

function principalKeys(facts: RequestFacts): Record<string, string | undefined> {
  const p = facts.principal;
  const keys: Record<string, string | undefined> = {
    'aws:principalarn': p.principalArn,
    'aws:principalaccount': p.accountId,
    'aws:principalorgid': facts.organizationId,
    'aws:principaltype': p.kind === 'role-session' ? 'AssumedRole' : p.kind === 'user' ? 'User' : 'Account',
    'aws:userid': p.userId,
    'aws:sourceidentity': p.sourceIdentity,
    'aws:securetransport': 'true',
  };
  for (const [k, v] of Object.entries(p.sessionTags ?? {})) keys[`aws:principaltag/${k.toLowerCase()}`] = v;
  return keys;
}

function principalMatches(spec: PolicyStatement['Principal'], p: Principal): boolean {
  if (spec === '*') return true;
  if (spec === undefined) return false;
  for (const [type, values] of Object.entries(spec)) {
    if (type !== 'AWS') continue; // Service, Federated and CanonicalUser principals never match an IAM caller
    for (const value of list(values)) {
      if (value === '*') return true;
      if (/^\d{12}$/.test(value) && value === p.accountId) return true;
      if (value === `arn:${p.partition}:iam::${p.accountId}:root`) return true;
      if (value === p.principalArn || value === p.arn) return true;
    }
  }
  return false;
}

/** `ArnLike`: the six ARN parts compared one by one, each a glob (the resource part keeps its colons). */
export function arnLike(pattern: string, value: string): boolean {
  const pp = pattern.split(':');
  const vp = value.split(':');
  if (pp.length < 6 || vp.length < 6) return globMatch(pattern, value);
  const head = (parts: string[]) => [...parts.slice(0, 5), parts.slice(5).join(':')];
  const a = head(pp);
  const b = head(vp);
  return a.every((segment, i) => globMatch(segment, b[i]));
}

/** The string and ARN condition operators the simulator evaluates (negation is applied by the caller). */
export const STRING_TESTS: Readonly<Record<string, (pattern: string, value: string) => boolean>> = {
  StringEquals: (p, v) => p === v,
  StringNotEquals: (p, v) => p === v,
  StringEqualsIgnoreCase: (p, v) => p.toLowerCase() === v.toLowerCase(),
  StringNotEqualsIgnoreCase: (p, v) => p.toLowerCase() === v.toLowerCase(),
  StringLike: (p, v) => globMatch(p, v),
  StringNotLike: (p, v) => globMatch(p, v),
  ArnEquals: (p, v) => p === v,
  ArnNotEquals: (p, v) => p === v,
  ArnLike: arnLike,
  ArnNotLike: arnLike,
  Bool: (p, v) => p.toLowerCase() === v.toLowerCase(),
};

function conditionHolds(
  operatorName: string,
  key: string,
  expected: unknown,
  actual: string | undefined,
): boolean {
  if (operatorName.includes(':')) {
    throw new UnsupportedPolicyError(`condition set operator ${operatorName} is not modelled`);
  }
  const ifExists = operatorName.endsWith('IfExists');
  const operator = ifExists ? operatorName.slice(0, -'IfExists'.length) : operatorName;
  const values = (Array.isArray(expected) ? expected : [expected]).map((v) => {
    if (typeof v !== 'string' && typeof v !== 'boolean' && typeof v !== 'number') {
      throw new UnsupportedPolicyError(`condition ${operatorName} on ${key} has a non-scalar value`);
    }
    const s = String(v);
    if (s.includes('${')) throw new UnsupportedPolicyError(`policy variables (${s}) are not modelled`);
    return s;
  });
  if (operator === 'Null') {
    if (ifExists) throw new UnsupportedPolicyError('NullIfExists is not a valid operator');
    return values.some((v) => (v.toLowerCase() === 'true') === (actual === undefined));
  }
  const test = STRING_TESTS[operator];
  if (!test) throw new UnsupportedPolicyError(`condition operator ${operatorName} is not modelled`);
  const negated = operator.includes('Not');
  if (actual === undefined) return ifExists || negated;
  const anyMatch = values.some((v) => test(v, actual));
  return negated ? !anyMatch : anyMatch;
}

function conditionsHold(
  condition: PolicyStatement['Condition'],
  keys: Record<string, string | undefined>,
): boolean {
  for (const [operator, block] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(block)) {
      const lower = key.toLowerCase();
      if (!(lower in keys)) throw new UnsupportedPolicyError(`condition key ${key} is not modelled`);
      if (!conditionHolds(operator, key, expected, keys[lower])) return false;
    }
  }
  return true;
}

/** Whether the statement applies to this action and request. */
export function statementApplies(st: PolicyStatement, action: string, facts: RequestFacts): boolean {
  return applies(st, action, facts, {});
}

/** The condition keys of one request, built once for all the statements evaluated against it. */
interface KeysMemo {
  keys?: Record<string, string | undefined>;
}

function applies(st: PolicyStatement, action: string, facts: RequestFacts, memo: KeysMemo): boolean {
  if (st.NotPrincipal !== undefined) throw new UnsupportedPolicyError('NotPrincipal is not modelled');
  if (st.Principal !== undefined && !principalMatches(st.Principal, facts.principal)) return false;
  if (st.Action !== undefined && !list(st.Action).some((a) => globMatch(a, action, true))) return false;
  if (st.NotAction !== undefined && list(st.NotAction).some((a) => globMatch(a, action, true))) return false;
  if (facts.resource !== undefined) {
    if (st.Resource !== undefined && !list(st.Resource).some((r) => globMatch(r, facts.resource!)))
      return false;
    if (st.NotResource !== undefined && list(st.NotResource).some((r) => globMatch(r, facts.resource!)))
      return false;
  }
  if (st.Condition === undefined) return true;
  memo.keys ??= { ...principalKeys(facts), ...facts.keys };
  return conditionsHold(st.Condition, memo.keys);
}

export interface Decision {
  readonly allowed: boolean;
  /** Why not, naming the action. */
  readonly reason?: string;
}

/**
 * Evaluates every action against the policy: each must be allowed by a statement and denied by
 * none. Throws `UnsupportedPolicyError` for anything the evaluator does not understand.
 */
export function evaluate(doc: PolicyDocument, actions: readonly string[], facts: RequestFacts): Decision {
  const memo: KeysMemo = {};
  for (const action of actions) {
    let allowed = false;
    for (const st of doc.Statement) {
      if (!applies(st, action, facts, memo)) continue;
      if (st.Effect === 'Deny')
        return { allowed: false, reason: `an explicit Deny statement matches ${action}` };
      allowed = true;
    }
    if (!allowed)
      return { allowed: false, reason: `no statement allows ${action} for this principal and request` };
  }
  return { allowed: true };
}

/** Whether any Deny statement of the policy applies to the action (Allow statements are ignored). */
export function explicitlyDenied(doc: PolicyDocument, action: string, facts: RequestFacts): boolean {
  const memo: KeysMemo = {};
  return doc.Statement.some((st) => st.Effect === 'Deny' && applies(st, action, facts, memo));
}
