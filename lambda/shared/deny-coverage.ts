/**
 * Judges a cut the way IAM would: given the policy documents in force on a role, is there an
 * explicit, unconditional Deny that covers every action a kill mode must take away, on every
 * resource? An explicit Deny in an identity policy or a permissions boundary overrides every
 * Allow (identity, resource-based, session), so such a statement is enough on its own, whatever
 * else the role holds or the agent planted.
 *
 * The check is sound, not complete: it answers "covered" only when one statement provably covers
 * the mode, and "not covered" whenever it cannot tell (a condition it would have to evaluate, a
 * NotAction it cannot compare). A "not covered" makes the kill cut harder (the kill boundary) or
 * report PARTIAL; it never lets a kill say CONTAINED while authority is left. The security tests
 * check it against the IAM policy simulator library on random documents.
 */
import { type AgentDenyInput, type PolicyStatementJson, READ_ONLY_ACTIONS } from './policy-documents';
import type { KillMode } from './types';

const list = (value: string | readonly string[] | undefined): string[] =>
  value === undefined ? [] : typeof value === 'string' ? [value] : [...value];

const READS = new Set(READ_ONLY_ACTIONS.map((a) => a.toLowerCase()));

/**
 * Whether the action pattern `outer` matches every action `inner` matches (IAM action names are
 * case-insensitive; `*` and `?` are wildcards). Exact, `*`, and `prefix*` patterns are compared;
 * any other shape with a wildcard answers false (conservatively).
 */
export function actionPatternCovers(outer: string, inner: string): boolean {
  const o = outer.toLowerCase();
  const i = inner.toLowerCase();
  if (o === '*' || o === i) return true;
  const star = o.indexOf('*');
  if (star !== o.length - 1 || o.includes('?')) return false; // only `prefix*` is compared
  const prefix = o.slice(0, -1);
  const firstWildcard = i.search(/[*?]/);
  const fixed = firstWildcard < 0 ? i : i.slice(0, firstWildcard);
  return fixed.startsWith(prefix);
}

/** No condition at all (an empty Condition block counts as none). */
function unconditional(s: PolicyStatementJson): boolean {
  return s.Condition === undefined || Object.keys(s.Condition).length === 0;
}

const onEveryResource = (s: PolicyStatementJson): boolean =>
  s.NotResource === undefined && list(s.Resource).includes('*');

const onEveryAction = (s: PolicyStatementJson): boolean =>
  s.NotAction === undefined && list(s.Action).includes('*');

/** Denies every action except (at most) the reads read_only and draft_only leave. */
function deniesAllButReads(s: PolicyStatementJson): boolean {
  if (onEveryAction(s)) return true;
  if (s.Action !== undefined || s.NotAction === undefined) return false;
  return list(s.NotAction).every((a) => READS.has(a.toLowerCase()));
}

/**
 * Whether one statement, on its own, takes away everything `mode` must take away from the agent.
 * - full_stop: `Deny *` on `*`.
 * - read_only: `Deny *` or `Deny NotAction <a subset of the reads>`, on `*`.
 * - draft_only: as read_only, on `*` or on `NotResource <a subset of the draft resources>`.
 * - approval_gated: on `*`, `Deny *` or an Action list covering every high-risk action.
 */
export function statementCoversMode(s: PolicyStatementJson, mode: KillMode, agent: AgentDenyInput): boolean {
  if (s.Effect !== 'Deny' || !unconditional(s) || s.Principal !== undefined || s.NotPrincipal !== undefined)
    return false;
  switch (mode) {
    case 'full_stop':
      return onEveryAction(s) && onEveryResource(s);
    case 'read_only':
      return deniesAllButReads(s) && onEveryResource(s);
    case 'draft_only': {
      if (!deniesAllButReads(s)) return false;
      if (onEveryResource(s)) return true;
      const drafts = new Set(agent.draftResources);
      return s.Resource === undefined && list(s.NotResource).every((r) => drafts.has(r));
    }
    case 'approval_gated': {
      if (!onEveryResource(s)) return false;
      if (onEveryAction(s)) return true;
      if (s.NotAction !== undefined) return false;
      const actions = list(s.Action);
      return agent.highRiskActions.every((h) => actions.some((a) => actionPatternCovers(a, h)));
    }
  }
}

/** A policy document as IAM returns or stores it: JSON text, possibly URL-encoded. */
export function parsePolicyText(text: string): { Statement: PolicyStatementJson[] } | undefined {
  const decoded = text.trimStart().startsWith('{') ? text : safeDecode(text);
  if (decoded === undefined) return undefined;
  try {
    const doc = JSON.parse(decoded) as { Statement?: unknown };
    const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
    return { Statement: statements as PolicyStatementJson[] };
  } catch {
    return undefined;
  }
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** The first statement of `doc` that covers `mode` on its own (see statementCoversMode). */
export function coveringStatement(
  doc: string | { Statement: readonly PolicyStatementJson[] } | undefined,
  mode: KillMode,
  agent: AgentDenyInput,
): PolicyStatementJson | undefined {
  const parsed = typeof doc === 'string' ? parsePolicyText(doc) : doc;
  return parsed?.Statement.find((s) => statementCoversMode(s, mode, agent));
}
