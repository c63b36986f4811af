import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import {
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  ListEventBusesCommand,
  ListRulesCommand,
} from '@aws-sdk/client-eventbridge';
import {
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesForRoleCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  DeleteFunctionConcurrencyCommand,
  GetEventSourceMappingCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  ListEventSourceMappingsCommand,
  PutFunctionConcurrencyCommand,
  UpdateEventSourceMappingCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { GetObjectLockConfigurationCommand } from '@aws-sdk/client-s3';
import { fixturesDir } from '../../helpers/fixtures';
import { CP, REGION, rejection, WL, type World, world } from './helpers';

const FIXTURES = fixturesDir();

interface Fixture {
  readonly file: string;
  readonly key: string;
  readonly status: number;
  readonly data: Record<string, unknown>;
}

/** Revives botocore's `{"__class__": "datetime"}` objects as Dates, as the README says to. */
function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o.__class__ === 'datetime') {
      return new Date(
        Date.UTC(
          o.year as number,
          (o.month as number) - 1,
          o.day as number,
          o.hour as number,
          o.minute as number,
          o.second as number,
        ),
      );
    }
    return Object.fromEntries(
      Object.entries(o)
        .filter(([k]) => k !== 'ResponseMetadata')
        .map(([k, v]) => [k, revive(v)]),
    );
  }
  return value;
}

function loadFixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const dir of readdirSync(FIXTURES, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const name of readdirSync(join(FIXTURES, dir.name))) {
      if (!name.endsWith('.json')) continue;
      const raw = JSON.parse(readFileSync(join(FIXTURES, dir.name, name), 'utf8')) as {
        status_code: number;
        data: unknown;
      };
      out.push({
        file: `${dir.name}/${name}`,
        key: name.replace(/_\d+\.json$/, ''),
        status: raw.status_code,
        data: revive(raw.data) as Record<string, unknown>,
      });
    }
  }
  return out;
}

type Shape = string | Shape[] | { [k: string]: Shape };

/** The structure of a value: member names, and the kind of every value (Dates are timestamps). */
function shapeOf(value: unknown): Shape {
  if (value instanceof Date) return 'timestamp';
  if (Array.isArray(value)) return value.length > 0 ? [shapeOf(value[0])] : [];
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, shapeOf(v)]),
    );
  }
  return typeof value;
}

/**
 * Where `ours` lacks a member the recording has, or has it with another kind of value. Members
 * the recording lacks are allowed (AWS added them since it was recorded); the SDK-model check
 * (`checkOutputShapes`) separately refuses members AWS does not have.
 */
function differences(recorded: Shape, ours: Shape, path: string): string[] {
  if (Array.isArray(recorded)) {
    if (!Array.isArray(ours)) return [`${path}: recorded a list, simulator has ${JSON.stringify(ours)}`];
    if (recorded.length === 0 || ours.length === 0) return [];
    return differences(recorded[0], ours[0], `${path}[0]`);
  }
  if (typeof recorded === 'object') {
    if (typeof ours !== 'object' || Array.isArray(ours))
      return [`${path}: recorded a structure, simulator has ${JSON.stringify(ours)}`];
    return Object.entries(recorded).flatMap(([k, v]) =>
      k in ours
        ? differences(v, ours[k], `${path}.${k}`)
        : [`${path}.${k}: recorded, missing from the simulator's output`],
    );
  }
  return recorded === ours ? [] : [`${path}: recorded ${recorded}, simulator has ${JSON.stringify(ours)}`];
}

const ZIP = { ZipFile: new Uint8Array([0x50, 0x4b, 3, 4]) };

/**
 * For each recorded operation, a call that brings the simulator to the situation the recording
 * shows (a mapping with a filter and a KMS key, a function with reserved concurrency...).
 */
