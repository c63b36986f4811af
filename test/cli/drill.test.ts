import { buildCli, EXIT } from '../../lib/cli';

describe('backstop drill', () => {
  it('runs the kill path end to end on the simulator and exits 0 with a contained, verified kill', async () => {
    const out: string[] = [];
    const { run } = buildCli({ out: (t) => out.push(t), err: (t) => out.push(t) });

    const code = await run(['drill', '--json']);

    expect(code).toBe(EXIT.ok);
    const report = JSON.parse(out.join('\n'));
    expect(report.result.status).toBe('CONTAINED');
    expect(report.audit.ok).toBe(true);
    expect(report.records.map((r: { type: string }) => r.type)).toEqual(
      expect.arrayContaining([
        'KillRequested',
        'SnapshotTaken',
        'ResourceChanged',
        'SurfaceVerified',
        'KillCompleted',
      ]),
    );
  });
});
