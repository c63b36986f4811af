/**
 * The control plane of a thousand agents synthesized with its handlers bundled by esbuild, as
 * `cdk deploy` builds them: every function whose code reads the fleet directory carries it as a
 * file of its bundle. Passed on esbuild's command line instead (a `define`), the directory fails
 * synth at about 125 agents (E2BIG), which the other stack tests, synthesized without bundling,
 * never see.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { DIRECTORY_FILE } from '../../lambda/shared/env';
import type { Directory } from '../../lambda/shared/types';
import { parseConfig } from '../../lib/config';
import { addBackstopStacks, CONTROL_PLANE_STACK_NAME } from '../../lib/stacks/backstop-app';
import { fleetConfigInput, THOUSAND_OVER_TEN_ACCOUNTS } from '../helpers/fleet-configs';

let outdir: string;
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

it('bundles the directory as a file into every function that reads it, at a thousand agents', () => {
  outdir = mkdtempSync(join(tmpdir(), 'backstop-fleet-bundling-'));
  const config = parseConfig(fleetConfigInput(THOUSAND_OVER_TEN_ACCOUNTS), '<fleet>');
  // Only the control plane is bundled: the workload stacks hold no function that reads it.
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [CONTROL_PLANE_STACK_NAME] } });
  const { controlPlane } = addBackstopStacks(app, config);
  const template = app.synth().getStackByName(controlPlane.stackName).template as {
    Resources: Record<string, { Type: string; Properties?: { Code?: { S3Key?: unknown } } }>;
  };

  const bundles = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && typeof r.Properties?.Code?.S3Key === 'string')
    .map(([id, r]) => [id, join(outdir, `asset.${String(r.Properties?.Code?.S3Key).replace(/\.zip$/, '')}`)])
    .filter(([, dir]) => existsSync(join(dir as string, 'index.js')));
  const readers = bundles.filter(([, dir]) =>
    readFileSync(join(dir as string, 'index.js'), 'utf8').includes(DIRECTORY_FILE),
  );
  // The kill path's handlers, the restore path's, the approval endpoint, the canary, the sealer.
  expect(readers.length).toBeGreaterThanOrEqual(10);
  for (const [id, dir] of readers) {
    const file = join(dir as string, DIRECTORY_FILE);
    expect([id, existsSync(file)]).toEqual([id, true]);
    const directory = JSON.parse(readFileSync(file, 'utf8')) as Directory;
    expect([id, directory.agents.length]).toEqual([id, 1000]);
  }
}, 300_000);
