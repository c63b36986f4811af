/**
 * The CLI's --local path and its read commands, end to end: the physical names come only from a
 * `cdk deploy --outputs-file` file (as against a real endpoint), and the accounts are the embedded
 * simulator, reached through the same client factory the CLI uses.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClientFactory } from '../../lambda/shared/clients';
import { buildCli, EXIT } from '../../lib/cli';
import { stripAnsi } from '../../lib/cli/text';
import { createDrillWorld, type DrillWorld } from '../../lib/local/drill/run';
import { DRILL_AGENT, DRILL_CONFIG } from '../../lib/local/drill/scenario';
import { stackOutputsOf } from '../../lib/local/simulator';

let world: DrillWorld;
let dir: string;

beforeAll(async () => {
  world = await createDrillWorld();
  dir = mkdtempSync(join(tmpdir(), 'backstop-cli-'));
  const cp = world.controlPlane;
  writeFileSync(join(dir, 'backstop.config.json'), JSON.stringify(DRILL_CONFIG));
  writeFileSync(
    join(dir, 'cdk-outputs.json'),
    JSON.stringify({
      'Backstop-ControlPlane': {
        ...stackOutputsOf(cp),
        KillStateMachineArn: 'arn:aws:states:us-east-1:111111111111:stateMachine:backstop-kill',
      },
    }),
  );
});

function cli() {
  const out: string[] = [];
  const err: string[] = [];
  const { run } = buildCli({
    // Colour depends on the terminal (and on CI=true): the text is what is asserted.
    out: (t) => out.push(stripAnsi(t)),
    err: (t) => err.push(stripAnsi(t)),
    clients: (region) =>
      createClientFactory({
        region,
        plugins: [world.simulator.plugin()],
        credentials: world.simulator.credentialsFor(world.controlPlane.killWorkerRoleArn),
      }),
  });
  const files = ['--config', join(dir, 'backstop.config.json'), '--outputs', join(dir, 'cdk-outputs.json')];
  return { run: (...argv: string[]) => run([...argv, ...files]), out, err };
}

describe('backstop --local with an outputs file', () => {
  it('plans, kills, shows the mode and verifies the audit log of the kill', async () => {
    const plan = cli();
    expect(await plan.run('plan', DRILL_AGENT, '--local', '--json')).toBe(EXIT.ok);
    const planned = JSON.parse(plan.out.join('\n'));
    expect(planned.result.status).toBe('PLANNED');
    expect(planned.complete).toBe(true);
    expect(planned.agents[0].controlFlag).toEqual({ now: 'normal', after: 'full_stop' });
    expect(
      Object.fromEntries(
        planned.agents[0].surfaces.map((s: { surface: string; actions: unknown[] }) => [
          s.surface,
          s.actions.length,
        ]),
      ),
    ).toEqual({
      iam: 8,
      lambda: 3,
      'event-source-mappings': 2,
      'eventbridge-rules': 2,
      schedules: 1,
      executions: 1,
      network: 2,
    });
    expect(
      world.simulator.lambda.reservedConcurrency('222222222222', 'us-east-1', 'support-bot-planner'),
    ).toBe(25);

    const text = cli();
    expect(await text.run('plan', DRILL_AGENT, '--local', '--mode', 'read_only')).toBe(EXIT.ok);
    const shown = text.out.join('\n').replace(/\s+/g, ' ');
    expect(shown).toMatch(/a read_only kill sets the control flag normal -> read_only first/);
    expect(shown).toMatch(
      /It leaves running: 3 Lambda functions, 2 event source mappings, 2 EventBridge rules, 1 Scheduler schedule, 1 running execution, 2 network resources/,
    );

    // Who: agent ids or --account, one of the two, checked before any call.
    for (const [argv, message] of [
      [['kill', DRILL_AGENT, '--account', '222222222222'], /give one or the other, not both/],
      [['kill'], /name the agent\(s\) to cut, or give --account <id>/],
      [['kill', '--account', '2222'], /--account "2222": a 12-digit AWS account id/],
      [['kill', '--account', '999999999999'], /--account 999999999999: no agent of that account/],
    ] as const) {
      const wrong = cli();
      expect(await wrong.run(...argv, '--local', '--mode', 'full_stop', '--reason', 'r')).toBe(EXIT.error);
      expect(wrong.err.join(' ')).toMatch(message);
    }
    expect(
      world.simulator.lambda.reservedConcurrency('222222222222', 'us-east-1', 'support-bot-planner'),
    ).not.toBe(0);

    // Every agent of the account (the drill's has one): the kill path expands the account itself.
    const kill = cli();
    const code = await kill.run(
      'kill',
      '--account',
      '222222222222',
      '--local',
      '--mode',
      'full_stop',
      '--reason',
      'cli test',
      '--incident',
      'cli-inc-1',
      '--json',
    );
    expect(kill.err).toEqual([]);
    expect(code).toBe(EXIT.ok);
    expect(JSON.parse(kill.out.join('\n')).result).toEqual(
      expect.objectContaining({ incidentId: 'cli-inc-1', status: 'CONTAINED' }),
    );
    expect(
      world.simulator.lambda.reservedConcurrency('222222222222', 'us-east-1', 'support-bot-planner'),
    ).toBe(0);

    const status = cli();
    expect(await status.run('status', DRILL_AGENT, '--json')).toBe(EXIT.ok);
    expect(JSON.parse(status.out.join('\n'))).toEqual([
      expect.objectContaining({ agentId: DRILL_AGENT, mode: 'full_stop', incidentId: 'cli-inc-1' }),
    ]);

    const typo = cli();
    expect(await typo.run('status', 'support-bt')).toBe(EXIT.error);
    expect(typo.err.join(' ')).toMatch(/unknown agent "support-bt".*Did you mean\s+support-bot\?/);

    const audit = cli();
    expect(await audit.run('audit', 'verify', '--incident', 'cli-inc-1', '--json')).toBe(EXIT.ok);
    expect(JSON.parse(audit.out.join('\n'))).toEqual(expect.objectContaining({ ok: true }));
  });
});
