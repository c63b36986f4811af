import pc from 'picocolors';
import type { KillResult } from '../../lambda/shared/kill-types';
import type { StoredSurfacePlan } from '../../lambda/shared/plan-store';
import { SURFACE_NAMES, type KillMode, type SurfaceName } from '../../lambda/shared/types';
import { displayName, SURFACE_LABELS, SURFACE_SHORT } from './render';
import { aMode, type Block, plural, printable, renderBlocks, wrap } from './text';

/** The control flag of one agent: its mode now, and the mode the kill would set. */
export interface FlagPlan {
  readonly agentId: string;
  /** The mode now; undefined when the state table could not be read. */
  readonly now?: string;
  readonly after: KillMode;
}

export interface PlanReport {
  readonly incidentId: string;
  readonly mode: KillMode;
  readonly agents: {
    readonly agentId: string;
    readonly controlFlag: FlagPlan;
    readonly surfaces: StoredSurfacePlan[];
  }[];
  /** Surfaces whose plan is missing or failed, as `agent/surface: why`. */
  readonly incomplete: string[];
}

/** Puts the stored surface plans in order, per agent, and notes what is missing. */
export function planReport(
  result: KillResult,
  plans: readonly StoredSurfacePlan[],
  flags: readonly FlagPlan[],
  mode: KillMode,
): PlanReport {
  const agentIds = result.agents.map((a) => a.agentId);
  const incomplete: string[] = [];
  const agents = agentIds.map((agentId) => {
    const surfaces = SURFACE_NAMES.flatMap((surface) => {
      const found = plans.find((p) => p.agentId === agentId && p.surface === surface);
      if (!found) {
        const outcome = result.agents
          .find((a) => a.agentId === agentId)
          ?.surfaces.find((s) => s.surface === surface);
        incomplete.push(
          `${agentId}/${surface}: no plan was recorded${outcome?.detail ? ` (${outcome.detail})` : ''}`,
        );
        return [];
      }
      if (found.error) incomplete.push(`${agentId}/${surface}: ${found.error}`);
      return [found];
    });
    const controlFlag = flags.find((f) => f.agentId === agentId) ?? { agentId, after: mode };
    return { agentId, controlFlag, surfaces };
  });
  for (const a of result.agents) {
    if (a.surfaces.length === 0 && a.detail) incomplete.push(`${a.agentId}: ${a.detail}`);
  }
  return { incidentId: result.incidentId, mode, agents, incomplete };
}

/** Counts per surface: `3 Lambda functions`. */
function countLabel(surface: SurfaceName, n: number): string {
  const one: Record<SurfaceName, string> = {
    iam: 'IAM role',
    lambda: 'Lambda function',
    'event-source-mappings': 'event source mapping',
    'eventbridge-rules': 'EventBridge rule',
    schedules: 'Scheduler schedule',
    executions: 'running execution',
    network: 'network resource',
  };
  return plural(n, one[surface]);
}

/** `backstop plan` for a terminal: the control flag, what each surface would cut, what it would leave, and why. */
export function renderPlan(report: PlanReport): string[] {
  const lines: string[] = [];
  const { mode } = report;
  for (const agent of report.agents) {
    const flag = agent.controlFlag;
    lines.push('');
    lines.push(
      ...wrap(
        `${pc.bold(agent.agentId)}: ${aMode(mode)} kill sets the control flag ${flag.now ?? '(mode unknown)'} -> ${flag.after} first (the agent's own runtime guard reads it), then:`,
      ),
    );
    const cut: Block[] = [];
    const left: Block[] = [];
    let changes = 0;
    let skipped = 0;
    for (const s of agent.surfaces) {
      const tag = SURFACE_SHORT[s.surface];
      const byResource = new Map<string, [string, string][]>();
      for (const a of s.actions) {
        const name = displayName(a.resource, a.label);
        const row: [string, string] = [printable(a.action), printable(`${a.current} -> ${a.after}`)];
        byResource.set(name, [...(byResource.get(name) ?? []), row]);
        changes += 1;
      }
      if (s.truncated) byResource.set(`... ${s.truncated.actions} in all`, [['see the audit log', '']]);
      for (const [name, rows] of byResource) cut.push({ head: [tag, name], rows });
      const byReason = new Map<string, [string, string][]>();
      for (const k of s.skipped) {
        byReason.set(printable(k.reason), [
          ...(byReason.get(printable(k.reason)) ?? []),
          [displayName(k.resource, k.label), printable(k.current ?? '')],
        ]);
        skipped += 1;
      }
      for (const [reason, rows] of byReason) left.push({ head: [tag, reason], rows });
    }
    lines.push(pc.bold(`Would cut (${plural(changes, 'change')}):`));
    if (cut.length > 0) {
      lines.push(
        ...renderBlocks({ tag: 'surface', head: 'resource', middle: 'action', right: 'now -> after' }, cut),
      );
    } else lines.push('  nothing');
    if (left.length > 0) {
      lines.push(pc.bold(`Would leave as it is (${plural(skipped, 'resource')}):`));
      lines.push(
        ...renderBlocks({ tag: 'surface', head: 'why', middle: 'resource', right: 'now' }, left, 50),
      );
    }
    lines.push(...summaryLines(agent.surfaces, mode));
  }
  if (report.incomplete.length > 0) {
    lines.push(pc.red(pc.bold('Not planned (the plan is incomplete: treat these surfaces as unknown):')));
    for (const i of report.incomplete) lines.push(...wrap(`- ${printable(i)}`, undefined, '  '));
  }
  return lines;
}

/** What the mode cuts and what it leaves running, counted per surface. */
function summaryLines(surfaces: readonly StoredSurfacePlan[], mode: KillMode): string[] {
  const cut = surfaces.filter((s) => s.applies && s.actions.length > 0);
  const leftRunning = surfaces.filter((s) => !s.applies && s.resources > 0);
  const parts = [
    cut.length > 0
      ? `${aMode(mode)} kill would change ${cut.map((s) => countLabel(s.surface, new Set(s.actions.map((a) => a.resource)).size)).join(', ')} and the control flag.`
      : `${aMode(mode)} kill would set the control flag and find nothing else to cut.`,
  ];
  if (leftRunning.length > 0) {
    parts.push(
      `It leaves running: ${leftRunning.map((s) => countLabel(s.surface, s.resources)).join(', ')} (only full_stop cuts ${leftRunning.length === 1 ? 'it' : 'them'}).`,
    );
  }
  return wrap(`In short: ${parts.join(' ')}`);
}

/** `backstop plan --json`: the same plan for scripts. */
export function planJson(report: PlanReport, extra: Record<string, unknown>): string {
  return JSON.stringify(
    {
      ...extra,
      incidentId: report.incidentId,
      mode: report.mode,
      complete: report.incomplete.length === 0,
      incomplete: report.incomplete,
      agents: report.agents.map((a) => ({
        agentId: a.agentId,
        controlFlag: { now: a.controlFlag.now ?? null, after: a.controlFlag.after },
        surfaces: a.surfaces.map((s) => ({
          surface: s.surface,
          label: SURFACE_LABELS[s.surface],
          cutInThisMode: s.applies,
          resources: s.resources,
          actions: s.actions,
          skipped: s.skipped,
          ...(s.truncated ? { truncated: s.truncated } : {}),
          ...(s.error ? { error: s.error } : {}),
        })),
      })),
    },
    null,
    2,
  );
}
