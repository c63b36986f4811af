import {
  AttachRolePolicyCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  type IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { isArn, parsePolicyArn, parseRoleArn } from '../shared/arn';
import { isErrorNamed, isNotFound, toFailure } from '../shared/aws-errors';
import { coveringStatement, parsePolicyText } from '../shared/deny-coverage';
import {
  AGENT_TAG,
  BACKSTOP_INLINE_POLICY_NAMES,
  denyPolicyArn,
  IAM_PATH,
  INLINE_DENY_POLICY,
  killBoundaryArn,
  killBoundaryName,
  REVOKE_SESSIONS_POLICY,
} from '../shared/naming';
import {
  denyDocument,
  killBoundaryDocument,
  type PolicyStatementJson,
  revokeSessionsDocument,
  samePolicy,
} from '../shared/policy-documents';
import { isKillMode, KILL_MODES, type KillMode, type Mode } from '../shared/types';
import {
  change,
  emptyContain,
  emptyRestore,
  emptyVerify,
  forEachResource,
  mapLimit,
  mergeContain,
  mismatch,
  paginate,
  ReadCache,
  type ReadError,
  readError,
  snapshotEach,
  unique,
  unreadFailure,
} from './common';
import type {
  ContainResult,
  Evidence,
  ResourceSnapshot,
  RestoreResult,
  Surface,
  SurfaceContext,
  VerifyResult,
} from './types';

/**
 * IAM roles: cut in every mode. Principles 7 and 8 of the design shape all of it:
 *
 * - The kill never writes a policy document. Its role may attach only Backstop's own deny
 *   policies, set only the kill boundary (a boundary that denies everything), and detach or delete
 *   policies only on roles that already carry the kill boundary, where nothing it removes can give
 *   authority back. So nothing here can grant, even run by someone else.
 * - A cut is judged by what IAM would decide, never by a name: verify reads the documents in
 *   force (the attached Backstop policies and the boundary, default versions) and asks whether an
 *   unconditional Deny covers every action of the mode (lambda/shared/deny-coverage.ts).
 *   Backstop-named policies are compared with what Backstop would write; any other content is
 *   recorded verbatim as evidence and never trusted.
 * - Authority first: `cut` attaches the mode's deny to each role as its first write, before any
 *   snapshot (attaching destroys nothing). At the managed-policy quota, or when the deny in force is
 *   not what Backstop deployed, the role gets the kill boundary instead: stricter than the mode,
 *   never looser, and said so.
 * - full_stop then sets the kill boundary on every role (every session, old or new, is cut at once;
 *   the restore path leaves a dated session deny when it gives authority back), snapshots, and
 *   dismantles: every managed and inline policy recorded verbatim, then removed.
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
  /** The role's permissions boundary before the kill (a boundary the kill replaced is restored from here). */
  readonly permissionsBoundaryArn?: string;
  readonly tags: Readonly<Record<string, string>>;
  /**
   * Set when the role's policies could not be read. Contain then only adds Backstop's cuts
   * (restore can always take those away) and removes nothing, since it could not be put back.
   */
  readonly readError?: ReadError;
}

/** Roles handled at once: IAM's write quota is small and shared by the whole account. */
const ROLE_CONCURRENCY = 4;
/** ListRoleTags calls in flight during discovery (one per role in the account). */
const TAG_SCAN_CONCURRENCY = 8;
const SERVICE_LINKED_PATH = '/aws-service-role/';

/**
 * IAM returns policy documents URL-encoded (RFC 3986). A document that is already JSON text (some
 * IAM-compatible endpoints return it decoded) is returned unchanged.
 */
export function decodePolicyDocument(document: string): string {
  return document.trimStart().startsWith('{') ? document : decodeURIComponent(document);
}

/** The cut-off time of a session-revoking document, or undefined when it carries none. */
export function revokedBefore(document: string): Date | undefined {
  for (const s of parsePolicyText(document)?.Statement ?? []) {
    const value = s.Effect === 'Deny' ? s.Condition?.DateLessThan?.['aws:TokenIssueTime'] : undefined;
    const time = typeof value === 'string' ? new Date(value) : undefined;
    if (time && !Number.isNaN(time.getTime())) return time;
  }
  return undefined;
}

/**
 * Whether an inline policy under a Backstop name holds exactly what Backstop would write there:
 * the session deny a restore leaves (with any cut-off no later than now). Anything else under a
 * Backstop name is planted.
 */
export function isBackstopInline(policyName: string, document: string, now: Date): boolean {
  if (policyName !== REVOKE_SESSIONS_POLICY) return false;
  const cutoff = revokedBefore(document);
  return (
    cutoff !== undefined &&
    cutoff.getTime() <= now.getTime() &&
    samePolicy(document, revokeSessionsDocument(cutoff))
  );
}

