/**
 * Red team, part 2: an agent (or a sibling principal working for it) that fights during the kill.
 * Each test ends with the kill CONTAINED and true, or PARTIAL naming exactly what is still live:
 * never a CONTAINED that is false. Every write of the kill role is decided by its synthesized IAM
 * policies (./iam-world.ts).
 */
import type { CallRecord } from '../../lib/local/simulator/simulator';
import { agentBoundaryName } from '../../lambda/shared/naming';
import { parseConfig } from '../../lib/config';
import { DRILL_CONFIG } from '../../lib/local/drill/scenario';
import { synthStacks } from '../helpers/cdk';
import { ALLOW_EVERYTHING, evaluate, ResolvedTemplate } from '../security/iam-policies';
import { createIamWorld } from './iam-world';
import { AGENT, kill, notVerified, R, RUNTIME_ROLE, W } from './support';

/** A call the kill path made under the kill execution role (an assumed-role session of it). */
const isKillRole = (call: CallRecord) => call.caller.includes(':assumed-role/backstop-kill-');

/** The synthesized agent boundary, to show the attacks an agent under it cannot even start. */
const BOUNDARY = new ResolvedTemplate(
  synthStacks(parseConfig(DRILL_CONFIG, 'drill')).workloadTemplate(W, R),
  'aws',
  W,
  R,
).managedPolicy(agentBoundaryName(R));
const asAgent = (action: string, resource: string, context: Record<string, string | string[]> = {}) =>
  evaluate({
    principal: RUNTIME_ROLE,
    action,
    resource,
    context: { 'aws:PrincipalTag/backstop:agent': AGENT, ...context },
    identity: [ALLOW_EVERYTHING],
    boundary: BOUNDARY,
  });

describe('untagging during the kill', () => {
  it('is refused by IAM to an agent under the boundary', async () => {
    for (const action of ['lambda:UntagResource', 'iam:UntagRole', 'ec2:DeleteTags', 'tag:UntagResources']) {
      await expect(asAgent(action, '*', { 'aws:TagKeys': ['backstop:agent'] })).resolves.toBe(
        'ExplicitlyDenied',
      );
    }
  });

  it('done anyway (by a principal outside the boundary) after discovery: PARTIAL, naming the function still live', async () => {
    const world = await createIamWorld();
    const api = world.simulator.as(W, R);
    await api.lambda.CreateFunction({
      FunctionName: 'support-bot-summarizer',
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Role: RUNTIME_ROLE,
      Code: { ZipFile: Buffer.from('exports.handler = async () => ({});') },
      Tags: { 'backstop:agent': AGENT },
    });
    const arn = `arn:aws:lambda:${R}:${W}:function:support-bot-summarizer`;
    // The moment the kill reads the function's state before cutting it, its tag goes.
    let untagged = false;
    world.simulator.onCall((call) => {
      // GetFunction: the first read of the function after discovery (the Lambda surface's snapshot
      // read, or the network surface's VpcConfig read, whichever comes first), before any cut.
      if (
        !untagged &&
        isKillRole(call) &&
        call.action === 'GetFunction' &&
        JSON.stringify(call.input).includes('support-bot-summarizer')
      ) {
        untagged = true;
        void api.lambda.UntagResource({ Resource: arn, TagKeys: ['backstop:agent'] });
      }
    });

    const run = await kill(world);

    expect(untagged).toBe(true);
    expect(run.result?.status).toBe('PARTIAL');
    const lambda = run.result?.agents[0]?.surfaces.find((s) => s.surface === 'lambda');
    expect(lambda?.verify).toBe('FAILED');
    expect(world.refused).toContain(`lambda:PutFunctionConcurrency ${arn}`);
    // Truthful: the function is still live, and the audit log names it.
    expect(world.simulator.lambda.reservedConcurrency(W, R, 'support-bot-summarizer')).toBeUndefined();
    expect(run.ofType('SurfaceFailed').map((r) => JSON.stringify(r.detail))).toEqual(
      expect.arrayContaining([expect.stringContaining('support-bot-summarizer')]),
    );
  });
});

