/**
 * Evaluation of identity policies and permissions boundaries, for IAM's SimulatePrincipalPolicy
 * (the only call the simulator evaluates identity policies for: every other call is answered
 * whatever the caller's policies say). What it understands: Action/NotAction and
 * Resource/NotResource globs; the condition operators String*, Arn*, Bool and Null, with
 * `IfExists` and the `ForAnyValue:`/`ForAllValues:` set operators; `${key}` policy variables taken
 * from the context. Anything else (numeric, date or IP operators, a Principal in an identity
 * policy) raises `UnsupportedPolicyError`: the caller answers an error, never a made-up decision.
 */
import { type PolicyDocument, type PolicyStatement, UnsupportedPolicyError } from './policy';
import { globMatch } from './world';

/** Context keys (lower case) to their values, as SimulatePrincipalPolicy's ContextEntries give them. */
export type SimulationContext = ReadonlyMap<string, readonly string[]>;

export interface SourcePolicy {
  readonly id: string;
  /** As SimulatePrincipalPolicy names it: `role` (inline), `user-managed`, `aws-managed`, `none` (input). */
  readonly type: 'role' | 'user-managed' | 'aws-managed' | 'none';
  readonly document: PolicyDocument;
}

export type SimulatedDecision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface SimulatedResult {
  readonly decision: SimulatedDecision;
  /** The statements that decided: the explicit denies, or the allows. */
  readonly matched: readonly SourcePolicy[];
  /** Condition keys a statement tested that the context did not give. */
  readonly missing: readonly string[];
}

const list = (v: string | readonly string[] | undefined): string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : [...v];

const STRING_TESTS: Readonly<Record<string, (pattern: string, value: string) => boolean>> = {
  StringEquals: (p, v) => p === v,
  StringNotEquals: (p, v) => p === v,
  StringEqualsIgnoreCase: (p, v) => p.toLowerCase() === v.toLowerCase(),
  StringNotEqualsIgnoreCase: (p, v) => p.toLowerCase() === v.toLowerCase(),
  StringLike: (p, v) => globMatch(p, v),
  StringNotLike: (p, v) => globMatch(p, v),
  ArnEquals: (p, v) => p === v,
  ArnNotEquals: (p, v) => p === v,
  ArnLike: (p, v) => arnLike(p, v),
  ArnNotLike: (p, v) => arnLike(p, v),
  Bool: (p, v) => p.toLowerCase() === v.toLowerCase(),
};

function arnLike(pattern: string, value: string): boolean {
  const pp = pattern.split(':');
  const vp = value.split(':');
  if (pp.length < 6 || vp.length < 6) return globMatch(pattern, value);
  const head = (parts: string[]) => [...parts.slice(0, 5), parts.slice(5).join(':')];
  const a = head(pp);
  const b = head(vp);
  return a.every((segment, i) => globMatch(segment, b[i] as string));
}

/** Replaces `${key}` with the context's single value; undefined when the key is absent or multivalued. */
function substitute(pattern: string, context: SimulationContext, missing: Set<string>): string | undefined {
  let unresolved = false;
  const out = pattern.replace(/\$\{([^}]+)\}/g, (_, key: string) => {
    const values = context.get(key.toLowerCase());
    if (!values || values.length !== 1) {
      missing.add(key);
      unresolved = true;
      return '';
    }
    return values[0] as string;
  });
  return unresolved ? undefined : out;
}

