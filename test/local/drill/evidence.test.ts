/**
 * The drill's hand-over to a compliance reviewer (lib/local/drill/evidence.ts): the drill's
 * incident exported as an evidence bundle (a directory and a .tar.gz) and both verified offline.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drillEvidence } from '../../../lib/local/drill/evidence';
import { runDrill } from '../../../lib/local/drill/run';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'backstop-drill-evidence-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the drill’s evidence step', () => {
  it('exports the kill and verifies the bundle offline, with no AWS call, in lines of 100 columns at most', async () => {
    const report = await runDrill({ waitScale: 0 });
    expect(report.audit.ok).toBe(true);
    const evidence = await drillEvidence(report, dir);

    expect(evidence.ok).toBe(true);
    expect(evidence.awsCallsOffline).toBe(0);
    expect(evidence.offline.map((r) => [r.ok, r.offline, r.objectsChecked])).toEqual([
      [true, true, report.audit.objectsChecked],
      [true, true, report.audit.objectsChecked],
    ]);
    expect(existsSync(join(evidence.directory, 'timeline.md'))).toBe(true);
    expect(existsSync(evidence.archive)).toBe(true);
    expect(evidence.lines.join('\n')).toMatch(/directory VERIFIED, archive VERIFIED/);
    for (const line of evidence.lines) expect(line.length).toBeLessThanOrEqual(100);
  });
});
