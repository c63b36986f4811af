import pc from 'picocolors';
import type { KillMode } from '../../lambda/shared/types';
import type { Io } from './index';
import { type FlagPlan, planJson, planReport, renderPlan } from './plan';
import { progressFromEngine } from './progress';
import {
  auditSummary,
  changesTable,
  colourStatus,
  outcomeSummary,
  progressLine,
  recordLines,
  recordSummary,
  resultTable,
} from './render';
import { aMode, clip, plural, wrap } from './text';

export interface DrillOptions {
  readonly mode: KillMode;
  readonly plan?: boolean;
  readonly json?: boolean;
  readonly verbose?: boolean;
  readonly throttle?: boolean;
  readonly latency?: number;
}

/** Calls that only read: what a dry run may make in a workload account. */
const READ_ONLY_CALL = /^(Get|List|Describe)/;

/**
 * `backstop drill`: a kill (or with --plan, a dry run) of the sample agent on the embedded
 * simulator, through the synthesized state machine and the real handlers, then `audit verify`.
 */
export async function drillCommand(io: Io, opts: DrillOptions): Promise<number> {
  const { runDrill } = require('../local/drill/run') as typeof import('../local/drill/run');
  const { DRILL_AGENT, DRILL_WORKLOAD } =
    require('../local/drill/scenario') as typeof import('../local/drill/scenario');
  if (!opts.json) {
    const title = opts.plan
      ? `Backstop drill: what ${aMode(opts.mode)} kill of ${DRILL_AGENT} would cut (dry run, embedded simulator)`
      : `Backstop drill: ${aMode(opts.mode)} kill of ${DRILL_AGENT} on the embedded simulator (no AWS account)`;
    for (const line of wrap(title)) io.out(pc.bold(line));
    io.out(
      `Seeding a control plane (111111111111) and a workload account (${DRILL_WORKLOAD.accountId}, ${DRILL_WORKLOAD.region})...`,
    );
  }
  const report = await runDrill({
    mode: opts.mode,
    dryRun: opts.plan === true,
    throttling: opts.throttle ? 'design' : undefined,
    latencyMs: opts.latency,
    onEvent: opts.json
      ? undefined
      : (e) => {
          const p = progressFromEngine(e);
          if (p) io.out(progressLine(p));
        },
  });
  const result = report.outcome.result;
  const writes = report.simulator.calls.filter(
    (c) => c.accountId === DRILL_WORKLOAD.accountId && c.outcome === 'ok' && !READ_ONLY_CALL.test(c.action),
  );
  const flags: FlagPlan[] = [{ agentId: DRILL_AGENT, now: 'normal', after: opts.mode }];
  const plan = opts.plan && result ? planReport(result, report.plans ?? [], flags, opts.mode) : undefined;
  // The reviewer's hand-over: export the incident, verify the bundle offline (lib/local/drill/evidence.ts).
  const { drillEvidence } = require('../local/drill/evidence') as typeof import('../local/drill/evidence');
  const evidence = opts.plan ? undefined : await drillEvidence(report);

  if (opts.json) {
    io.out(
      JSON.stringify(
        {
          result,
          ...(plan ? { plan: JSON.parse(planJson(plan, {})) as unknown } : {}),
          audit: report.audit,
          ...(evidence
            ? { evidence: { ok: evidence.ok, directory: evidence.directory, archive: evidence.archive } }
            : {}),
          records: report.records.map((r) => ({ key: r.key, type: r.record.type })),
          ...(opts.plan ? { workloadWrites: writes.length } : {}),
        },
        null,
        2,
      ),
    );
  } else {
    const s = report.inventory;
    io.out('');
    for (const line of wrap(
      `Seeded: ${plural(s.roles.length, 'role')}, ${plural(s.functions.length, 'function')}, ${plural(s.mappings.length, 'event source mapping')}, ${plural(s.rules.length, 'rule')}, ${plural(s.schedules.length, 'schedule')}, ${plural(s.networkInterfaces.length, 'network interface')}, ${plural(s.executions.length, 'running execution')}`,
      undefined,
      '  ',
    )) {
      io.out(line);
    }
    if (plan && result) {
      io.out('');
      io.out(
        clip(`${pc.bold(`Plan ${result.incidentId}`)}: ${colourStatus('PLANNED')} (${opts.mode}): a dry run`),
      );
      for (const line of renderPlan(plan)) io.out(line);
      io.out(
        writes.length === 0
          ? `Nothing was changed: every call to the workload account was a read.`
          : pc.red(`The dry run CHANGED the workload account: ${writes.map((w) => w.action).join(', ')}`),
      );
    } else {
      io.out(pc.bold('\nWhat the kill changed (from the audit log: before -> after)'));
      io.out(changesTable(report.records.map((r) => r.record)));
      if (!result) io.err(pc.red('the kill path ended without a result; see the execution events above'));
      else {
        io.out('');
        io.out(
          clip(
            `${pc.bold(`Incident ${result.incidentId}`)}: ${colourStatus(result.status)} (${result.mode ?? opts.mode})`,
          ),
        );
        for (const line of outcomeSummary(result)) io.out(line);
        io.out(resultTable(result));
        if (result.timeToAuthorityCutMs !== null)
          io.out(`Time to authority cut: ${(result.timeToAuthorityCutMs / 1000).toFixed(2)} s`);
        if (result.timeToContainMs !== null)
          io.out(`Time to contain: ${(result.timeToContainMs / 1000).toFixed(2)} s`);
        if (result.manifestKey) io.out(clip(`Signed manifest: ${result.manifestKey}`));
      }
    }
    io.out(pc.bold('\nAudit log'));
    for (const line of recordSummary(report.records, report.bucket, report.incidentId)) io.out(line);
    if (opts.verbose) for (const line of recordLines(report.records)) io.out(line);
    else io.out(pc.dim('  (--verbose lists every record)'));
    io.out(auditSummary(report.audit));
    if (evidence) {
      io.out(pc.bold('\nEvidence for the compliance reviewer'));
      for (const line of evidence.lines) io.out(line);
    }
  }
  if (!report.audit.ok || (evidence && !evidence.ok)) return 2;
  if (opts.plan)
    return result?.status === 'PLANNED' && writes.length === 0 && plan?.incomplete.length === 0 ? 0 : 2;
  return result?.status === 'CONTAINED' ? 0 : 2;
}