function isBackstopPolicyArn(policyArn: string): boolean {
  return isArn(policyArn) && parsePolicyArn(policyArn).path === IAM_PATH;
}

function modeDeny(ctx: SurfaceContext, mode: KillMode): string {
  const { partition, accountId, region, agentId } = ctx.agent;
  return denyPolicyArn(partition, accountId, region, agentId, mode);
}

function killBoundary(ctx: SurfaceContext): string {
  const { partition, accountId, region } = ctx.agent;
  return killBoundaryArn(partition, accountId, region);
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

async function getRole(ctx: SurfaceContext, roleName: string): Promise<Role> {
  const out = await ctx.clients.iam.send(new GetRoleCommand({ RoleName: roleName }));
  if (!out.Role) throw new Error(`GetRole returned no role for ${roleName}`);
  return out.Role;
}

/** A role's GetRole, read once per phase of an invocation: the cut reads it to set the boundary, the snapshot keeps it. */
const roleReads = new ReadCache<Promise<Role>>();

function readRole(ctx: SurfaceContext, roleName: string): Promise<Role> {
  let read = roleReads.get(ctx, roleName);
  if (!read) {
    read = getRole(ctx, roleName);
    roleReads.set(ctx, roleName, read);
    read.catch(() => {
      roleReads.take(ctx, roleName);
    });
  }
  return read;
}

/** A role's own policies as read in this invocation: attached managed, inline names, inline documents read so far. */
interface RolePolicies {
  readonly attached: AttachedPolicy[];
  readonly inlineNames: string[];
  readonly documents: ReadonlyMap<string, string>;
}

/**
 * The policies of each role this invocation read, by role name: the snapshot reads them while the
 * cut goes on (nothing the cut does changes them but the deny it attaches, which the snapshot
 * leaves out), and contain dismantles from them instead of listing again. Verify puts what it
 * reads here too, for the re-cut that follows it.
 */
const policyReads = new ReadCache<Promise<RolePolicies>>();

/** Lists a role's policies (both lists at once) and, when asked, reads every inline document. */
async function loadPolicies(
  ctx: SurfaceContext,
  roleName: string,
  withDocuments: (name: string) => boolean,
): Promise<RolePolicies> {
  const [attached, inlineNames] = await Promise.all([
    listAttached(ctx, roleName),
    listInlineNames(ctx, roleName),
  ]);
  const documents = new Map<string, string>();
  await Promise.all(
    inlineNames
      .filter(withDocuments)
      .map(async (name) => documents.set(name, await getInline(ctx, roleName, name))),
  );
  return { attached, inlineNames, documents };
}

function readPolicies(ctx: SurfaceContext, roleName: string): Promise<RolePolicies> {
  let read = policyReads.get(ctx, roleName);
  if (!read) {
    read = loadPolicies(ctx, roleName, () => true);
    policyReads.set(ctx, roleName, read);
    read.catch(() => {
      policyReads.take(ctx, roleName);
    });
  }
  return read;
}

/**
 * The documents of managed policies as they are in force (the default version), read once per
 * policy per call of a phase: every role of an agent shares the same deny policy and boundary.
 */
function policyReader(ctx: SurfaceContext): (policyArn: string) => Promise<string> {
  const cache = new Map<string, Promise<string>>();
  return (policyArn) => {
    let doc = cache.get(policyArn);
    if (!doc) {
      doc = (async () => {
        const policy = await ctx.clients.iam.send(new GetPolicyCommand({ PolicyArn: policyArn }));
        const versionId = policy.Policy?.DefaultVersionId;
        if (!versionId) throw new Error(`GetPolicy returned no default version for ${policyArn}`);
        const version = await ctx.clients.iam.send(
          new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: versionId }),
        );
        return decodePolicyDocument(version.PolicyVersion?.Document ?? '');
      })();
      cache.set(policyArn, doc);
      // A failed read is not remembered: the next role tries again.
      doc.catch(() => cache.delete(policyArn));
    }
    return doc;
  };
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

/** Where every phase records its changes and failures. */
type Records = Pick<ContainResult, 'changes' | 'failures'>;

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

async function attachPolicy(ctx: SurfaceContext, out: Records, roleArn: string, policyArn: string) {
  await attachModeDeny(ctx.clients.iam, roleArn, policyArn);
  out.changes.push(change(roleArn, 'AttachRolePolicy', null, { policyArn }));
}

/**
 * Attaches one of Backstop's deny policies to a role: the authority cut, a write that destroys
 * nothing. Prepare makes it too, on the roles an agent declares, before the branches start.
 */
