import { CfnOutput, Fn } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  type CfnTemplate,
  createIntrinsicContext,
  physicalNamesFromOutputs,
  type ResolveOptions,
  resolveIntrinsics,
  TemplateResolutionError,
} from '../../../lib/local/engine';
import { backstopFunction, logicalIdOf, newStack, synth, TEST_ENV } from './fixtures/stacks';

const ENVIRONMENT = { region: TEST_ENV.region, accountId: TEST_ENV.account, stackName: 'Backstop' };

const TEMPLATE: CfnTemplate = {
  Parameters: { Stage: { Type: 'String', Default: 'prod' } },
  Mappings: { Partitions: { 'eu-west-1': { Domain: 'example.eu' } } },
  Conditions: {
    IsProd: { 'Fn::Equals': [{ Ref: 'Stage' }, 'prod'] },
    IsNotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
  },
  Resources: {
    Worker: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'backstop-worker' } },
    Unnamed: { Type: 'AWS::Lambda::Function', Properties: {} },
    Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'backstop-state' } },
    AuditBucket: { Type: 'AWS::S3::Bucket', Properties: {} },
    Topic: { Type: 'AWS::SNS::Topic', Properties: {} },
    Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'backstop-kill-worker', Path: '/backstop/' } },
    Key: { Type: 'AWS::KMS::Key', Properties: {} },
    Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'backstop' } },
    Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/backstop/kill' } },
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { StateMachineName: 'backstop-kill' } },
    Widget: { Type: 'AWS::Custom::Widget', Properties: {} },
    OnlyInDev: { Type: 'AWS::SNS::Topic', Condition: 'IsNotProd', Properties: {} },
  },
};

function resolve(
  value: unknown,
  options: Partial<ResolveOptions> = {},
  template: CfnTemplate = TEMPLATE,
): unknown {
  return resolveIntrinsics(value, createIntrinsicContext(template, { ...ENVIRONMENT, ...options }));
}

