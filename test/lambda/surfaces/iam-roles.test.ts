import {
  AttachRolePolicyCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  type GetRoleCommandOutput,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  type ListAttachedRolePoliciesCommandOutput,
  ListRolePoliciesCommand,
  type ListRolePoliciesCommandOutput,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import {
  agentBoundaryArn,
  denyPolicyArn,
  INLINE_DENY_POLICY,
  killBoundaryArn,
  REVOKE_SESSIONS_POLICY,
} from '../../../lambda/shared/naming';
import {
  denyDocument,
  killBoundaryDocument,
  revokeSessionsDocument,
} from '../../../lambda/shared/policy-documents';
import type { KillMode } from '../../../lambda/shared/types';
import {
  decodePolicyDocument,
  iamRoles,
  isBackstopInline,
  type RoleSnapshot,
  revokedBefore,
} from '../../../lambda/surfaces/iam-roles';
import type { ResourceSnapshot } from '../../../lambda/surfaces/types';
import { awsError, loadFixture } from '../../helpers/fixtures';
import { ACCOUNT, agent, context, KILL_STARTED_AT, sentCommands } from './support';

const iam = mockClient(IAMClient);

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/test_role`;
const WORKER_ARN = `arn:aws:iam::${ACCOUNT}:role/agents/billing-worker`;
const deny = (mode: 'full_stop' | 'read_only' | 'draft_only' | 'approval_gated') =>
  denyPolicyArn('aws', ACCOUNT, 'us-east-1', 'billing-agent', mode);
const FULL_STOP = deny('full_stop');
const READ_ONLY = deny('read_only');
const KILL_BOUNDARY = killBoundaryArn('aws', ACCOUNT, 'us-east-1');
const AGENT_BOUNDARY = agentBoundaryArn('aws', ACCOUNT, 'us-east-1');
const AGENT_INPUT = { highRiskActions: ['iam:PassRole', 's3:DeleteObject'], draftResources: [] };

// The role's policies come from the recordings; GetRolePolicy has no recording, so its document is
// typed here, with the whitespace a person would leave in it (it must survive byte for byte).
const recordedAttached = loadFixture<ListAttachedRolePoliciesCommandOutput>(
  'test_force_delete_role/iam.ListAttachedRolePolicies_1.json',
).AttachedPolicies!.map((p) => ({ PolicyArn: p.PolicyArn!, PolicyName: p.PolicyName! }));
const recordedInlineName = loadFixture<ListRolePoliciesCommandOutput>(
  'test_iam_role_delete/iam.ListRolePolicies_1.json',
).PolicyNames![0];
const INLINE_DOCUMENT =
  '{\n  "Version": "2012-10-17",\n  "Statement": [\n    { "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::billing-data/*" }\n  ]\n}';

interface FakeRole {
  name: string;
  path: string;
  attached: { PolicyArn: string; PolicyName: string }[];
  inline: Map<string, string>;
  tags: Record<string, string>;
  boundary?: string;
}

/**
 * A few IAM roles answering the IAM commands the surface sends, with IAM's semantics: pages of two
 * (so every list is paginated), URL-encoded documents, NoSuchEntity for what does not exist, and
 * LimitExceeded past the managed-policy quota.
 */
class FakeIam {
  readonly roles = new Map<string, FakeRole>();
  limit = 10;
  /** Managed policy documents (default version) by ARN: Backstop's, as the workload stack deploys them. */
  readonly policies = new Map<string, string>([
    ...(['full_stop', 'read_only', 'draft_only', 'approval_gated'] as const).map((m): [string, string] => [
      deny(m),
      JSON.stringify(denyDocument(m, AGENT_INPUT)),
    ]),
    [KILL_BOUNDARY, JSON.stringify(killBoundaryDocument())],
  ]);

  add(role: Partial<FakeRole> & { name: string }): FakeRole {
    const full: FakeRole = { path: '/', attached: [], inline: new Map(), tags: {}, ...role };
    this.roles.set(full.name, full);
    return full;
  }

  private role(name: string): FakeRole {
    const role = this.roles.get(name);
    if (!role) throw awsError('NoSuchEntityException', `The role with name ${name} cannot be found.`, 404);
    return role;
  }

  private page<T>(items: T[], marker: string | undefined) {
    const start = marker ? Number(marker) : 0;
    const end = start + 2;
    return end < items.length
      ? { items: items.slice(start, end), IsTruncated: true, Marker: String(end) }
      : { items: items.slice(start), IsTruncated: false };
  }

  wire(): void {
    const template = loadFixture<GetRoleCommandOutput>('test_iam_role_delete/iam.GetRole_1.json');
    iam.on(GetRoleCommand).callsFake(({ RoleName }) => {
      const r = this.role(RoleName);
      const Tags = Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value }));
      const PermissionsBoundary = r.boundary
        ? { PermissionsBoundaryType: 'Policy' as const, PermissionsBoundaryArn: r.boundary }
        : undefined;
      const Arn = `arn:aws:iam::${ACCOUNT}:role${r.path}${RoleName}`;
      return {
        ...template,
        Role: { ...template.Role, RoleName, Path: r.path, Arn, Tags, PermissionsBoundary },
      };
    });
    iam.on(ListAttachedRolePoliciesCommand).callsFake(({ RoleName, Marker }) => {
      const { items, ...rest } = this.page(this.role(RoleName).attached, Marker);
      return { AttachedPolicies: items, ...rest };
    });
    iam.on(ListRolePoliciesCommand).callsFake(({ RoleName, Marker }) => {
      const { items, ...rest } = this.page([...this.role(RoleName).inline.keys()], Marker);
      return { PolicyNames: items, ...rest };
    });
    iam.on(GetRolePolicyCommand).callsFake(({ RoleName, PolicyName }) => {
      const document = this.role(RoleName).inline.get(PolicyName);
      if (document === undefined)
        throw awsError(
          'NoSuchEntityException',
          `The role policy with name ${PolicyName} cannot be found.`,
          404,
        );
      return { RoleName, PolicyName, PolicyDocument: encodeURIComponent(document) };
    });
    iam.on(AttachRolePolicyCommand).callsFake(({ RoleName, PolicyArn }) => {
      const r = this.role(RoleName);
      if (r.attached.some((p) => p.PolicyArn === PolicyArn)) return {};
      if (r.attached.length >= this.limit) {
        throw awsError(
          'LimitExceededException',
          `Cannot exceed quota for PoliciesPerRole: ${this.limit}`,
          409,
        );
      }
      r.attached.push({ PolicyArn, PolicyName: PolicyArn.split('/').pop() ?? '' });
      return {};
    });
    iam.on(DetachRolePolicyCommand).callsFake(({ RoleName, PolicyArn }) => {
      const r = this.role(RoleName);
      if (!r.attached.some((p) => p.PolicyArn === PolicyArn)) {
        throw awsError('NoSuchEntityException', `Policy ${PolicyArn} was not found.`, 404);
      }
      r.attached = r.attached.filter((p) => p.PolicyArn !== PolicyArn);
      return loadFixture('test_force_delete_role/iam.DetachRolePolicy_1.json');
    });
    iam.on(GetPolicyCommand).callsFake(({ PolicyArn }) => {
      if (!this.policies.has(PolicyArn))
        throw awsError('NoSuchEntityException', `Policy ${PolicyArn} was not found.`, 404);
      return { Policy: { Arn: PolicyArn, DefaultVersionId: 'v3' } };
    });
    iam.on(GetPolicyVersionCommand).callsFake(({ PolicyArn, VersionId }) => {
      const document = this.policies.get(PolicyArn);
      if (document === undefined || VersionId !== 'v3')
        throw awsError('NoSuchEntityException', `Policy ${PolicyArn} version ${VersionId} not found.`, 404);
      return { PolicyVersion: { Document: encodeURIComponent(document), VersionId, IsDefaultVersion: true } };
    });
    iam.on(PutRolePermissionsBoundaryCommand).callsFake(({ RoleName, PermissionsBoundary }) => {
      const r = this.role(RoleName);
      if (!this.policies.has(PermissionsBoundary) && PermissionsBoundary !== AGENT_BOUNDARY)
        throw awsError('NoSuchEntityException', `Scope ARN: ${PermissionsBoundary} does not exist.`, 404);
      r.boundary = PermissionsBoundary;
      return {};
    });
    iam.on(DeleteRolePermissionsBoundaryCommand).callsFake(({ RoleName }) => {
      this.role(RoleName).boundary = undefined;
      return {};
    });
    iam.on(PutRolePolicyCommand).callsFake(({ RoleName, PolicyName, PolicyDocument }) => {
      this.role(RoleName).inline.set(PolicyName, PolicyDocument);
      return {};
    });
    iam.on(DeleteRolePolicyCommand).callsFake(({ RoleName, PolicyName }) => {
      const r = this.role(RoleName);
      if (!r.inline.delete(PolicyName)) {
        throw awsError(
          'NoSuchEntityException',
          `The role policy with name ${PolicyName} cannot be found.`,
          404,
        );
      }
      return loadFixture('test_iam_role_delete/iam.DeleteRolePolicy_1.json');
    });
  }
}

let fake: FakeIam;

beforeEach(() => {
  iam.reset();
  fake = new FakeIam();
});

function seedTestRole(): FakeRole {
  return fake.add({
    name: 'test_role',
    attached: recordedAttached.map((p) => ({ ...p })),
    inline: new Map([[recordedInlineName, INLINE_DOCUMENT]]),
    tags: { 'tag-key': 'tag-value' },
  });
}

const writes = () => sentCommands(iam).filter(([name]) => /^(Attach|Detach|Put|Delete)/.test(name));

async function snapshotOf(ctx = context({ agent: agent({ roleArns: [ROLE_ARN] }) })) {
  return iamRoles.snapshot(ctx, [ROLE_ARN]);
}

describe('discover', () => {
  it('finds declared roles and roles tagged for the agent across ListRoles pages, never scanning service-linked or Backstop roles', async () => {
    const roles = [
      { RoleName: 'test_role', Path: '/', Arn: ROLE_ARN },
      { RoleName: 'billing-worker', Path: '/agents/', Arn: WORKER_ARN },
      { RoleName: 'other-agent', Path: '/', Arn: `arn:aws:iam::${ACCOUNT}:role/other-agent` },
      {
        RoleName: 'AWSServiceRoleForSupport',
        Path: '/aws-service-role/support.amazonaws.com/',
        Arn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport`,
      },
      {
        RoleName: 'backstop-kill-us-east-1',
        Path: '/backstop/',
        Arn: `arn:aws:iam::${ACCOUNT}:role/backstop/backstop-kill-us-east-1`,
      },
    ];
    iam
      .on(ListRolesCommand)
      .callsFake(({ Marker }) =>
        Marker === 'page-2'
          ? { Roles: roles.slice(3), IsTruncated: false }
          : { Roles: roles.slice(0, 3), IsTruncated: true, Marker: 'page-2' },
      );
    iam.on(ListRoleTagsCommand).callsFake(({ RoleName, Marker }) => {
      if (RoleName === 'billing-worker' && !Marker)
        return { Tags: [{ Key: 'team', Value: 'billing' }], IsTruncated: true, Marker: 't2' };
      if (RoleName === 'billing-worker')
        return { Tags: [{ Key: 'backstop:agent', Value: 'billing-agent' }], IsTruncated: false };
      return { Tags: [{ Key: 'backstop:agent', Value: 'other' }], IsTruncated: false };
    });
    // declared without its path: discovery reports the ARN IAM knows
    const ctx = context({ agent: agent({ roleArns: [`arn:aws:iam::${ACCOUNT}:role/test_role`] }) });

    expect(await iamRoles.discover(ctx)).toEqual([ROLE_ARN, WORKER_ARN]);
    const scanned = iam.commandCalls(ListRoleTagsCommand).map((c) => c.args[0].input.RoleName);
    expect(new Set(scanned)).toEqual(new Set(['billing-worker', 'other-agent']));
    expect(iam.commandCalls(ListRolesCommand).map((c) => c.args[0].input.Marker)).toEqual([
      undefined,
      'page-2',
    ]);
  });

  it('fails discovery on a declared ARN that is not a role', async () => {
    const ctx = context({ agent: agent({ roleArns: [`arn:aws:iam::${ACCOUNT}:policy/not-a-role`] }) });
    await expect(iamRoles.discover(ctx)).rejects.toThrow(/expected a iam role ARN/);
  });
});

