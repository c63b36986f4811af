/**
 * `backstop canary --local` end to end: the CLI's own client factory pointed at the embedded
 * simulator under the kill worker's identity, the drill's deployment, the exit code and the words.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClientFactory } from '../../lambda/shared/clients';
import { killExecutionRoleName } from '../../lambda/shared/naming';
import { buildCli, EXIT } from '../../lib/cli';
import { createDrillWorld, type DrillWorld } from '../../lib/local/drill/run';
import { DRILL_CONFIG, DRILL_WORKLOAD } from '../../lib/local/drill/scenario';

const { accountId: W, region: R } = DRILL_WORKLOAD;
// Colour depends on the terminal (CI turns it on): assert on the words.
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'backstop-canary-'));
  writeFileSync(join(dir, 'backstop.config.json'), JSON.stringify(DRILL_CONFIG));
});

function cli(world: DrillWorld) {
  const out: string[] = [];
  const err: string[] = [];
  const { run } = buildCli({
    out: (t) => out.push(...plain(t).split('\n')),
    err: (t) => err.push(...plain(t).split('\n')),
    clients: (region) =>
      createClientFactory({
        region,
        plugins: [world.simulator.plugin()],
        credentials: world.simulator.credentialsFor(world.controlPlane.killWorkerRoleArn),
      }),
  });
  return {
    run: (...argv: string[]) => run([...argv, '--config', join(dir, 'backstop.config.json')]),
    out,
    err,
  };
}

describe('backstop canary', () => {
  it('--local on a healthy deployment: nothing would stop a kill, exit 0', async () => {
    const world = await createDrillWorld();
    const c = cli(world);
    expect(await c.run('canary', '--local')).toBe(EXIT.ok);
    expect(c.err).toEqual([]);
    expect(c.out.at(-1)).toMatch(
      new RegExp(`^${W}/${R}: 1 agent\\(s\\), \\d+ permission check\\(s\\): nothing would stop a kill$`),
    );
  });

  it('--local names the agent and the missing permission, fits 100 columns, and exits 2', async () => {
    const world = await createDrillWorld();
    await world.simulator.as(W, R).iam.PutRolePolicy({
      RoleName: killExecutionRoleName(R),
      PolicyName: 'deny-schedules',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Action: 'scheduler:UpdateSchedule', Resource: '*' }],
      }),
    });
    const c = cli(world);
    expect(await c.run('canary', '--local')).toBe(EXIT.notContained);
    const text = c.out.join('\n');
    expect(text).toContain(`${W}/${R}: 1 agent(s)`);
    expect(text).toContain('1 problem(s)');
    expect(text.replace(/\n\s+/g, ' ')).toContain(
      '- PARTIAL: agent support-bot: the kill role is not allowed scheduler:UpdateSchedule (explicitDeny)',
    );
    expect(c.out.every((l) => l.length <= 100)).toBe(true);
  });

  it('--local --json prints the reports for scripts', async () => {
    const world = await createDrillWorld();
    world.simulator.denyAction({ accountId: W, service: 'events', action: 'ListEventBuses' });
    const c = cli(world);
    expect(await c.run('canary', '--local', '--json')).toBe(EXIT.notContained);
    const reports = JSON.parse(c.out.join('\n')) as {
      accountId: string;
      findings: { kind: string; surface: string }[];
    }[];
    expect(reports).toEqual([
      expect.objectContaining({
        accountId: W,
        findings: [expect.objectContaining({ kind: 'SURFACE_UNREADABLE', surface: 'eventbridge-rules' })],
      }),
    ]);
  });

  it('without --local, or for an account it does not know, says what to do and exits 1', async () => {
    const world = await createDrillWorld();
    const bare = cli(world);
    expect(await bare.run('canary')).toBe(EXIT.error);
    expect(bare.err.join(' ')).toContain('To rehearse here, add --local.');
    expect([...bare.err, ...bare.out].every((l) => l.length <= 100)).toBe(true);
    const unknown = cli(world);
    expect(await unknown.run('canary', '--local', '--account', '999999999999')).toBe(EXIT.error);
    expect(unknown.err.join(' ')).toContain(
      `--account 999999999999: no workload account and region of the configuration matches (declared: ${W}/${R})`,
    );
    expect(world.simulator.calls.filter((call) => call.accountId === W)).toEqual([]);
  });
});