describe('resolveIntrinsics', () => {
  test('joins, selects and splits values built from references and pseudo parameters', () => {
    expect(
      resolve({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { Ref: 'AuditBucket' }, '/*']],
      }),
    ).toBe('arn:aws:s3:::auditbucket/*');
    expect(resolve({ 'Fn::Select': [1, { 'Fn::Split': [':', { 'Fn::GetAtt': ['Worker', 'Arn'] }] }] })).toBe(
      'aws',
    );
    expect(
      resolve({ 'Fn::Select': ['6', { 'Fn::Split': [':', { 'Fn::GetAtt': ['Worker', 'Arn'] }] }] }),
    ).toBe('backstop-worker');
    expect(resolve({ 'Fn::GetAtt': 'Table.Arn' })).toBe(
      'arn:aws:dynamodb:eu-west-1:111111111111:table/backstop-state',
    );
  });

  test('substitutes pseudo parameters, references, attributes and variables in Fn::Sub, keeping escaped literals', () => {
    expect(
      resolve({
        'Fn::Sub':
          'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${Machine.Name} ' +
          'https://s3.${AWS::URLSuffix} ${Table} ${!Literal} ${AWS::StackName}',
      }),
    ).toBe(
      'arn:aws:states:eu-west-1:111111111111:stateMachine:backstop-kill https://s3.amazonaws.com backstop-state ' +
        '${Literal} Backstop',
    );
    expect(resolve({ 'Fn::Sub': ['${Fn}-${Stage}', { Fn: { 'Fn::GetAtt': ['Worker', 'Arn'] } }] })).toBe(
      'arn:aws:lambda:eu-west-1:111111111111:function:backstop-worker-prod',
    );
  });

  test('evaluates mappings, conditions, parameters and removes AWS::NoValue', () => {
    expect(resolve({ 'Fn::FindInMap': ['Partitions', { Ref: 'AWS::Region' }, 'Domain'] })).toBe('example.eu');
    expect(resolve({ 'Fn::If': ['IsProd', 'yes', 'no'] })).toBe('yes');
    expect(resolve({ 'Fn::If': ['IsProd', 'yes', 'no'] }, { parameters: { Stage: 'dev' } })).toBe('no');
    expect(resolve({ A: 1, B: { Ref: 'AWS::NoValue' }, C: ['x', { Ref: 'AWS::NoValue' }] })).toEqual({
      A: 1,
      C: ['x'],
    });
  });

  test('derives physical names and ARNs from each resource type and its own name properties', () => {
    expect(resolve({ Ref: 'Worker' })).toBe('backstop-worker');
    expect(resolve({ 'Fn::GetAtt': ['Unnamed', 'Arn'] })).toBe(
      'arn:aws:lambda:eu-west-1:111111111111:function:Unnamed',
    );
    expect(resolve({ Ref: 'Table' })).toBe('backstop-state');
    expect(resolve({ Ref: 'AuditBucket' })).toBe('auditbucket');
    expect(resolve({ 'Fn::GetAtt': ['AuditBucket', 'Arn'] })).toBe('arn:aws:s3:::auditbucket');
    expect(resolve({ Ref: 'Topic' })).toBe('arn:aws:sns:eu-west-1:111111111111:Topic');
    expect(resolve({ 'Fn::GetAtt': ['Role', 'Arn'] })).toBe(
      'arn:aws:iam::111111111111:role/backstop/backstop-kill-worker',
    );
    expect(resolve({ 'Fn::GetAtt': ['Bus', 'Arn'] })).toBe(
      'arn:aws:events:eu-west-1:111111111111:event-bus/backstop',
    );
    expect(resolve({ 'Fn::GetAtt': ['Logs', 'Arn'] })).toBe(
      'arn:aws:logs:eu-west-1:111111111111:log-group:/backstop/kill:*',
    );
    expect(resolve({ Ref: 'Machine' })).toBe(
      'arn:aws:states:eu-west-1:111111111111:stateMachine:backstop-kill',
    );
    const keyArn = resolve({ 'Fn::GetAtt': ['Key', 'Arn'] });
    expect(keyArn).toMatch(/^arn:aws:kms:eu-west-1:111111111111:key\/[0-9a-f-]{36}$/);
    expect(resolve({ 'Fn::GetAtt': ['Key', 'Arn'] })).toBe(keyArn);
    expect(keyArn).toBe(`arn:aws:kms:eu-west-1:111111111111:key/${resolve({ Ref: 'Key' })}`);
  });

  test('derives the partition and URL suffix from the region', () => {
    expect(
      resolve({ 'Fn::Sub': '${AWS::Partition} ${AWS::URLSuffix} ${Worker.Arn}' }, { region: 'cn-north-1' }),
    ).toBe('aws-cn amazonaws.com.cn arn:aws-cn:lambda:cn-north-1:111111111111:function:backstop-worker');
  });

  test('takes deployed names from physicalNames first, and from a caller resolver next', () => {
    const physicalNames = {
      Unnamed: {
        Ref: 'Backstop-Unnamed-1AB2C3',
        Arn: 'arn:aws:lambda:eu-west-1:111111111111:function:Backstop-Unnamed-1AB2C3',
      },
      AuditBucket: 'backstop-auditbucket-9z8y7x',
    };
    expect(resolve({ 'Fn::GetAtt': ['Unnamed', 'Arn'] }, { physicalNames })).toBe(physicalNames.Unnamed.Arn);
    // A bucket's Ref is its name, so its ARN follows the deployed name.
    expect(resolve({ 'Fn::GetAtt': ['AuditBucket', 'Arn'] }, { physicalNames })).toBe(
      'arn:aws:s3:::backstop-auditbucket-9z8y7x',
    );
    expect(
      resolve(
        { Ref: 'Widget' },
        { physical: (id, attribute) => (id === 'Widget' && !attribute ? 'widget-1' : undefined) },
      ),
    ).toBe('widget-1');
  });

  test('names the logical id and the intrinsic of every reference it cannot resolve', () => {
    const expectError = (value: unknown, pattern: RegExp, options: Partial<ResolveOptions> = {}) => {
      let caught: unknown;
      try {
        resolve(value, options);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(TemplateResolutionError);
      expect((caught as Error).message).toMatch(pattern);
    };
    expectError({ Ref: 'Missing' }, /cannot resolve Ref "Missing".*no resource or parameter Missing/);
    expectError(
      { 'Fn::GetAtt': ['Table', 'Nonsense'] },
      /Fn::GetAtt \["Table","Nonsense"\].*attribute Nonsense of Table/,
    );
    expectError({ Ref: 'Widget' }, /Ref "Widget".*AWS::Custom::Widget/);
    expectError({ 'Fn::Sub': 'x-${Gone.Arn}' }, /Fn::Sub "x-\$\{Gone.Arn\}".*no resource or parameter Gone/);
    expectError({ Ref: 'Unnamed' }, /Ref "Unnamed".*has no FunctionName.*physicalNames/, {
      unnamedResources: 'error',
    });
    expectError({ Ref: 'OnlyInDev' }, /OnlyInDev is not created \(its condition IsNotProd is false\)/);
    expectError({ 'Fn::GetAZs': '' }, /Fn::GetAZs.*not supported/);
    expectError({ 'Fn::ImportValue': 'Shared:Arn' }, /export Shared:Arn is not known/);
    expect(() =>
      resolveIntrinsics(
        { Ref: 'AWS::StackName' },
        createIntrinsicContext(TEMPLATE, { region: 'eu-west-1', accountId: '1' }),
      ),
    ).toThrow(/stack name is not known/);
  });
});

