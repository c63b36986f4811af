import type { BackstopConfigInput } from '../../config';
import type { Simulator } from '../simulator';

/**
 * The drill's fleet: one control plane, one workload account with a VPC, one sample agent. It is
 * built in code (not read from backstop.config.json) so that editing your own config never
 * breaks the drill.
 */
export const DRILL_CONTROL_PLANE = { accountId: '111111111111', region: 'us-east-1' } as const;
export const DRILL_WORKLOAD = {
  accountId: '222222222222',
  region: 'us-east-1',
  vpcId: 'vpc-0a1b2c3d4e5f67890',
} as const;
export const DRILL_AGENT = 'support-bot';

const { accountId: W, region: R, vpcId: VPC } = DRILL_WORKLOAD;
const fn = (name: string) => `arn:aws:lambda:${R}:${W}:function:${name}`;
const role = (name: string) => `arn:aws:iam::${W}:role/agents/${name}`;
const queue = (name: string) => `arn:aws:sqs:${R}:${W}:${name}`;

export const DRILL_CONFIG: BackstopConfigInput = {
  controlPlane: DRILL_CONTROL_PLANE,
  audit: { retentionDays: 365, mode: 'COMPLIANCE' },
  workloadAccounts: [{ accountId: W, regions: [{ region: R, vpcIds: [VPC] }] }],
  agents: [
    {
      id: DRILL_AGENT,
      accountId: W,
      region: R,
      roleArns: [role('support-bot-runtime')],
      // Declared functions: the kill role may disable the event source mappings of these only
      // (IAM cannot see a function's tags from its mapping).
      resourceArns: [
        fn('support-bot-tools'),
        fn('support-bot-planner'),
        fn('support-bot-inbox-worker'),
        queue('support-bot-inbox'),
      ],
      highRiskActions: ['iam:PassRole', 's3:DeleteObject', 'ses:SendEmail'],
      draftResources: ['arn:aws:s3:::support-bot-drafts/*'],
    },
  ],
  breakGlass: { principals: [`arn:aws:iam::${DRILL_CONTROL_PLANE.accountId}:user/oncall-alice`] },
  restore: {
    approvers: [
      `arn:aws:iam::${DRILL_CONTROL_PLANE.accountId}:user/oncall-alice`,
      `arn:aws:iam::${DRILL_CONTROL_PLANE.accountId}:user/oncall-bob`,
    ],
    quorum: 2,
  },
};

/** What the drill seeded, so the report can name it. */
export interface DrillInventory {
  readonly roles: string[];
  readonly functions: string[];
  readonly mappings: string[];
  readonly rules: string[];
  readonly schedules: string[];
  readonly networkInterfaces: string[];
  readonly executions: string[];
}

const AGENT_TAG = { Key: 'backstop:agent', Value: DRILL_AGENT };
const trustLambda = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
const allow = (actions: string[], resource = '*') =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: resource }],
  });

/**
 * Seeds the sample agent into a simulated workload account that already holds the Backstop
 * workload resources: three roles (one with three managed and two inline policies, one that runs
 * the schedule), three functions (one in a VPC), two SQS event source mappings, rules on the
 * default and a custom bus, a schedule, an EC2 network interface and a running state machine
 * execution.
 */