export async function attachModeDeny(iam: IAMClient, roleArn: string, policyArn: string): Promise<void> {
  const { roleName } = parseRoleArn(roleArn);
  await iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn }));
}

/** Detaches a managed policy, recorded with `before`; one already detached is not recorded. */
async function detachPolicy(ctx: SurfaceContext, out: Records, roleArn: string, policy: AttachedPolicy) {
  const { roleName } = parseRoleArn(roleArn);
  const detached = await write(() =>
    ctx.clients.iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policy.policyArn })),
  );
  if (detached) out.changes.push(change(roleArn, 'DetachRolePolicy', policy, null));
}

/** Deletes an inline policy whose document was read (and is recorded) first; one already gone is not recorded. */
async function deleteInline(ctx: SurfaceContext, out: Records, roleArn: string, policy: InlinePolicy) {
  const { roleName } = parseRoleArn(roleArn);
  const deleted = await write(() =>
    ctx.clients.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policy.policyName })),
  );
  if (deleted) out.changes.push(change(roleArn, 'DeleteRolePolicy', policy, null));
}

/**
 * Sets the kill boundary on a role, reading the boundary it replaces first (snapshot before
 * change) and recording it as the change's `before`. Nothing is written when it is already set.
 */
async function setKillBoundary(ctx: SurfaceContext, out: ContainResult, roleArn: string, why: string) {
  const { roleName } = parseRoleArn(roleArn);
  const boundary = killBoundary(ctx);
  let current: string | null;
  try {
    current = (await readRole(ctx, roleName)).PermissionsBoundary?.PermissionsBoundaryArn ?? null;
  } catch (e) {
    if (isNotFound(e)) {
      out.skipped.push({ resource: roleArn, reason: 'the role no longer exists' });
      return;
    }
    out.failures.push(toFailure(roleArn, 'GetRole', e));
    return;
  }
  if (current === boundary) return;
  try {
    await ctx.clients.iam.send(
      new PutRolePermissionsBoundaryCommand({ RoleName: roleName, PermissionsBoundary: boundary }),
    );
    out.changes.push(
      change(
        roleArn,
        'PutRolePermissionsBoundary',
        { permissionsBoundaryArn: current },
        {
          permissionsBoundaryArn: boundary,
          why,
        },
      ),
    );
  } catch (e) {
    if (isNotFound(e)) out.skipped.push({ resource: roleArn, reason: 'the role no longer exists' });
    else out.failures.push(toFailure(roleArn, 'PutRolePermissionsBoundary', e));
  }
}

const AT_QUOTA = 'the role is at its managed-policy quota';

/**
 * The first write on each role: attach the mode's deny (one call, destroys nothing). When IAM
 * refuses it for a reason that is not about the role itself (the quota, a missing policy), or in
 * full_stop, the kill boundary goes on as well.
 */
async function cutRole(
  ctx: SurfaceContext,
  mode: KillMode,
  roleArn: string,
  out: ContainResult,
  attached: boolean,
) {
  const deny = modeDeny(ctx, mode);
  const { roleName } = parseRoleArn(roleArn);
  // The deny is the first call sent for the role. Its boundary (which a full_stop replaces) and its
  // own policies are read while it goes on: nothing here waits for a read it does not need.
  const attaching = attached ? Promise.resolve() : attachPolicy(ctx, out, roleArn, deny);
  if (mode === 'full_stop') void readRole(ctx, roleName).catch(() => undefined);
  void readPolicies(ctx, roleName).catch(() => undefined);
  let fallback: string | undefined;
  try {
    await attaching;
  } catch (e) {
    if (isErrorNamed(e, 'LimitExceeded')) {
      fallback = AT_QUOTA;
    } else if (isNotFound(e)) {
      // The role is gone, or the deny policy is (workload stack not deployed in this region).
      fallback = `the deny policy ${deny} cannot be attached (${e instanceof Error ? e.message : String(e)})`;
    } else {
      // Refused for another reason (an SCP, a permissions error): still cut the role another way.
      out.failures.push(toFailure(roleArn, 'AttachRolePolicy', e));
      fallback = `the ${mode} deny could not be attached (${e instanceof Error ? e.name : String(e)})`;
    }
  }
  if (mode === 'full_stop') {
    await setKillBoundary(ctx, out, roleArn, 'full_stop: every session of the role is cut');
    return;
  }
  if (fallback) {
    await setKillBoundary(ctx, out, roleArn, `${fallback}: cut by the kill boundary instead`);
    if (out.changes.some((c) => c.resource === roleArn && c.action === 'PutRolePermissionsBoundary')) {
      out.skipped.push({
        resource: roleArn,
        reason: `${fallback}: the kill boundary (deny all) cuts the role instead, stricter than ${mode}; only a restore lifts it`,
      });
    }
  }
}

