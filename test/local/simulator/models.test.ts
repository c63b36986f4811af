import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DescribeSubnetsCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { GetPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { ListFunctionsCommand, ListTagsCommand } from '@aws-sdk/client-lambda';
import {
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
} from '@aws-sdk/client-s3';
import { ListScheduleGroupsCommand } from '@aws-sdk/client-scheduler';
import { DescribeStateMachineCommand, ListStateMachinesCommand } from '@aws-sdk/client-sfn';
import { ListTopicsCommand } from '@aws-sdk/client-sns';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { outputProblems, SERVICE_NAMES, Simulator } from '../../../lib/local/simulator';
import { AGENT, agentRole, CP, REGION, WL, world } from './helpers';

describe('the service models', () => {
  test("every action a model answers is a real operation of that service's SDK client", () => {
    const sim = new Simulator();
    const unknown: string[] = [];
    let count = 0;
    for (const service of SERVICE_NAMES) {
      const model = sim[service] as unknown as object;
      const actions = Object.getOwnPropertyNames(Object.getPrototypeOf(model)).filter((n) =>
        /^[A-Z]/.test(n),
      );
      for (const action of actions) {
        count++;
        if (outputProblems(service, action, {}).some((p) => p.includes('exports no schema')))
          unknown.push(`${service}:${action}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(count).toBeGreaterThan(90);
  });

  test("outputs that do not match the SDK's model are reported member by member", () => {
    expect(
      outputProblems('iam', 'GetRole', { Role: { RoleName: 1, CreateDate: '2020-01-01', Bogus: true } }),
    ).toEqual([
      'GetRole.Role.RoleName: expected string, got number',
      'GetRole.Role.CreateDate: expected Date, got string',
      'GetRole.Role.Bogus: not a member of Role',
    ]);
  });

  test('the reads the kill path does not exercise elsewhere answer in the shapes of the SDK model', async () => {
    const w = await world();
    const api = w.sim.as(WL, REGION);
    const role = await agentRole(w, 'reader');
    await api.lambda.CreateFunction({
      FunctionName: 'f',
      Role: role,
      Runtime: 'nodejs22.x',
      Handler: 'i.h',
      Code: { ZipFile: new Uint8Array([1]) },
      Tags: { 'backstop:agent': AGENT },
    });
    await api.events.PutRule({ Name: 'r', EventPattern: '{"source":["x"]}' });
    await api.events.PutTargets({
      Rule: 'r',
      Targets: [{ Id: 'a', Arn: `arn:aws:lambda:${REGION}:${WL}:function:f` }],
    });
    const machine = (
      await api.states.CreateStateMachine({
        name: 'm',
        roleArn: role,
        definition: '{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}',
      })
    ).stateMachineArn!;
    const c = w.workload;
    const cp = w.factory.controlPlane();

    expect((await c.lambda.send(new ListFunctionsCommand({}))).Functions?.map((f) => f.FunctionName)).toEqual(
      ['f'],
    );
    expect(
      (await c.lambda.send(new ListTagsCommand({ Resource: `arn:aws:lambda:${REGION}:${WL}:function:f` })))
        .Tags,
    ).toEqual({
      'backstop:agent': AGENT,
    });
    expect(
      (await c.events.send(new ListTargetsByRuleCommand({ Rule: 'r' }))).Targets?.map((t) => t.Id),
    ).toEqual(['a']);
    expect((await c.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: machine }))).status).toBe(
      'ACTIVE',
    );
    expect((await c.sfn.send(new ListStateMachinesCommand({}))).stateMachines?.map((m) => m.name)).toEqual([
      'm',
    ]);
    expect(
      (await c.scheduler.send(new ListScheduleGroupsCommand({}))).ScheduleGroups?.map((g) => g.Name),
    ).toEqual(['default']);
    expect((await c.ec2.send(new DescribeVpcsCommand({}))).Vpcs?.map((v) => v.VpcId)).toEqual([
      'vpc-0a1b2c3d4e5f60718',
    ]);
    expect((await c.ec2.send(new DescribeSubnetsCommand({}))).Subnets).toEqual([]);
    expect(
      (await c.iam.send(new GetPolicyCommand({ PolicyArn: w.wl.boundaryArn }))).Policy
        ?.PermissionsBoundaryUsageCount,
    ).toBe(1);

    expect(
      (await cp.kms.send(new DescribeKeyCommand({ KeyId: w.cp.manifestSigningKeyArn }))).KeyMetadata?.KeySpec,
    ).toBe('ECC_NIST_P256');
    expect((await cp.sns.send(new ListTopicsCommand({}))).Topics).toEqual([{ TopicArn: w.cp.topicArn }]);
    expect(
      (await cp.dynamo.send(new DescribeTableCommand({ TableName: w.cp.tableName }))).Table?.KeySchema,
    ).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect((await cp.dynamo.send(new ScanCommand({ TableName: w.cp.tableName }))).Count).toBe(0);
    expect((await cp.s3.send(new GetBucketVersioningCommand({ Bucket: w.cp.auditBucketName }))).Status).toBe(
      'Enabled',
    );
    const encryption = await cp.s3.send(new GetBucketEncryptionCommand({ Bucket: w.cp.auditBucketName }));
    expect(
      encryption.ServerSideEncryptionConfiguration?.Rules?.[0].ApplyServerSideEncryptionByDefault,
    ).toEqual({
      SSEAlgorithm: 'aws:kms',
      KMSMasterKeyID: w.cp.auditKeyArn,
    });
    const policy = JSON.parse(
      (await cp.s3.send(new GetBucketPolicyCommand({ Bucket: w.cp.auditBucketName }))).Policy!,
    );
    expect(policy.Statement[0].Action).toContain('s3:DeleteObject');

    expect(w.sim.calls.every((call) => call.outcome === 'ok')).toBe(true);
    expect(new Set(w.sim.calls.map((call) => call.accountId))).toEqual(new Set([WL, CP]));
  });
});
