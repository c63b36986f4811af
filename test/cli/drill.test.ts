import { AUDIT_RECORD_TYPES } from '../../lambda/shared/audit';
import { KILL_MODES } from '../../lambda/shared/types';
import { buildCli, EXIT } from '../../lib/cli';

async function drill(...argv: string[]) {
  const out: string[] = [];
  const { run } = buildCli({
    out: (t) => out.push(...t.split('\n')),
    err: (t) => out.push(...t.split('\n')),
  });
  const code = await run(['drill', ...argv]);
  // eslint-disable-next-line no-control-regex
  const lines = out.map((l) => l.replace(/\u001b\[[0-9;]*m/g, ''));
  return { code, lines, text: lines.join('\n'), flat: lines.join(' ').replace(/\s+/g, ' ') };
}

describe('backstop drill', () => {
  it('runs the kill path end to end on the simulator and exits 0 with a contained, verified kill', async () => {
    const { code, text } = await drill('--json');

    expect(code).toBe(EXIT.ok);
    const report = JSON.parse(text);
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

  it.each(KILL_MODES)(
    'prints a %s drill in at most 100 columns, with a summary true to the mode',
    async (mode) => {
      const { code, lines, text, flat } = await drill('--mode', mode);

      expect(code).toBe(EXIT.ok);
      const wide = lines.filter((l) => l.length > 100);
      expect(wide).toEqual([]);
      expect(text).toMatch(new RegExp(`^flag {7}agent support-bot\\n {13}mode {28}normal -> ${mode}$`, 'm'));
      expect(text).toMatch(new RegExp(`^Incident drill-\\d+: CONTAINED \\(${mode}\\)$`, 'm'));
      if (mode === 'full_stop') {
        expect(flat).toMatch(
          /Every surface was cut and read back: IAM roles, Lambda functions, event source mappings/,
        );
      } else {
        expect(flat).not.toMatch(/Every surface was cut/);
        expect(text).toMatch(
          new RegExp(`^│ support-bot │ lambda +│ not cut +│ - +│ left alone by ${mode} +│$`, 'm'),
        );
        expect(flat).toMatch(/Cut and read back: IAM roles, and the control flag/);
        expect(flat).toMatch(
          new RegExp(
            `${mode === 'approval_gated' ? 'An' : 'A'} ${mode} kill leaves alone: Lambda functions, event source mappings, EventBridge rules, Scheduler schedules, running executions, network: they keep running`,
          ),
        );
      }
    },
  );

  it('shows final states and human names beside ids in the change table', async () => {
    const { text } = await drill();

    // A mapping answers Disabling when cut; the read-back proved it Disabled.
    expect(text).toMatch(
      /^mappings {3}queue support-bot-inbox -> function support-bot-inbox-worker \(mapping [0-9a-f]{8}\)\n {13}UpdateEventSourceMapping {8}Enabled -> Disabled$/m,
    );
    expect(text).not.toMatch(/Disabling/);
    // Security groups by name, and the isolation groups by their step.
    expect(text).toMatch(/^network {4}eni-[0-9a-f]+ \(support-bot browser sandbox\)$/m);
    expect(text).toMatch(
      /ModifyNetworkInterfaceAttribute support-bot-app \(sg-[0-9a-f]+\) -> closed\n\s+isolation group sg-[0-9a-f]+, via open\n\s+isolation group sg-[0-9a-f]+/,
    );
    expect(text).toMatch(/^network {4}function support-bot-tools \(VpcConfig\)$/m);
    expect(text).toMatch(
      /^iam {8}role support-bot-runtime\n {13}AttachRolePolicy {16}- -> backstop-full-stop-us-east-1$/m,
    );
  });

  it('summarises the audit records by type, in the order a kill writes them, with the bucket path once', async () => {
    const { lines, text } = await drill();

    const paths = lines.filter((l) => l.includes('s3://backstop-audit-111111111111-us-east-1/incidents/'));
    expect(paths).toEqual([expect.stringMatching(/^\d+ records in s3:\/\/[^ ]+\/incidents\/drill-\d+\/$/)]);
    const summary = text
      .slice(text.indexOf(paths[0] as string))
      .split('\n')
      .slice(1, 5)
      .join(' ');
    const types = [...summary.matchAll(/([A-Z][A-Za-z]+) \d+/g)].map((m) => m[1] as string);
    expect(types.length).toBeGreaterThan(8);
    const order = types.map((t) => AUDIT_RECORD_TYPES.indexOf(t as (typeof AUDIT_RECORD_TYPES)[number]));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(text).toMatch(/\(--verbose lists every record\)/);
    expect(text).not.toMatch(/-ResourceChanged\.json/);
  });

  it('lists every audit record with --verbose, in at most 100 columns', async () => {
    const { code, lines } = await drill('--verbose');

    expect(code).toBe(EXIT.ok);
    const recordLines = lines.filter((l) => /^ {2}\d\d:\d\d:\d\d\.\d{3} {2}[A-Z]/.test(l));
    const total = Number(lines.find((l) => /^\d+ records in s3:/.test(l))?.split(' ')[0]);
    expect(recordLines).toHaveLength(total);
    expect(lines.filter((l) => l.length > 100)).toEqual([]);
  });

  it('plans on the simulator with --plan: what a kill would cut, and nothing changed', async () => {
    const { code, lines, text, flat } = await drill('--plan', '--mode', 'read_only');

    expect(code).toBe(EXIT.ok);
    expect(lines.filter((l) => l.length > 100)).toEqual([]);
    expect(text).toMatch(/^Plan drill-plan-\d+: PLANNED \(read_only\): a dry run$/m);
    expect(flat).toMatch(/a read_only kill sets the control flag normal -> read_only first/);
    expect(flat).toMatch(/Would cut \(3 changes\):/);
    expect(flat).toMatch(/Would leave as it is \(11 resources\):/);
    expect(text).toMatch(
      /^schedules {2}a read_only kill leaves it as it is \(only full_stop cuts this surface\)$/m,
    );
    expect(flat).toMatch(/Nothing was changed: every call to the workload account was a read\./);
  });
});
