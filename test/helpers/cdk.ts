/**
 * Synthesizes Backstop's stacks for tests, the way bin/app.ts does (same `addBackstopStacks`),
 * without bundling (no Lambda asset is built) and without reaching the network.
 */
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  type BackstopConfig,
  type BackstopConfigInput,
  cdkContext,
  loadConfig,
  parseConfig,
} from '../../lib/config';
import { addBackstopStacks } from '../../lib/stacks/backstop-app';
import type { ControlPlaneStack } from '../../lib/stacks/control-plane-stack';
import type { WorkloadAccountStack } from '../../lib/stacks/workload-account-stack';

/** Path of the sample configuration shipped in the repository. */
export const SAMPLE_CONFIG_PATH = join(__dirname, '..', '..', 'backstop.config.json');

/** The sample configuration, validated. */
export function sampleConfig(): BackstopConfig {
  return loadConfig(SAMPLE_CONFIG_PATH);
}

/** The sample configuration as written in the file, to start variations from. */
export function sampleConfigInput(): BackstopConfigInput {
  return JSON.parse(JSON.stringify(sampleConfig())) as BackstopConfigInput;
}

/** A variation of the sample configuration, validated: `change` edits a deep copy of the sample. */
export function configWith(change: (input: BackstopConfigInput) => void): BackstopConfig {
  const input = sampleConfigInput();
  change(input);
  return parseConfig(input, '<test>');
}

/** An App that skips asset bundling (`aws:cdk:bundling-stacks: []`). */
export function newTestApp(): App {
  return new App({ context: { ...cdkContext(), 'aws:cdk:bundling-stacks': [] } });
}

export interface SynthesizedBackstop {
  readonly app: App;
  readonly config: BackstopConfig;
  readonly controlPlane: ControlPlaneStack;
  readonly workloads: readonly WorkloadAccountStack[];
  /** The control plane template (synthesized once, on first use). */
  controlPlaneTemplate(): Template;
  /** The workload stack of one account and region; throws when it does not exist. */
  workload(accountId: string, region: string): WorkloadAccountStack;
  /** The template of one workload stack (synthesized once, on first use). */
  workloadTemplate(accountId: string, region: string): Template;
}

/** Builds every stack of `config` (the sample configuration by default) in a fresh test app. */
export function synthStacks(config: BackstopConfig = sampleConfig()): SynthesizedBackstop {
  const app = newTestApp();
  const { controlPlane, workloads } = addBackstopStacks(app, config);
  const templates = new Map<string, Template>();
  const cached = (key: string, make: () => Template) => {
    let template = templates.get(key);
    if (!template) {
      template = make();
      templates.set(key, template);
    }
    return template;
  };
  const workload = (accountId: string, region: string) => {
    const stack = workloads.find((w) => w.account === accountId && w.region === region);
    if (!stack) throw new Error(`synthStacks: no workload stack for ${accountId} ${region}`);
    return stack;
  };
  return {
    app,
    config,
    controlPlane,
    workloads,
    controlPlaneTemplate: () => cached('control-plane', () => Template.fromStack(controlPlane)),
    workload,
    workloadTemplate: (accountId, region) =>
      cached(`${accountId}|${region}`, () => Template.fromStack(workload(accountId, region))),
  };
}
