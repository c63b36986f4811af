import { lambdaFunctionArn } from '../../../lambda/shared/arn';
import { AGENT_TAG } from '../../../lambda/shared/naming';
import { MAX_AGENTS_PER_KILL } from '../../../lambda/shared/request';
import type { BackstopConfigInput } from '../../config';
import type { Simulator } from '../simulator';

/**
 * A fleet of identical agents for the benchmark (docs/design.md section 11), spread over workload
 * accounts the way platform teams group them: a small fleet in one account, a large one at a
 * fixed number of agents per account. Each agent is the shape of a typical worker agent:
 *
 * - one IAM role (tagged and declared) with two customer managed policies and one inline policy;
 * - two Lambda functions (tagged and declared): `tools` and `worker`;
 * - one SQS event source mapping on `worker`;
 * - one EventBridge rule on the default bus (tagged, and targeting `tools`);
 * - one Scheduler schedule in the default group targeting `tools`, run by the agent's role;
 * - one EC2 network interface (tagged) in the account's VPC.
 *
 * A full_stop kill of one agent changes 5 IAM policies, 2 concurrencies, 1 mapping, 1 rule,
 * 1 schedule and moves 1 interface twice.
 */

/** The control plane account and region of every benchmark fleet. */
export const FLEET_CONTROL_PLANE = { accountId: '111111111111', region: 'us-east-1' } as const;
/** Every workload account of a benchmark fleet runs its agents in this region. */
export const FLEET_REGION = 'us-east-1';
/** Agents per workload account once the fleet outgrows one account. @default */
export const DEFAULT_AGENTS_PER_ACCOUNT = 10;
/** Largest fleet the generator builds: one kill request holds at most this many agents (request.ts). */
export const MAX_FLEET_AGENTS = MAX_AGENTS_PER_KILL;

export interface FleetLayoutOptions {
  /** Number of agents, 1 to 10,000. */
  readonly agents: number;
  /** Agents per workload account. @default 10 */
  readonly agentsPerAccount?: number;
}

export interface FleetAccount {
  readonly accountId: string;
  readonly vpcId: string;
  /** Agent ids in this account, in fleet order. */
  readonly agentIds: readonly string[];
}

export interface FleetAgent {
  readonly agentId: string;
  readonly accountId: string;
  readonly region: string;
  readonly vpcId: string;
  readonly roleName: string;
  readonly roleArn: string;
  readonly managedPolicyNames: readonly [string, string];
  readonly inlinePolicyName: string;
  readonly functionNames: { readonly tools: string; readonly worker: string };
  readonly queueArn: string;
  readonly ruleName: string;
  readonly scheduleName: string;
}

export interface FleetLayout {
  readonly accounts: readonly FleetAccount[];
  /** Every agent, grouped by account in account order (the order of the config and of a kill request). */
  readonly agents: readonly FleetAgent[];
}

const ROLE_PATH = '/agents/';

/** `agent-0001`... : zero-padded so ids sort in fleet order. */
export function fleetAgentId(index: number): string {
  return `agent-${String(index + 1).padStart(4, '0')}`;
}

/** Workload account ids 200000000001, 200000000002... */
export function fleetAccountId(index: number): string {
  return `2${String(index + 1).padStart(11, '0')}`;
}

function fleetVpcId(index: number): string {
  return `vpc-0b${(index + 1).toString(16).padStart(15, '0')}`;
}

/** Where each agent of a fleet of `agents` lives. Bad sizes are refused with the reason. */
export function fleetLayout(options: FleetLayoutOptions): FleetLayout {
  const { agents } = options;
  const perAccount = options.agentsPerAccount ?? DEFAULT_AGENTS_PER_ACCOUNT;
  if (!Number.isInteger(agents) || agents < 1 || agents > MAX_FLEET_AGENTS) {
    throw new Error(`fleet size must be a whole number from 1 to ${MAX_FLEET_AGENTS}, got ${agents}`);
  }
  if (!Number.isInteger(perAccount) || perAccount < 1) {
    throw new Error(`agentsPerAccount must be a whole number of at least 1, got ${perAccount}`);
  }
  const accounts: FleetAccount[] = [];
  const list: FleetAgent[] = [];
  const accountCount = Math.ceil(agents / perAccount);
  for (let a = 0; a < accountCount; a++) {
    const accountId = fleetAccountId(a);
    const vpcId = fleetVpcId(a);
    const ids: string[] = [];
    for (let i = a * perAccount; i < Math.min(agents, (a + 1) * perAccount); i++) {
      const agentId = fleetAgentId(i);
      ids.push(agentId);
      list.push(fleetAgent(agentId, accountId, vpcId));
    }
    accounts.push({ accountId, vpcId, agentIds: ids });
  }
  return { accounts, agents: list };
}

