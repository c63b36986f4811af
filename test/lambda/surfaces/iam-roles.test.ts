import {
  AttachRolePolicyCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
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
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { denyPolicyArn, INLINE_DENY_POLICY, REVOKE_SESSIONS_POLICY } from '../../../lambda/shared/naming';
import {
  decodePolicyDocument,
  INLINE_DENY_DOCUMENT,
  iamRoles,
  type RoleSnapshot,
  revokedBefore,
  revokeSessionsDocument,
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

  it('revokes sessions issued before the kill and reads the cut-off back', () => {
    const document = revokeSessionsDocument(KILL_STARTED_AT);
    expect(JSON.parse(document).Statement[0]).toEqual({
      Sid: 'BackstopRevokeOlderSessions',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': '2025-07-24T12:00:00.000Z' } },
    });
    expect(revokedBefore(document)).toEqual(KILL_STARTED_AT);
    expect(revokedBefore(INLINE_DENY_DOCUMENT)).toBeUndefined();
    expect(revokedBefore('not json')).toBeUndefined();
  });
});

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

describe('contain', () => {
  it('full_stop: attaches the deny first, then revokes sessions, then detaches and deletes every other policy, recorded verbatim', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    iam.resetHistory();

    const result = await iamRoles.contain(context(), 'full_stop', snap);

    expect(result.failures).toEqual([]);
    expect(writes().map(([name, input]) => [name, input.PolicyArn ?? input.PolicyName])).toEqual([
      ['AttachRolePolicy', FULL_STOP],
      ['PutRolePolicy', REVOKE_SESSIONS_POLICY],
      ['DetachRolePolicy', 'arn:aws:iam::aws:policy/AlexaForBusinessFullAccess'],
      ['DetachRolePolicy', 'arn:aws:iam::aws:policy/AdministratorAccess'],
      ['DeleteRolePolicy', 'test_policy'],
    ]);
    expect(role.attached.map((p) => p.PolicyArn)).toEqual([FULL_STOP]);
    expect([...role.inline.keys()]).toEqual([REVOKE_SESSIONS_POLICY]);
    expect(revokedBefore(role.inline.get(REVOKE_SESSIONS_POLICY)!)).toEqual(KILL_STARTED_AT);
    expect(result.changes).toContainEqual({
      resource: ROLE_ARN,
      action: 'DeleteRolePolicy',
      before: { policyName: 'test_policy', document: INLINE_DOCUMENT },
      after: null,
    });
    expect(result.changes).toContainEqual({
      resource: ROLE_ARN,
      action: 'DetachRolePolicy',
      before: { policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess', policyName: 'AdministratorAccess' },
      after: null,
    });
  });

  it('read_only: only attaches the read_only deny and takes nothing away', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    iam.resetHistory();

    const result = await iamRoles.contain(context(), 'read_only', snap);

    expect(writes()).toEqual([['AttachRolePolicy', { RoleName: 'test_role', PolicyArn: READ_ONLY }]]);
    expect(result.changes).toEqual([
      { resource: ROLE_ARN, action: 'AttachRolePolicy', before: null, after: { policyArn: READ_ONLY } },
    ]);
    expect(role.attached).toHaveLength(3);
    expect(role.inline.has(recordedInlineName)).toBe(true);
  });

  it('a role at its managed-policy limit is cut at once by an inline deny-all, then gets the managed deny once its policies are detached', async () => {
    fake.wire();
    const policies = Array.from({ length: 10 }, (_, i) => ({
      PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/billing-${i}`,
      PolicyName: `billing-${i}`,
    }));
    const role = fake.add({ name: 'test_role', attached: policies.map((p) => ({ ...p })) });
    const snap = await snapshotOf();
    iam.resetHistory();

    const result = await iamRoles.contain(context(), 'full_stop', snap);

    const order = writes().map(([name, input]) => `${name} ${input.PolicyArn ?? input.PolicyName}`);
    expect(order[0]).toBe(`AttachRolePolicy ${FULL_STOP}`);
    expect(order[1]).toBe(`PutRolePolicy ${INLINE_DENY_POLICY}`);
    expect(order.indexOf(`PutRolePolicy ${INLINE_DENY_POLICY}`)).toBeLessThan(
      order.findIndex((o) => o.startsWith('Detach')),
    );
    expect(order.at(-1)).toBe(`AttachRolePolicy ${FULL_STOP}`);
    expect(result.failures).toEqual([]);
    expect(role.attached.map((p) => p.PolicyArn)).toEqual([FULL_STOP]);
    expect(role.inline.get(INLINE_DENY_POLICY)).toBe(INLINE_DENY_DOCUMENT);
    expect(role.inline.has(REVOKE_SESSIONS_POLICY)).toBe(true);
  });

  it('a role at its limit in read_only keeps the inline deny-all and says so', async () => {
    fake.wire();
    fake.limit = 3;
    const role = seedTestRole();
    role.attached.push({ PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/third`, PolicyName: 'third' });
    const snap = await snapshotOf();

    const result = await iamRoles.contain(context(), 'read_only', snap);

    expect(role.inline.get(INLINE_DENY_POLICY)).toBe(INLINE_DENY_DOCUMENT);
    expect(role.attached).toHaveLength(3);
    expect(result.skipped).toEqual([
      {
        resource: ROLE_ARN,
        reason: expect.stringMatching(
          /not attached \(the role is at its managed-policy limit\).*stricter than read_only/,
        ),
      },
    ]);
    expect(result.failures).toEqual([]);
  });

  it('a missing deny policy is a failure, and the role is still cut by the inline deny-all', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    iam
      .on(AttachRolePolicyCommand)
      .rejects(
        awsError('NoSuchEntityException', `Policy ${READ_ONLY} does not exist or is not attachable.`, 404),
      );

    const result = await iamRoles.contain(context(), 'read_only', snap);

    expect(result.failures).toEqual([
      {
        resource: ROLE_ARN,
        action: 'AttachRolePolicy',
        error: 'NoSuchEntityException',
        message: expect.stringContaining(READ_ONLY),
      },
    ]);
    expect(role.inline.get(INLINE_DENY_POLICY)).toBe(INLINE_DENY_DOCUMENT);
  });

  it('treats a role or policy that is already gone as done, not as a failure', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    // the agent's own cleanup races the kill: AdministratorAccess is detached between list and detach
    iam
      .on(DetachRolePolicyCommand, { PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' })
      .callsFake(() => {
        throw awsError(
          'NoSuchEntityException',
          'Policy arn:aws:iam::aws:policy/AdministratorAccess was not found.',
          404,
        );
      });
    const gone = await iamRoles.contain(context(), 'full_stop', [
      ...snap,
      { id: WORKER_ARN, state: { ...snap[0].state, roleName: 'billing-worker', roleArn: WORKER_ARN } },
    ]);

    expect(gone.failures).toEqual([]);
    expect(gone.skipped).toEqual([{ resource: WORKER_ARN, reason: 'the role no longer exists' }]);
    expect(
      gone.changes
        .filter((c) => c.action === 'DetachRolePolicy')
        .map((c) => (c.before as { policyArn: string }).policyArn),
    ).toEqual(['arn:aws:iam::aws:policy/AlexaForBusinessFullAccess']);
    expect(role.attached.map((p) => p.PolicyArn)).toContain(FULL_STOP);
  });

  it('an AccessDenied on one role is recorded and the other roles are still cut', async () => {
    fake.wire();
    seedTestRole();
    const worker = fake.add({
      name: 'billing-worker',
      path: '/agents/',
      attached: [{ ...recordedAttached[1] }],
    });
    const snap = await iamRoles.snapshot(context(), [ROLE_ARN, WORKER_ARN]);
    iam
      .on(AttachRolePolicyCommand, { RoleName: 'test_role' })
      .rejects(
        awsError(
          'AccessDenied',
          `User is not authorized to perform: iam:AttachRolePolicy on resource: role test_role`,
          403,
        ),
      );

    const result = await iamRoles.contain(context(), 'full_stop', snap);

    expect(result.failures).toContainEqual({
      resource: ROLE_ARN,
      action: 'AttachRolePolicy',
      error: 'AccessDenied',
      message: expect.stringContaining('iam:AttachRolePolicy'),
    });
    expect(worker.attached.map((p) => p.PolicyArn)).toEqual([FULL_STOP]);
    expect(worker.inline.has(REVOKE_SESSIONS_POLICY)).toBe(true);
  });

  it('a second contain changes nothing that is already cut', async () => {
    fake.wire();
    seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);
    iam.resetHistory();

    const again = await iamRoles.contain(context(), 'full_stop', snap);

    expect(again).toEqual({ changes: [], skipped: [], failures: [] });
    expect(writes()).toEqual([]);
  });

  it('a later kill moves the session cut-off forward, never back', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);
    const later = new Date('2025-07-25T08:00:00.000Z');

    const second = await iamRoles.contain(context({ killStartedAt: later }), 'full_stop', snap);
    const earlier = await iamRoles.contain(
      context({ killStartedAt: new Date('2025-07-01T00:00:00Z') }),
      'full_stop',
      snap,
    );

    expect(second.changes).toEqual([
      {
        resource: ROLE_ARN,
        action: 'PutRolePolicy',
        before: { policyName: REVOKE_SESSIONS_POLICY, document: revokeSessionsDocument(KILL_STARTED_AT) },
        after: { policyName: REVOKE_SESSIONS_POLICY, document: revokeSessionsDocument(later) },
      },
    ]);
    expect(earlier.changes).toEqual([]);
    expect(revokedBefore(role.inline.get(REVOKE_SESSIONS_POLICY)!)).toEqual(later);
  });

  it('does not dismantle a role whose policies could not be recorded, but still denies and revokes it', async () => {
    fake.wire();
    const role = seedTestRole();
    const unreadable: ResourceSnapshot<RoleSnapshot> = {
      id: ROLE_ARN,
      state: {
        roleName: 'test_role',
        roleArn: ROLE_ARN,
        path: '/',
        attachedPolicies: [],
        inlinePolicies: [],
        tags: {},
        readError: { error: 'AccessDenied', message: 'not authorized' },
      },
    };

    const result = await iamRoles.contain(context(), 'full_stop', [unreadable]);

    expect(role.attached.map((p) => p.PolicyArn)).toEqual([
      ...recordedAttached.map((p) => p.PolicyArn),
      FULL_STOP,
    ]);
    expect(role.inline.has(REVOKE_SESSIONS_POLICY)).toBe(true);
    expect(role.inline.has(recordedInlineName)).toBe(true);
    expect(result.failures).toEqual([
      {
        resource: ROLE_ARN,
        action: 'Snapshot',
        error: 'AccessDenied',
        message: expect.stringMatching(/^policies not removed/),
      },
    ]);
  });
});

