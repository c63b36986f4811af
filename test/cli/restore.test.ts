/**
 * `backstop restore | approve | reject --local` end to end on the embedded simulator: the names
 * come only from an outputs file, every person is the identity STS reports for their credentials,
 * and the exit code is 0 only when the restore completed or the decision was accepted. Wrong input
 * is said at once, naming the option, and calls nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClientFactory } from '../../lambda/shared/clients';
import { restoreExecutionRoleName } from '../../lambda/shared/naming';
import { buildCli, EXIT } from '../../lib/cli';
import { executionRoleTrustPolicy, stackOutputsOf } from '../../lib/local/simulator';
import { DRILL_CONFIG } from '../../lib/local/drill/scenario';
import { AGENT, ALICE, BOB, CAROL, CP, type KilledWorld, killedWorld, R, W } from '../local/restore-support';

let k: KilledWorld;
let dir: string;

beforeAll(async () => {
  k = await killedWorld();
  dir = mkdtempSync(join(tmpdir(), 'backstop-cli-restore-'));
  writeFileSync(join(dir, 'backstop.config.json'), JSON.stringify(DRILL_CONFIG));
  writeFileSync(
    join(dir, 'cdk-outputs.json'),
    JSON.stringify({
      'Backstop-ControlPlane': {
        ...stackOutputsOf(k.world.controlPlane),
        KillStateMachineArn: `arn:aws:states:${R}:${CP}:stateMachine:backstop-kill`,
      },
    }),
  );
  // `restore --local` runs the restore path with the caller's own credentials: at this endpoint the
  // person asking may also assume the workload restore role (as the restore worker does in AWS).
  await k.world.simulator.as(W, R).iam.UpdateAssumeRolePolicy({
    RoleName: restoreExecutionRoleName(R),
    PolicyDocument: executionRoleTrustPolicy('aws', CP, ALICE),
  });
});

/** The CLI with `person`'s credentials at the simulator's endpoint. */
function cli(person: string) {
  const out: string[] = [];
  const err: string[] = [];
  const { run } = buildCli({
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    clients: (region) =>
      createClientFactory({
        region,
        plugins: [k.world.simulator.plugin()],
        credentials: k.world.simulator.credentialsFor(person),
      }),
  });
  const files = ['--config', join(dir, 'backstop.config.json'), '--outputs', join(dir, 'cdk-outputs.json')];
  return {
    run: (...argv: string[]) => run([...argv, ...files]),
    out,
    err,
    text: () => [...out, ...err].join('\n'),
  };
}

async function until<T>(read: () => T | undefined): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const value = read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('never happened');
}