/**
 * The deny goes on every role as its first write. Prepare attaches it to the declared roles
 * already (`ctx.authorityCutAt`, recorded in its own audit chain); the branch then only adds what
 * the mode adds on top (the kill boundary of full_stop).
 */
/** The mode each invocation cut for: the snapshot leaves out the deny Prepare attached for it. */
const cutModes = new WeakMap<SurfaceContext, KillMode>();

const cut: NonNullable<Surface<RoleSnapshot>['cut']> = async (ctx, mode, ids) => {
  cutModes.set(ctx, mode);
  const precut = ctx.authorityCutAt
    ? new Set(ctx.agent.roleArns.map((a) => parseRoleArn(a).roleName))
    : undefined;
  return forEachResource(
    ids,
    ROLE_CONCURRENCY,
    emptyContain,
    (id) => id,
    (id, out) => cutRole(ctx, mode, id, out, precut?.has(parseRoleArn(id).roleName) ?? false),
  );
};

const snapshot: Surface<RoleSnapshot>['snapshot'] = async (ctx, ids, cutResult) => {
  // The boundary a cut replaced is the role's pre-kill boundary, not the kill boundary it reads now.
  // Keyed by role name: a declared ARN and the one IAM reports may differ in path only.
  // What the cut attached was not there before the kill (only Backstop denies: restore never
  // re-attaches those from a snapshot anyway).
  const replaced = new Map<string, string | null>();
  const added = new Map<string, Set<string>>();
  // Prepare attached the mode's deny to the declared roles: not theirs before the kill either.
  const mode = cutModes.get(ctx);
  if (ctx.authorityCutAt && mode) {
    for (const arn of ctx.agent.roleArns) {
      const name = parseRoleArn(arn).roleName;
      added.set(name, (added.get(name) ?? new Set()).add(modeDeny(ctx, mode)));
    }
  }
  for (const c of cutResult?.changes ?? []) {
    const name = parseRoleArn(c.resource).roleName;
    if (c.action === 'PutRolePermissionsBoundary') {
      replaced.set(name, (c.before as { permissionsBoundaryArn: string | null }).permissionsBoundaryArn);
    } else if (c.action === 'AttachRolePolicy') {
      added.set(name, (added.get(name) ?? new Set()).add((c.after as { policyArn: string }).policyArn));
    }
  }
  return snapshotEach(ids, ROLE_CONCURRENCY, {
    read: async (id): Promise<RoleSnapshot> => {
      const { roleName, path } = parseRoleArn(id);
      const role = await readRole(ctx, roleName);
      const current = role.PermissionsBoundary?.PermissionsBoundaryArn;
      const before = replaced.has(roleName) ? replaced.get(roleName) : current;
      const base = {
        roleName,
        roleArn: role.Arn ?? id,
        path: role.Path ?? path,
        tags: Object.fromEntries((role.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        ...(before ? { permissionsBoundaryArn: before } : {}),
      };
      try {
        const cutAdded = added.get(roleName);
        const read = await readPolicies(ctx, roleName);
        const attachedPolicies = read.attached.filter((p) => !cutAdded?.has(p.policyArn));
        const inlinePolicies: InlinePolicy[] = read.inlineNames.map((policyName) => ({
          policyName,
          document: read.documents.get(policyName) ?? '',
        }));
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
};

/** Backstop-named inline policies of the snapshot that are not what Backstop would write. */
function plantedInline(ctx: SurfaceContext, role: RoleSnapshot): Evidence[] {
  return role.inlinePolicies
    .filter(
      (p) =>
        BACKSTOP_INLINE_POLICY_NAMES.includes(p.policyName) &&
        !isBackstopInline(p.policyName, p.document, ctx.clock()),
    )
    .map((p) => ({
      resource: role.roleArn,
      kind: 'planted-policy' as const,
      policy: p.policyName,
      document: p.document,
      expected:
        p.policyName === REVOKE_SESSIONS_POLICY
          ? 'a Deny of every action to sessions issued before a kill (written only by a restore)'
          : `nothing: Backstop never writes ${INLINE_DENY_POLICY}`,
      note: 'an inline policy under a Backstop name that Backstop did not write; it is never trusted',
    }));
}

/** What Backstop deployed under a managed policy ARN it uses (undefined for any other policy). */
function expectedManaged(ctx: SurfaceContext, policyArn: string): unknown {
  if (policyArn === killBoundary(ctx)) return killBoundaryDocument();
  const mode = KILL_MODES.find((m) => modeDeny(ctx, m) === policyArn);
  return mode ? denyDocument(mode, ctx.agent) : undefined;
}

/**
 * The mode's deny policy, judged by its content: the statement of its default version that covers
 * the mode, or undefined (with the evidence recorded) when it does not hold what Backstop deployed
 * and does not cover the mode either.
 */
async function denyInForce(
  ctx: SurfaceContext,
  mode: KillMode,
  read: (arn: string) => Promise<string>,
  out: ContainResult,
): Promise<PolicyStatementJson | undefined> {
  const deny = modeDeny(ctx, mode);
  let document: string;
  try {
    document = await read(deny);
  } catch (e) {
    out.failures.push(toFailure(deny, 'GetPolicyVersion', e));
    return undefined;
  }
  const expected = expectedManaged(ctx, deny);
  if (!samePolicy(document, expected)) {
    out.evidence.push({
      resource: deny,
      kind: 'tampered-policy',
      policy: deny,
      document,
      expected,
      note: "the default version of Backstop's deny policy is not what Backstop deployed",
    });
  }
  return coveringStatement(document, mode, ctx.agent);
}

async function containRole(
  ctx: SurfaceContext,
  mode: KillMode,
  role: RoleSnapshot,
  denyCovers: boolean,
  out: ContainResult,
): Promise<void> {
  out.evidence.push(...plantedInline(ctx, role));
  if (!denyCovers && mode !== 'full_stop') {
    await setKillBoundary(
      ctx,
      out,
      role.roleArn,
      `the ${mode} deny in force does not deny what ${mode} must: cut by the kill boundary instead`,
    );
  }
  if (mode !== 'full_stop') return;

  // Dismantle: every managed and inline policy that is not Backstop's, recorded verbatim first.
  // The kill role may do this only on roles that carry the kill boundary (set by the cut).
  if (role.readError) {
    out.failures.push(unreadFailure(role.roleArn, role.readError, 'policies not removed'));
    return;
  }
  // What the role holds now: as this invocation read it (the snapshot's reads, made once the cut
  // was under way, or the read-back before a re-cut), else listed now. A policy put on between
  // that read and the kill boundary is found by the read-back and removed by its re-cut.
  let current: RolePolicies;
  try {
    current = await (policyReads.take(ctx, role.roleName) ?? loadPolicies(ctx, role.roleName, () => false));
  } catch (e) {
    if (isNotFound(e)) out.skipped.push({ resource: role.roleArn, reason: 'the role no longer exists' });
    else out.failures.push(toFailure(role.roleArn, 'ListAttachedRolePolicies', e));
    return;
  }
  const detaching = current.attached
    .filter((p) => !isBackstopPolicyArn(p.policyArn))
    .map(async (policy) => {
      try {
        await detachPolicy(ctx, out, role.roleArn, policy);
      } catch (e) {
        out.failures.push(toFailure(role.roleArn, `DetachRolePolicy ${policy.policyArn}`, e));
      }
    });
  const deleting = current.inlineNames.map(async (policyName) => {
    try {
      const document = current.documents.get(policyName) ?? (await getInline(ctx, role.roleName, policyName));
      if (isBackstopInline(policyName, document, ctx.clock())) return; // a restore's session deny stays
      if (!role.inlinePolicies.some((p) => p.policyName === policyName && p.document === document)) {
        // Put there after the snapshot: its content is in this change record, verbatim.
        ctx.log.warn('inline policy not in the snapshot: recorded in the change before deletion', {
          roleArn: role.roleArn,
          policyName,
        });
      }
      await deleteInline(ctx, out, role.roleArn, { policyName, document });
    } catch (e) {
      if (!isNotFound(e)) out.failures.push(toFailure(role.roleArn, `DeleteRolePolicy ${policyName}`, e));
    }
  });
  await Promise.all([...detaching, ...deleting]);
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

const contain: Surface<RoleSnapshot>['contain'] = async (ctx, mode, snap) => {
  const head = emptyContain();
  const covers =
    mode === 'full_stop' || (await denyInForce(ctx, mode, policyReader(ctx), head)) !== undefined;
  const rest = await forEachRole(snap, emptyContain, (role, out) =>
    containRole(ctx, mode, role, covers, out),
  );
  return mergeContain(head, rest);
};

/** What verify found in force on one role. */
interface RoleInForce {
  readonly boundary: string | undefined;
  readonly attached: AttachedPolicy[];
  /** Inline policy names (full_stop only), with the documents of Backstop-named ones. */
  readonly policies?: RolePolicies;
  /** The policy whose default version holds a statement covering the mode, if any. */
  readonly coveredBy: string | undefined;
}

/**
 * Reads what is in force on a role, every read at once: its boundary, its attached policies and,
 * in full_stop, its inline policy names (and the documents of those under a Backstop name, which
 * are judged by content). What it read is kept for a re-cut that follows the read-back.
 */
async function readInForce(
  ctx: SurfaceContext,
  mode: KillMode,
  role: RoleSnapshot,
  read: (arn: string) => Promise<string>,
  out: VerifyResult,
): Promise<RoleInForce | undefined> {
  let boundary: string | undefined;
  let attached: AttachedPolicy[];
  let policies: RolePolicies | undefined;
  try {
    const [roleNow, listed] = await Promise.all([
      getRole(ctx, role.roleName),
      mode === 'full_stop'
        ? loadPolicies(ctx, role.roleName, (name) => BACKSTOP_INLINE_POLICY_NAMES.includes(name))
        : listAttached(ctx, role.roleName).then((a) => ({ attached: a })),
    ]);
    roleReads.set(ctx, role.roleName, Promise.resolve(roleNow));
    boundary = roleNow.PermissionsBoundary?.PermissionsBoundaryArn;
    attached = listed.attached;
    if ('inlineNames' in listed) {
      policies = listed;
      policyReads.set(ctx, role.roleName, Promise.resolve(listed));
    }
  } catch (e) {
    if (isNotFound(e)) return undefined; // the role is gone: it has no authority left
    out.failures.push(toFailure(role.roleArn, 'GetRole', e));
    return undefined;
  }
  // Only policies the agent cannot change count: Backstop's path (the agent boundary forbids
  // touching it) and the boundary. Their content is read, never assumed from their name.
  const candidates = unique([
    ...(boundary ? [boundary] : []),
    ...attached.map((p) => p.policyArn).filter(isBackstopPolicyArn),
  ]);
  let coveredBy: string | undefined;
  for (const arn of candidates) {
    try {
      if (coveringStatement(await read(arn), mode, ctx.agent)) {
        coveredBy = arn;
        break;
      }
    } catch (e) {
      if (!isNotFound(e)) out.failures.push(toFailure(role.roleArn, `GetPolicyVersion ${arn}`, e));
    }
  }
  return { boundary, attached, coveredBy, ...(policies ? { policies } : {}) };
}

async function verifyRole(
  ctx: SurfaceContext,
  mode: KillMode,
  role: RoleSnapshot,
  read: (arn: string) => Promise<string>,
  out: VerifyResult,
): Promise<void> {
  const found = await readInForce(ctx, mode, role, read, out);
  if (!found) return;
  const drift = (expected: unknown, actual: unknown) =>
    out.drifted.push(mismatch(role.roleArn, expected, actual));

  if (!found.coveredBy) {
    drift(
      { deny: `an unconditional Deny of what ${mode} takes away, in force on the role` },
      {
        canStillAct: `no Backstop policy or boundary in force denies what ${mode} must`,
        boundary: found.boundary ?? null,
        attached: found.attached.map((p) => p.policyArn),
      },
    );
  }
  if (mode !== 'full_stop' || !found.policies) return;

  if (found.boundary !== killBoundary(ctx)) {
    drift({ permissionsBoundary: killBoundary(ctx) }, { permissionsBoundary: found.boundary ?? null });
  }
  const managedLeft = found.attached.filter((p) => !isBackstopPolicyArn(p.policyArn)).map((p) => p.policyArn);
  const documents = found.policies.documents;
  const inlineLeft = found.policies.inlineNames.filter((name) => {
    const document = documents.get(name);
    return !(document !== undefined && isBackstopInline(name, document, ctx.clock()));
  });
  if (managedLeft.length === 0 && inlineLeft.length === 0) return;
  if (role.readError) {
    out.failures.push(unreadFailure(role.roleArn, role.readError, 'policies not removed'));
    return;
  }
  if (managedLeft.length > 0) drift({ managedPolicies: [] }, { managedPolicies: managedLeft });
  if (inlineLeft.length > 0) drift({ inlinePolicies: [] }, { inlinePolicies: inlineLeft });
}

const verify: Surface<RoleSnapshot>['verify'] = async (ctx, mode, snap) => {
  const read = policyReader(ctx);
  // The documents every role is judged by are read while the roles are: the mode's deny and, in
  // full_stop, the kill boundary (their default versions; a failed read is tried again per role).
  for (const arn of mode === 'full_stop' ? [killBoundary(ctx), modeDeny(ctx, mode)] : [modeDeny(ctx, mode)]) {
    read(arn).catch(() => undefined);
  }
  return forEachRole(snap, emptyVerify, (role, out) => verifyRole(ctx, mode, role, read, out));
};

/**
 * Puts a role back as the snapshot holds it, in reverse order of the kill, under the restore
 * execution role. Every write but the last happens while the role carries the kill boundary (it
 * denies everything, so nothing written can act yet): (0) the kill boundary goes on first where
 * the kill did not put it (a lower mode's kill) and the role needs any change; (1) the dated session
 * deny, so that nothing issued before the kill ever works again; (2) the role's own inline policies,
 * byte for byte, and managed policies; (3) the deny of the mode the agent returns to (none for
 * `normal`); (4) the other Backstop denies go. (5) Last, the one write that gives authority back:
 * the role's own boundary in place of the kill boundary (or none, when it had none). The restore
 * role's IAM conditions hold it to exactly this shape (restore-execution-role.ts).
 */
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
  let boundary: string | undefined;
  try {
    boundary = (await getRole(ctx, role.roleName)).PermissionsBoundary?.PermissionsBoundaryArn;
    attached = await listAttached(ctx, role.roleName);
    inline = await listInlineNames(ctx, role.roleName);
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
  if (role.readError) {
    out.notRestorable.push({
      resource: role.roleArn,
      reason: `its policies before the kill could not be read (${role.readError.message}): left cut`,
    });
    return;
  }
  const attachedArns = new Set(attached.map((p) => p.policyArn));
  const { roleName } = parseRoleArn(role.roleArn);
  const killBoundaryArnOf = killBoundary(ctx);

  // What the role needs, read before anything is written.
  const sessionDeny = JSON.stringify(revokeSessionsDocument(ctx.killStartedAt));
  let current: string | null = null;
  if (inline.includes(REVOKE_SESSIONS_POLICY))
    current = await getInline(ctx, roleName, REVOKE_SESSIONS_POLICY);
  const currentCutoff = current ? revokedBefore(current) : undefined;
  const keepsLaterCutoff =
    current !== null &&
    isBackstopInline(REVOKE_SESSIONS_POLICY, current, ctx.clock()) &&
    (currentCutoff?.getTime() ?? 0) >= ctx.killStartedAt.getTime();
  const ownInline: { policy: InlinePolicy; before: string | null }[] = [];
  for (const policy of role.inlinePolicies.filter(
    (p) => !BACKSTOP_INLINE_POLICY_NAMES.includes(p.policyName),
  )) {
    const before = inline.includes(policy.policyName)
      ? await getInline(ctx, roleName, policy.policyName)
      : null;
    if (before !== policy.document) ownInline.push({ policy, before });
  }
  const own = role.attachedPolicies.filter(
    (p) => !isBackstopPolicyArn(p.policyArn) && !attachedArns.has(p.policyArn),
  );
  const staleDenies = [...attachedArns].filter((a) => backstopDenies.has(a) && a !== keep);
  const needsWrites =
    !keepsLaterCutoff ||
    ownInline.length > 0 ||
    own.length > 0 ||
    (keep !== undefined && !attachedArns.has(keep)) ||
    staleDenies.length > 0;
  if (!needsWrites && boundary === role.permissionsBoundaryArn) return;

  // 0. Under the kill boundary while anything is written.
  if (needsWrites && boundary !== killBoundaryArnOf) {
    try {
      await ctx.clients.iam.send(
        new PutRolePermissionsBoundaryCommand({ RoleName: roleName, PermissionsBoundary: killBoundaryArnOf }),
      );
      out.changes.push(
        change(
          role.roleArn,
          'PutRolePermissionsBoundary',
          { permissionsBoundaryArn: boundary ?? null },
          { permissionsBoundaryArn: killBoundaryArnOf, why: 'restore: every write under the kill boundary' },
        ),
      );
      boundary = killBoundaryArnOf;
    } catch (e) {
      out.failures.push(toFailure(role.roleArn, 'PutRolePermissionsBoundary', e));
      out.notRestorable.push({
        resource: role.roleArn,
        reason: 'the kill boundary could not be put on while restoring: nothing given back',
      });
      return;
    }
  }

  const put = async (policyName: string, document: string, before: string | null) => {
    await ctx.clients.iam.send(
      new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: document }),
    );
    out.changes.push(
      change(role.roleArn, 'PutRolePolicy', before === null ? null : { policyName, document: before }, {
        policyName,
        document,
      }),
    );
  };

  // 1. Sessions issued before the kill stay dead, whatever is given back.
  if (!keepsLaterCutoff) {
    try {
      await put(REVOKE_SESSIONS_POLICY, sessionDeny, current);
    } catch (e) {
      out.failures.push(toFailure(role.roleArn, `PutRolePolicy ${REVOKE_SESSIONS_POLICY}`, e));
      out.notRestorable.push({
        resource: role.roleArn,
        reason: 'the session deny could not be written: nothing given back, so old sessions stay dead',
      });
      return;
    }
  }

  // 2. The role's own inline policies, verbatim, then its managed policies.
  for (const { policy, before } of ownInline) {
    try {
      await put(policy.policyName, policy.document, before);
    } catch (e) {
      out.failures.push(toFailure(role.roleArn, `PutRolePolicy ${policy.policyName}`, e));
    }
  }
  const attach = async (policyArn: string): Promise<boolean> => {
    if (attachedArns.has(policyArn)) return true;
    try {
      await attachPolicy(ctx, out, role.roleArn, policyArn);
      attachedArns.add(policyArn);
      return true;
    } catch (e) {
      out.failures.push(toFailure(role.roleArn, `AttachRolePolicy ${policyArn}`, e));
      return false;
    }
  };
  const detachBackstopDenies = async (except: string | undefined) => {
    for (const policyArn of [...attachedArns].filter((a) => backstopDenies.has(a) && a !== except)) {
      try {
        await detachPolicy(ctx, out, role.roleArn, {
          policyArn,
          policyName: parsePolicyArn(policyArn).policyName,
        });
        attachedArns.delete(policyArn);
      } catch (e) {
        out.failures.push(toFailure(role.roleArn, `DetachRolePolicy ${policyArn}`, e));
      }
    }
  };
  // Backstop denies of stricter modes go first when the role needs their slots for its own policies.
  if (own.length > 0 && keep !== undefined) await attach(keep);
  if (own.length > 0) await detachBackstopDenies(keep);
  for (const policy of own) await attach(policy.policyArn);

  // 3. The deny of the mode the agent returns to.
  const keepHolds = keep === undefined || (await attach(keep));

  // 4. The other Backstop denies, still under the kill boundary.
  if (keepHolds) await detachBackstopDenies(keep);

  // 5. Last: the role's own boundary in place of the kill boundary, only once the mode's deny holds.
  if (boundary === killBoundaryArnOf) {
    if (!keepHolds) {
      out.notRestorable.push({
        resource: role.roleArn,
        reason: `kill boundary kept: the ${toMode} deny ${keep} could not be attached in its place`,
      });
    } else if (!role.permissionsBoundaryArn) {
      // The role had none before the kill: the kill boundary goes, and nothing takes its place.
      try {
        await ctx.clients.iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: roleName }));
        out.changes.push(
          change(
            role.roleArn,
            'DeleteRolePermissionsBoundary',
            { permissionsBoundaryArn: boundary },
            { permissionsBoundaryArn: null },
          ),
        );
      } catch (e) {
        out.failures.push(toFailure(role.roleArn, 'DeleteRolePermissionsBoundary', e));
      }
    } else {
      try {
        await ctx.clients.iam.send(
          new PutRolePermissionsBoundaryCommand({
            RoleName: roleName,
            PermissionsBoundary: role.permissionsBoundaryArn,
          }),
        );
        out.changes.push(
          change(
            role.roleArn,
            'PutRolePermissionsBoundary',
            { permissionsBoundaryArn: boundary },
            { permissionsBoundaryArn: role.permissionsBoundaryArn },
          ),
        );
      } catch (e) {
        out.failures.push(toFailure(role.roleArn, 'PutRolePermissionsBoundary', e));
      }
    }
  }
}

const restore: Surface<RoleSnapshot>['restore'] = async (ctx, toMode, snap) =>
  forEachRole(snap, emptyRestore, (role, out) => restoreRole(ctx, toMode, role, out));

export const iamRoles: Surface<RoleSnapshot> = {
  name: 'iam',
  appliesTo: () => true,
  known: (ctx) => [...ctx.agent.roleArns],
  discover,
  cut,
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
  const killBoundary = killBoundaryName(ctx.agent.region);
  /** IAM's default quota of managed policies per role (accounts may have it raised to 20). */
  const managedQuota = 10;
  const short = (arn: string) => arn.split('/').pop() ?? arn;
  for (const { state: role } of snap) {
    const resource = role.roleArn;
    const label = `role ${role.roleName}`;
    const attached = role.attachedPolicies.map((p) => p.policyArn);
    const own = role.attachedPolicies.filter((p) => !isBackstopPolicyArn(p.policyArn));
    const inline = role.inlinePolicies.filter((p) => !BACKSTOP_INLINE_POLICY_NAMES.includes(p.policyName));
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
