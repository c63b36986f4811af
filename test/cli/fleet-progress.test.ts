import { FleetProgress } from '../../lib/cli/fleet-progress';
import type { ProgressEvent } from '../../lib/cli/render';

function fleet(total: number) {
  const printed: ProgressEvent[] = [];
  return { progress: new FleetProgress(total, (e) => printed.push(e), 2000), printed };
}

const done = (agentId: string, status: string, elapsedMs: number): ProgressEvent => ({
  elapsedMs,
  state: 'Agent done',
  kind: 'succeeded',
  agentId,
  detail: status,
  agentStatus: status,
});

describe('FleetProgress', () => {
  it('is for kills of ten agents or more', () => {
    expect(FleetProgress.wanted(9)).toBe(false);
    expect(FleetProgress.wanted(10)).toBe(true);
  });

  it("prints the kill's own steps, folds every agent's, and counts at most every two seconds", () => {
    const { progress, printed } = fleet(3);
    progress.take({ elapsedMs: 0, state: 'Kill started', kind: 'started' });
    progress.take({ elapsedMs: 100, state: 'Prepare the kill', kind: 'succeeded' });
    progress.take({ elapsedMs: 200, state: 'Cut IAM authority', kind: 'succeeded', agentId: 'a' });
    progress.take({ elapsedMs: 300, state: 'Cut IAM authority', kind: 'retried', detail: 'attempt 1' });
    progress.take(done('a', 'CONTAINED', 400));
    progress.take(done('b', 'CONTAINED', 900));
    progress.take(done('c', 'PARTIAL', 2500));
    progress.take({ elapsedMs: 2600, state: 'Finalize the kill', kind: 'succeeded' });

    expect(printed.map((e) => `${e.elapsedMs} ${e.state} ${e.detail ?? ''}`.trim())).toEqual([
      '0 Kill started',
      '100 Prepare the kill',
      '200 Agents 0/3 read back',
      '2500 Agents 3/3 read back (2 CONTAINED, 1 PARTIAL); 1 retry',
      '2600 Finalize the kill',
    ]);
  });

  it('prints the count as it stands before the end of the kill, even within two seconds', () => {
    const { progress, printed } = fleet(2);
    progress.take(done('a', 'CONTAINED', 100));
    progress.take(done('b', 'CONTAINED', 200));
    progress.take({ elapsedMs: 300, state: 'Kill finished', kind: 'succeeded' });
    expect(printed.map((e) => e.detail ?? e.state)).toEqual([
      '1/2 read back (1 CONTAINED)',
      '2/2 read back (2 CONTAINED)',
      'Kill finished',
    ]);
  });

  it('adds the batches of a fleet run as child executions', () => {
    const { progress, printed } = fleet(250);
    progress.takeBatches({ total: 3, succeeded: 1, running: 2, failed: 0 }, 5000);
    progress.takeBatches({ total: 3, succeeded: 2, running: 0, failed: 1 }, 9000);
    expect(printed.map((e) => e.detail)).toEqual([
      '0/250 read back; batches 1/3 done, 2 running',
      '0/250 read back; batches 2/3 done, 1 failed',
    ]);
  });
});
