#!/usr/bin/env node
// CDK entry: load and validate the configuration, build the stacks, check them with cdk-nag.
// The configuration path comes from `-c config=<path>` (default backstop.config.json).
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from '../lib/config';
import { addBackstopStacks } from '../lib/stacks/backstop-app';

// aws-cdk-lib announces every Lambda bundle on stderr ("Bundling asset <path>..."), with no setting
// to turn it off; `cdk synth -q` should print errors only, so that one line is dropped here.
const writeErr = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
  typeof chunk === 'string' && /^Bundling asset \S+\.\.\.\n?$/.test(chunk)
    ? true
    : (writeErr as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest)) as typeof process.stderr.write;

const app = new App();
try {
  const config = loadConfig(app.node.tryGetContext('config') ?? DEFAULT_CONFIG_PATH);
  addBackstopStacks(app, config);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
