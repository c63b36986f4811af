import Table from 'cli-table3';
import pc from 'picocolors';
import type { AuditRecord } from '../../lambda/shared/audit';
import type { AuditReport } from '../../lambda/shared/audit-verify';
import type { KillResult } from '../../lambda/shared/kill-types';
import type { KillStatus } from '../../lambda/shared/types';

const TABLE_STYLE = { head: [], border: [] };

/** What a progress line needs: the engine's events and the deployed execution history both map to it. */
export interface ProgressEvent {
  readonly elapsedMs: number;
  readonly state: string;
  readonly kind: 'started' | 'succeeded' | 'failed' | 'retried' | 'caught' | 'waiting';
  readonly agentId?: string;
  readonly detail?: string;
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
  return `${pc.dim(t)}  ${e.state}${who}  ${kind}${e.detail ? pc.dim(`  ${e.detail}`) : ''}`;
}

/** What a kill result means for the person on call, in one paragraph. */
export function statusMeaning(status: KillStatus): string {
  switch (status) {
    case 'CONTAINED':
      return 'Every surface was cut and read back in the expected state.';
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

export function resultTable(result: KillResult): string {
  const table = new Table({ head: ['agent', 'surface', 'contain', 'verify', 'detail'], style: TABLE_STYLE });
  for (const a of result.agents) {
    if (a.surfaces.length === 0) table.push([a.agentId, '-', colourStatus(a.status), '-', a.detail ?? '']);
    for (const s of a.surfaces) {
      table.push([a.agentId, s.surface, colourStatus(s.contain), colourStatus(s.verify), s.detail ?? '']);
    }
  }
  return table.toString();
}

/** The part of an ARN a person reads: `role/agents/x`, `function:x`, `rule/bus/x`. */
export function shortResource(resource: unknown): string {
  if (typeof resource !== 'string') return '-';
  const parts = resource.split(':');
  return resource.startsWith('arn:') && parts.length >= 6 ? parts.slice(5).join(':') : resource;
}

/** One value of a change's before or after, the way an on-call person wants to read it. */
export function summarizeValue(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (typeof value !== 'object') return String(value);
  const v = value as Record<string, unknown>;
  if (typeof v.policyName === 'string') return v.document ? `inline ${v.policyName}` : String(v.policyName);
  if (typeof v.policyArn === 'string') return shortResource(v.policyArn).replace(/^policy\//, '');
  if ('reservedConcurrentExecutions' in v) {
    return v.reservedConcurrentExecutions === null
      ? 'unreserved'
      : `reserved ${v.reservedConcurrentExecutions}`;
  }
  for (const key of ['state', 'State', 'status']) if (typeof v[key] === 'string') return String(v[key]);
  if (Array.isArray(v.groups)) return `groups ${v.groups.join(',')}`;
  if (Array.isArray(v.securityGroupIds)) return `groups ${v.securityGroupIds.join(',')}`;
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** Before and after of every change the kill made, by surface, from the audit records. */
export function changesTable(records: readonly AuditRecord[]): string {
  const table = new Table({ head: ['surface', 'resource', 'action', 'before', 'after'], style: TABLE_STYLE });
  for (const r of records) {
    if (r.type !== 'ResourceChanged' && r.type !== 'Recut' && r.type !== 'ResourceSkipped') continue;
    const d = r.detail as {
      resource?: string;
      action?: string;
      before?: unknown;
      after?: unknown;
      reason?: string;
    };
    const skipped = r.type === 'ResourceSkipped';
    table.push([
      r.surface ?? '',
      shortResource(d.resource),
      skipped ? pc.yellow('skipped') : `${d.action ?? ''}${r.type === 'Recut' ? pc.yellow(' (re-cut)') : ''}`,
      skipped ? String(d.reason ?? '') : summarizeValue(d.before),
      skipped ? '' : summarizeValue(d.after),
    ]);
  }
  return table.toString();
}

export function auditSummary(report: AuditReport): string {
  const lines = [
    `${report.ok ? pc.green('audit log verified') : pc.red('audit log NOT verified')}: ${report.objectsChecked} objects in s3://${report.bucket}`,
    ...report.incidents.map(
      (i) =>
        `  incident ${i.incidentId}: ${i.records} records in ${i.chains} chains, manifest ${i.manifestKey} ${i.ok ? pc.green('ok') : pc.red('failed')}`,
    ),
    ...report.findings
      .filter((f) => f.severity !== 'info')
      .map(
        (f) =>
          `  ${f.severity === 'error' ? pc.red('error') : pc.yellow('warning')} ${f.check} ${f.key}: ${f.message}`,
      ),
  ];
  return lines.join('\n');
}

/** The audit records of an incident in the order they were written, one line each. */
export function recordLines(records: readonly { key: string; record: AuditRecord }[]): string[] {
  return [...records]
    .sort((a, b) => a.record.time.localeCompare(b.record.time) || a.key.localeCompare(b.key))
    .map(({ key, record }) => {
      const where = [record.agentId, record.surface].filter(Boolean).join('/');
      return `  ${record.time.slice(11, 23)}  ${record.type.padEnd(18)} ${where.padEnd(36)} ${pc.dim(key)}`;
    });
}