function fleetAgent(agentId: string, accountId: string, vpcId: string): FleetAgent {
  return {
    agentId,
    accountId,
    region: FLEET_REGION,
    vpcId,
    roleName: `${agentId}-runtime`,
    roleArn: `arn:aws:iam::${accountId}:role${ROLE_PATH}${agentId}-runtime`,
    managedPolicyNames: [`${agentId}-data-read`, `${agentId}-queue-consume`],
    inlinePolicyName: 'tickets-write',
    functionNames: { tools: `${agentId}-tools`, worker: `${agentId}-worker` },
    queueArn: `arn:aws:sqs:${FLEET_REGION}:${accountId}:${agentId}-inbox`,
    ruleName: `${agentId}-nightly`,
    scheduleName: `${agentId}-hourly`,
  };
}

/** The warm-up agent's account: apart from every fleet account, so it drains none of their quotas. */
export const WARM_UP_ACCOUNT_ID = '299999999999';

/** Warm-up kills before the measured one: enough for V8 to have optimized the code paths of a kill. */
export const WARM_UP_KILLS = 3;

/**
 * Agents of the fleet's shape in an account of their own, each killed once before the measured
 * kill (measure.ts): the first kills in a process pay for compiling and optimizing the SDK, the
 * handlers and the engine, which is this process's cost, not AWS's.
 */
export function warmUpLayout(agents = WARM_UP_KILLS): FleetLayout {
  const vpcId = fleetVpcId(0xfffff);
  const list = Array.from({ length: agents }, (_, i) =>
    fleetAgent(`warm-up-${i + 1}`, WARM_UP_ACCOUNT_ID, vpcId),
  );
  return {
    accounts: [{ accountId: WARM_UP_ACCOUNT_ID, vpcId, agentIds: list.map((a) => a.agentId) }],
    agents: list,
  };
}

function functionArn(agent: FleetAgent, name: string): string {
  return lambdaFunctionArn('aws', agent.region, agent.accountId, name);
}

/**
 * The fleet's backstop.config.json, to be read with `parseConfig`: every workload account with its
 * VPC, every agent with its role and its functions and queue declared (the kill role may disable
 * the event source mappings of declared functions only).
 */
export function fleetConfig(layout: FleetLayout): BackstopConfigInput {
  const cp = FLEET_CONTROL_PLANE.accountId;
  return {
    controlPlane: FLEET_CONTROL_PLANE,
    audit: { retentionDays: 365, mode: 'COMPLIANCE' },
    workloadAccounts: layout.accounts.map((a) => ({
      accountId: a.accountId,
      regions: [{ region: FLEET_REGION, vpcIds: [a.vpcId] }],
    })),
    agents: layout.agents.map((agent) => ({
      id: agent.agentId,
      accountId: agent.accountId,
      region: agent.region,
      roleArns: [agent.roleArn],
      resourceArns: [
        functionArn(agent, agent.functionNames.tools),
        functionArn(agent, agent.functionNames.worker),
        agent.queueArn,
      ],
      highRiskActions: ['iam:PassRole', 's3:DeleteObject'],
      draftResources: [`arn:aws:s3:::${agent.agentId}-drafts/*`],
    })),
    breakGlass: { principals: [`arn:aws:iam::${cp}:user/oncall-alice`] },
    restore: {
      approvers: [`arn:aws:iam::${cp}:user/oncall-alice`, `arn:aws:iam::${cp}:user/oncall-bob`],
      quorum: 2,
    },
  };
}

/** What was seeded for one agent, to inspect after a kill. */
export interface FleetAgentInventory {
  readonly agentId: string;
  readonly accountId: string;
  readonly roleName: string;
  readonly functionNames: readonly string[];
  readonly mappingUuids: readonly string[];
  readonly ruleNames: readonly string[];
  readonly scheduleNames: readonly string[];
  readonly networkInterfaceIds: readonly string[];
}