describe('verify', () => {
  it('passes once the role is cut', async () => {
    fake.wire();
    seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);

    expect(await iamRoles.verify(context(), 'full_stop', snap)).toEqual({
      pending: [],
      drifted: [],
      failures: [],
    });
  });

  it('reports drift when the agent re-attaches a policy, adds an inline one and removes the deny', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);
    role.attached = [
      { PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess', PolicyName: 'AdministratorAccess' },
    ];
    role.inline.set('sneaky', '{"Statement":[]}');

    const result = await iamRoles.verify(context(), 'full_stop', snap);

    expect(result.drifted).toEqual([
      {
        resource: ROLE_ARN,
        expected: { attached: FULL_STOP },
        actual: { attached: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
      },
      {
        resource: ROLE_ARN,
        expected: { managedPolicies: [] },
        actual: { managedPolicies: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
      },
      { resource: ROLE_ARN, expected: { inlinePolicies: [] }, actual: { inlinePolicies: ['sneaky'] } },
    ]);
  });

  it('a re-cut after drift puts the role back to cut, recording the re-attached policy verbatim', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);
    role.attached.push({
      PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      PolicyName: 'AdministratorAccess',
    });

    const recut = await iamRoles.contain(context(), 'full_stop', snap);

    expect(recut.changes).toEqual([
      {
        resource: ROLE_ARN,
        action: 'DetachRolePolicy',
        before: {
          policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
          policyName: 'AdministratorAccess',
        },
        after: null,
      },
    ]);
    expect((await iamRoles.verify(context(), 'full_stop', snap)).drifted).toEqual([]);
  });

  it('reports a tampered session cut-off as drift', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);
    role.inline.set(REVOKE_SESSIONS_POLICY, revokeSessionsDocument(new Date('2000-01-01T00:00:00Z')));

    const result = await iamRoles.verify(context(), 'full_stop', snap);

    expect(result.drifted).toEqual([
      {
        resource: ROLE_ARN,
        expected: { [REVOKE_SESSIONS_POLICY]: { tokenIssuedBefore: KILL_STARTED_AT.toISOString() } },
        actual: { [REVOKE_SESSIONS_POLICY]: { tokenIssuedBefore: '2000-01-01T00:00:00.000Z' } },
      },
    ]);
  });

  it('in read_only only the deny matters, and a deleted role counts as cut', async () => {
    fake.wire();
    seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'read_only', snap);
    const gone = {
      id: WORKER_ARN,
      state: { ...snap[0].state, roleName: 'billing-worker', roleArn: WORKER_ARN },
    };

    expect(await iamRoles.verify(context(), 'read_only', [...snap, gone])).toEqual({
      pending: [],
      drifted: [],
      failures: [],
    });
  });
});

