import { App } from 'aws-cdk-lib';
import { type BackstopConfig, cdkContext } from '../config';
import { addBackstopStacks, CONTROL_PLANE_STACK_NAME } from '../stacks/backstop-app';
import type { CfnTemplate } from './engine';

export interface SynthesizedControlPlane {
  readonly stackName: string;
  readonly accountId: string;
  readonly region: string;
  readonly template: CfnTemplate;
}

/**
 * Synthesizes the app in-process, exactly as `cdk synth` would, and returns the control plane
 * stack's template. Lambda bundling is skipped: the local engine runs the handler sources.
 */
export function synthControlPlane(config: BackstopConfig): SynthesizedControlPlane {
  const key = JSON.stringify(config);
  const cached = cache.get(key);
  if (cached) return cached;
  const app = new App({ context: { ...cdkContext(), 'aws:cdk:bundling-stacks': [] } });
  addBackstopStacks(app, config);
  const assembly = app.synth();
  const stack = assembly.getStackByName(CONTROL_PLANE_STACK_NAME);
  const synthesized = {
    stackName: CONTROL_PLANE_STACK_NAME,
    accountId: config.controlPlane.accountId,
    region: config.controlPlane.region,
    template: stack.template as CfnTemplate,
  };
  cache.set(key, synthesized);
  return synthesized;
}

/** Synthesis is deterministic for a configuration: one per process is enough. */
const cache = new Map<string, SynthesizedControlPlane>();