describe('snapshot', () => {
  it('records managed policies across pages, inline documents verbatim, boundary and tags', async () => {
    fake.wire();
    const role = seedTestRole();
    role.attached.push({
      PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/billing-write`,
      PolicyName: 'billing-write',
    });
    role.boundary = `arn:aws:iam::${ACCOUNT}:policy/backstop/BackstopAgentBoundary-us-east-1`;

    const [snap] = await snapshotOf();

    expect(snap.id).toBe(ROLE_ARN);
    expect(snap.state).toEqual({
      roleName: 'test_role',
      roleArn: ROLE_ARN,
      path: '/',
      attachedPolicies: [
        {
          policyArn: 'arn:aws:iam::aws:policy/AlexaForBusinessFullAccess',
          policyName: 'AlexaForBusinessFullAccess',
        },
        { policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess', policyName: 'AdministratorAccess' },
        { policyArn: `arn:aws:iam::${ACCOUNT}:policy/billing-write`, policyName: 'billing-write' },
      ],
      inlinePolicies: [{ policyName: 'test_policy', document: INLINE_DOCUMENT }],
      permissionsBoundaryArn: `arn:aws:iam::${ACCOUNT}:policy/backstop/BackstopAgentBoundary-us-east-1`,
      tags: { 'tag-key': 'tag-value' },
    });
    expect(iam.commandCalls(ListAttachedRolePoliciesCommand).map((c) => c.args[0].input.Marker)).toEqual([
      undefined,
      '2',
    ]);
    // JSON-serializable: survives a round trip through DynamoDB or an audit record unchanged
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('drops a role that no longer exists and keeps an unreadable one with its read error', async () => {
    fake.wire();
    fake.add({ name: 'billing-worker', path: '/agents/' });
    iam
      .on(ListAttachedRolePoliciesCommand, { RoleName: 'billing-worker' })
      .rejects(
        awsError('AccessDenied', 'User is not authorized to perform: iam:ListAttachedRolePolicies', 403),
      );
    const ctx = context();

    const snaps = await iamRoles.snapshot(ctx, [ROLE_ARN, WORKER_ARN]);

    expect(snaps.map((s) => s.id)).toEqual([WORKER_ARN]);
    expect(snaps[0].state.readError).toEqual({
      error: 'AccessDenied',
      message: 'User is not authorized to perform: iam:ListAttachedRolePolicies',
    });
    expect(ctx.logs).toContainEqual(expect.objectContaining({ level: 'warn', extra: { roleArn: ROLE_ARN } }));
  });
});

/** What the kill-surface handler does: cut, snapshot (knowing what the cut replaced), contain. */
async function kill(
  mode: KillMode,
  ctx = context({ agent: agent({ roleArns: [ROLE_ARN], ...AGENT_INPUT }) }),
) {
  const cut = await iamRoles.cut!(ctx, mode, [ROLE_ARN]);
  const snap = await iamRoles.snapshot(ctx, [ROLE_ARN], cut);
  const rest = await iamRoles.contain(ctx, mode, snap);
  return { cut, snap, rest, ctx };
}

const planted = (doc: object) => JSON.stringify({ Version: '2012-10-17', Statement: [doc] });
const ALLOW_ALL = planted({ Effect: 'Allow', Action: '*', Resource: '*' });

describe('policy documents', () => {
  it('decodes a URL-encoded document to its exact JSON text and leaves plain JSON alone', () => {
    expect(decodePolicyDocument(encodeURIComponent(INLINE_DOCUMENT))).toBe(INLINE_DOCUMENT);
    expect(decodePolicyDocument(INLINE_DOCUMENT)).toBe(INLINE_DOCUMENT);
    // the recorded GetRole trust policy is encoded the same way
    const role = loadFixture<GetRoleCommandOutput>('test_iam_role_delete/iam.GetRole_1.json').Role!;
    expect(JSON.parse(decodePolicyDocument(role.AssumeRolePolicyDocument!)).Statement[0].Action).toBe(
      'sts:AssumeRole',
    );
  });

  it('tells the session deny a restore writes from a planted one under the same name', () => {
    const now = new Date(KILL_STARTED_AT.getTime() + 60_000);
    const real = JSON.stringify(revokeSessionsDocument(KILL_STARTED_AT));
    expect(revokedBefore(real)).toEqual(KILL_STARTED_AT);
    expect(isBackstopInline(REVOKE_SESSIONS_POLICY, real, now)).toBe(true);
    // An Allow with a far-future cut-off is not a session deny, whatever its name.
    const farFuture = planted({
      Sid: 'BackstopRevokeOlderSessions',
      Effect: 'Allow',
      Action: '*',
      Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': '2999-01-01T00:00:00Z' } },
    });
    expect(isBackstopInline(REVOKE_SESSIONS_POLICY, farFuture, now)).toBe(false);
    // A real-looking deny dated in the future is planted too (it would hide sessions issued later).
    const future = JSON.stringify(revokeSessionsDocument(new Date('2999-01-01T00:00:00Z')));
    expect(isBackstopInline(REVOKE_SESSIONS_POLICY, future, now)).toBe(false);
    expect(isBackstopInline(INLINE_DENY_POLICY, real, now)).toBe(false);
    expect(revokedBefore('not json')).toBeUndefined();
  });
});

describe('cut and contain', () => {
  it('full_stop: the first write is the deny, then the kill boundary, then every policy goes, recorded verbatim', async () => {
    fake.wire();
    const role = seedTestRole();
    role.boundary = AGENT_BOUNDARY;

    const { cut, snap, rest } = await kill('full_stop');

    const sent = sentCommands(iam).map(([name, input]) => [
      name,
      input.PolicyArn ?? input.PermissionsBoundary ?? input.PolicyName ?? '',
    ]);
    // Authority first: nothing is read before the deny is attached. The snapshot's reads of the
    // role's own policies go on while the cut does (they change nothing); the boundary it
    // replaces is read before it is replaced.
    expect(sent[0]).toEqual(['AttachRolePolicy', FULL_STOP]);
    const snapshotReads = ['ListAttachedRolePolicies', 'ListRolePolicies', 'GetRolePolicy'];
    expect(sent.filter(([name]) => !snapshotReads.includes(name as string)).slice(1, 3)).toEqual([
      ['GetRole', ''],
      ['PutRolePermissionsBoundary', KILL_BOUNDARY],
    ]);
    expect(cut.changes.map((c) => c.action)).toEqual(['AttachRolePolicy', 'PutRolePermissionsBoundary']);
    expect(cut.changes[1]?.before).toEqual({ permissionsBoundaryArn: AGENT_BOUNDARY });
    // The snapshot holds the role as it was before the kill: its own boundary, no Backstop deny.
    expect(snap[0]?.state.permissionsBoundaryArn).toBe(AGENT_BOUNDARY);
    expect(snap[0]?.state.attachedPolicies.map((p) => p.policyArn)).toEqual(
      recordedAttached.map((p) => p.PolicyArn),
    );
    expect(rest.changes).toEqual([
      ...recordedAttached.map((p) => ({
        resource: ROLE_ARN,
        action: 'DetachRolePolicy',
        before: { policyArn: p.PolicyArn, policyName: p.PolicyName },
        after: null,
      })),
      {
        resource: ROLE_ARN,
        action: 'DeleteRolePolicy',
        before: { policyName: recordedInlineName, document: INLINE_DOCUMENT },
        after: null,
      },
    ]);
    expect(role.attached.map((p) => p.PolicyArn)).toEqual([FULL_STOP]);
    expect(role.inline.size).toBe(0);
    expect(role.boundary).toBe(KILL_BOUNDARY);
    // The kill role never writes a policy document.
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0);
    expect(rest.failures).toEqual([]);
  });

  it('read_only: attaches the read_only deny, judges it by its content, and takes nothing away', async () => {
    fake.wire();
    const role = seedTestRole();

    const { cut, rest } = await kill('read_only');

    expect(writes()).toEqual([['AttachRolePolicy', { RoleName: 'test_role', PolicyArn: READ_ONLY }]]);
    expect(cut.changes).toHaveLength(1);
    expect(rest).toEqual({ changes: [], skipped: [], failures: [], evidence: [] });
    expect(iam.commandCalls(GetPolicyVersionCommand).map((c) => c.args[0].input.PolicyArn)).toEqual([
      READ_ONLY,
    ]);
    expect(role.inline.get(recordedInlineName)).toBe(INLINE_DOCUMENT);
    expect(role.boundary).toBeUndefined();
  });

  it('a role at its managed-policy quota is cut by the kill boundary at once, stricter than the mode, and says so', async () => {
    fake.wire();
    const role = seedTestRole();
    fake.limit = role.attached.length;
    role.boundary = AGENT_BOUNDARY;

    const { cut, snap } = await kill('read_only');

    expect(writes().map(([name]) => name)).toEqual(['AttachRolePolicy', 'PutRolePermissionsBoundary']);
    expect(role.boundary).toBe(KILL_BOUNDARY);
    expect(cut.skipped).toEqual([
      {
        resource: ROLE_ARN,
        reason: expect.stringMatching(
          /managed-policy quota: the kill boundary \(deny all\) cuts the role instead, stricter than read_only/,
        ),
      },
    ]);
    expect(snap[0]?.state.permissionsBoundaryArn).toBe(AGENT_BOUNDARY);
    expect(iam.commandCalls(DetachRolePolicyCommand)).toHaveLength(0);
  });

  it('a missing deny policy does not leave the role uncut: the kill boundary takes its place', async () => {
    fake.wire();
    const role = seedTestRole();
    fake.policies.delete(READ_ONLY);
    iam
      .on(AttachRolePolicyCommand)
      .rejects(
        awsError('NoSuchEntityException', `Policy ${READ_ONLY} does not exist or is not attachable.`, 404),
      );

    const { cut } = await kill('read_only');

    expect(role.boundary).toBe(KILL_BOUNDARY);
    expect(cut.changes.map((c) => c.action)).toEqual(['PutRolePermissionsBoundary']);
  });

  it('a deny policy whose content is not what Backstop deployed is recorded as evidence and the role gets the kill boundary', async () => {
    fake.wire();
    const role = seedTestRole();
    fake.policies.set(READ_ONLY, ALLOW_ALL);

    const { rest } = await kill('read_only');

    expect(rest.evidence).toEqual([
      expect.objectContaining({ kind: 'tampered-policy', policy: READ_ONLY, document: ALLOW_ALL }),
    ]);
    expect(role.boundary).toBe(KILL_BOUNDARY);
  });

  it('Backstop-named inline policies the agent planted are evidence, never trusted: kept in read_only, deleted in full_stop', async () => {
    const farFuture = planted({
      Effect: 'Allow',
      Action: '*',
      Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': '2999-01-01T00:00:00Z' } },
    });
    for (const mode of ['read_only', 'full_stop'] as const) {
      iam.reset();
      fake = new FakeIam();
      fake.wire();
      const role = seedTestRole();
      role.inline.set(INLINE_DENY_POLICY, ALLOW_ALL);
      role.inline.set(REVOKE_SESSIONS_POLICY, farFuture);

      const { rest } = await kill(mode);

      expect(rest.evidence.map((e) => [e.kind, e.policy, e.document])).toEqual([
        ['planted-policy', INLINE_DENY_POLICY, ALLOW_ALL],
        ['planted-policy', REVOKE_SESSIONS_POLICY, farFuture],
      ]);
      if (mode === 'read_only') {
        expect(role.inline.has(INLINE_DENY_POLICY)).toBe(true);
      } else {
        expect(role.inline.size).toBe(0);
        expect(rest.changes).toContainEqual({
          resource: ROLE_ARN,
          action: 'DeleteRolePolicy',
          before: { policyName: INLINE_DENY_POLICY, document: ALLOW_ALL },
          after: null,
        });
      }
    }
  });

  it('keeps the session deny a restore left (genuine content), and treats an already-gone role as done', async () => {
    fake.wire();
    const role = seedTestRole();
    role.boundary = AGENT_BOUNDARY;
    const earlier = JSON.stringify(revokeSessionsDocument(new Date('2025-01-01T00:00:00Z')));
    role.inline.set(REVOKE_SESSIONS_POLICY, earlier);

    const { rest } = await kill('full_stop');

    expect(rest.evidence).toEqual([]);
    expect(role.inline.get(REVOKE_SESSIONS_POLICY)).toBe(earlier);

    const ctx = context({ agent: agent({ roleArns: [WORKER_ARN] }) });
    const gone = await iamRoles.cut!(ctx, 'full_stop', [WORKER_ARN]);
    expect(gone.failures).toEqual([]);
    expect(gone.skipped).toEqual([{ resource: WORKER_ARN, reason: 'the role no longer exists' }]);
  });

  it('an AccessDenied on one role is recorded and the other roles are still cut', async () => {
    fake.wire();
    const test = seedTestRole();
    const worker = fake.add({ name: 'billing-worker', path: '/agents/' });
    iam
      .on(AttachRolePolicyCommand, { RoleName: 'test_role' })
      .rejects(awsError('AccessDenied', 'User is not authorized to perform: iam:AttachRolePolicy', 403));
    iam
      .on(PutRolePermissionsBoundaryCommand, { RoleName: 'test_role' })
      .rejects(
        awsError('AccessDenied', 'User is not authorized to perform: iam:PutRolePermissionsBoundary', 403),
      );
    const ctx = context({ agent: agent({ roleArns: [ROLE_ARN, WORKER_ARN], ...AGENT_INPUT }) });

    const cut = await iamRoles.cut!(ctx, 'read_only', [ROLE_ARN, WORKER_ARN]);

    expect(cut.failures.map((f) => [f.resource, f.action, f.error])).toEqual([
      [ROLE_ARN, 'AttachRolePolicy', 'AccessDenied'],
      [ROLE_ARN, 'PutRolePermissionsBoundary', 'AccessDenied'],
    ]);
    expect(worker.attached.map((p) => p.PolicyArn)).toEqual([READ_ONLY]);
    expect(test.attached.map((p) => p.PolicyArn)).not.toContain(READ_ONLY);
  });

  it('a second kill writes nothing that is already in place but the (idempotent) deny', async () => {
    fake.wire();
    seedTestRole();
    await kill('full_stop');
    iam.resetHistory();

    await kill('full_stop');

    expect(writes().map(([name]) => name)).toEqual(['AttachRolePolicy']);
  });

  it('does not dismantle a role whose policies could not be recorded, but still cuts it', async () => {
    fake.wire();
    const role = seedTestRole();
    iam
      .on(ListRolePoliciesCommand, { RoleName: 'test_role' })
      .rejects(awsError('AccessDenied', 'User is not authorized to perform: iam:ListRolePolicies', 403));

    const { rest } = await kill('full_stop');

    expect(role.attached.map((p) => p.PolicyArn)).toContain(FULL_STOP);
    expect(role.boundary).toBe(KILL_BOUNDARY);
    expect(iam.commandCalls(DetachRolePolicyCommand)).toHaveLength(0);
    expect(rest.failures).toEqual([
      expect.objectContaining({ resource: ROLE_ARN, action: 'Snapshot', error: 'AccessDenied' }),
    ]);
  });
});

describe('verify', () => {
  const verifyRole = async (mode: KillMode, snap: ResourceSnapshot<RoleSnapshot>[]) =>
    iamRoles.verify(context({ agent: agent({ roleArns: [ROLE_ARN], ...AGENT_INPUT }) }), mode, snap);

  it('passes once the role is cut, for every mode', async () => {
    for (const mode of ['full_stop', 'read_only', 'draft_only', 'approval_gated'] as const) {
      iam.reset();
      fake = new FakeIam();
      fake.wire();
      seedTestRole();
      const { snap } = await kill(mode);
      expect(await verifyRole(mode, snap)).toEqual({ pending: [], drifted: [], failures: [] });
    }
  });

  it('judges by content: a planted Allow * under a Backstop name does not count, the deny in force does', async () => {
    fake.wire();
    const role = seedTestRole();
    role.inline.set(INLINE_DENY_POLICY, ALLOW_ALL);
    const { snap } = await kill('read_only');
    expect(await verifyRole('read_only', snap)).toEqual({ pending: [], drifted: [], failures: [] });

    // Take the deny away and leave only the planted one: the role can act again, and verify says so.
    role.attached = role.attached.filter((p) => p.PolicyArn !== READ_ONLY);
    const result = await verifyRole('read_only', snap);
    expect(result.drifted).toEqual([
      expect.objectContaining({
        resource: ROLE_ARN,
        actual: expect.objectContaining({ canStillAct: expect.stringContaining('read_only') }),
      }),
    ]);
  });

  it('a deny whose default version was replaced is not a cut; the re-cut puts the kill boundary on', async () => {
    fake.wire();
    const role = seedTestRole();
    const { snap, ctx } = await kill('read_only');
    fake.policies.set(READ_ONLY, ALLOW_ALL);

    expect((await verifyRole('read_only', snap)).drifted).toHaveLength(1);
    await iamRoles.cut!(ctx, 'read_only', [ROLE_ARN]);
    await iamRoles.contain(ctx, 'read_only', snap);
    expect(role.boundary).toBe(KILL_BOUNDARY);
    expect(await verifyRole('read_only', snap)).toEqual({ pending: [], drifted: [], failures: [] });
  });

  it('full_stop: reports a boundary taken off, a policy put back and a planted session policy as drift', async () => {
    fake.wire();
    const role = seedTestRole();
    const { snap } = await kill('full_stop');
    role.boundary = AGENT_BOUNDARY;
    role.attached.push({
      PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      PolicyName: 'AdministratorAccess',
    });
    role.inline.set(
      REVOKE_SESSIONS_POLICY,
      planted({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': '2999-01-01T00:00:00Z' } },
      }),
    );

    const result = await verifyRole('full_stop', snap);

    expect(result.drifted.map((d) => d.expected)).toEqual([
      { permissionsBoundary: KILL_BOUNDARY },
      { managedPolicies: [] },
      { inlinePolicies: [] },
    ]);
  });

  it('a role that no longer exists has no authority left', async () => {
    fake.wire();
    seedTestRole();
    const { snap } = await kill('read_only');
    fake.roles.clear();
    expect(await verifyRole('read_only', snap)).toEqual({ pending: [], drifted: [], failures: [] });
  });
});

describe('restore', () => {
  const restoreCtx = () => context({ agent: agent({ roleArns: [ROLE_ARN], ...AGENT_INPUT }) });

  it('puts back exactly the snapshot in reverse order, leaving a deny on sessions issued before the kill', async () => {
    fake.wire();
    const role = seedTestRole();
    role.boundary = AGENT_BOUNDARY;
    const before = { attached: role.attached.map((p) => p.PolicyArn), inline: new Map(role.inline) };
    const { snap } = await kill('full_stop');
    iam.resetHistory();

    const result = await iamRoles.restore(restoreCtx(), 'normal', snap);

    expect(result.failures).toEqual([]);
    const order = writes().map(
      ([name, input]) =>
        `${name} ${String(input.PolicyName ?? input.PolicyArn ?? input.PermissionsBoundary ?? '')}`,
    );
    expect(order[0]).toBe(`PutRolePolicy ${REVOKE_SESSIONS_POLICY}`);
    expect(order.indexOf(`PutRolePermissionsBoundary ${AGENT_BOUNDARY}`)).toBeGreaterThan(
      order.indexOf(`PutRolePolicy ${recordedInlineName}`),
    );
    // The boundary comes back last: it is the step that gives authority back.
    expect(order.at(-1)).toBe(`PutRolePermissionsBoundary ${AGENT_BOUNDARY}`);
    expect(order).toContain(`DetachRolePolicy ${FULL_STOP}`);
    expect(role.attached.map((p) => p.PolicyArn)).toEqual(before.attached);
    expect(role.inline.get(recordedInlineName)).toBe(INLINE_DOCUMENT); // byte for byte
    expect(revokedBefore(role.inline.get(REVOKE_SESSIONS_POLICY)!)).toEqual(KILL_STARTED_AT);
    expect(role.boundary).toBe(AGENT_BOUNDARY);
  });

  it('to a kill mode: that mode deny goes on before the kill boundary comes off', async () => {
    fake.wire();
    const role = seedTestRole();
    role.boundary = AGENT_BOUNDARY;
    const { snap } = await kill('full_stop');

    await iamRoles.restore(restoreCtx(), 'read_only', snap);

    expect(role.attached.map((p) => p.PolicyArn)).toContain(READ_ONLY);
    expect(role.attached.map((p) => p.PolicyArn)).not.toContain(FULL_STOP);
    expect(role.boundary).toBe(AGENT_BOUNDARY);
  });

  it('a role that had no boundary before the kill has none after the restore', async () => {
    fake.wire();
    const role = seedTestRole();
    const { snap } = await kill('full_stop');

    await iamRoles.restore(restoreCtx(), 'normal', snap);

    expect(role.boundary).toBeUndefined();
    expect(iam.commandCalls(DeleteRolePermissionsBoundaryCommand)).toHaveLength(1);
  });

  it('keeps the kill boundary when the mode it returns to cannot be put in place', async () => {
    fake.wire();
    const role = seedTestRole();
    role.boundary = AGENT_BOUNDARY;
    fake.limit = role.attached.length;
    const { snap } = await kill('full_stop');
    fake.limit = role.attached.length; // the agent's own policies fill every slot again

    const result = await iamRoles.restore(restoreCtx(), 'read_only', snap);

    expect(role.boundary).toBe(KILL_BOUNDARY);
    expect(result.notRestorable).toEqual([
      { resource: ROLE_ARN, reason: expect.stringMatching(/kill boundary kept: the read_only deny/) },
    ]);
  });

  it('is idempotent and reports a role that no longer exists as not restorable', async () => {
    fake.wire();
    seedTestRole();
    const { snap } = await kill('full_stop');
    await iamRoles.restore(restoreCtx(), 'normal', snap);
    iam.resetHistory();

    const again = await iamRoles.restore(restoreCtx(), 'normal', snap);
    expect(writes()).toEqual([]);
    expect(again.changes).toEqual([]);

    fake.roles.clear();
    const gone = await iamRoles.restore(restoreCtx(), 'normal', snap);
    expect(gone.notRestorable).toEqual([
      { resource: ROLE_ARN, reason: 'the role no longer exists: nothing to put back' },
    ]);
  });
});