const trust = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: ['lambda.amazonaws.com', 'scheduler.amazonaws.com'] },
      Action: 'sts:AssumeRole',
    },
  ],
});
const allow = (actions: string[], resource = '*') =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: resource }],
  });

/**
 * Seeds the agents of one workload account into a simulator that already holds the account's
 * Backstop workload resources (`seedBackstopWorkload`, which also creates the VPC).
 */
export async function seedFleetAccount(
  sim: Simulator,
  account: FleetAccount,
  agents: readonly FleetAgent[],
  boundaryArn: string,
): Promise<FleetAgentInventory[]> {
  const api = sim.as(account.accountId, FLEET_REGION);
  const subnet = await api.ec2.CreateSubnet({ VpcId: account.vpcId, CidrBlock: '10.0.1.0/24' });
  const subnetId = subnet.Subnet?.SubnetId as string;
  const appGroup = await api.ec2.CreateSecurityGroup({
    GroupName: 'agents-app',
    Description: 'agent application traffic',
    VpcId: account.vpcId,
  });
  const appGroupId = appGroup.GroupId as string;
  const code = { ZipFile: Buffer.from('exports.handler = async () => ({});') };

  const out: FleetAgentInventory[] = [];
  for (const agent of agents) {
    const tag = { Key: AGENT_TAG, Value: agent.agentId };
    await api.iam.CreateRole({
      RoleName: agent.roleName,
      Path: ROLE_PATH,
      AssumeRolePolicyDocument: trust,
      PermissionsBoundary: boundaryArn,
      Tags: [tag],
    });
    const [dataRead, queueConsume] = agent.managedPolicyNames;
    for (const [name, actions] of [
      [dataRead, ['s3:GetObject', 's3:ListBucket']],
      [queueConsume, ['sqs:ReceiveMessage', 'sqs:DeleteMessage']],
    ] as const) {
      const policy = await api.iam.CreatePolicy({ PolicyName: name, PolicyDocument: allow([...actions]) });
      await api.iam.AttachRolePolicy({ RoleName: agent.roleName, PolicyArn: policy.Policy?.Arn as string });
    }
    await api.iam.PutRolePolicy({
      RoleName: agent.roleName,
      PolicyName: agent.inlinePolicyName,
      PolicyDocument: allow(
        ['dynamodb:PutItem'],
        `arn:aws:dynamodb:${FLEET_REGION}:${agent.accountId}:table/tickets`,
      ),
    });

    const { tools, worker } = agent.functionNames;
    for (const name of [tools, worker]) {
      await api.lambda.CreateFunction({
        FunctionName: name,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: agent.roleArn,
        Code: code,
        Tags: { [AGENT_TAG]: agent.agentId },
      });
    }
    await api.lambda.PutFunctionConcurrency({ FunctionName: tools, ReservedConcurrentExecutions: 5 });
    const mapping = await api.lambda.CreateEventSourceMapping({
      EventSourceArn: agent.queueArn,
      FunctionName: worker,
      BatchSize: 10,
      Enabled: true,
    });

    await api.events.PutRule({
      Name: agent.ruleName,
      ScheduleExpression: 'cron(0 2 * * ? *)',
      Tags: [tag],
    });
    await api.events.PutTargets({
      Rule: agent.ruleName,
      Targets: [{ Id: 'tools', Arn: functionArn(agent, tools) }],
    });
    await api.scheduler.CreateSchedule({
      Name: agent.scheduleName,
      ScheduleExpression: 'rate(1 hour)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: functionArn(agent, tools), RoleArn: agent.roleArn },
      State: 'ENABLED',
    });
    const eni = await api.ec2.CreateNetworkInterface({
      SubnetId: subnetId,
      Groups: [appGroupId],
      Description: `${agent.agentId} browser sandbox`,
      TagSpecifications: [{ ResourceType: 'network-interface', Tags: [tag] }],
    });

    out.push({
      agentId: agent.agentId,
      accountId: agent.accountId,
      roleName: agent.roleName,
      functionNames: [tools, worker],
      mappingUuids: [mapping.UUID as string],
      ruleNames: [agent.ruleName],
      scheduleNames: [agent.scheduleName],
      networkInterfaceIds: [eni.NetworkInterface?.NetworkInterfaceId as string],
    });
  }
  return out;
}