async function scenario(w: World): Promise<Record<string, () => Promise<unknown>>> {
  const api = w.sim.as(WL, REGION);
  const c = w.workload;
  const trust = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: ['ec2.amazonaws.com', 'lambda.amazonaws.com'] },
        Action: 'sts:AssumeRole',
      },
    ],
  });
  await api.iam.CreateRole({
    RoleName: 'test_role',
    AssumeRolePolicyDocument: trust,
    Description: 'fixture role',
    Tags: [{ Key: 'tag-key', Value: 'tag-value' }],
  });
  await api.iam.AttachRolePolicy({
    RoleName: 'test_role',
    PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
  });
  await api.iam.AttachRolePolicy({
    RoleName: 'test_role',
    PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
  });
  await api.iam.PutRolePolicy({
    RoleName: 'test_role',
    PolicyName: 'test_policy',
    PolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    }),
  });

  const roleArn = `arn:aws:iam::${WL}:role/test_role`;
  const vpcId = 'vpc-0a1b2c3d4e5f60718';
  const subnet = (await api.ec2.CreateSubnet({ VpcId: vpcId, CidrBlock: '10.0.1.0/24' })).Subnet!.SubnetId!;
  const web = (await api.ec2.CreateSecurityGroup({ GroupName: 'web-tier', Description: 'web', VpcId: vpcId }))
    .GroupId!;
  const eni = (await api.ec2.CreateNetworkInterface({ SubnetId: subnet, Groups: [web] })).NetworkInterface!
    .NetworkInterfaceId!;
  await api.lambda.CreateFunction({
    FunctionName: 'envcheck',
    Role: roleArn,
    Runtime: 'python3.12',
    Handler: 'index.handler',
    Code: ZIP,
  });
  await api.lambda.PutFunctionConcurrency({ FunctionName: 'envcheck', ReservedConcurrentExecutions: 10 });
  await api.lambda.CreateFunction({
    FunctionName: 'resource-fixer',
    Role: roleArn,
    Runtime: 'python3.12',
    Handler: 'index.handler',
    Code: ZIP,
    VpcConfig: { SubnetIds: [subnet], SecurityGroupIds: [web] },
  });
  const kmsKey = (await api.kms.CreateKey({})).KeyMetadata!.Arn!;
  const mapping = (
    await api.lambda.CreateEventSourceMapping({
      FunctionName: 'envcheck',
      EventSourceArn: `arn:aws:sqs:${REGION}:${WL}:my-c7n-test`,
      FilterCriteria: { Filters: [{ Pattern: '{"body": {"eventType": ["CreateUser"]}}' }] },
      KMSKeyArn: kmsKey,
    })
  ).UUID!;
  await api.events.CreateEventBus({ Name: 'my-event-bus' });
  await api.events.PutRule({ Name: 'rule-1', EventPattern: '{"source":["aws.autoscaling"]}' });

  const cp = w.factory.controlPlane();
  const unlocked = 'c7n-test-s3-bucket-bucket-key-disabled';
  await w.sim.as(CP, REGION).s3.CreateBucket({ Bucket: unlocked });

  return {
    'lambda.DeleteFunctionConcurrency': () =>
      c.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'envcheck' })),
    'lambda.GetEventSourceMapping': () => c.lambda.send(new GetEventSourceMappingCommand({ UUID: mapping })),
    'lambda.ListEventSourceMappings': () =>
      c.lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'envcheck' })),
    'lambda.GetFunction': async () => {
      await c.lambda.send(
        new PutFunctionConcurrencyCommand({ FunctionName: 'envcheck', ReservedConcurrentExecutions: 10 }),
      );
      return c.lambda.send(new GetFunctionCommand({ FunctionName: 'envcheck' }));
    },
    'lambda.PutFunctionConcurrency': () =>
      c.lambda.send(
        new PutFunctionConcurrencyCommand({ FunctionName: 'envcheck', ReservedConcurrentExecutions: 10 }),
      ),
    'lambda.UpdateFunctionConfiguration': () =>
      c.lambda.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: 'resource-fixer',
          VpcConfig: { SubnetIds: [subnet], SecurityGroupIds: [web, w.wl.isolationGroups[vpcId].open] },
        }),
      ),
    'lambda.GetFunctionConfiguration': () =>
      c.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'envcheck' })),
    'lambda.UpdateEventSourceMapping': async () => {
      await c.lambda.send(new GetEventSourceMappingCommand({ UUID: mapping }));
      await c.lambda.send(new GetEventSourceMappingCommand({ UUID: mapping }));
      return c.lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping, Enabled: false }));
    },
    'events.DescribeRule': () => c.events.send(new DescribeRuleCommand({ Name: 'rule-1' })),
    'events.DisableRule': () => c.events.send(new DisableRuleCommand({ Name: 'rule-1' })),
    'events.EnableRule': () => c.events.send(new EnableRuleCommand({ Name: 'rule-1' })),
    'events.ListEventBuses': () => c.events.send(new ListEventBusesCommand({})),
    'events.ListRules': () => c.events.send(new ListRulesCommand({})),
    'ec2.DescribeSecurityGroups': () =>
      c.ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }] }),
      ),
    'ec2.DescribeNetworkInterfaces': () =>
      c.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni] })),
    'ec2.ModifyNetworkInterfaceAttribute': () =>
      c.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Groups: [web] })),
    'iam.DetachRolePolicy': async () => {
      await w.sim.as(WL, REGION).iam.AttachRolePolicy({
        RoleName: 'test_role',
        PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3FullAccess',
      });
      return c.iam.send(
        new DetachRolePolicyCommand({
          RoleName: 'test_role',
          PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3FullAccess',
        }),
      );
    },
    'iam.GetRole': () => c.iam.send(new GetRoleCommand({ RoleName: 'test_role' })),
    'iam.ListAttachedRolePolicies': () =>
      c.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'test_role' })),
    'iam.ListRolePolicies': () => c.iam.send(new ListRolePoliciesCommand({ RoleName: 'test_role' })),
    'iam.DeleteRolePolicy': async () => {
      await w.sim.as(WL, REGION).iam.PutRolePolicy({
        RoleName: 'test_role',
        PolicyName: 'to_delete',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }],
        }),
      });
      return c.iam.send(new DeleteRolePolicyCommand({ RoleName: 'test_role', PolicyName: 'to_delete' }));
    },
    'iam.ListInstanceProfilesForRole': () =>
      c.iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: 'test_role' })),
    's3.GetObjectLockConfiguration': () =>
      cp.s3.send(new GetObjectLockConfigurationCommand({ Bucket: w.cp.auditBucketName })),
    's3.GetObjectLockConfiguration.error': () =>
      cp.s3.send(new GetObjectLockConfigurationCommand({ Bucket: unlocked })),
  };
}

