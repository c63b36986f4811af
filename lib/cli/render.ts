import pc from 'picocolors';
import { AUDIT_RECORD_TYPES, type AuditRecord } from '../../lambda/shared/audit';
import type { AuditReport } from '../../lambda/shared/audit-verify';
import type { KillResult } from '../../lambda/shared/kill-types';
import { type KillStatus, SURFACE_NAMES, type SurfaceName } from '../../lambda/shared/types';
import { parseEventRuleArn, parseScheduleArn, resourceKind } from '../../lambda/shared/arn';
import { mappingLabel } from '../../lambda/surfaces/event-source-mappings';
import {
  aMode,
  type Block,
  capital,
  clip,
  fitTable,
  plural,
  printable,
  renderBlocks,
  shortenMiddle,
  WIDTH,
  wrap,
} from './text';

/** What a progress line needs: the engine's events and the deployed execution history both map to it. */
export interface ProgressEvent {
  readonly elapsedMs: number;
  readonly state: string;
  /** `count`: a fleet's folded progress (lib/cli/fleet-progress.ts), printed without a kind. */
  readonly kind: 'started' | 'succeeded' | 'failed' | 'retried' | 'caught' | 'waiting' | 'count';
  readonly agentId?: string;
  readonly detail?: string;
  /** An agent's status once its read-back is over (CONTAINED, PARTIAL...): what a fleet counts. */
  readonly agentStatus?: string;
}

const STATUS_COLOUR: Record<string, (s: string) => string> = {
  CONTAINED: pc.green,
  VERIFIED: pc.green,
  PLANNED: pc.cyan,
  NOT_APPLICABLE: pc.dim,
  PARTIAL: pc.yellow,
  PENDING: pc.yellow,
  RECUT: pc.yellow,
  JOINED: pc.cyan,
  FAILED: pc.red,
  REJECTED: pc.red,
};

export function colourStatus(status: string): string {
  return (STATUS_COLOUR[status] ?? ((s: string) => s))(status);
}

/** Each surface as a person names it. */
export const SURFACE_LABELS: Readonly<Record<SurfaceName, string>> = {
  iam: 'IAM roles',
  lambda: 'Lambda functions',
  'event-source-mappings': 'event source mappings',
  'eventbridge-rules': 'EventBridge rules',
  schedules: 'Scheduler schedules',
  executions: 'running executions',
  network: 'network',
};

/** Each surface in one short word, for table columns. */
export const SURFACE_SHORT: Readonly<Record<SurfaceName, string>> = {
  iam: 'iam',
  lambda: 'lambda',
  'event-source-mappings': 'mappings',
  'eventbridge-rules': 'rules',
  schedules: 'schedules',
  executions: 'executions',
  network: 'network',
};

export function progressLine(e: ProgressEvent): string {
  const t = `+${(e.elapsedMs / 1000).toFixed(3).padStart(7)}s`;
  const who = e.agentId ? pc.dim(` [${e.agentId}]`) : '';
  const kind =
    e.kind === 'failed' || e.kind === 'caught'
      ? pc.red(e.kind)
      : e.kind === 'retried' || e.kind === 'waiting'
        ? pc.yellow(e.kind)
        : e.kind === 'succeeded'
          ? pc.green(e.kind)
          : e.kind;
  if (e.kind === 'count') return clip(`${pc.dim(t)}  ${e.state}  ${e.detail ?? ''}`, WIDTH, 'end');
  return clip(
    `${pc.dim(t)}  ${e.state}${who}  ${kind}${e.detail ? pc.dim(`  ${e.detail}`) : ''}`,
    WIDTH,
    'end',
  );
}

/** What a kill result means for the person on call, in one paragraph. */
export function statusMeaning(status: KillStatus): string {
  switch (status) {
    case 'CONTAINED':
      return 'Every surface the mode cuts was cut and read back in the expected state.';
    case 'PARTIAL':
      return 'Some authority was NOT proven cut (see the surfaces marked FAILED). The agent may still act through them: cut them by hand now, then re-run the kill; the alarm has fired.';
    case 'FAILED':
      return 'Nothing was proven cut. Check the errors below (kill role trust, permissions), cut by hand, then re-run the kill.';
    case 'REJECTED':
      return 'The kill was refused and changed nothing: fix the request as the message says and start it again.';
    case 'JOINED':
      return 'Another kill of these agents at the same or a stricter mode is already running: follow that incident.';
    case 'PLANNED':
      return 'Dry run: nothing was changed. This is what a kill would cut.';
  }
}

