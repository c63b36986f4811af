/**
 * Red team, part 3: someone runs code as the kill worker (a compromised handler, an insider in
 * the security account) and tries to turn an agent into an administrator of its account through
 * the kill execution role. Every attempt is decided by the synthesized kill role's IAM policies
 * (./iam-world.ts); the world must end exactly as it was. test/security/kill-role-cannot-grant.test.ts
 * proves the same for every allowed action with the IAM simulator alone.
 */
import {
  AttachRolePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DetachRolePolicyCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { DeleteFunctionConcurrencyCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { EnableRuleCommand } from '@aws-sdk/client-eventbridge';
import { UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { assumeKillRole } from '../../lambda/shared/deps';
import { findAgent } from '../../lambda/shared/env';
import { toDirectory } from '../../lib/config';
import { createIamWorld } from './iam-world';
import { AGENT, allowAll, kill, R, RUNTIME_ROLE, W } from './support';

it('every grant it tries through the kill role is refused, and the killed agent stays cut', async () => {
  const world = await createIamWorld();
  const run = await kill(world);
  expect(run.result?.status).toBe('CONTAINED');
  const agent = findAgent(toDirectory(world.config), AGENT)!;
  const kill_ = await assumeKillRole({ clients: world.clients }, agent, 'rogue');
  const sim = world.simulator;
  const snapshot = () => ({
    role: JSON.stringify(sim.iam.roleByArn(RUNTIME_ROLE)),
    fullStop: sim.iam.policyDocument(world.workload.denyPolicyArns.fullStop),
    boundary: sim.iam.policyDocument(world.workload.killBoundaryArn),
    concurrency: sim.lambda.reservedConcurrency(W, R, 'support-bot-planner'),
    rule: sim.events.ruleState(W, R, 'support-bot-nightly-digest'),
    schedule: sim.scheduler.scheduleState(W, R, 'support-bot-hourly-sweep'),
  });
  const before = snapshot();
  const payments = `arn:aws:iam::${W}:role/payments-service`;

  const attempts: [string, () => Promise<unknown>][] = [
    [
      'write an Allow * into the agent role',
      () =>
        kill_.iam.send(
          new PutRolePolicyCommand({
            RoleName: 'support-bot-runtime',
            PolicyName: 'x',
            PolicyDocument: allowAll(),
          }),
        ),
    ],
    [
      'detach the full_stop deny',
      () =>
        kill_.iam.send(
          new DetachRolePolicyCommand({
            RoleName: 'support-bot-runtime',
            PolicyArn: world.workload.denyPolicyArns.fullStop,
          }),
        ),
    ],
    [
      'attach AdministratorAccess',
      () =>
        kill_.iam.send(
          new AttachRolePolicyCommand({
            RoleName: 'support-bot-runtime',
            PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
          }),
        ),
    ],
    [
      'attach the agent boundary as a permissions policy',
      () =>
        kill_.iam.send(
          new AttachRolePolicyCommand({
            RoleName: 'support-bot-runtime',
            PolicyArn: world.workload.boundaryArn,
          }),
        ),
    ],
    [
      'swap the kill boundary for the agent boundary',
      () =>
        kill_.iam.send(
          new PutRolePermissionsBoundaryCommand({
            RoleName: 'support-bot-runtime',
            PermissionsBoundary: world.workload.boundaryArn,
          }),
        ),
    ],
    [
      'remove the kill boundary',
      () => kill_.iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: 'support-bot-runtime' })),
    ],
    [
      'rewrite the full_stop deny as an Allow',
      () =>
        kill_.iam.send(
          new CreatePolicyVersionCommand({
            PolicyArn: world.workload.denyPolicyArns.fullStop,
            PolicyDocument: allowAll(),
            SetAsDefault: true,
          }),
        ),
    ],
    [
      'rewrite the kill boundary as an Allow',
      () =>
        kill_.iam.send(
          new CreatePolicyVersionCommand({
            PolicyArn: world.workload.killBoundaryArn,
            PolicyDocument: allowAll(),
            SetAsDefault: true,
          }),
        ),
    ],
    [
      'let anyone assume the agent role',
      () =>
        kill_.iam.send(
          new UpdateAssumeRolePolicyCommand({ RoleName: 'support-bot-runtime', PolicyDocument: allowAll() }),
        ),
    ],
    [
      'create a role of its own',
      () =>
        kill_.iam.send(new CreateRoleCommand({ RoleName: 'escape', AssumeRolePolicyDocument: allowAll() })),
    ],
    [
      'give the agent function its concurrency back',
      () => kill_.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'support-bot-planner' })),
    ],
    [
      'change the agent function’s environment',
      () =>
        kill_.lambda.send(
          new UpdateFunctionConfigurationCommand({
            FunctionName: 'support-bot-planner',
            Environment: { Variables: { ADMIN: 'yes' } },
          }),
        ),
    ],
    [
      're-enable a rule',
      () => kill_.events.send(new EnableRuleCommand({ Name: 'support-bot-nightly-digest' })),
    ],
    [
      're-point a schedule with a role that is not an agent role',
      () =>
        kill_.scheduler.send(
          new UpdateScheduleCommand({
            Name: 'support-bot-hourly-sweep',
            ScheduleExpression: 'rate(1 minute)',
            FlexibleTimeWindow: { Mode: 'OFF' },
            Target: {
              Arn: 'arn:aws:scheduler:::aws-sdk:iam:attachRolePolicy',
              RoleArn: payments,
              Input: '{}',
            },
            State: 'ENABLED',
          }),
        ),
    ],
  ];
  for (const [what, attempt] of attempts) {
    await expect([
      what,
      await attempt().then(
        () => 'done',
        (e: Error) => e.name,
      ),
    ]).toEqual([what, expect.stringMatching(/AccessDenied/)]);
  }

  expect(snapshot()).toEqual(before);
  for (const action of ['iam:CreateUser', 'dynamodb:PutItem', 's3:GetObject']) {
    await expect(world.authority(RUNTIME_ROLE, action)).resolves.toBe('ExplicitlyDenied');
  }
});
