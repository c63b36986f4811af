import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { WorkloadClients } from '../../../lambda/shared/clients';
import type { AgentTarget } from '../../../lambda/shared/types';
import type { SurfaceContext } from '../../../lambda/surfaces/types';

/** The account the recorded fixtures were made in (rewritten by the recorder). */
export const ACCOUNT = '644160558196';
export const KILL_STARTED_AT = new Date('2025-07-24T12:00:00.000Z');

export function agent(overrides: Partial<AgentTarget> = {}): AgentTarget {
  return {
    agentId: 'billing-agent',
    accountId: ACCOUNT,
    region: 'us-east-1',
    partition: 'aws',
    roleArns: [],
    resourceArns: [],
    highRiskActions: [],
    draftResources: [],
    ...overrides,
  };
}

/** Real SDK clients (static fake credentials): aws-sdk-client-mock replaces their `send`. */
export function workloadClients(): WorkloadClients {
  const config = {
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAFAKEFAKEFAKEFAKE', secretAccessKey: 'fake-secret-key' },
  };
  return {
    iam: new IAMClient(config),
    lambda: new LambdaClient(config),
    events: new EventBridgeClient(config),
    scheduler: new SchedulerClient(config),
    ec2: new EC2Client(config),
    sfn: new SFNClient(config),
    tagging: new ResourceGroupsTaggingAPIClient(config),
  };
}

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly extra?: Record<string, unknown>;
}

export function context(
  overrides: { agent?: AgentTarget; killStartedAt?: Date; now?: Date } = {},
): SurfaceContext & { readonly logs: LogLine[] } {
  const logs: LogLine[] = [];
  const now = overrides.now ?? new Date(KILL_STARTED_AT.getTime() + 1000);
  return {
    agent: overrides.agent ?? agent(),
    incidentId: 'inc-20250724-0001',
    killStartedAt: overrides.killStartedAt ?? KILL_STARTED_AT,
    clients: workloadClients(),
    clock: () => now,
    sleep: async () => {},
    log: {
      info: (message, extra) => logs.push({ level: 'info', message, extra }),
      warn: (message, extra) => logs.push({ level: 'warn', message, extra }),
      error: (message, extra) => logs.push({ level: 'error', message, extra }),
    },
    logs,
  };
}

/** Every command a mocked client received, in order, as `[name, input]` (name without `Command`). */
export function sentCommands(mock: { calls(): { args: unknown[] }[] }): [string, Record<string, unknown>][] {
  return mock.calls().map((call) => {
    const command = call.args[0] as { constructor: { name: string }; input: Record<string, unknown> };
    return [command.constructor.name.replace(/Command$/, ''), command.input];
  });
}

/** A Resource Groups Tagging API GetResources page listing `arns` as tagged for the agent. */
export function taggedPage(arns: readonly string[], agentId = 'billing-agent', next = '') {
  return {
    ResourceTagMappingList: arns.map((ResourceARN) => ({
      ResourceARN,
      Tags: [{ Key: 'backstop:agent', Value: agentId }],
    })),
    PaginationToken: next,
    $metadata: { httpStatusCode: 200 },
  };
}
