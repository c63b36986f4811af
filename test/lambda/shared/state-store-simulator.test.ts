import { StateStore } from '../../../lambda/shared/state-store';
import { world } from '../../local/simulator/helpers';

/**
 * The state store on the simulator's DynamoDB under the kill worker's role. The lock and the
 * control flag of a kill in one transaction, on the simulator's DynamoDB under
 * the kill worker's role: taken only when what Prepare read still holds, never a verdict on stale
 * reads, nothing written when it answers "not this way".
 */

const AGENT = 'research-bot';
const NOW = new Date('2026-12-03T12:00:00.000Z');
const LOCK = { ttlSeconds: 900, executionId: 'arn:aws:states:us-east-1:111111111111:execution:k:e' };

async function setup() {
  const w = await world();
  const store = new StateStore({
    doc: w.factory.controlPlane().dynamo,
    tableName: w.cp.tableName,
    clock: () => NOW,
  });
  const transactions = () => w.sim.calls.filter((c) => c.action === 'TransactWriteItems').length;
  const queries = () => w.sim.calls.filter((c) => c.action === 'Query').length;
  const read = async () => ({ lock: await store.getLock(AGENT), mode: await store.getMode(AGENT) });
  return { store, transactions, queries, read };
}

function kill(incidentId: string, mode: 'full_stop' | 'read_only', at: Date = NOW) {
  return {
    request: { ...LOCK, incidentId, mode, at },
    change: { incidentId, mode, reason: `test ${incidentId}`, at },
  };
}

describe('StateStore.lockAndRaise', () => {
  it('a first kill takes the lock and raises the flag in one transaction', async () => {
    const { store, transactions, read } = await setup();
    const k = kill('inc-1', 'full_stop');
    const out = await store.lockAndRaise(AGENT, k.request, k.change, await read());
    expect(out?.lock.outcome).toBe('ACQUIRED');
    expect(out?.flag).toMatchObject({ previous: undefined, changed: true, current: { mode: 'full_stop' } });
    expect(transactions()).toBe(1);
    const after = await read();
    expect(after.lock).toMatchObject({ incidentId: 'inc-1', mode: 'full_stop' });
    expect(after.mode).toMatchObject({ incidentId: 'inc-1', mode: 'full_stop', highRiskToolsEnabled: false });
    expect(after.mode?.version).toBe(out?.flag.current.version);
  });

  it('a stricter kill takes over a live read_only lock (RAISED, with its holder) and raises the flag', async () => {
    const { store, read } = await setup();
    const first = kill('inc-1', 'read_only');
    await store.lockAndRaise(AGENT, first.request, first.change, await read());
    const second = kill('inc-2', 'full_stop');
    const out = await store.lockAndRaise(AGENT, second.request, second.change, await read());
    expect(out?.lock).toMatchObject({
      outcome: 'RAISED',
      holder: { incidentId: 'inc-1', mode: 'read_only' },
    });
    expect(out?.lock).not.toHaveProperty('holder.ttl');
    expect(out?.flag.previous).toMatchObject({ incidentId: 'inc-1', mode: 'read_only' });
    expect((await read()).mode).toMatchObject({ incidentId: 'inc-2', mode: 'full_stop' });
  });

  it('answers undefined and writes nothing when a kill of the same mode holds the agent (it joins)', async () => {
    const { store, transactions, read } = await setup();
    const first = kill('inc-1', 'full_stop');
    await store.lockAndRaise(AGENT, first.request, first.change, await read());
    const before = await read();
    const second = kill('inc-2', 'full_stop');
    expect(await store.lockAndRaise(AGENT, second.request, second.change, before)).toBeUndefined();
    expect(transactions()).toBe(1);
    expect(await read()).toEqual(before);
  });

  it('answers undefined for its own incident (a retry): acquireLock says REENTERED', async () => {
    const { store, read } = await setup();
    const k = kill('inc-1', 'full_stop');
    await store.lockAndRaise(AGENT, k.request, k.change, await read());
    expect(await store.lockAndRaise(AGENT, k.request, k.change, await read())).toBeUndefined();
  });

  it('writes nothing when the flag changed after it was read (a restore lowered it): no stale verdict', async () => {
    const { store, read } = await setup();
    const first = kill('inc-1', 'read_only');
    await store.lockAndRaise(AGENT, first.request, first.change, await read());
    const seen = await read();
    // Between Prepare's read and its write, the flag moves (here: lowered by its incident).
    await store.lowerMode(AGENT, { mode: 'normal', incidentId: 'inc-1', reason: 'restored', at: NOW });
    const moved = await read();
    const second = kill('inc-2', 'full_stop');
    expect(await store.lockAndRaise(AGENT, second.request, second.change, seen)).toBeUndefined();
    expect(await read()).toEqual(moved);
  });

  it('writes nothing when another kill took the lock after it was read', async () => {
    const { store, read } = await setup();
    const seen = await read();
    await store.acquireLock(AGENT, kill('inc-other', 'full_stop').request);
    const taken = await read();
    const k = kill('inc-1', 'full_stop');
    expect(await store.lockAndRaise(AGENT, k.request, k.change, seen)).toBeUndefined();
    expect(await read()).toEqual(taken);
    expect(taken.mode).toBeUndefined();
  });

  it('treats an expired lock of another incident as free (ACQUIRED)', async () => {
    const { store, read } = await setup();
    const old = new Date(NOW.getTime() - 3600_000);
    await store.acquireLock(AGENT, kill('inc-old', 'full_stop', old).request);
    const k = kill('inc-1', 'read_only');
    const out = await store.lockAndRaise(AGENT, k.request, k.change, await read());
    expect(out?.lock.outcome).toBe('ACQUIRED');
    expect((await read()).lock).toMatchObject({ incidentId: 'inc-1', mode: 'read_only' });
  });
});

describe('StateStore.getSnapshots', () => {
  it('reads every surface asked for in one query, each as getSnapshot reads it', async () => {
    const { store, queries } = await setup();
    await store.putSnapshot(AGENT, 'iam', 'inc-1', [
      { id: 'arn:aws:iam::222222222222:role/a', state: { attached: ['p'] } },
    ]);
    await store.putSnapshot(AGENT, 'lambda', 'inc-1', [
      { id: 'arn:aws:lambda:us-east-1:222222222222:function:f#1', state: { reserved: null } },
      { id: 'arn:aws:lambda:us-east-1:222222222222:function:g', state: { reserved: 5 } },
    ]);
    const before = queries();

    const all = await store.getSnapshots(AGENT, ['iam', 'lambda', 'network']);
    expect(queries() - before).toBe(1);

    expect(all.get('iam')).toEqual(await store.getSnapshot(AGENT, 'iam'));
    expect(all.get('lambda')).toEqual(await store.getSnapshot(AGENT, 'lambda'));
    expect(all.get('lambda')?.map((s) => s.id)).toHaveLength(2);
    expect(all.get('network')).toEqual([]);
  });
});