/**
 * The outcome in words that are true for the mode: what was cut and read back, and what the mode
 * leaves alone (a read_only kill does not stop Lambda functions, and says so).
 */
export function outcomeSummary(result: KillResult): string[] {
  const surfaces = result.agents.flatMap((a) => a.surfaces);
  if (result.status !== 'CONTAINED' || surfaces.length === 0) return wrap(statusMeaning(result.status));
  const names = (list: SurfaceName[]) => [...new Set(list)].map((s) => SURFACE_LABELS[s]).join(', ');
  const cut = surfaces.filter((s) => s.contain !== 'NOT_APPLICABLE').map((s) => s.surface);
  const left = surfaces.filter((s) => s.contain === 'NOT_APPLICABLE').map((s) => s.surface);
  const mode = result.mode ?? 'the mode';
  const lines = [
    left.length === 0
      ? `Every surface was cut and read back: ${names(cut)}. The control flag is ${mode}.`
      : `Cut and read back: ${names(cut)}, and the control flag (${mode}).`,
  ];
  if (left.length > 0) {
    lines.push(
      `${capital(aMode(mode))} kill leaves alone: ${names(left)}: they keep running (only full_stop cuts them).`,
    );
  }
  return lines.flatMap((l) => wrap(l));
}

export function resultTable(result: KillResult): string {
  const rows: string[][] = [];
  for (const a of result.agents) {
    if (a.surfaces.length === 0) {
      rows.push([a.agentId, '-', colourStatus(a.status), '-', printable(a.detail ?? '')]);
    }
    for (const s of a.surfaces) {
      if (s.contain === 'NOT_APPLICABLE' && !result.dryRun) {
        rows.push([
          a.agentId,
          s.surface,
          pc.dim('not cut'),
          pc.dim('-'),
          `left alone by ${result.mode ?? 'the mode'}`,
        ]);
        continue;
      }
      rows.push([
        a.agentId,
        s.surface,
        colourStatus(s.contain),
        colourStatus(s.verify),
        printable(s.detail ?? ''),
      ]);
    }
  }
  return fitTable(['agent', 'surface', 'contain', 'verify', 'detail'], rows);
}

/** The part of an ARN a person reads: `role/agents/x`, `function:x`, `rule/bus/x`. */
export function shortResource(resource: unknown): string {
  if (typeof resource !== 'string') return '-';
  const parts = resource.split(':');
  return resource.startsWith('arn:') && parts.length >= 6 ? parts.slice(5).join(':') : resource;
}

/**
 * A resource as a person names it: `role support-bot-runtime`, `function support-bot-tools`,
 * `rule support-events/ticket-created`; `label` (what a surface knows better) wins.
 */
export function displayName(resource: string | undefined, label?: string): string {
  return printable(nameOf(resource, label));
}

function nameOf(resource: string | undefined, label?: string): string {
  if (label) return label;
  if (!resource) return '-';
  try {
    switch (resourceKind(resource)) {
      case 'iam-role':
        return `role ${resource.split('/').pop()}`;
      case 'lambda-function':
        return `function ${resource.split(':').slice(6).join(':')}`;
      case 'event-rule': {
        const r = parseEventRuleArn(resource);
        return `rule ${r.eventBusName === 'default' ? '' : `${r.eventBusName}/`}${r.name}`;
      }
      case 'schedule': {
        const r = parseScheduleArn(resource);
        return `schedule ${r.groupName}/${r.name}`;
      }
      case 'network-interface':
        return resource.split('/').pop() ?? resource;
      default: {
        const parts = resource.split(':');
        if (parts[2] === 'states' && parts[5] === 'execution') return `execution ${parts[6]}/${parts[7]}`;
        return shortResource(resource);
      }
    }
  } catch {
    return shortResource(resource);
  }
}

/** Names the changes table puts beside ids: security groups, mappings, network interfaces. */
export interface NameBook {
  readonly groups: Map<string, string>;
  readonly resources: Map<string, string>;
  /** Group ids the kill used as isolation groups, and which step. */
  readonly isolation: Map<string, 'open' | 'closed'>;
}

