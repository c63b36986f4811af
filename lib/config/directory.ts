import type { AgentTarget, Directory, WorkloadTarget } from '../../lambda/shared/types';
import type { AgentConfig, BackstopConfig } from './schema';

/**
 * Compiles the configuration into the {@link Directory} the kill path handlers read: every
 * workload account and region (one kill role each) and every agent with its declared surfaces.
 */
export function toDirectory(config: BackstopConfig): Directory {
  return {
    partition: config.partition,
    controlPlane: { accountId: config.controlPlane.accountId, region: config.controlPlane.region },
    workloads: workloadTargets(config),
    agents: config.agents.map((agent) => toAgentTarget(config, agent)),
    ...(config.agentRolePath ? { agentRolePath: config.agentRolePath } : {}),
    agentsPerBatch: config.killPath.agentsPerBatch,
  };
}

/** Every workload account and region, in the order the configuration declares them. */
export function workloadTargets(config: BackstopConfig): WorkloadTarget[] {
  return config.workloadAccounts.flatMap((account) =>
    account.regions.map((r) => ({ accountId: account.accountId, region: r.region })),
  );
}

/** The agents that run in one workload account and region. */
export function agentsIn(config: BackstopConfig, accountId: string, region: string): AgentConfig[] {
  return config.agents.filter((agent) => agent.accountId === accountId && agent.region === region);
}

/** The regions declared for one workload account. */
export function regionsOf(config: BackstopConfig, accountId: string): string[] {
  return config.workloadAccounts.find((a) => a.accountId === accountId)?.regions.map((r) => r.region) ?? [];
}

function toAgentTarget(config: BackstopConfig, agent: AgentConfig): AgentTarget {
  return {
    agentId: agent.id,
    accountId: agent.accountId,
    region: agent.region,
    partition: config.partition,
    roleArns: [...agent.roleArns],
    resourceArns: [...agent.resourceArns],
    highRiskActions: [...agent.highRiskActions],
    draftResources: [...agent.draftResources],
  };
}
