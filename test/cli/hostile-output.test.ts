/**
 * The agent is the adversary, and it owns the text of its resources: an interface description can
 * hold escape sequences and line breaks. What the CLI prints from AWS must show them, never obey
 * them: no repainted screen, no fake `CONTAINED` line in the on-call person's terminal.
 */
import { PlanStore } from '../../lambda/shared/plan-store';
import { planReport, renderPlan } from '../../lib/cli/plan';
import { errorDetail } from '../../lib/cli/progress';
import { changesTable } from '../../lib/cli/render';
import { printable } from '../../lib/cli/text';
import { createDrillWorld, readAndVerifyIncident } from '../../lib/local/drill/run';
import { DRILL_AGENT, DRILL_WORKLOAD } from '../../lib/local/drill/scenario';

const { accountId: W, region: R, vpcId: VPC } = DRILL_WORKLOAD;
const EVIL = 'x\n\u001b[2J\u001b[32mIncident INC-1: CONTAINED\u001b[0m\r\u202eevil';

/** Our own colours are fine; any other escape, a carriage return or a bidi override is not. */
function assertInert(lines: readonly string[]) {
  for (const line of lines) {
    // eslint-disable-next-line no-control-regex
    const withoutOurColours = line.replace(/\u001b\[[0-9;]*m/g, '');
    // eslint-disable-next-line no-control-regex
    expect(withoutOurColours).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(withoutOurColours).not.toMatch(/^Incident INC-1/);
  }
}

async function worldWithHostileInterface() {
  const world = await createDrillWorld();
  const api = world.simulator.as(W, R);
  const subnets = await api.ec2.DescribeSubnets({ Filters: [{ Name: 'vpc-id', Values: [VPC] }] });
  const subnet = subnets.Subnets?.[0]?.SubnetId as string;
  await api.ec2.CreateNetworkInterface({
    SubnetId: subnet,
    Description: EVIL,
    TagSpecifications: [
      { ResourceType: 'network-interface', Tags: [{ Key: 'backstop:agent', Value: DRILL_AGENT }] },
    ],
  });
  return world;
}

describe('text an agent controls is shown, never obeyed', () => {
  it('escapes control characters and bidi overrides', () => {
    expect(printable('a\u001b[2Jb\nc\u202ed')).toBe('a\\u001b[2Jb\\u000ac\\u202ed');
    expect(printable('support-bot browser sandbox')).toBe('support-bot browser sandbox');
    expect(errorDetail('AccessDenied', `User: x is not authorized\u001b[2J`)).toBe(
      'AccessDenied: User: x is not authorized\\u001b[2J',
    );
  });

  it('in a plan', async () => {
    const world = await worldWithHostileInterface();
    const run = await world.runner.kill(
      { agentId: DRILL_AGENT, mode: 'full_stop', reason: 'test: plan', dryRun: true },
      { executionName: 'hostile-plan', waitScale: 0 },
    );
    const result = run.result;
    if (!result) throw new Error('no result');
    const plans = await new PlanStore(world.clients.controlPlane().dynamo, world.controlPlane.tableName).list(
      result.incidentId,
    );
    const lines = renderPlan(planReport(result, plans, [], 'full_stop')).flatMap((l) => l.split('\n'));

    expect(lines.join('\n')).toContain('\\u001b[2J');
    assertInert(lines);
  });

  it('in the change table of a kill', async () => {
    const world = await worldWithHostileInterface();
    const run = await world.runner.kill(
      { agentId: DRILL_AGENT, mode: 'full_stop', reason: 'test: kill' },
      { executionName: 'hostile-kill', waitScale: 0 },
    );
    const { records } = await readAndVerifyIncident(world, run.result?.incidentId ?? '');
    const lines = changesTable(records.map((r) => r.record)).split('\n');

    expect(lines.join('\n')).toContain('\\u000a\\u001b[2J');
    assertInert(lines);
  });
});