/** Collects names from the snapshots the audit log holds (SnapshotTaken records). */
export function nameBook(records: readonly AuditRecord[]): NameBook {
  const book: NameBook = { groups: new Map(), resources: new Map(), isolation: new Map() };
  for (const r of records) {
    if (r.type === 'SnapshotTaken') {
      const resources = (r.detail as { resources?: { id: string; state: Record<string, unknown> }[] })
        .resources;
      for (const { id, state } of resources ?? []) {
        if (r.surface === 'event-source-mappings') {
          const label = mappingLabel(state as { eventSourceArn?: string; functionArn?: string });
          if (label) book.resources.set(id, `${label} (mapping ${id.slice(0, 8)})`);
        }
        if (r.surface === 'network' && state.kind === 'network-interface') {
          for (const g of (state.groups as { groupId: string; groupName?: string }[]) ?? []) {
            if (g.groupName) book.groups.set(g.groupId, g.groupName);
          }
          const eni = String(state.networkInterfaceId ?? id);
          book.resources.set(id, state.description ? `${eni} (${String(state.description)})` : eni);
        }
      }
    }
    if ((r.type === 'ResourceChanged' || r.type === 'Recut') && r.surface === 'network') {
      const after = (
        r.detail as { after?: { groups?: string[]; via?: string[]; securityGroupIds?: string[] } }
      ).after;
      for (const g of after?.groups ?? after?.securityGroupIds ?? []) book.isolation.set(g, 'closed');
      for (const g of after?.via ?? []) book.isolation.set(g, 'open');
    }
  }
  return book;
}

function groupName(id: string, book?: NameBook): string {
  const step = book?.isolation.get(id);
  if (step) return `${step} isolation group ${id}`;
  const name = book?.groups.get(id);
  return name ? `${name} (${id})` : id;
}

/** One value of a change's before or after, the way an on-call person wants to read it. */
export function summarizeValue(value: unknown, book?: NameBook): string {
  return printable(valueText(value, book));
}

