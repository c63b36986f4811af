import type { App } from 'aws-cdk-lib';
import { agentsIn, workloadTargets } from '../config/directory';
import type { BackstopConfig } from '../config/schema';
import { planAgentDenyPolicyStacks } from '../constructs/deny-policies';
import { ControlPlaneStack } from './control-plane-stack';
import { WorkloadAccountStack, WorkloadDenyPoliciesStack } from './workload-account-stack';

/** Name (and construct id) of the control plane stack. */
export const CONTROL_PLANE_STACK_NAME = 'Backstop-ControlPlane';

/** Name (and construct id) of the workload stack of one account and region. */
export function workloadStackName(accountId: string, region: string): string {
  return `Backstop-Workload-${accountId}-${region}`;
}

/**
 * Name of the n-th stack (from 2) of per-agent deny policies of one account and region, when they
 * outgrow the workload stack. It matches `Backstop-Workload-*` like the workload stack.
 */
export function workloadDenyPoliciesStackName(accountId: string, region: string, n: number): string {
  return `${workloadStackName(accountId, region)}-Denies-${n}`;
}

export interface BackstopStacks {
  readonly controlPlane: ControlPlaneStack;
  /** One per workload account and region, in config order. */
  readonly workloads: readonly WorkloadAccountStack[];
  /** Further per-agent deny policies of regions with many agents (none for most configs). */
  readonly denyPolicyStacks: readonly WorkloadDenyPoliciesStack[];
}

/**
 * Adds every Backstop stack of a configuration to an app: one control plane stack and one
 * workload stack per workload account and region. `bin/app.ts`, the tests and the local engine
 * all build the app through this function, so they synthesize the same thing.
 */
export function addBackstopStacks(app: App, config: BackstopConfig): BackstopStacks {
  const controlPlane = new ControlPlaneStack(app, CONTROL_PLANE_STACK_NAME, {
    stackName: CONTROL_PLANE_STACK_NAME,
    config,
  });
  const index = new Map(config.agents.map((agent, i) => [agent, i]));
  const workloads: WorkloadAccountStack[] = [];
  const denyPolicyStacks: WorkloadDenyPoliciesStack[] = [];
  for (const { accountId, region } of workloadTargets(config)) {
    const [first, ...more] = planAgentDenyPolicyStacks(
      agentsIn(config, accountId, region),
      region,
      (agent) => index.get(agent) ?? -1,
    );
    workloads.push(
      new WorkloadAccountStack(app, workloadStackName(accountId, region), {
        stackName: workloadStackName(accountId, region),
        config,
        accountId,
        region,
        denyPolicyAgents: first,
      }),
    );
    more.forEach((agents, i) => {
      const name = workloadDenyPoliciesStackName(accountId, region, i + 2);
      denyPolicyStacks.push(
        new WorkloadDenyPoliciesStack(app, name, { stackName: name, accountId, region, agents }),
      );
    });
  }
  return { controlPlane, workloads, denyPolicyStacks };
}
