/**
 * The restore side is as tight as the kill side, in the IAM world (./iam-world.ts): every write the
 * restore execution role sends is decided by its synthesized policies. A real restore of the drill's
 * agent needs nothing they refuse and puts the agent back exactly; sessions issued before the kill
 * stay dead; and someone running code as the restore role (a compromised restore worker) is
 * refused every grant the policies can tell apart from a restore.
 * test/security/restore-execution-role.test.ts proves the same action by action with the simulator.
 */
import {
  AttachRolePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { ModifyNetworkInterfaceAttributeCommand } from '@aws-sdk/client-ec2';
import { PutRuleCommand } from '@aws-sdk/client-eventbridge';
import { findAgent } from '../../lambda/shared/env';
import { assumeRestoreRole } from '../../lambda/restore-apply/assume';
import { toDirectory } from '../../lib/config';
import { clientsAs } from '../../lib/local/drill/restore';
import {
  agentState,
  ALICE,
  as,
  BOB,
  CAROL,
  killedWorld,
  waitFor,
  withoutSessionDeny,
} from '../local/restore-support';
import { createIamWorld, type IamWorld } from './iam-world';
import { AGENT, allowAll, R, RUNTIME_ROLE, TICKETS_TABLE, W } from './support';

async function restoreAll(
  k: Awaited<ReturnType<typeof killedWorld>>,
  toMode: 'normal' | 'read_only' = 'normal',
) {
  let playing: Promise<void> = Promise.resolve();
  const outcome = await k.runner.restore(
    await as(k.world, ALICE),
    { incidentId: k.incidentId, agentId: AGENT, toMode, reason: 'test: restore in the IAM world' },
    {
      waitScale: 0,
      onRequested: ({ record }) => {
        playing = (async () => {
          await waitFor(k.runner, record.restoreId, 'AWAITING_APPROVAL');
          for (const who of [BOB, CAROL]) {
            await k.runner.decide(await as(k.world, who), { action: 'approve', restoreId: record.restoreId });
          }
        })();
      },
    },
  );
  await playing;
  return outcome;
}

describe('the restore execution role in the IAM world', () => {
  it('a full_stop kill then a restore: every write allowed by the synthesized role, the agent back exactly, old sessions dead', async () => {
    const k = await killedWorld({ createWorld: createIamWorld });
    const world = k.world as IamWorld;
    const killedAt = new Date(k.kill.execution.startTime);
    const outcome = await restoreAll(k);

    expect(world.restoreRefused).toEqual([]);
    expect(outcome.result?.status).toBe('COMPLETED');
    expect({ ...withoutSessionDeny(await agentState(world)), executions: [] }).toEqual({
      ...k.before,
      executions: [],
    });
    // A session issued before the kill is denied everything; one issued after the restore has its authority back.
    const before = new Date(killedAt.getTime() - 60_000).toISOString();
    await expect(
      world.authority(RUNTIME_ROLE, 'dynamodb:PutItem', TICKETS_TABLE, { 'aws:TokenIssueTime': before }),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(
      world.authority(RUNTIME_ROLE, 'dynamodb:PutItem', TICKETS_TABLE, {
        'aws:TokenIssueTime': new Date(Date.now() + 1000).toISOString(),
      }),
    ).resolves.toBe('Allowed');
  });

  it('a read_only kill then a restore: the kill boundary goes on first, and the agent boundary comes back last', async () => {
    const k = await killedWorld({ createWorld: createIamWorld, mode: 'read_only' });
    const world = k.world as IamWorld;
    const outcome = await restoreAll(k);

    expect(world.restoreRefused).toEqual([]);
    expect(outcome.result?.status).toBe('COMPLETED');
    expect(withoutSessionDeny(await agentState(world))).toEqual(k.before);
    const boundaryWrites = world.simulator.calls
      .filter(
        (c) =>
          c.caller.includes(':assumed-role/backstop-restore-') &&
          c.outcome === 'ok' &&
          c.action === 'PutRolePermissionsBoundary' &&
          (c.input as { RoleName: string }).RoleName === 'support-bot-runtime',
      )
      .map((c) => (c.input as { PermissionsBoundary: string }).PermissionsBoundary);
    expect(boundaryWrites).toEqual([world.workload.killBoundaryArn, world.workload.boundaryArn]);
  });
});

describe('someone running code as the restore role (a compromised restore worker)', () => {
  it('is refused every grant IAM can tell apart from a restore, and what IAM lets through stays under the agent boundary', async () => {
    const k = await killedWorld({ createWorld: createIamWorld });
    const world = k.world as IamWorld;
    const agent = findAgent(toDirectory(world.config), AGENT)!;
    const rogue = await assumeRestoreRole(
      { clients: clientsAs(world, world.controlPlane.restoreWorkerRoleArn) },
      agent,
      'rogue',
    );
    const api = world.simulator.as(W, R);
    // A second VPC in the account, with a wide-open group: not a declared VPC.
    world.simulator.ec2.seedVpc(W, R, { vpcId: 'vpc-0fffffffffffffff0', cidrBlock: '10.9.0.0/16' });
    const open = await api.ec2.CreateSecurityGroup({
      GroupName: 'wide-open',
      Description: 'not the agent',
      VpcId: 'vpc-0fffffffffffffff0',
    });
    // An agent role restored earlier: it carries its own (agent) boundary again.
    await api.iam.PutRolePermissionsBoundary({
      RoleName: 'support-bot-tools-exec',
      PermissionsBoundary: world.workload.boundaryArn,
    });
    const eni = world.inventory.networkInterfaces[0] as string;

    const attempts: [string, () => Promise<unknown>][] = [
      [
        'write an Allow * into a role that carries its own boundary',
        () =>
          rogue.iam.send(
            new PutRolePolicyCommand({
              RoleName: 'support-bot-tools-exec',
              PolicyName: 'x',
              PolicyDocument: allowAll(),
            }),
          ),
      ],
      [
        'attach AdministratorAccess under the kill boundary',
        () =>
          rogue.iam.send(
            new AttachRolePolicyCommand({
              RoleName: 'support-bot-runtime',
              PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
            }),
          ),
      ],
      [
        'attach the agent boundary as a permissions policy',
        () =>
          rogue.iam.send(
            new AttachRolePolicyCommand({
              RoleName: 'support-bot-runtime',
              PolicyArn: world.workload.boundaryArn,
            }),
          ),
      ],
      [
        'lift the agent boundary of a role',
        () =>
          rogue.iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: 'support-bot-tools-exec' })),
      ],
      [
        'set a boundary of its choosing',
        () =>
          rogue.iam.send(
            new PutRolePermissionsBoundaryCommand({
              RoleName: 'support-bot-runtime',
              PermissionsBoundary: 'arn:aws:iam::aws:policy/AdministratorAccess',
            }),
          ),
      ],
      [
        'detach a policy that is not a Backstop deny',
        () =>
          rogue.iam.send(
            new DetachRolePolicyCommand({
              RoleName: 'support-bot-tools-exec',
              PolicyArn: `arn:aws:iam::${W}:policy/support-bot-s3-read`,
            }),
          ),
      ],
      [
        'delete an inline policy',
        () =>
          rogue.iam.send(
            new DeleteRolePolicyCommand({ RoleName: 'support-bot-tools-exec', PolicyName: 'x' }),
          ),
      ],
      [
        'rewrite a trust policy',
        () =>
          rogue.iam.send(
            new UpdateAssumeRolePolicyCommand({
              RoleName: 'support-bot-runtime',
              PolicyDocument: allowAll(),
            }),
          ),
      ],
      [
        're-version the agent boundary',
        () =>
          rogue.iam.send(
            new CreatePolicyVersionCommand({
              PolicyArn: world.workload.boundaryArn,
              PolicyDocument: allowAll(),
              SetAsDefault: true,
            }),
          ),
      ],
      [
        'create a role',
        () =>
          rogue.iam.send(new CreateRoleCommand({ RoleName: 'escape', AssumeRolePolicyDocument: allowAll() })),
      ],
      [
        'move the agent interface into a group of another VPC',
        () =>
          rogue.ec2.send(
            new ModifyNetworkInterfaceAttributeCommand({
              NetworkInterfaceId: eni,
              Groups: [open.GroupId as string],
            }),
          ),
      ],
      [
        'add a layer to an agent function',
        () =>
          rogue.lambda.send(
            new UpdateFunctionConfigurationCommand({
              FunctionName: 'support-bot-tools',
              Layers: [`arn:aws:lambda:${R}:${W}:layer:implant:1`],
            }),
          ),
      ],
      [
        "rewrite a rule that is not the agent's",
        () =>
          rogue.events.send(
            new PutRuleCommand({ Name: 'payments-nightly', ScheduleExpression: 'rate(1 minute)' }),
          ),
      ],
    ];
    const outcomes: [string, string][] = [];
    for (const [what, attempt] of attempts) {
      try {
        await attempt();
        outcomes.push([what, 'ALLOWED']);
      } catch (e) {
        outcomes.push([what, (e as Error).name]);
      }
    }
    // IAM's refusal, as each service names it (EC2 says UnauthorizedOperation).
    expect(outcomes.filter(([, result]) => !/AccessDenied|UnauthorizedOperation/.test(result))).toEqual([]);

    // What IAM cannot tell apart from a restore: content written under the kill boundary, then the
    // agent boundary put back. The role gets that content, capped by the agent boundary.
    await rogue.iam.send(
      new PutRolePolicyCommand({
        RoleName: 'support-bot-runtime',
        PolicyName: 'implant',
        PolicyDocument: allowAll(),
      }),
    );
    await rogue.iam.send(
      new PutRolePermissionsBoundaryCommand({
        RoleName: 'support-bot-runtime',
        PermissionsBoundary: world.workload.boundaryArn,
      }),
    );
    for (const [action, resource] of [
      ['iam:CreateUser', `arn:aws:iam::${W}:user/escape`],
      ['iam:PutRolePolicy', RUNTIME_ROLE],
      ['iam:CreateAccessKey', `arn:aws:iam::${W}:user/someone`],
    ] as const) {
      await expect(world.authority(RUNTIME_ROLE, action, resource)).resolves.toBe('ExplicitlyDenied');
    }
  });
});
