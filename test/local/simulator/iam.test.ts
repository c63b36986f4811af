import {
  AttachRolePolicyCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  LimitExceededException,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  MalformedPolicyDocumentException,
  NoSuchEntityException,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
} from '@aws-sdk/client-iam';
import { createClientFactory } from '../../../lambda/shared/clients';
import { agentRole, REGION, rejection, WL, world } from './helpers';

const AWS_POLICIES = [
  'AdministratorAccess',
  'ReadOnlyAccess',
  'AmazonS3FullAccess',
  'AmazonS3ReadOnlyAccess',
  'AmazonSQSFullAccess',
  'AmazonDynamoDBFullAccess',
  'AmazonBedrockFullAccess',
  'AWSStepFunctionsFullAccess',
].map((n) => `arn:aws:iam::aws:policy/${n}`);

const DENY_ALL = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }],
});

describe('IAM roles as the IAM query API returns them', () => {
  test('GetRole answers the trust policy URL-encoded, with tags and the boundary', async () => {
    const w = await world();
    await agentRole(w, 'agent-a');
    const out = await w.workload.iam.send(new GetRoleCommand({ RoleName: 'agent-a' }));
    const role = out.Role!;
    expect(role.AssumeRolePolicyDocument).toMatch(/^%7B%22Version%22%3A%222012-10-17%22/);
    expect(JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!)).Statement[0].Principal).toEqual({
      Service: 'lambda.amazonaws.com',
    });
    expect(role.Tags).toEqual([{ Key: 'backstop:agent', Value: 'research-bot' }]);
    expect(role.PermissionsBoundary).toEqual({
      PermissionsBoundaryType: 'PermissionsBoundaryPolicy',
      PermissionsBoundaryArn: w.wl.boundaryArn,
    });
    expect(role.RoleLastUsed).toEqual({});
    expect(role.RoleId).toMatch(/^AROA[A-Z2-7]{17}$/);
  });

  test('ListRoles pages with Marker, filters by PathPrefix and, like AWS, returns no tags', async () => {
    const w = await world({ pageSize: 2 });
    for (const n of ['a1', 'a2', 'a3', 'a4', 'a5']) await agentRole(w, n);
    const names: string[] = [];
    let Marker: string | undefined;
    do {
      const page = await w.workload.iam.send(new ListRolesCommand({ Marker }));
      for (const r of page.Roles ?? []) {
        expect(r.Tags).toBeUndefined();
        expect(r.PermissionsBoundary).toBeUndefined();
        names.push(r.RoleName!);
      }
      expect(page.IsTruncated).toBe(page.Marker !== undefined);
      Marker = page.Marker;
    } while (Marker);
    expect(names).toEqual([
      'a1',
      'a2',
      'a3',
      'a4',
      'a5',
      `backstop-kill-${REGION}`,
      `backstop-restore-${REGION}`,
    ]);
    const backstop = await w.workload.iam.send(
      new ListRolesCommand({ PathPrefix: '/backstop/', MaxItems: 10 }),
    );
    expect(backstop.Roles?.map((r) => r.RoleName)).toEqual([
      `backstop-kill-${REGION}`,
      `backstop-restore-${REGION}`,
    ]);
  });

  test('tags are added, listed and removed', async () => {
    const w = await world();
    await agentRole(w, 'agent-t');
    await w.workload.iam.send(
      new TagRoleCommand({ RoleName: 'agent-t', Tags: [{ Key: 'team', Value: 'ml' }] }),
    );
    await w.workload.iam.send(new UntagRoleCommand({ RoleName: 'agent-t', TagKeys: ['backstop:agent'] }));
    const tags = await w.workload.iam.send(new ListRoleTagsCommand({ RoleName: 'agent-t' }));
    expect(tags.Tags).toEqual([{ Key: 'team', Value: 'ml' }]);
  });
});

