import {
  AttachRolePolicyCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { isArn, parsePolicyArn, parseRoleArn } from '../shared/arn';
import { isErrorNamed, isNotFound, toFailure } from '../shared/aws-errors';
import {
  AGENT_TAG,
  denyPolicyArn,
  IAM_PATH,
  INLINE_DENY_POLICY,
  REVOKE_SESSIONS_POLICY,
} from '../shared/naming';
import { isKillMode, KILL_MODES, type KillMode, type Mode } from '../shared/types';
import {
  change,
  emptyContain,
  emptyRestore,
  emptyVerify,
  forEachResource,
  mapLimit,
  mismatch,
  paginate,
  type ReadError,
  readError,
  snapshotEach,
  unique,
  unreadFailure,
} from './common';
import type {
  ContainResult,
  ResourceSnapshot,
  RestoreResult,
  Surface,
  SurfaceContext,
  VerifyResult,
} from './types';

/**
 * IAM roles: cut in every mode. Contain order per role is the design's "contain, then dismantle":
 * (1) attach the mode's deny policy (one call cuts the role), (2) in full_stop put the inline deny
 * that revokes sessions issued before the kill, (3) in full_stop detach every managed policy and
 * delete every inline policy that is not Backstop's, each recorded verbatim first.
 *
 * Each step reads the role's current policies before writing, so a second contain (a re-cut after
 * verify, or a second kill) writes only what drifted and records only real changes; it also keeps
 * IAM's scarce write quota for the cuts themselves.
 */

export interface AttachedPolicy {
  readonly policyArn: string;
  readonly policyName: string;
}

export interface InlinePolicy {
  readonly policyName: string;
  /** The policy document exactly as IAM stores it (URL-decoded JSON text, not re-serialized). */
  readonly document: string;
}

export interface RoleSnapshot {
  readonly roleName: string;
  readonly roleArn: string;
  readonly path: string;
  readonly attachedPolicies: readonly AttachedPolicy[];
  readonly inlinePolicies: readonly InlinePolicy[];
  readonly permissionsBoundaryArn?: string;
  readonly tags: Readonly<Record<string, string>>;
  /**
   * Set when the role's policies could not be read. Contain then only adds Backstop's denies
   * (restore can always take those away) and removes nothing, since it could not be put back.
   */
  readonly readError?: ReadError;
}

/** Roles handled at once: IAM's write quota is small and shared by the whole account. */
const ROLE_CONCURRENCY = 4;
/** ListRoleTags calls in flight during discovery (one per role in the account). */
const TAG_SCAN_CONCURRENCY = 8;
const SERVICE_LINKED_PATH = '/aws-service-role/';
const AT_LIMIT = 'the role is at its managed-policy limit';

/** Inline deny-all, used when a role is at its managed-policy limit and the mode's deny cannot be attached. */
export const INLINE_DENY_DOCUMENT = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'BackstopDenyAll', Effect: 'Deny', Action: '*', Resource: '*' }],
});

/**
 * The session-revoking inline deny: everything is denied to credentials issued before the kill
 * (the same condition as the IAM console's "Revoke active sessions").
 */
export function revokeSessionsDocument(killStartedAt: Date): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'BackstopRevokeOlderSessions',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': killStartedAt.toISOString() } },
      },
    ],
  });
}

/** The cut-off time of a session-revoking policy, or undefined when the document carries none. */
export function revokedBefore(document: string): Date | undefined {
  try {
    const parsed = JSON.parse(document) as { Statement?: unknown };
    const statements = Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement];
    for (const s of statements as {
      Effect?: string;
      Condition?: Record<string, Record<string, unknown>>;
    }[]) {
      const value = s?.Effect === 'Deny' ? s.Condition?.DateLessThan?.['aws:TokenIssueTime'] : undefined;
      const time = typeof value === 'string' ? new Date(value) : undefined;
      if (time && !Number.isNaN(time.getTime())) return time;
    }
  } catch {
    // not JSON: no cut-off
  }
  return undefined;
}

/**
 * IAM returns policy documents URL-encoded (RFC 3986). A document that is already JSON text (some
 * IAM-compatible endpoints return it decoded) is returned unchanged.
 */
