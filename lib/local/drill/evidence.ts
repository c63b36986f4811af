/**
 * The drill's last step: hand the incident over as a compliance reviewer would receive it. The
 * incident is exported from the simulated bucket as an evidence bundle (a directory and a
 * .tar.gz), and both are verified offline, with no client at all: what `backstop audit export`
 * and `backstop audit verify --bundle` do.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3AuditSource } from '../../../lambda/shared/audit-source';
import { type AuditReport, verifyAudit } from '../../../lambda/shared/audit-verify';
import { createClientFactory } from '../../../lambda/shared/clients';
import {
  BundleSource,
  exportIncident,
  readBundleFiles,
  writeBundleArchive,
  writeBundleDirectory,
} from '../../cli/audit-bundle';
import { wrap } from '../../cli/audit-render';
import { parseConfig } from '../../config';
import type { DrillReport } from './run';
import { DRILL_CONFIG, DRILL_CONTROL_PLANE } from './scenario';

export interface DrillEvidence {
  readonly ok: boolean;
  readonly directory: string;
  readonly archive: string;
  /** The offline verifications of the directory and of the archive. */
  readonly offline: readonly AuditReport[];
  /** Simulator calls made while verifying offline: always 0. */
  readonly awsCallsOffline: number;
  /** What the drill prints, each line at most 100 columns. */
  readonly lines: string[];
}

export async function drillEvidence(report: DrillReport, into?: string): Promise<DrillEvidence> {
  const config = parseConfig(DRILL_CONFIG, 'drill');
  const sim = report.simulator;
  const incidentId = report.outcome.result?.incidentId ?? report.outcome.execution.executionName;
  // The reviewer reads the bucket as an identity of the control plane account.
  const cp = createClientFactory({
    region: DRILL_CONTROL_PLANE.region,
    plugins: [sim.plugin()],
    credentials: sim.credentialsFor(`arn:aws:iam::${DRILL_CONTROL_PLANE.accountId}:root`),
  }).controlPlane();
  const base = into ?? mkdtempSync(join(tmpdir(), 'backstop-drill-evidence-'));
  const directory = join(base, incidentId);
  const archive = join(base, `${incidentId}.tar.gz`);
  const now = new Date();
  const bundle = await exportIncident({
    source: new S3AuditSource({ s3: cp.s3, bucket: report.audit.bucket }),
    incidentId,
    settings: {
      expectedMode: config.audit.mode,
      retentionDays: config.audit.retentionDays,
      trustedSigningKeyArns: report.audit.publicKeys.map((k) => k.signingKeyArn),
    },
    clock: () => now,
  });
  writeBundleDirectory(directory, bundle.files);
  writeBundleArchive(archive, bundle.files, now);

  const before = sim.calls.length;
  const offline: AuditReport[] = [];
  for (const path of [directory, archive]) {
    const source = new BundleSource(readBundleFiles(path), path);
    const { settings } = source.index;
    offline.push(
      await verifyAudit({
        source,
        clock: () => new Date(),
        incidentId,
        ...(settings.expectedMode && { expectedMode: settings.expectedMode }),
        ...(settings.retentionDays !== undefined && { retentionDays: settings.retentionDays }),
        ...(settings.trustedSigningKeyArns && { trustedSigningKeyArns: settings.trustedSigningKeyArns }),
      }),
    );
  }
  const awsCallsOffline = sim.calls.length - before;
  const ok = bundle.report.ok && offline.every((r) => r.ok && r.offline) && awsCallsOffline === 0;
  const verdict = (r: AuditReport) => (r.ok ? 'VERIFIED' : `NOT VERIFIED (${r.findings.length} findings)`);
  const versions = bundle.index.objects.filter((o) => !o.context).length;
  const lines = [
    ...wrap(
      `Evidence export: ${versions} object versions of ${incidentId}, ${bundle.index.publicKeys.length} public key, timeline.md -> ${directory} and ${archive}`,
    ),
    ...wrap(
      `Offline verify --bundle (no AWS call: ${awsCallsOffline} made): directory ${verdict(offline[0] as AuditReport)}, archive ${verdict(offline[1] as AuditReport)}`,
    ),
    ...bundle.index.publicKeys.map((k) => `Public key fingerprint (SHA-256): ${k.fingerprint}`),
  ];
  return { ok, directory, archive, offline, awsCallsOffline, lines };
}