describe('managed and inline policies', () => {
  test('attach needs an existing policy; detach of a policy that is not attached is NoSuchEntity', async () => {
    const w = await world();
    await agentRole(w, 'agent-p');
    const missing = await rejection(
      w.workload.iam.send(
        new AttachRolePolicyCommand({ RoleName: 'agent-p', PolicyArn: `arn:aws:iam::${WL}:policy/nope` }),
      ),
    );
    expect(missing).toBeInstanceOf(NoSuchEntityException);
    expect(missing.$metadata?.httpStatusCode).toBe(404);
    const notAttached = await rejection(
      w.workload.iam.send(
        new DetachRolePolicyCommand({ RoleName: 'agent-p', PolicyArn: w.wl.denyPolicyArns.fullStop }),
      ),
    );
    expect(notAttached).toBeInstanceOf(NoSuchEntityException);
    const noRole = await rejection(w.workload.iam.send(new GetRoleCommand({ RoleName: 'ghost' })));
    expect(noRole.message).toBe('The role with name ghost cannot be found.');
  });

  test('a role at the managed-policy quota refuses one more with LimitExceeded, which the SDK retries as throttling', async () => {
    const w = await world();
    await agentRole(w, 'agent-full', [
      ...AWS_POLICIES,
      `arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`,
      `arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`,
    ]);
    const iam = createClientFactory({
      region: REGION,
      plugins: [w.sim.plugin()],
      maxAttempts: 3,
      baseBackoffMs: 1,
    }).workload(REGION, w.sim.credentialsFor(w.wl.killRoleArn)).iam;
    const error = await rejection(
      iam.send(
        new AttachRolePolicyCommand({ RoleName: 'agent-full', PolicyArn: w.wl.denyPolicyArns.fullStop }),
      ),
    );
    expect(error).toBeInstanceOf(LimitExceededException);
    expect(error.message).toBe('Cannot exceed quota for PoliciesPerRole: 10');
    expect(error.$metadata?.attempts).toBe(3);
    const attached = await iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: 'agent-full', MaxItems: 100 }),
    );
    expect(attached.AttachedPolicies?.map((p) => p.PolicyArn)).not.toContain(w.wl.denyPolicyArns.fullStop);
  });

  test('ListAttachedRolePolicies pages in attach order', async () => {
    const w = await world({ pageSize: 2 });
    await agentRole(w, 'agent-l', AWS_POLICIES.slice(0, 5));
    const arns: string[] = [];
    let Marker: string | undefined;
    do {
      const page = await w.workload.iam.send(
        new ListAttachedRolePoliciesCommand({ RoleName: 'agent-l', Marker }),
      );
      arns.push(...(page.AttachedPolicies ?? []).map((p) => p.PolicyArn!));
      Marker = page.Marker;
    } while (Marker);
    expect(arns).toEqual(AWS_POLICIES.slice(0, 5));
  });

  test('inline policies are put, read back URL-encoded, listed and deleted', async () => {
    const w = await world({ pageSize: 1 });
    await agentRole(w, 'agent-i');
    await w.workload.iam.send(
      new PutRolePolicyCommand({ RoleName: 'agent-i', PolicyName: 'b-inline', PolicyDocument: DENY_ALL }),
    );
    await w.workload.iam.send(
      new PutRolePolicyCommand({ RoleName: 'agent-i', PolicyName: 'a-inline', PolicyDocument: DENY_ALL }),
    );
    const got = await w.workload.iam.send(
      new GetRolePolicyCommand({ RoleName: 'agent-i', PolicyName: 'a-inline' }),
    );
    expect(decodeURIComponent(got.PolicyDocument!)).toBe(DENY_ALL);
    const first = await w.workload.iam.send(new ListRolePoliciesCommand({ RoleName: 'agent-i' }));
    const second = await w.workload.iam.send(
      new ListRolePoliciesCommand({ RoleName: 'agent-i', Marker: first.Marker }),
    );
    expect([...first.PolicyNames!, ...second.PolicyNames!]).toEqual(['a-inline', 'b-inline']);
    expect(second.IsTruncated).toBe(false);
    await w.workload.iam.send(new DeleteRolePolicyCommand({ RoleName: 'agent-i', PolicyName: 'a-inline' }));
    const again = await rejection(
      w.workload.iam.send(new DeleteRolePolicyCommand({ RoleName: 'agent-i', PolicyName: 'a-inline' })),
    );
    expect(again).toBeInstanceOf(NoSuchEntityException);
    expect(Object.keys(w.sim.iam.roleByName(WL, 'agent-i')!.inlinePolicies)).toEqual(['b-inline']);
  });

  test('a malformed inline policy is refused and the role keeps what it had', async () => {
    const w = await world();
    await agentRole(w, 'agent-m');
    const bad = await rejection(
      w.workload.iam.send(
        new PutRolePolicyCommand({ RoleName: 'agent-m', PolicyName: 'x', PolicyDocument: '{"Statement": [' }),
      ),
    );
    expect(bad).toBeInstanceOf(MalformedPolicyDocumentException);
    const withPrincipal = await rejection(
      w.workload.iam.send(
        new PutRolePolicyCommand({
          RoleName: 'agent-m',
          PolicyName: 'x',
          PolicyDocument: JSON.stringify({
            Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }],
          }),
        }),
      ),
    );
    expect(withPrincipal.message).toBe('Policy document should not specify a principal.');
    expect(w.sim.iam.roleByName(WL, 'agent-m')!.inlinePolicies).toEqual({});
  });

  test('the seeded full_stop deny policy reads back through GetPolicyVersion', async () => {
    const w = await world();
    const version = await w.workload.iam.send(
      new GetPolicyVersionCommand({ PolicyArn: w.wl.denyPolicyArns.fullStop, VersionId: 'v1' }),
    );
    const doc = JSON.parse(decodeURIComponent(version.PolicyVersion!.Document!));
    expect(doc.Statement).toEqual([{ Sid: 'BackstopFullStop', Effect: 'Deny', Action: '*', Resource: '*' }]);
    expect(w.wl.denyPolicyArns.fullStop).toBe(
      `arn:aws:iam::${WL}:policy/backstop/backstop-full-stop-${REGION}`,
    );
  });
});