export function decodePolicyDocument(document: string): string {
  return document.trimStart().startsWith('{') ? document : decodeURIComponent(document);
}

function isBackstopPolicyArn(policyArn: string): boolean {
  return isArn(policyArn) && parsePolicyArn(policyArn).path === IAM_PATH;
}

const BACKSTOP_INLINE = new Set<string>([REVOKE_SESSIONS_POLICY, INLINE_DENY_POLICY]);

function modeDeny(ctx: SurfaceContext, mode: KillMode): string {
  const { partition, accountId, region, agentId } = ctx.agent;
  return denyPolicyArn(partition, accountId, region, agentId, mode);
}

async function listAttached(ctx: SurfaceContext, roleName: string): Promise<AttachedPolicy[]> {
  const policies = await paginate(async (token) => {
    const out = await ctx.clients.iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: token }),
    );
    return { items: out.AttachedPolicies, next: out.IsTruncated ? out.Marker : undefined };
  });
  return policies.map((p) => ({ policyArn: p.PolicyArn ?? '', policyName: p.PolicyName ?? '' }));
}

async function listInlineNames(ctx: SurfaceContext, roleName: string): Promise<string[]> {
  return paginate(async (token) => {
    const out = await ctx.clients.iam.send(
      new ListRolePoliciesCommand({ RoleName: roleName, Marker: token }),
    );
    return { items: out.PolicyNames, next: out.IsTruncated ? out.Marker : undefined };
  });
}

async function getInline(ctx: SurfaceContext, roleName: string, policyName: string): Promise<string> {
  const out = await ctx.clients.iam.send(
    new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
  );
  return decodePolicyDocument(out.PolicyDocument ?? '');
}

async function roleTags(ctx: SurfaceContext, roleName: string): Promise<Record<string, string>> {
  const tags = await paginate(async (token) => {
    const out = await ctx.clients.iam.send(new ListRoleTagsCommand({ RoleName: roleName, Marker: token }));
    return { items: out.Tags, next: out.IsTruncated ? out.Marker : undefined };
  });
  return Object.fromEntries(tags.map((t) => [t.Key ?? '', t.Value ?? '']));
}

/**
 * The agent's roles: the declared role ARNs plus every role tagged `backstop:agent=<agentId>`.
 * IAM is not in the Tagging API, so every role's tags are read (O(roles) calls, bounded
 * concurrency). Service-linked roles and Backstop's own roles (path /backstop/) are never scanned.
 */
async function discover(ctx: SurfaceContext): Promise<string[]> {
  const declaredNames = new Map(ctx.agent.roleArns.map((arn) => [parseRoleArn(arn).roleName, arn]));
  const roles = await paginate(async (token) => {
    const out = await ctx.clients.iam.send(new ListRolesCommand({ Marker: token }));
    return { items: out.Roles, next: out.IsTruncated ? out.Marker : undefined };
  });
  const arnByName = new Map(roles.map((r) => [r.RoleName ?? '', r.Arn ?? '']));
  const candidates = roles.filter(
    (r) =>
      r.RoleName &&
      !declaredNames.has(r.RoleName) &&
      !r.Path?.startsWith(SERVICE_LINKED_PATH) &&
      r.Path !== IAM_PATH,
  );
  const tagged = await mapLimit(candidates, TAG_SCAN_CONCURRENCY, async (role) => {
    try {
      const tags = await roleTags(ctx, role.RoleName ?? '');
      return tags[AGENT_TAG] === ctx.agent.agentId ? (role.Arn ?? '') : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined; // deleted since ListRoles
      throw e;
    }
  });
  const declaredArns = [...declaredNames].map(([name, arn]) => arnByName.get(name) || arn);
  return unique([...declaredArns, ...tagged.filter((a): a is string => Boolean(a))]);
}

