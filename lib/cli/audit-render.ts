/**
 * `audit verify` for a person: one table row per incident, then every finding with the object
 * and the check it failed, then what the verdict rests on. Every line fits 100 columns.
 */
import Table from 'cli-table3';
import pc from 'picocolors';
import type { AuditReport } from '../../lambda/shared/audit-verify';

export const WIDTH = 100;

// eslint-disable-next-line no-control-regex
const visible = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '').length;

/**
 * Greedy word wrap to `width` columns: the first line starts with `first`, the others with
 * `indent`; a word longer than a line (an ARN, a key) is cut.
 */
export function wrap(text: string, width = WIDTH, indent = '    ', first = ''): string[] {
  const lines: string[] = [];
  let line = '';
  const start = () => (lines.length === 0 ? first : indent);
  for (let word of text.split(/\s+/).filter(Boolean)) {
    for (;;) {
      const candidate = line === '' ? `${start()}${word}` : `${line} ${word}`;
      if (visible(candidate) <= width) {
        line = candidate;
        break;
      }
      if (line !== '') {
        lines.push(line);
        line = '';
        continue;
      }
      const head = start();
      const room = width - head.length;
      lines.push(`${head}${word.slice(0, room)}`);
      word = word.slice(room);
      if (word === '') break;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** `arn:aws:sts::1:assumed-role/Role/session` -> `Role/session`; other ARNs keep their resource part. */
export function shortPrincipal(arn: string | undefined): string {
  if (!arn) return '';
  const resource = arn.split(':').slice(5).join(':');
  return resource.replace(/^assumed-role\//, '').replace(/^(role|user)\/(?:.*\/)?/, '') || arn;
}

const severityLabel = (s: string) =>
  s === 'error' ? pc.red('error') : s === 'warning' ? pc.yellow('warning') : s;

export function auditReportText(report: AuditReport): string {
  const lines: string[] = [];
  const verdict = report.ok ? pc.green('VERIFIED') : pc.red('NOT VERIFIED');
  const scope =
    'incidentId' in report.scope
      ? `incident ${report.scope.incidentId}`
      : `all incidents${report.scope.agentId ? ` of agent ${report.scope.agentId}` : ''}${
          report.scope.since ? ` since ${report.scope.since}` : ''
        }`;
  lines.push(
    ...wrap(`Audit log ${verdict}: ${scope}, ${report.objectsChecked} objects read from ${report.source}`),
  );
  const table = new Table({
    head: ['incident', 'started (UTC)', 'agents', 'outcome', 'started by', 'manifests', 'verdict'],
    colWidths: [15, 18, 13, 11, 13, 13, 9],
    wordWrap: true,
    wrapOnWordBoundary: false,
    style: { head: [], border: [] },
  });
  for (const i of report.incidents) {
    table.push([
      i.incidentId,
      i.startedAt ? `${i.startedAt.slice(0, 10)} ${i.startedAt.slice(11, 16)}` : '',
      i.agents.join(', '),
      i.status ?? '',
      shortPrincipal(i.startedBy),
      i.manifests.map((m) => `${m.seq} ${m.kind}`).join(', ') || 'none',
      i.ok ? pc.green('ok') : pc.red('FAILED'),
    ]);
  }
  if (report.incidents.length > 0) lines.push(table.toString());
  else lines.push('No incident matched.');
  const shown = report.findings.filter((f) => f.severity !== 'info');
  if (shown.length > 0) {
    lines.push('', `Findings (${shown.length}):`);
    for (const f of shown) {
      lines.push(...wrap(`${severityLabel(f.severity)} [${f.check}] ${f.key}`, WIDTH, '    ', '  '));
      lines.push(...wrap(f.message, WIDTH, '    ', '    '));
    }
  }
  lines.push('');
  for (const k of report.publicKeys) {
    lines.push(...wrap(`Signatures checked with the public key of ${k.signingKeyArn}, from ${k.from};`));
    lines.push(`  its SHA-256 fingerprint: ${k.fingerprint}`);
  }
  if (report.offline) {
    lines.push(
      ...wrap(
        `Offline: this verification made no AWS call. Retention, legal holds and versions are as S3 reported them at export; the signatures, hashes and chains are proven here.`,
      ),
    );
  }
  return lines.join('\n');
}