function conditionHolds(
  operatorName: string,
  key: string,
  expected: unknown,
  context: SimulationContext,
  missing: Set<string>,
): boolean {
  let operator = operatorName;
  let set: 'ForAnyValue' | 'ForAllValues' | undefined;
  const prefixed = /^(ForAnyValue|ForAllValues):(.+)$/.exec(operator);
  if (prefixed) {
    set = prefixed[1] as 'ForAnyValue' | 'ForAllValues';
    operator = prefixed[2] as string;
  } else if (operator.includes(':')) {
    throw new UnsupportedPolicyError(`condition operator ${operatorName} is not modelled`);
  }
  const ifExists = operator.endsWith('IfExists');
  if (ifExists) operator = operator.slice(0, -'IfExists'.length);
  const patterns = (Array.isArray(expected) ? expected : [expected]).map((v) => {
    if (typeof v !== 'string' && typeof v !== 'boolean' && typeof v !== 'number') {
      throw new UnsupportedPolicyError(`condition ${operatorName} on ${key} has a non-scalar value`);
    }
    return String(v);
  });
  const actual = context.get(key.toLowerCase());
  if (actual === undefined) missing.add(key);
  if (operator === 'Null') {
    if (ifExists || set) throw new UnsupportedPolicyError(`${operatorName} is not a valid operator`);
    return patterns.some((v) => (v.toLowerCase() === 'true') === (actual === undefined));
  }
  const test = STRING_TESTS[operator];
  if (!test) throw new UnsupportedPolicyError(`condition operator ${operatorName} is not modelled`);
  const negated = operator.includes('Not');
  const resolved = patterns
    .map((p) => substitute(p, context, missing))
    .filter((p): p is string => p !== undefined);
  const matchesAny = (value: string) => resolved.some((p) => test(p, value));
  if (set === 'ForAllValues') {
    // True when every value of the request matches (an absent key holds vacuously).
    return (actual ?? []).every((v) => (negated ? !matchesAny(v) : matchesAny(v)));
  }
  if (set === 'ForAnyValue') {
    return (actual ?? []).some((v) => (negated ? !matchesAny(v) : matchesAny(v)));
  }
  if (actual === undefined || actual.length === 0) return ifExists || negated;
  return negated ? !actual.some(matchesAny) : actual.some(matchesAny);
}

function applies(
  st: PolicyStatement,
  action: string,
  resource: string,
  context: SimulationContext,
  missing: Set<string>,
): boolean {
  if (st.Principal !== undefined || st.NotPrincipal !== undefined) {
    throw new UnsupportedPolicyError('an identity policy statement names a principal');
  }
  if (st.Action !== undefined && !list(st.Action).some((a) => globMatch(a, action, true))) return false;
  if (st.NotAction !== undefined && list(st.NotAction).some((a) => globMatch(a, action, true))) return false;
  const resourceMatch = (pattern: string) => {
    const p = substitute(pattern, context, missing);
    return p !== undefined && (p === '*' || arnLike(p, resource));
  };
  if (st.Resource !== undefined && !list(st.Resource).some(resourceMatch)) return false;
  if (st.NotResource !== undefined && list(st.NotResource).some(resourceMatch)) return false;
  for (const [operator, block] of Object.entries(st.Condition ?? {})) {
    for (const [key, expected] of Object.entries(block)) {
      if (!conditionHolds(operator, key, expected, context, missing)) return false;
    }
  }
  return true;
}

/**
 * The decision IAM reaches for one action on one resource: an explicit Deny in any policy or
 * boundary wins; otherwise an identity Allow is needed, and (when boundaries are given) a boundary
 * Allow too.
 */
export function simulateIdentity(
  policies: readonly SourcePolicy[],
  boundaries: readonly SourcePolicy[],
  action: string,
  resource: string,
  context: SimulationContext,
): SimulatedResult {
  const missing = new Set<string>();
  const denies: SourcePolicy[] = [];
  const allows: SourcePolicy[] = [];
  let boundaryAllows = boundaries.length === 0;
  for (const [source, isBoundary] of [
    ...policies.map((p) => [p, false] as const),
    ...boundaries.map((p) => [p, true] as const),
  ]) {
    for (const st of source.document.Statement) {
      if (!applies(st, action, resource, context, missing)) continue;
      if (st.Effect === 'Deny') denies.push(source);
      else if (isBoundary) boundaryAllows = true;
      else allows.push(source);
    }
  }
  const unique = (sources: SourcePolicy[]) => [...new Map(sources.map((s) => [s.id, s])).values()];
  if (denies.length > 0) return { decision: 'explicitDeny', matched: unique(denies), missing: [...missing] };
  if (allows.length > 0 && boundaryAllows)
    return { decision: 'allowed', matched: unique(allows), missing: [...missing] };
  return { decision: 'implicitDeny', matched: [], missing: [...missing] };
}