const snapshot: Surface<RoleSnapshot>['snapshot'] = async (ctx, ids) =>
  snapshotEach(ids, ROLE_CONCURRENCY, {
    read: async (id): Promise<RoleSnapshot> => {
      const { roleName, path } = parseRoleArn(id);
      const role = await getRole(ctx, roleName);
      const base = {
        roleName,
        roleArn: role.Arn ?? id,
        path: role.Path ?? path,
        tags: Object.fromEntries((role.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        ...(role.PermissionsBoundary?.PermissionsBoundaryArn
          ? { permissionsBoundaryArn: role.PermissionsBoundary.PermissionsBoundaryArn }
          : {}),
      };
      try {
        const attachedPolicies = await listAttached(ctx, roleName);
        const names = await listInlineNames(ctx, roleName);
        const inlinePolicies: InlinePolicy[] = [];
        for (const policyName of names) {
          inlinePolicies.push({ policyName, document: await getInline(ctx, roleName, policyName) });
        }
        return { ...base, attachedPolicies, inlinePolicies };
      } catch (e) {
        return { ...base, attachedPolicies: [], inlinePolicies: [], readError: readError(e) };
      }
    },
    unread: (id, err) => {
      const { roleName, path } = parseRoleArn(id);
      return {
        roleName,
        roleArn: id,
        path,
        attachedPolicies: [],
        inlinePolicies: [],
        tags: {},
        readError: err,
      };
    },
    gone: (id) => ctx.log.warn('role does not exist: nothing to cut', { roleArn: id }),
  });

async function getRole(ctx: SurfaceContext, roleName: string) {
  const out = await ctx.clients.iam.send(new GetRoleCommand({ RoleName: roleName }));
  if (!out.Role) throw new Error(`GetRole returned no role for ${roleName}`);
  return out.Role;
}

/** The role's managed and inline policies as they are now (a failure names ListAttachedRolePolicies). */
async function listPolicies(
  ctx: SurfaceContext,
  roleName: string,
): Promise<{ attached: AttachedPolicy[]; inline: string[] }> {
  const attached = await listAttached(ctx, roleName);
  const inline = await listInlineNames(ctx, roleName);
  return { attached, inline };
}

/** Runs one write; "already gone" (NoSuchEntity) counts as done and is reported as false. */
async function write(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Where contain and restore record their changes and failures. */
type Records = Pick<ContainResult, 'changes' | 'failures'>;

async function attachPolicy(ctx: SurfaceContext, out: Records, role: RoleSnapshot, policyArn: string) {
  await ctx.clients.iam.send(new AttachRolePolicyCommand({ RoleName: role.roleName, PolicyArn: policyArn }));
  out.changes.push(change(role.roleArn, 'AttachRolePolicy', null, { policyArn }));
}

/** Detaches a managed policy, recorded with `before`; one already detached is not recorded. */
async function detachPolicy(
  ctx: SurfaceContext,
  out: Records,
  role: RoleSnapshot,
  policyArn: string,
  before: unknown,
) {
  const detached = await write(() =>
    ctx.clients.iam.send(new DetachRolePolicyCommand({ RoleName: role.roleName, PolicyArn: policyArn })),
  );
  if (detached) out.changes.push(change(role.roleArn, 'DetachRolePolicy', before, null));
}

async function putInline(
  ctx: SurfaceContext,
  out: Records,
  role: RoleSnapshot,
  policyName: string,
  document: string,
  before: string | null,
): Promise<boolean> {
  try {
    await ctx.clients.iam.send(
      new PutRolePolicyCommand({ RoleName: role.roleName, PolicyName: policyName, PolicyDocument: document }),
    );
    const previous = before === null ? null : { policyName, document: before };
    out.changes.push(change(role.roleArn, 'PutRolePolicy', previous, { policyName, document }));
    return true;
  } catch (e) {
    out.failures.push(toFailure(role.roleArn, `PutRolePolicy ${policyName}`, e));
    return false;
  }
}

/** Deletes an inline policy, its document read and recorded verbatim first; one already gone is not recorded. */
async function deleteInline(ctx: SurfaceContext, out: Records, role: RoleSnapshot, policyName: string) {
  try {
    const document = await getInline(ctx, role.roleName, policyName);
    const deleted = await write(() =>
      ctx.clients.iam.send(new DeleteRolePolicyCommand({ RoleName: role.roleName, PolicyName: policyName })),
    );
    if (deleted) out.changes.push(change(role.roleArn, 'DeleteRolePolicy', { policyName, document }, null));
  } catch (e) {
    if (!isNotFound(e)) out.failures.push(toFailure(role.roleArn, `DeleteRolePolicy ${policyName}`, e));
  }
}

async function containRole(
  ctx: SurfaceContext,
  mode: KillMode,
  role: RoleSnapshot,
  out: ContainResult,
): Promise<void> {
  const deny = modeDeny(ctx, mode);
  let attached: AttachedPolicy[];
  let inline: string[];
  try {
    ({ attached, inline } = await listPolicies(ctx, role.roleName));
  } catch (e) {
    if (isNotFound(e)) {
      out.skipped.push({ resource: role.roleArn, reason: 'the role no longer exists' });
      return;
    }
    // Cannot read the role: still try the one call that cuts it.
    out.failures.push(toFailure(role.roleArn, 'ListAttachedRolePolicies', e));
    attached = [];
    inline = [];
  }

  // 1. Deny first: one call cuts the role's authority.
  let denyAttached = attached.some((p) => p.policyArn === deny);
  /** Why the mode's deny could not be attached, when an inline deny-all has to cut the role instead. */
  let fallback: string | undefined;
  if (!denyAttached) {
    try {
      await attachPolicy(ctx, out, role, deny);
      denyAttached = true;
    } catch (e) {
      if (isErrorNamed(e, 'LimitExceeded')) {
        fallback = AT_LIMIT;
      } else {
        out.failures.push(toFailure(role.roleArn, 'AttachRolePolicy', e));
        // The deny policy itself is missing (stack not deployed in this region): still cut the role.
        if (isNotFound(e)) fallback = 'the deny policy does not exist';
      }
    }
  }
  if (fallback && !inline.includes(INLINE_DENY_POLICY)) {
    if (await putInline(ctx, out, role, INLINE_DENY_POLICY, INLINE_DENY_DOCUMENT, null))
      inline.push(INLINE_DENY_POLICY);
  }
  if (mode !== 'full_stop') {
    if (fallback && inline.includes(INLINE_DENY_POLICY)) {
      out.skipped.push({
        resource: role.roleArn,
        reason: `${deny} not attached (${fallback}): the inline deny-all ${INLINE_DENY_POLICY} cuts the role instead, stricter than ${mode}`,
      });
    }
    return;
  }

  // 2. Revoke every session issued before the kill.
  await revokeSessions(ctx, role, inline, out);

  // 3. Dismantle: every managed and inline policy that is not Backstop's, recorded verbatim first.
  if (role.readError) {
    out.failures.push(unreadFailure(role.roleArn, role.readError, 'policies not removed'));
  } else {
    for (const policy of attached.filter((p) => !isBackstopPolicyArn(p.policyArn))) {
      try {
        await detachPolicy(ctx, out, role, policy.policyArn, policy);
      } catch (e) {
        out.failures.push(toFailure(role.roleArn, `DetachRolePolicy ${policy.policyArn}`, e));
      }
    }
    for (const policyName of inline.filter((n) => !BACKSTOP_INLINE.has(n))) {
      await deleteInline(ctx, out, role, policyName);
    }
  }

  // 4. A role that was at its limit has room now: attach the managed deny as well.
  if (!denyAttached && fallback === AT_LIMIT) {
    try {
      await attachPolicy(ctx, out, role, deny);
    } catch (e) {
      out.failures.push(toFailure(role.roleArn, 'AttachRolePolicy', e));
    }
  }
}

async function revokeSessions(
  ctx: SurfaceContext,
  role: RoleSnapshot,
  inline: readonly string[],
  out: ContainResult,
) {
  let before: string | null = null;
  if (inline.includes(REVOKE_SESSIONS_POLICY)) {
    try {
      before = await getInline(ctx, role.roleName, REVOKE_SESSIONS_POLICY);
      const cutoff = revokedBefore(before);
      // Never move the cut-off back: a later one revokes more.
      if (cutoff && cutoff.getTime() >= ctx.killStartedAt.getTime()) return;
    } catch (e) {
      if (!isNotFound(e)) {
        out.failures.push(toFailure(role.roleArn, `GetRolePolicy ${REVOKE_SESSIONS_POLICY}`, e));
        return;
      }
      before = null;
    }
  }
  await putInline(ctx, out, role, REVOKE_SESSIONS_POLICY, revokeSessionsDocument(ctx.killStartedAt), before);
}

/** Runs `fn` for each role of the snapshot, ROLE_CONCURRENCY at a time (see `forEachResource`). */
function forEachRole<R extends ContainResult | VerifyResult | RestoreResult>(
  snap: readonly ResourceSnapshot<RoleSnapshot>[],
  empty: () => R,
  fn: (role: RoleSnapshot, out: R) => Promise<void>,
): Promise<R> {
  return forEachResource(
    snap,
    ROLE_CONCURRENCY,
    empty,
    (s) => s.state.roleArn,
    (s, out) => fn(s.state, out),
  );
}

const contain: Surface<RoleSnapshot>['contain'] = async (ctx, mode, snap) =>
  forEachRole(snap, emptyContain, (role, out) => containRole(ctx, mode, role, out));

async function verifyRole(
  ctx: SurfaceContext,
  mode: KillMode,
  role: RoleSnapshot,
  out: VerifyResult,
): Promise<void> {
  const deny = modeDeny(ctx, mode);
  let attached: AttachedPolicy[];
  let inline: string[];
  try {
    ({ attached, inline } = await listPolicies(ctx, role.roleName));
  } catch (e) {
    if (isNotFound(e)) return; // the role is gone: it has no authority left
    out.failures.push(toFailure(role.roleArn, 'ListAttachedRolePolicies', e));
    return;
  }
  const drift = (expected: unknown, actual: unknown) =>
    out.drifted.push(mismatch(role.roleArn, expected, actual));
  if (!attached.some((p) => p.policyArn === deny) && !inline.includes(INLINE_DENY_POLICY)) {
    drift({ attached: deny }, { attached: attached.map((p) => p.policyArn) });
  }
  if (mode !== 'full_stop') return;

  if (!inline.includes(REVOKE_SESSIONS_POLICY)) {
    drift({ inline: REVOKE_SESSIONS_POLICY }, { inline });
  } else {
    try {
      const cutoff = revokedBefore(await getInline(ctx, role.roleName, REVOKE_SESSIONS_POLICY));
      if (!cutoff || cutoff.getTime() < ctx.killStartedAt.getTime()) {
        drift(
          { [REVOKE_SESSIONS_POLICY]: { tokenIssuedBefore: ctx.killStartedAt.toISOString() } },
          { [REVOKE_SESSIONS_POLICY]: { tokenIssuedBefore: cutoff?.toISOString() ?? null } },
        );
      }
    } catch (e) {
      if (isNotFound(e)) drift({ inline: REVOKE_SESSIONS_POLICY }, { inline: [] });
      else out.failures.push(toFailure(role.roleArn, `GetRolePolicy ${REVOKE_SESSIONS_POLICY}`, e));
    }
  }

  const managedLeft = attached.filter((p) => !isBackstopPolicyArn(p.policyArn)).map((p) => p.policyArn);
  const inlineLeft = inline.filter((n) => !BACKSTOP_INLINE.has(n));
  if (managedLeft.length === 0 && inlineLeft.length === 0) return;
  if (role.readError) {
    out.failures.push(unreadFailure(role.roleArn, role.readError, 'policies not removed'));
    return;
  }
  if (managedLeft.length > 0) drift({ managedPolicies: [] }, { managedPolicies: managedLeft });
  if (inlineLeft.length > 0) drift({ inlinePolicies: [] }, { inlinePolicies: inlineLeft });
}

const verify: Surface<RoleSnapshot>['verify'] = async (ctx, mode, snap) =>
  forEachRole(snap, emptyVerify, (role, out) => verifyRole(ctx, mode, role, out));

async function restoreRole(
  ctx: SurfaceContext,
  toMode: Mode,
  role: RoleSnapshot,
  out: RestoreResult,
): Promise<void> {
  const keep = isKillMode(toMode) ? modeDeny(ctx, toMode) : undefined;
  const backstopDenies = new Set(KILL_MODES.map((m) => modeDeny(ctx, m)));
  let attached: AttachedPolicy[];
  let inline: string[];
  try {
    ({ attached, inline } = await listPolicies(ctx, role.roleName));
  } catch (e) {
    if (isNotFound(e)) {
      out.notRestorable.push({
        resource: role.roleArn,
        reason: 'the role no longer exists: nothing to put back',
      });
    } else {
      out.failures.push(toFailure(role.roleArn, 'ListAttachedRolePolicies', e));
    }
    return;
  }
  const attachedArns = new Set(attached.map((p) => p.policyArn));

  const attach = async (policyArn: string) => {
    await attachPolicy(ctx, out, role, policyArn);
    attachedArns.add(policyArn);
  };
  const detach = async (policyArn: string) => {
    await detachPolicy(ctx, out, role, policyArn, { policyArn });
    attachedArns.delete(policyArn);
  };
  const ensureInlineDeny = async () => {
    if (inline.includes(INLINE_DENY_POLICY)) return true;
    if (await putInline(ctx, out, role, INLINE_DENY_POLICY, INLINE_DENY_DOCUMENT, null)) {
      inline.push(INLINE_DENY_POLICY);
      return true;
    }
    return false;
  };
  /** Frees managed-policy slots held by Backstop denies, keeping the role cut with the inline deny meanwhile. */
  const freeSlots = async () => {
    const removable = [...attachedArns].filter((a) => backstopDenies.has(a) && a !== keep);
    if (removable.length === 0 || !(await ensureInlineDeny())) return false;
    for (const policyArn of removable) await detach(policyArn);
    return true;
  };
  /** Attaches a policy, freeing slots first when the role is at its limit; false (recorded) when it cannot. */
  const attachMakingRoom = async (policyArn: string) => {
    try {
      try {
        await attach(policyArn);
      } catch (e) {
        if (!isErrorNamed(e, 'LimitExceeded') || !(await freeSlots())) throw e;
        await attach(policyArn);
      }
      return true;
    } catch (e) {
      out.failures.push(toFailure(role.roleArn, `AttachRolePolicy ${policyArn}`, e));
      return false;
    }
  };

  // 1. The role's own managed policies, as the snapshot recorded them.
  for (const policy of role.attachedPolicies.filter((p) => !isBackstopPolicyArn(p.policyArn))) {
    if (!attachedArns.has(policy.policyArn)) await attachMakingRoom(policy.policyArn);
  }

  // 2. Its inline policies, verbatim.
  for (const policy of role.inlinePolicies.filter((p) => !BACKSTOP_INLINE.has(p.policyName))) {
    let current: string | null = null;
    if (inline.includes(policy.policyName)) {
      try {
        current = await getInline(ctx, role.roleName, policy.policyName);
      } catch (e) {
        out.failures.push(toFailure(role.roleArn, `PutRolePolicy ${policy.policyName}`, e));
        continue;
      }
      if (current === policy.document) continue;
    }
    await putInline(ctx, out, role, policy.policyName, policy.document, current);
  }

  // 3. The deny of the mode the agent returns to (none for `normal`), then the other Backstop denies go.
  let keepAttached = keep === undefined || attachedArns.has(keep);
  if (keep !== undefined && !keepAttached) keepAttached = await attachMakingRoom(keep);
  for (const policyArn of [...attachedArns].filter((a) => backstopDenies.has(a) && a !== keep)) {
    try {
      await detach(policyArn);
    } catch (e) {
      out.failures.push(toFailure(role.roleArn, `DetachRolePolicy ${policyArn}`, e));
    }
  }
  // The inline deny-all goes only once the mode's own deny holds; the session revocation stays for good.
  if (inline.includes(INLINE_DENY_POLICY)) {
    if (!keepAttached) {
      out.notRestorable.push({
        resource: role.roleArn,
        reason: `${INLINE_DENY_POLICY} kept: the ${toMode} deny ${keep} could not be attached in its place`,
      });
    } else {
      await deleteInline(ctx, out, role, INLINE_DENY_POLICY);
    }
  }
}

const restore: Surface<RoleSnapshot>['restore'] = async (ctx, toMode, snap) =>
  forEachRole(snap, emptyRestore, (role, out) => restoreRole(ctx, toMode, role, out));

export const iamRoles: Surface<RoleSnapshot> = {
  name: 'iam',
  appliesTo: () => true,
  discover,
  snapshot,
  contain,
  plan: planRoles,
  verify,
  restore,
};

/**
 * What a kill in `mode` would do to each role of the snapshot (`backstop plan`), without calling
 * AWS. Per role: (1) attach the mode's deny policy, or, when the role is at the managed-policy
 * quota, set the Backstop kill boundary instead; (2) in full_stop set the permissions boundary to
 * `BackstopKillBoundary-<region>`, which cuts every session, old and new; (3) in full_stop detach
 * the managed and delete the inline policies, each kept verbatim in the snapshot for restore.
 */
export function planRoles(
  ctx: SurfaceContext,
  mode: KillMode,
  snap: readonly ResourceSnapshot<RoleSnapshot>[],
): ReturnType<Surface<RoleSnapshot>['plan']> {
  const out: ReturnType<Surface<RoleSnapshot>['plan']> = { actions: [], skipped: [] };
  const deny = modeDeny(ctx, mode);
  const denyName = deny.split('/').pop() ?? deny;
  // The boundary the kill sets (the WorkloadAccountStack creates it under this name).
  const killBoundary = `BackstopKillBoundary-${ctx.agent.region}`;
  /** IAM's default quota of managed policies per role (accounts may have it raised to 20). */
  const managedQuota = 10;
  const short = (arn: string) => arn.split('/').pop() ?? arn;
  for (const { state: role } of snap) {
    const resource = role.roleArn;
    const label = `role ${role.roleName}`;
    const attached = role.attachedPolicies.map((p) => p.policyArn);
    const own = role.attachedPolicies.filter((p) => !isBackstopPolicyArn(p.policyArn));
    const inline = role.inlinePolicies.filter((p) => !BACKSTOP_INLINE.has(p.policyName));
    const boundary = role.permissionsBoundaryArn ? short(role.permissionsBoundaryArn) : 'none';
    const policies = role.readError
      ? `policies unknown (${role.readError.error}: ${role.readError.message})`
      : `${attached.length} managed, ${role.inlinePolicies.length} inline`;
    const atQuota = !role.readError && attached.length >= managedQuota && !attached.includes(deny);

    // 1. The mode's deny (one call cuts the role), or the kill boundary at the quota.
    if (attached.includes(deny)) {
      out.skipped.push({ resource, label, current: policies, reason: `${denyName} already attached` });
    } else if (atQuota) {
      out.actions.push({
        resource,
        label,
        action: `PutRolePermissionsBoundary ${killBoundary}`,
        current: `${policies}: at the managed-policy quota, no room for ${denyName}`,
        after: 'set instead of the deny: cuts the role',
      });
    } else {
      out.actions.push({
        resource,
        label,
        action: `AttachRolePolicy ${denyName}`,
        current: policies,
        after: 'attached: cuts the role',
      });
    }
    if (mode !== 'full_stop') continue;

    // 2. The kill boundary: every session, issued before the kill or after, is cut.
    if (!atQuota) {
      if (role.permissionsBoundaryArn && short(role.permissionsBoundaryArn) === killBoundary) {
        out.skipped.push({
          resource,
          label,
          current: `boundary ${boundary}`,
          reason: 'kill boundary already set',
        });
      } else {
        out.actions.push({
          resource,
          label,
          action: `PutRolePermissionsBoundary ${killBoundary}`,
          current: `boundary ${boundary}`,
          after: 'set: cuts every session, old and new',
        });
      }
    }

    // 3. Dismantle: every policy that is not Backstop's goes, recorded verbatim first.
    if (role.readError) {
      out.skipped.push({
        resource,
        label,
        current: policies,
        reason: 'its policies could not be read: none would be removed (restore could not put them back)',
      });
    } else if (own.length + inline.length > 0) {
      const names = [...own.map((p) => p.policyName), ...inline.map((p) => `${p.policyName} (inline)`)];
      const calls = [
        ...(own.length > 0 ? [`DetachRolePolicy x${own.length}`] : []),
        ...(inline.length > 0 ? [`DeleteRolePolicy x${inline.length}`] : []),
      ];
      out.actions.push({
        resource,
        label,
        action: calls.join(', '),
        current: names.join(', '),
        after: 'removed (each kept verbatim in the snapshot, for restore)',
      });
    }
  }
  return out;
}