describe('restore', () => {
  it('puts back exactly the snapshot, removes the Backstop denies and keeps the session revocation', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);
    iam.resetHistory();

    const result = await iamRoles.restore(context(), 'normal', snap);

    expect(result.failures).toEqual([]);
    const attachInputs = iam.commandCalls(AttachRolePolicyCommand).map((c) => c.args[0].input.PolicyArn);
    expect(attachInputs).toEqual(snap[0].state.attachedPolicies.map((p) => p.policyArn));
    const puts = iam.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input);
    expect(puts).toEqual([
      {
        RoleName: 'test_role',
        PolicyName: 'test_policy',
        PolicyDocument: snap[0].state.inlinePolicies[0].document,
      },
    ]);
    expect(iam.commandCalls(DetachRolePolicyCommand).map((c) => c.args[0].input.PolicyArn)).toEqual([
      FULL_STOP,
    ]);
    expect(role.attached).toEqual(recordedAttached);
    expect(role.inline.get('test_policy')).toBe(INLINE_DOCUMENT);
    expect([...role.inline.keys()].sort()).toEqual([REVOKE_SESSIONS_POLICY, 'test_policy'].sort());
  });

  it('to a kill mode: attaches that mode deny in place of the full_stop deny', async () => {
    fake.wire();
    const role = seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);

    await iamRoles.restore(context(), 'read_only', snap);

    expect(role.attached.map((p) => p.PolicyArn).sort()).toEqual(
      [...recordedAttached.map((p) => p.PolicyArn), READ_ONLY].sort(),
    );
  });

  it('a role that was at its limit gets every policy back, the deny making room under an inline deny-all', async () => {
    fake.wire();
    const policies = Array.from({ length: 10 }, (_, i) => ({
      PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/p${i}`,
      PolicyName: `p${i}`,
    }));
    const role = fake.add({ name: 'test_role', attached: policies.map((p) => ({ ...p })) });
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);
    iam.resetHistory();

    const result = await iamRoles.restore(context(), 'normal', snap);

    expect(result.failures).toEqual([]);
    expect(role.attached.map((p) => p.PolicyArn).sort()).toEqual(policies.map((p) => p.PolicyArn).sort());
    expect([...role.inline.keys()]).toEqual([REVOKE_SESSIONS_POLICY]);
    // the inline deny-all is in place before the full_stop deny makes room, and goes last
    const order = writes().map(([name, input]) => `${name} ${input.PolicyArn ?? input.PolicyName}`);
    expect(order.indexOf(`DetachRolePolicy ${FULL_STOP}`)).toBeGreaterThan(-1);
    expect(order.at(-1)).toBe(`DeleteRolePolicy ${INLINE_DENY_POLICY}`);
  });

  it('is idempotent and reports a role that no longer exists as not restorable', async () => {
    fake.wire();
    seedTestRole();
    const snap = await snapshotOf();
    await iamRoles.contain(context(), 'full_stop', snap);
    await iamRoles.restore(context(), 'normal', snap);
    iam.resetHistory();
    const gone = {
      id: WORKER_ARN,
      state: { ...snap[0].state, roleName: 'billing-worker', roleArn: WORKER_ARN },
    };

    const again = await iamRoles.restore(context(), 'normal', [...snap, gone]);

    expect(writes()).toEqual([]);
    expect(again.notRestorable).toEqual([
      { resource: WORKER_ARN, reason: 'the role no longer exists: nothing to put back' },
    ]);
  });
});