describe('re-enabling from a sibling principal', () => {
  it('is refused by IAM to a sibling agent under the boundary', async () => {
    await expect(
      asAgent('lambda:UpdateEventSourceMapping', `arn:aws:lambda:${R}:${W}:event-source-mapping:x`),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(
      asAgent('events:EnableRule', `arn:aws:events:${R}:${W}:rule/support-bot-nightly-digest`),
    ).resolves.toBe('ExplicitlyDenied');
  });

  /** A sibling principal switching the agent's first mapping back on, where AWS lets it (not mid-transition). */
  async function reenable(world: Awaited<ReturnType<typeof createIamWorld>>): Promise<boolean> {
    try {
      await world.simulator
        .as(W, R)
        .lambda.UpdateEventSourceMapping({ UUID: world.inventory.mappings[0], Enabled: true });
      return true;
    } catch {
      return false; // still Disabling: AWS refuses updates mid-transition
    }
  }

  /**
   * The sibling watches the kill: each time the read-back reads the mapping, it switches it back
   * on as soon as AWS lets it (once the disable has settled), while the read-back waits to read
   * again. `times` bounds how often it does.
   */
  function fightReadBacks(world: Awaited<ReturnType<typeof createIamWorld>>, times: number) {
    const state = { done: 0 };
    world.simulator.onCall((call) => {
      if (
        state.done < times &&
        isKillRole(call) &&
        call.action === 'GetEventSourceMapping' &&
        JSON.stringify(call.input).includes(world.inventory.mappings[0] ?? '-')
      ) {
        void reenable(world).then((ok) => {
          if (ok) state.done += 1;
        });
      }
    });
    return state;
  }

  it('once, between the cut and the read-back: re-cut, and CONTAINED is true', async () => {
    const world = await createIamWorld();
    const fight = fightReadBacks(world, 1);

    const run = await kill(world);

    expect(fight.done).toBe(1);
    expect(run.result?.status).toBe('CONTAINED');
    expect(world.inventory.mappings.map((m) => world.simulator.lambda.mappingState(m))).toEqual([
      'Disabled',
      'Disabled',
    ]);
    expect(run.ofType('DriftDetected')).not.toHaveLength(0);
  });

  it('again after every read: PARTIAL, naming the mapping that keeps coming back', async () => {
    const world = await createIamWorld();
    const fight = fightReadBacks(world, Number.POSITIVE_INFINITY);
    const uuid = world.inventory.mappings[0]!;

    const run = await kill(world);

    expect(fight.done).toBeGreaterThan(1);
    expect(run.result?.status).toBe('PARTIAL');
    expect(notVerified(run.result).map((s) => s.surface)).toEqual(['event-source-mappings']);
    expect(run.ofType('VerifyFailed').map((r) => JSON.stringify(r.detail))).toEqual(
      expect.arrayContaining([expect.stringContaining(uuid)]),
    );
  });
});

describe('an interface moved to the open isolation group', () => {
  it('is refused by IAM to an agent under the boundary', async () => {
    await expect(
      asAgent('ec2:ModifyNetworkInterfaceAttribute', `arn:aws:ec2:${R}:${W}:security-group/sg-0open`, {
        'aws:ResourceTag/backstop:isolation': 'open',
      }),
    ).resolves.toBe('ExplicitlyDenied');
  });

  it('before the kill, and again during it: the interface ends in the closed group, proven', async () => {
    const world = await createIamWorld({
      beforeHandler: async (handler, event) => {
        const e = event as { verify?: { attempt: number } };
        if (handler === 'kill-verify' && e.verify?.attempt === 0) await moveToOpen();
      },
    });
    const eni = world.inventory.networkInterfaces[0]!;
    const groups = world.workload.isolationGroups[Object.keys(world.workload.isolationGroups)[0]!]!;
    const moveToOpen = () =>
      world.simulator
        .as(W, R)
        .ec2.ModifyNetworkInterfaceAttribute({ NetworkInterfaceId: eni, Groups: [groups.open] });
    await moveToOpen();

    const run = await kill(world);

    expect(run.result?.status).toBe('CONTAINED');
    expect(world.simulator.ec2.interfaceGroups(W, R, eni)).toEqual([groups.closed]);
  });
});

describe('a reused incident id', () => {
  it('is refused before anything is written into the old incident, which still verifies; a retry of the same execution carries on', async () => {
    const world = await createIamWorld();
    const first = await kill(world, { incidentId: 'inc-2026-001' }, 'first-kill');
    expect(first.result?.status).toBe('CONTAINED');
    const keysBefore = world.simulator.s3
      .keys(world.controlPlane.auditBucketName)
      .filter((k) => k.includes('inc-2026-001'));

    const reuse = await kill(world, { incidentId: 'inc-2026-001', mode: 'full_stop' }, 'second-kill');

    expect(reuse.result?.status).toBe('REJECTED');
    expect(reuse.result?.rejection?.code).toBe('INCIDENT_EXISTS');
    expect(reuse.incidentId).not.toBe('inc-2026-001');
    const keysAfter = world.simulator.s3
      .keys(world.controlPlane.auditBucketName)
      .filter((k) => k.includes('inc-2026-001'));
    expect(keysAfter).toEqual(keysBefore);
    const old = await kill(world, { incidentId: 'inc-2026-001' }, 'first-kill'); // the same execution, retried
    expect(old.result?.incidentId).toBe('inc-2026-001');
    expect(old.audit.ok).toBe(true);
  });
});