describe('resolution of a synthesized CDK stack', () => {
  test('resolves what CDK emits for environment variables to the same names the resources are given', () => {
    const stack = newStack();
    const table = new dynamodb.Table(stack, 'StateTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      tableName: 'backstop-state',
    });
    const bucket = new s3.Bucket(stack, 'AuditBucket');
    const topic = new sns.Topic(stack, 'Notifications');
    const key = new kms.Key(stack, 'SigningKey');
    const bus = new events.EventBus(stack, 'Bus', { eventBusName: 'backstop' });
    const logGroup = new logs.LogGroup(stack, 'KillLogs');
    const role = new iam.Role(stack, 'WorkerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      roleName: 'backstop-kill-worker',
      path: '/backstop/',
    });
    const fn = backstopFunction(stack, 'Worker', 'kill-prepare', {
      TABLE: table.tableName,
      BUCKET_ARN: bucket.bucketArn,
      TOPIC: topic.topicArn,
      KEY: key.keyArn,
      BUS: bus.eventBusArn,
      LOGS: logGroup.logGroupName,
      ROLE: role.roleArn,
      SUB: Fn.sub('arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:backstop-kill'),
    });
    new CfnOutput(stack, 'WorkerArn', { value: fn.functionArn });
    new CfnOutput(stack, 'BucketName', { value: bucket.bucketName });
    const template = synth(stack);
    const logicalId = logicalIdOf(fn);
    const environment = template.Resources?.[logicalId]?.Properties?.Environment as { Variables: unknown };
    const variables = environment.Variables;
    const ctx = createIntrinsicContext(template, ENVIRONMENT);
    const bucketId = logicalIdOf(bucket);
    const keyId = logicalIdOf(key);

    expect(resolveIntrinsics(variables, ctx)).toEqual({
      BACKSTOP_HANDLER: 'kill-prepare',
      TABLE: 'backstop-state',
      BUCKET_ARN: `arn:aws:s3:::${bucketId.toLowerCase()}`,
      TOPIC: expect.stringMatching(/^arn:aws:sns:eu-west-1:111111111111:Notifications[0-9A-F]{8}$/),
      KEY: `arn:aws:kms:eu-west-1:111111111111:key/${ctx.physical(keyId)}`,
      BUS: 'arn:aws:events:eu-west-1:111111111111:event-bus/backstop',
      LOGS: expect.stringMatching(/^KillLogs[0-9A-F]{8}$/),
      ROLE: 'arn:aws:iam::111111111111:role/backstop/backstop-kill-worker',
      SUB: 'arn:aws:states:eu-west-1:111111111111:stateMachine:backstop-kill',
    });

    // Against a deployment: the outputs file names the generated physical names.
    const deployedArn = 'arn:aws:lambda:eu-west-1:111111111111:function:EngineTest-Worker-AbC123';
    const names = physicalNamesFromOutputs(template, {
      WorkerArn: deployedArn,
      BucketName: 'enginetest-audit-xyz',
    });
    expect(names).toEqual({ [logicalId]: { Arn: deployedArn }, [bucketId]: { Ref: 'enginetest-audit-xyz' } });
    const deployed = createIntrinsicContext(template, {
      ...ENVIRONMENT,
      physicalNames: names,
      unnamedResources: 'error',
    });
    expect(resolveIntrinsics({ 'Fn::GetAtt': [bucketId, 'Arn'] }, deployed)).toBe(
      'arn:aws:s3:::enginetest-audit-xyz',
    );
    expect(() => resolveIntrinsics(variables, deployed)).toThrow(
      /Notifications[0-9A-F]{8} .*has no TopicName/,
    );
  });
});
