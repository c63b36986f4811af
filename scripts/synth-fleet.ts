/**
 * `npm run synth:fleet`: synthesizes the two fleets of issue 10 with bundling (the handlers, the
 * canary and the audit sealer built by esbuild, the directory a file of each bundle), into a
 * temporary directory, and prints how long each took and how close its largest template comes to
 * CloudFormation's limits. A speed figure, not a test: the tests check the limits without bundling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { parseConfig } from '../lib/config';
import type { CfnTemplate } from '../lib/local/engine';
import { addBackstopStacks } from '../lib/stacks/backstop-app';
import { AWS_LIMITS, checkTemplateLimits } from '../lib/stacks/limits';
import {
  type FleetConfigOptions,
  fleetConfigInput,
  QUARTER_THOUSAND_IN_ONE_REGION,
  THOUSAND_OVER_TEN_ACCOUNTS,
} from '../test/helpers/fleet-configs';

function synth(name: string, options: FleetConfigOptions): void {
  const outdir = mkdtempSync(join(tmpdir(), 'backstop-synth-fleet-'));
  try {
    const start = performance.now();
    const config = parseConfig(fleetConfigInput(options), '<fleet>');
    const app = new App({ outdir });
    addBackstopStacks(app, config);
    const assembly = app.synth();
    const seconds = (performance.now() - start) / 1000;
    let bytes = 0;
    let resources = 0;
    let findings = 0;
    for (const stack of assembly.stacks) {
      const checked = checkTemplateLimits(stack.stackName, stack.template as CfnTemplate, {
        accountId: stack.environment.account,
        region: stack.environment.region,
      });
      bytes = Math.max(bytes, checked.measures.templateBytes);
      resources = Math.max(resources, checked.measures.resources);
      findings += checked.findings.length;
    }
    process.stdout.write(
      `${name}: ${seconds.toFixed(1)} s, ${assembly.stacks.length} stacks, largest template ` +
        `${(bytes / 1024).toFixed(0)} KB of ${AWS_LIMITS.templateBytes / 1024} KB, most resources ` +
        `${resources} of ${AWS_LIMITS.resources}, ${findings} limit findings\n`,
    );
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

synth('1000 agents over 10 accounts', THOUSAND_OVER_TEN_ACCOUNTS);
synth('250 agents in one account and region', QUARTER_THOUSAND_IN_ONE_REGION);
