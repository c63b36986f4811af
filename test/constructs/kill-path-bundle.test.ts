/**
 * The one test that bundles the handlers for real (esbuild, no Docker): each deployed function
 * must carry the fleet directory as a file of its bundle, since it is neither in the function's
 * environment nor on the bundler's command line, and read it on first use, not at import.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { DIRECTORY_FILE, ENV } from '../../lambda/shared/env';
import { loadConfig } from '../../lib/config';
import { addBackstopStacks, CONTROL_PLANE_STACK_NAME } from '../../lib/stacks/backstop-app';

interface CfnFunction {
  Type: string;
  Properties: { Code?: { S3Key?: string }; Environment?: { Variables?: Record<string, unknown> } };
}

describe('kill path bundles', () => {
  it('run from the bundle with the directory as a file of it, read on first use, not at import', async () => {
    const app = new App();
    addBackstopStacks(app, loadConfig(join(__dirname, '..', '..', 'backstop.config.json')));
    const assembly = app.synth();
    const stack = assembly.getStackByName(CONTROL_PLANE_STACK_NAME);
    const functions = Object.values(stack.template.Resources as Record<string, CfnFunction>).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.[ENV.handler],
    );
    expect(functions.map((f) => f.Properties.Environment?.Variables?.[ENV.handler]).sort()).toEqual([
      'approval-endpoint',
      'kill-finalize',
      'kill-prepare',
      'kill-surface',
      'kill-verify',
      'restore-apply',
      'restore-await',
      'restore-finalize',
      'restore-prepare',
    ]);
    for (const f of functions) expect(f.Properties.Environment?.Variables).not.toHaveProperty(ENV.directory);

    const surfaceFn = functions.find(
      (f) => f.Properties.Environment?.Variables?.[ENV.handler] === 'kill-surface',
    );
    const assetHash = surfaceFn?.Properties.Code?.S3Key?.replace(/\.zip$/, '');
    const assetDir = join(assembly.directory, `asset.${assetHash}`);
    const bundle = join(assetDir, 'index.js');
    const directoryFile = join(assetDir, DIRECTORY_FILE);
    expect(
      (JSON.parse(readFileSync(directoryFile, 'utf8')) as { agents: { agentId: string }[] }).agents.map(
        (a) => a.agentId,
      ),
    ).toEqual(['support-bot', 'etl-agent', 'code-reviewer']);
    // Nothing of the directory is compiled into the code.
    expect(readFileSync(bundle, 'utf8')).not.toContain('support-bot-runtime');
    const saved = { ...process.env };
    try {
      Object.assign(process.env, {
        AWS_REGION: 'us-east-1',
        [ENV.tableName]: 'table',
        [ENV.auditBucketName]: 'bucket',
        [ENV.auditKmsKeyArn]: 'arn:aws:kms:us-east-1:111111111111:key/a',
        [ENV.manifestSigningKeyArn]: 'arn:aws:kms:us-east-1:111111111111:key/b',
        [ENV.topicArn]: 'arn:aws:sns:us-east-1:111111111111:t',
        [ENV.metricsNamespace]: 'Backstop',
      });
      delete process.env[ENV.directory];
      // Imported while the file is away: nothing is read at import time.
      renameSync(directoryFile, `${directoryFile}.away`);
      const { handler } = require(bundle) as { handler: (event: unknown) => Promise<unknown> };
      renameSync(`${directoryFile}.away`, directoryFile);
      expect(existsSync(directoryFile)).toBe(true);
      const event = (agentId: string) => ({
        incidentId: 'bundle-test',
        executionId: 'arn:aws:states:us-east-1:111111111111:execution:backstop-kill:bundle-test',
        mode: 'read_only',
        dryRun: false,
        requestedAt: '2026-11-22T00:00:00.000Z',
        agentId,
        surface: 'lambda',
      });
      // Both answers come from the bundled directory alone, without any AWS call: the sample
      // config's agent is known (and read_only leaves its functions alone), another is not. With
      // no directory the handler would have refused to start.
      expect(await handler(event('support-bot'))).toEqual(
        expect.objectContaining({ agentId: 'support-bot', surface: 'lambda', status: 'NOT_APPLICABLE' }),
      );
      expect(await handler(event('ghost'))).toEqual(
        expect.objectContaining({ status: 'FAILED', cause: 'agent ghost is not in the directory' }),
      );
    } finally {
      process.env = saved;
    }
  });
});