describe('backstop restore, approve, reject --local', () => {
  it('restores after two approvals: restoreId first on stderr, refusals exit 2, status lists the pending restore', async () => {
    const asker = cli(ALICE);
    const restoring = asker.run(
      'restore',
      AGENT,
      '--local',
      '--incident',
      k.incidentId,
      '--to-mode',
      'normal',
      '--reason',
      'cli test: incident understood',
      '--json',
      '--poll',
      '10',
    );
    const restoreId = await until(() => {
      const line = asker.err[0];
      return line ? (JSON.parse(line) as { restoreId: string }).restoreId : undefined;
    });
    expect(asker.err[0]).toBe(JSON.stringify({ restoreId }));

    // The restore path stores its task token a moment after the request: approvals before that are
    // refused as NOT_WAITING, so wait until status says it waits.
    for (let i = 0; i < 400; i++) {
      const s = cli(BOB);
      await s.run('status', AGENT, '--json');
      const rows = JSON.parse(s.out.join('\n')) as { restore: { status: string } | null }[];
      if (rows[0]?.restore?.status === 'AWAITING_APPROVAL') break;
      await new Promise((r) => setTimeout(r, 10));
    }

    const alice = cli(ALICE);
    expect(await alice.run('approve', restoreId, '--local')).toBe(EXIT.notContained);
    expect(alice.text()).toMatch(/refused \(REQUESTER\)/);

    const bob = cli(BOB);
    expect(await bob.run('approve', restoreId, '--local', '--reason', 'looked at it')).toBe(EXIT.ok);
    expect(bob.text()).toMatch(/approve .*: accepted[\s\S]*approvals 1 of 2/);
    const twice = cli(BOB);
    expect(await twice.run('approve', restoreId, '--local')).toBe(EXIT.notContained);
    expect(twice.text()).toMatch(/ALREADY_APPROVED/);

    const status = cli(CAROL);
    expect(await status.run('status', AGENT)).toBe(EXIT.ok);
    const shown = status.out.join('\n');
    expect(shown).toMatch(/pending restore/);
    expect(shown).toMatch(/AWAITING_APPROVAL/);
    expect(shown).toMatch(/1 of 2/);
    for (const line of shown.split('\n')) expect(line.length).toBeLessThanOrEqual(100);

    const carol = cli(CAROL);
    expect(await carol.run('approve', restoreId, '--local', '--json')).toBe(EXIT.ok);
    expect(JSON.parse(carol.out.join('\n'))).toEqual(
      expect.objectContaining({ accepted: true, status: 'APPROVED', approvals: 2 }),
    );

    expect(await restoring).toBe(EXIT.ok);
    expect(JSON.parse(asker.out.join('\n'))).toEqual(
      expect.objectContaining({ restoreId, status: 'COMPLETED', toMode: 'normal' }),
    );
    expect(k.world.simulator.lambda.reservedConcurrency(W, R, 'support-bot-planner')).toBe(25);

    const after = cli(BOB);
    expect(await after.run('status', AGENT, '--json')).toBe(EXIT.ok);
    expect(JSON.parse(after.out.join('\n'))).toEqual([
      expect.objectContaining({ agentId: AGENT, mode: 'normal', restore: null }),
    ]);
    const late = cli(CAROL);
    expect(await late.run('reject', restoreId, '--local', '--reason', 'too late')).toBe(EXIT.notContained);
    expect(late.text()).toMatch(/ALREADY_DECIDED/);
  });

  it('a restore of an agent with no recorded kill is refused, exit 2, and nothing starts', async () => {
    const c = cli(ALICE);
    const code = await c.run(
      'restore',
      AGENT,
      '--local',
      '--incident',
      'never-killed',
      '--to-mode',
      'normal',
      '--reason',
      'cli test',
    );
    expect(code).toBe(EXIT.notContained);
    expect(c.err.join(' ')).toMatch(/NO_RECORDED_KILL/);
  });

  it('approve hold-release-<incident> --local records a legal hold release approval (exit 0), a non-approver is refused (exit 2)', async () => {
    const requestId = `hold-release-${k.incidentId}`;
    const bob = cli(BOB);
    expect(await bob.run('approve', requestId, '--local')).toBe(EXIT.ok);
    expect(bob.text()).toMatch(/approval recorded: 1 of 2; the holds stay on until the quorum/);
    const mallory = cli(`arn:aws:iam::${CP}:user/mallory`);
    expect(await mallory.run('approve', requestId, '--local')).toBe(EXIT.notContained);
    expect(mallory.text()).toMatch(/refused \(NOT_AN_APPROVER\)/);
  });

  it.each([
    [
      ['restore', AGENT, '--local', '--incident', '../../etc', '--to-mode', 'normal', '--reason', 'x'],
      /^--incident "\.\.\/\.\.\/etc": 1 to 55 letters/,
    ],
    [['restore', AGENT, '--local', '--to-mode', 'normal', '--reason', 'x'], /--incident <id> is required/],
    [
      ['restore', AGENT, '--local', '--incident', 'inc-1', '--to-mode', 'normal'],
      /--reason <text> is required/,
    ],
    [
      ['restore', AGENT, '--local', '--incident', 'inc-1', '--to-mode', 'full_stop', '--reason', 'x'],
      /unknown mode "full_stop": normal, or a kill mode below/,
    ],
    [
      ['restore', 'support-bt', '--local', '--incident', 'inc-1', '--to-mode', 'normal', '--reason', 'x'],
      /unknown agent "support-bt".*Did you mean support-bot\?/,
    ],
    [['reject', 'restore-x', '--local'], /--reason <text> is required/],
    [['approve', 'no such id!', '--local'], /approve: <restoreId>: the id `backstop restore` printed/],
    [
      ['approve', 'restore-x', '--local', '--endpoint', 'localhost:4566'],
      /--endpoint "localhost:4566": needs a URL with http:\/\/ or https:\/\//,
    ],
    [
      ['approve', 'restore-x'],
      /lacks output RestoreEndpointUrl \(deploy the control plane with the restore path\)/,
    ],
  ])('%j is refused at once (exit 1), naming the option, calling nothing', async (argv, message) => {
    const before = k.world.simulator.calls.length;
    const c = cli(ALICE);
    expect(await c.run(...argv)).toBe(EXIT.error);
    expect(c.err.join(' ').replace(/\s+/g, ' ')).toMatch(message);
    for (const line of c.err) expect(line.length).toBeLessThanOrEqual(100);
    expect(k.world.simulator.calls.length).toBe(before);
  });
});