export async function seedDrillAgent(sim: Simulator, boundaryArn: string): Promise<DrillInventory> {
  const api = sim.as(W, R);

  const policies: string[] = [];
  for (const [name, actions] of [
    ['support-bot-crm-write', ['dynamodb:PutItem', 'dynamodb:UpdateItem']],
    ['support-bot-s3-read', ['s3:GetObject', 's3:ListBucket']],
    ['support-bot-queue-consume', ['sqs:ReceiveMessage', 'sqs:DeleteMessage']],
  ] as const) {
    const out = await api.iam.CreatePolicy({ PolicyName: name, PolicyDocument: allow([...actions]) });
    policies.push(out.Policy?.Arn as string);
  }
  const roles = ['support-bot-runtime', 'support-bot-tools-exec'];
  for (const name of roles) {
    await api.iam.CreateRole({
      RoleName: name,
      Path: '/agents/',
      AssumeRolePolicyDocument: trustLambda,
      PermissionsBoundary: boundaryArn,
      Tags: [AGENT_TAG],
    });
  }
  for (const arn of policies)
    await api.iam.AttachRolePolicy({ RoleName: 'support-bot-runtime', PolicyArn: arn });
  await api.iam.AttachRolePolicy({ RoleName: 'support-bot-tools-exec', PolicyArn: policies[1] });
  await api.iam.PutRolePolicy({
    RoleName: 'support-bot-runtime',
    PolicyName: 'tickets-write',
    PolicyDocument: allow(['dynamodb:PutItem'], `arn:aws:dynamodb:${R}:${W}:table/tickets`),
  });
  await api.iam.PutRolePolicy({
    RoleName: 'support-bot-runtime',
    PolicyName: 'email-send',
    PolicyDocument: allow(['ses:SendEmail']),
  });

  // Network: a subnet and an application security group in the declared VPC.
  const subnet = await api.ec2.CreateSubnet({ VpcId: VPC, CidrBlock: '10.0.1.0/24' });
  const subnetId = subnet.Subnet?.SubnetId as string;
  const appGroup = await api.ec2.CreateSecurityGroup({
    GroupName: 'support-bot-app',
    Description: 'support-bot application traffic',
    VpcId: VPC,
  });
  const appGroupId = appGroup.GroupId as string;

  const code = { ZipFile: Buffer.from('exports.handler = async () => ({});') };
  const functions = ['support-bot-tools', 'support-bot-planner', 'support-bot-inbox-worker'];
  await api.lambda.CreateFunction({
    FunctionName: 'support-bot-tools',
    Runtime: 'nodejs22.x',
    Handler: 'index.handler',
    Role: role('support-bot-tools-exec'),
    Code: code,
    VpcConfig: { SubnetIds: [subnetId], SecurityGroupIds: [appGroupId] },
  });
  for (const name of functions.slice(1)) {
    await api.lambda.CreateFunction({
      FunctionName: name,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Role: role('support-bot-runtime'),
      Code: code,
      Tags: { 'backstop:agent': DRILL_AGENT },
    });
  }
  await api.lambda.PutFunctionConcurrency({
    FunctionName: 'support-bot-planner',
    ReservedConcurrentExecutions: 25,
  });

  const mappings: string[] = [];
  for (const [source, target] of [
    ['support-bot-inbox', 'support-bot-inbox-worker'],
    ['support-bot-escalations', 'support-bot-planner'],
  ] as const) {
    const out = await api.lambda.CreateEventSourceMapping({
      EventSourceArn: queue(source),
      FunctionName: target,
      BatchSize: 10,
      Enabled: true,
    });
    mappings.push(out.UUID as string);
  }

  // Rules: one on the default bus found only by its target, one tagged on a custom bus.
  await api.events.CreateEventBus({ Name: 'support-events' });
  await api.events.PutRule({ Name: 'support-bot-nightly-digest', ScheduleExpression: 'cron(0 2 * * ? *)' });
  await api.events.PutTargets({
    Rule: 'support-bot-nightly-digest',
    Targets: [{ Id: 'planner', Arn: fn('support-bot-planner') }],
  });
  await api.events.PutRule({
    Name: 'support-bot-ticket-created',
    EventBusName: 'support-events',
    EventPattern: JSON.stringify({ source: ['crm'], 'detail-type': ['TicketCreated'] }),
    Tags: [AGENT_TAG],
  });
  await api.events.PutTargets({
    Rule: 'support-bot-ticket-created',
    EventBusName: 'support-events',
    Targets: [{ Id: 'worker', Arn: fn('support-bot-inbox-worker') }],
  });

  // The schedule's role is an agent role: the kill role may pass only agent roles to Scheduler.
  await api.iam.CreateRole({
    RoleName: 'support-bot-scheduler',
    Path: '/agents/',
    PermissionsBoundary: boundaryArn,
    Tags: [AGENT_TAG],
    AssumeRolePolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'scheduler.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    }),
  });
  await api.scheduler.CreateSchedule({
    Name: 'support-bot-hourly-sweep',
    ScheduleExpression: 'rate(1 hour)',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: fn('support-bot-tools'), RoleArn: role('support-bot-scheduler') },
    State: 'ENABLED',
  });

  const eni = await api.ec2.CreateNetworkInterface({
    SubnetId: subnetId,
    Groups: [appGroupId],
    Description: 'support-bot browser sandbox',
    TagSpecifications: [{ ResourceType: 'network-interface', Tags: [AGENT_TAG] }],
  });

  const machine = await api.states.CreateStateMachine({
    name: 'support-bot-orchestrator',
    roleArn: role('support-bot-runtime'),
    definition: JSON.stringify({
      StartAt: 'Work',
      States: { Work: { Type: 'Wait', Seconds: 86400, End: true } },
    }),
    tags: [{ key: 'backstop:agent', value: DRILL_AGENT }],
  });
  const execution = await api.states.StartExecution({
    stateMachineArn: machine.stateMachineArn,
    name: 'ticket-4711',
    input: JSON.stringify({ ticket: 4711 }),
  });

  return {
    roles: [...roles, 'support-bot-scheduler'],
    functions,
    mappings,
    rules: ['default/support-bot-nightly-digest', 'support-events/support-bot-ticket-created'],
    schedules: ['default/support-bot-hourly-sweep'],
    networkInterfaces: [eni.NetworkInterface?.NetworkInterfaceId as string],
    executions: [execution.executionArn as string],
  };
}
