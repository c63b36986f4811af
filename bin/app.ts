#!/usr/bin/env node
// CDK entry: load and validate the configuration, build the stacks, check them with cdk-nag.
// The configuration path comes from `-c config=<path>` (default backstop.config.json).
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from '../lib/config';
import { addBackstopStacks } from '../lib/stacks/backstop-app';

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
