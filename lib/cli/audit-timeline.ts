/**
 * The human-readable side of an evidence bundle: the incident in time order (Markdown), written
 * from the records themselves. It explains; it proves nothing (the signed manifests do).
 */
import type { AuditRecord } from '../../lambda/shared/audit';
import type { AuditReport } from '../../lambda/shared/audit-verify';
import type { BundleIndex } from './audit-bundle';

const cell = (value: unknown): string =>
  String(value ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\s+/g, ' ')
    .trim();

/** One line on what a record says, for the table. */
export function recordSummary(record: AuditRecord): string {
  const d = (record.detail ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));
  switch (record.type) {
    case 'KillRequested':
      return `${record.mode ?? ''} requested: ${record.reason ?? ''}`;
    case 'KillCompleted':
      return `outcome ${str(d.status)}`;
    case 'ResourceChanged':
    case 'Recut':
      return `${str(d.action)} ${str(d.resource)}`;
    case 'ResourceSkipped':
      return `skipped ${str(d.resource)}: ${str(d.reason)}`;
    case 'SurfaceFailed':
      return `failed: ${str(d.error)} ${str(d.message)}`;
    case 'ActorAttributed':
      return `started by ${str(d.principalArn)} (CloudTrail event ${str(d.eventID)})`;
    case 'ManifestWritten':
      return `sealed by ${str(d.manifestKey)}`;
    case 'LegalHoldPlaced':
    case 'LegalHoldReleased':
      return `${str(d.count)} object versions${d.requestId ? `, request ${str(d.requestId)}` : ''}`;
    default:
      return record.reason ?? '';
  }
}

/** Who a record names as its cause, short: the kill or restore path, or a principal. */
function actorLabel(record: AuditRecord): string {
  const a = record.actor;
  if (!a) return '';
  if (a.type === 'execution')
    return a.arn?.includes(':execution:backstop-restore:') ? 'restore path' : 'kill path';
  const resource = (a.arn ?? '').split(':').slice(5).join(':');
  return `${a.type}${resource ? ` ${resource}` : ''}`;
}

export function timelineMarkdown(input: {
  readonly index: BundleIndex;
  readonly records: readonly { key: string; record: AuditRecord }[];
  readonly report: AuditReport;
}): string {
  const { index, report } = input;
  const incident = report.incidents[0];
  const records = [...input.records].sort(
    (a, b) => a.record.time.localeCompare(b.record.time) || a.key.localeCompare(b.key),
  );
  const errors = report.findings.filter((f) => f.severity === 'error');
  const lines = [
    `# Incident ${index.incidentId}`,
    '',
    `Exported from ${index.exportedFrom} at ${index.exportedAt}. Verification over the bucket at export: ${
      report.ok ? '**passed**' : `**FAILED** (${errors.length} errors)`
    }.`,
    '',
    '| | |',
    '|---|---|',
    `| Agents | ${cell(incident?.agents.join(', '))} |`,
    `| Mode | ${cell(incident?.mode)} |`,
    `| Outcome | ${cell(incident?.status)} |`,
    `| Started by | ${cell(incident?.startedBy ?? 'no ActorAttributed record')} |`,
    `| Reason | ${cell(incident?.reason)} |`,
    `| Records | ${records.length} in ${incident?.chains ?? 0} chains |`,
    '',
    '## Manifests',
    '',
    '| seq | kind | records | sha256 |',
    '|---|---|---|---|',
    ...(incident?.manifests ?? []).map((m) => `| ${m.seq} | ${m.kind} | ${m.records} | \`${m.sha256}\` |`),
    '',
    '## Timeline (UTC)',
    '',
    '| time | record | agent | surface | what | by |',
    '|---|---|---|---|---|---|',
    ...records.map(
      ({ record }) =>
        `| ${cell(record.time)} | ${cell(record.type)} | ${cell(record.agentId)} | ${cell(record.surface)} | ${cell(
          recordSummary(record),
        )} | ${cell(actorLabel(record))} |`,
    ),
    '',
  ];
  if (errors.length > 0) {
    lines.push(
      '## Findings at export',
      '',
      ...errors.map((f) => `- **${f.check}** \`${f.key}\`: ${cell(f.message)}`),
      '',
    );
  }
  lines.push(
    '## Verify this bundle',
    '',
    'With no AWS access at all:',
    '',
    '```sh',
    'npx backstop audit verify --bundle <this directory or .tar.gz> --public-key <the published .pem>',
    '```',
    '',
    'Pin the public key you fetched yourself from the audit bucket (`public-keys/`), or compare the',
    `fingerprint the verifier prints with it: ${index.publicKeys.map((k) => `\`${k.fingerprint}\``).join(', ') || 'none'}.`,
    '',
  );
  return lines.join('\n');
}