function valueText(value: unknown, book?: NameBook): string {
  if (value === undefined || value === null) return '-';
  if (typeof value !== 'object') return String(value);
  const v = value as Record<string, unknown>;
  if (typeof v.policyName === 'string') return v.document ? `inline ${v.policyName}` : String(v.policyName);
  if (typeof v.policyArn === 'string') return v.policyArn.split('/').pop() ?? v.policyArn;
  if ('permissionsBoundaryArn' in v) {
    return v.permissionsBoundaryArn
      ? `boundary ${String(v.permissionsBoundaryArn).split('/').pop()}`
      : 'no boundary';
  }
  if ('reservedConcurrentExecutions' in v) {
    return v.reservedConcurrentExecutions === null
      ? 'unreserved'
      : `reserved ${v.reservedConcurrentExecutions}`;
  }
  if ('mode' in v && typeof v.mode === 'string' && Object.keys(v).length <= 4) return v.mode;
  for (const key of ['state', 'State', 'status']) if (typeof v[key] === 'string') return String(v[key]);
  const groups = (Array.isArray(v.groups) ? v.groups : v.securityGroupIds) as unknown;
  if (Array.isArray(groups)) {
    const via =
      Array.isArray(v.via) && v.via.length > 0
        ? `, via ${v.via.map((g) => groupName(String(g), book)).join(', ')}`
        : '';
    return `${groups.map((g) => groupName(String(g), book)).join(', ') || 'no groups'}${via}`;
  }
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** Surfaces read back in the cut state, per agent: their transient "after" states have settled. */
function verifiedSurfaces(records: readonly AuditRecord[]): Set<string> {
  return new Set(
    records.filter((r) => r.type === 'SurfaceVerified').map((r) => `${r.agentId ?? ''}/${r.surface ?? ''}`),
  );
}

/**
 * Before and after of every change the kill made, from the audit records: the control flag
 * first, then each resource with its changes; names beside ids; final states (a mapping that was
 * `Disabling` when cut and read back `Disabled` shows `Disabled`).
 */
export function changesTable(records: readonly AuditRecord[]): string {
  const book = nameBook(records);
  const verified = verifiedSurfaces(records);
  const blocks: { head: [string, string]; rows: [string, string][] }[] = [];
  const blockFor = (tag: string, name: string) => {
    let block = blocks.find((b) => b.head[0] === tag && b.head[1] === name);
    if (!block) {
      block = { head: [tag, name], rows: [] };
      blocks.push(block);
    }
    return block;
  };
  for (const r of records) {
    if (r.type !== 'ControlFlagSet') continue;
    const d = r.detail as { before?: { mode?: string }; after?: { mode?: string }; changed?: boolean };
    blockFor('flag', `agent ${r.agentId ?? ''}`).rows.push([
      d.changed === false ? 'mode (already set)' : 'mode',
      `${d.before?.mode ?? 'normal'} -> ${d.after?.mode ?? r.mode ?? ''}`,
    ]);
  }
  // In the order they happened: a change made by Prepare (the deny on a declared role, the
  // authority cut) is in Prepare's chain, before the branches' changes in theirs.
  const inTime = [...records].sort((a, b) => a.time.localeCompare(b.time));
  for (const r of inTime) {
    if (r.type !== 'ResourceChanged' && r.type !== 'Recut' && r.type !== 'ResourceSkipped') continue;
    const d = r.detail as {
      resource?: string;
      action?: string;
      before?: unknown;
      after?: unknown;
      reason?: string;
    };
    const tag = r.surface ? SURFACE_SHORT[r.surface] : '';
    const name = displayName(d.resource, d.resource ? book.resources.get(d.resource) : undefined);
    const block = blockFor(
      tag,
      r.surface === 'network' && d.action === 'UpdateFunctionConfiguration' ? `${name} (VpcConfig)` : name,
    );
    if (r.type === 'ResourceSkipped') {
      block.rows.push(['skipped', printable(String(d.reason ?? ''))]);
      continue;
    }
    let after = summarizeValue(d.after, book);
    if (after === 'Disabling' && verified.has(`${r.agentId ?? ''}/${r.surface ?? ''}`)) after = 'Disabled';
    block.rows.push([
      `${d.action ?? ''}${r.type === 'Recut' ? ' (re-cut)' : ''}`,
      `${summarizeValue(d.before, book)} -> ${after}`,
    ]);
  }
  // The flag first, then the surfaces in the order a kill cuts them.
  const order = ['flag', ...SURFACE_NAMES.map((n) => SURFACE_SHORT[n])];
  const sorted = blocks
    .map((b, i) => ({ b, i }))
    .sort((x, y) => order.indexOf(x.b.head[0]) - order.indexOf(y.b.head[0]) || x.i - y.i)
    .map(({ b }) => b);
  const header = { tag: 'surface', head: 'resource', middle: 'action', right: 'before -> after' };
  return renderBlocks(header, sorted as Block[]).join('\n');
}

export function auditSummary(report: AuditReport): string {
  const lines = [
    ...wrap(
      `${report.ok ? pc.green('audit log verified') : pc.red('audit log NOT verified')}: ${report.objectsChecked} objects in s3://${report.bucket}`,
    ),
    ...report.incidents.flatMap((i) =>
      wrap(
        `  incident ${i.incidentId}: ${i.records} records in ${i.chains} chains, manifest ${i.manifestKey} ${i.ok ? 'ok' : 'FAILED'}`,
        WIDTH,
        '    ',
      ).map((l) => (i.ok ? l : pc.red(l))),
    ),
    ...report.findings
      .filter((f) => f.severity !== 'info')
      .flatMap((f) =>
        wrap(
          printable(`${f.severity === 'error' ? 'error' : 'warning'} ${f.check} ${f.key}: ${f.message}`),
          WIDTH,
          '    ',
        ).map((l, i) => (i === 0 ? `  ${l}` : l)),
      ),
  ];
  return lines.join('\n');
}

/**
 * The audit records of an incident summarised: where they are (the bucket path, once) and how
 * many of each type, in the order a kill writes them.
 */
export function recordSummary(
  records: readonly { key: string; record: AuditRecord }[],
  bucket: string,
  incidentId: string,
): string[] {
  const counts = new Map<string, number>();
  for (const { record } of records) counts.set(record.type, (counts.get(record.type) ?? 0) + 1);
  const ordered = [
    ...AUDIT_RECORD_TYPES.filter((t) => counts.has(t)),
    ...[...counts.keys()].filter((t) => !(AUDIT_RECORD_TYPES as readonly string[]).includes(t)).sort(),
  ].map((t) => `${t} ${counts.get(t)}`);
  return [
    ...wrap(`${plural(records.length, 'record')} in s3://${bucket}/incidents/${incidentId}/`),
    ...wrap(ordered.join(', '), WIDTH - 2).map((l) => `  ${l}`),
  ];
}

/** Every audit record of an incident in the order they were written, one line each (`--verbose`). */
export function recordLines(records: readonly { key: string; record: AuditRecord }[]): string[] {
  return [...records]
    .sort((a, b) => a.record.time.localeCompare(b.record.time) || a.key.localeCompare(b.key))
    .map(({ key, record }) => {
      const rest = key
        .split('/')
        .slice(2)
        .join('/')
        .replace(/-[A-Za-z]+\.json$/, '');
      const line = `  ${record.time.slice(11, 23)}  ${record.type.padEnd(17)}  ${rest}`;
      return line.length <= WIDTH ? line : shortenMiddle(line, WIDTH);
    });
}
