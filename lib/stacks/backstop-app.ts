import type { App } from 'aws-cdk-lib';
import { workloadTargets } from '../config/directory';
import type { BackstopConfig } from '../config/schema';
import { ControlPlaneStack } from './control-plane-stack';
import { WorkloadAccountStack } from './workload-account-stack';

/** Name (and construct id) of the control plane stack. */
export const CONTROL_PLANE_STACK_NAME = 'Backstop-ControlPlane';

/** Name (and construct id) of the workload stack of one account and region. */
export function workloadStackName(accountId: string, region: string): string {
  return `Backstop-Workload-${accountId}-${region}`;
}

export interface BackstopStacks {
  readonly controlPlane: ControlPlaneStack;
  /** One per workload account and region, in config order. */
  readonly workloads: readonly WorkloadAccountStack[];
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
  const workloads = workloadTargets(config).map(
    ({ accountId, region }) =>
      new WorkloadAccountStack(app, workloadStackName(accountId, region), {
        stackName: workloadStackName(accountId, region),
        config,
        accountId,
        region,
      }),
  );
  return { controlPlane, workloads };
}