/** Recorded operations the kill path does not use and the simulator deliberately does not model. */
const NOT_MODELLED = new Set(['iam.ListInstanceProfilesForRole']);

describe('recorded AWS responses', () => {
  const fixtures = loadFixtures();
  let w: World;
  let calls: Record<string, () => Promise<unknown>>;

  beforeAll(async () => {
    w = await world({ pageSize: 'aws' });
    calls = await scenario(w);
  });

  test('every recorded operation is modelled or explicitly listed as not modelled', () => {
    const missing = fixtures.filter((f) => !calls[f.key]).map((f) => f.file);
    expect(missing).toEqual([]);
    expect(fixtures.length).toBeGreaterThan(20);
  });

  test.each(
    loadFixtures()
      .filter((f) => f.status < 300)
      .map((f) => [f.file, f] as const),
  )('%s: the simulator answers the same members, value kinds and status', async (_file, fixture) => {
    if (NOT_MODELLED.has(fixture.key)) {
      const error = await rejection(calls[fixture.key]());
      expect(error.name).toBe('UnknownOperationException');
      expect(error.message).toMatch(/does not model iam:ListInstanceProfilesForRole/);
      return;
    }
    const output = (await calls[fixture.key]()) as Record<string, unknown> & {
      $metadata: { httpStatusCode: number };
    };
    const { $metadata, ...rest } = output;
    expect(differences(shapeOf(fixture.data), shapeOf(rest), fixture.key)).toEqual([]);
    expect($metadata.httpStatusCode).toBe(fixture.status);
  });

  test.each(
    loadFixtures()
      .filter((f) => f.status >= 300)
      .map((f) => [f.file, f] as const),
  )('%s: the simulator answers the recorded error code and status', async (_file, fixture) => {
    const error = await rejection(calls[`${fixture.key}.error`]());
    const recorded = fixture.data.Error as { Code: string; BucketName?: string };
    expect(error.name).toBe(recorded.Code);
    expect(error.$metadata?.httpStatusCode).toBe(fixture.status);
    expect(error.BucketName).toBe(recorded.BucketName);
  });
});
