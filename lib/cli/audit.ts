/**
 * `backstop audit`: verify (the bucket, or an evidence bundle offline), export, hold.
 * Registered on the CLI by lib/cli/index.ts through {@link registerAuditCommands}.
 */
import { readFileSync } from 'node:fs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { S3AuditSource, toPublicKey } from '../../lambda/shared/audit-source';
import { type AuditReport, verifyAudit } from '../../lambda/shared/audit-verify';
import type { ClientFactory } from '../../lambda/shared/clients';
import { type HandlerDeps, randomHex, realSleep } from '../../lambda/shared/deps';
import { holdReleaseRequestId, type HoldResult, placeIncidentHolds } from '../../lambda/shared/legal-hold';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { type BackstopConfig, loadConfig, toDirectory } from '../config';
import {
  BundleSource,
  exportIncident,
  readBundleFiles,
  writeBundleArchive,
  writeBundleDirectory,
} from './audit-bundle';
import { auditReportText, wrap } from './audit-render';
import { EXIT, EXIT_CODES_HELP, type Io } from './index';
import { checkIncident, UsageError } from './inputs';
import { awsOptions, type CommonOptions, connect, resolve } from './options';
import type { ControlPlaneOutputs } from './outputs';

type Target = CommonOptions;

/** The deployed control plane a command works on: configuration, outputs and clients (checked first). */
async function target(
  io: Io,
  cmd: Command,
  opts: Target,
  command: string,
): Promise<{ config: BackstopConfig; outputs: ControlPlaneOutputs; clients: ClientFactory }> {
  const r = resolve(cmd, opts, []);
  if (!r.outputs) {
    throw new UsageError(
      `${command} needs --outputs <file> (cdk deploy --outputs-file): it names the audit bucket and the manifest signing key`,
    );
  }
  return { config: r.config, outputs: r.outputs, clients: await connect(io, r) };
}

/** `--outputs` for the audit commands: required, it names the signing key. */
const OUTPUTS_HELP = 'the file `cdk deploy --outputs-file` wrote (required: it names the signing key)';

function sinceOption(value: string): Date {
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) {
    throw new InvalidArgumentError(
      `"${value}" is not a date: use ISO 8601, e.g. 2026-03-01 or 2026-03-01T12:00Z`,
    );
  }
  return at;
}

function readPublicKey(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
    toPublicKey(pem);
  } catch (err) {
    throw new UsageError(`--public-key ${file}: not a readable PEM public key (${(err as Error).message})`);
  }
  return pem;
}

interface VerifyOptions extends Target {
  incident?: string;
  all?: boolean;
  agent?: string;
  since?: Date;
  bundle?: string;
  publicKey?: string;
}

async function verifyCommand(io: Io, cmd: Command, opts: VerifyOptions): Promise<number> {
  const scopes = [opts.incident !== undefined, opts.all === true, opts.bundle !== undefined].filter(Boolean);
  const oneScope = () =>
    new UsageError('audit verify needs exactly one of --incident <id>, --all or --bundle <path>');
  if (scopes.length > 1) throw oneScope();
  if ((opts.agent !== undefined || opts.since !== undefined) && !opts.all) {
    throw new UsageError('--agent and --since narrow --all; with --incident or --bundle leave them out');
  }
  if (scopes.length === 0) throw oneScope();
  checkIncident(opts.incident);
  // Against the bucket, the configuration and outputs are checked first (a bundle needs neither).
  const deployed = opts.bundle === undefined ? await target(io, cmd, opts, 'audit verify') : undefined;
  const pem = opts.publicKey ? readPublicKey(opts.publicKey) : undefined;
  let report: AuditReport;
  if (opts.bundle || !deployed) {
    // Offline: nothing here builds a client; the bundle is the only input.
    const path = opts.bundle as string;
    const source = new BundleSource(readBundleFiles(path), path);
    const { settings, incidentId } = source.index;
    const arns = [
      ...new Set([
        ...(settings.trustedSigningKeyArns ?? []),
        ...source.index.publicKeys.map((k) => k.signingKeyArn),
      ]),
    ];
    report = await verifyAudit({
      source,
      clock: () => new Date(),
      incidentId,
      ...(settings.expectedMode && { expectedMode: settings.expectedMode }),
      ...(settings.retentionDays !== undefined && { retentionDays: settings.retentionDays }),
      ...(settings.trustedSigningKeyArns && { trustedSigningKeyArns: settings.trustedSigningKeyArns }),
      ...(pem && { publicKeys: Object.fromEntries(arns.map((arn) => [arn, pem])) }),
    });
  } else {
    const { config, outputs, clients } = deployed;
    const cp = clients.controlPlane();
    const common = {
      source: new S3AuditSource({ s3: cp.s3, bucket: outputs.auditBucketName, kms: cp.kms }),
      clock: () => new Date(),
      expectedMode: config.audit.mode,
      retentionDays: config.audit.retentionDays,
      trustedSigningKeyArns: [outputs.signingKeyArn],
      ...(pem && { publicKeys: { [outputs.signingKeyArn]: pem } }),
    };
    report = await verifyAudit(
      opts.incident
        ? { ...common, incidentId: opts.incident }
        : {
            ...common,
            all: true,
            ...(opts.agent && { agentId: opts.agent }),
            ...(opts.since && { since: opts.since }),
          },
    );
  }
  io.out(opts.json ? JSON.stringify(report, null, 2) : auditReportText(report));
  return report.ok ? EXIT.ok : EXIT.notContained;
}

interface ExportOptions extends Target {
  incident: string;
  out: string;
  archive?: boolean;
}

async function exportCommand(io: Io, cmd: Command, opts: ExportOptions): Promise<number> {
  checkIncident(opts.incident);
  const { config, outputs, clients } = await target(io, cmd, opts, 'audit export');
  const cp = clients.controlPlane();
  const now = new Date();
  const bundle = await exportIncident({
    source: new S3AuditSource({ s3: cp.s3, bucket: outputs.auditBucketName, kms: cp.kms }),
    incidentId: opts.incident,
    settings: {
      expectedMode: config.audit.mode,
      retentionDays: config.audit.retentionDays,
      trustedSigningKeyArns: [outputs.signingKeyArn],
    },
    clock: () => now,
  });
  if (opts.archive) writeBundleArchive(opts.out, bundle.files, now);
  else writeBundleDirectory(opts.out, bundle.files);
  const { index, report } = bundle;
  if (opts.json) {
    io.out(
      JSON.stringify({ out: opts.out, archive: opts.archive === true, index, verification: report }, null, 2),
    );
  } else {
    const versions = index.objects.filter((o) => !o.context).length;
    const lines = [
      `Exported incident ${index.incidentId}: ${versions} object versions, ${report.incidents[0]?.manifests.length ?? 0} manifests, to ${opts.out}${opts.archive ? ' (one .tar.gz file)' : ''}`,
      `Verification over the bucket at export: ${report.ok ? pc.green('passed') : pc.red(`FAILED (${index.verificationAtExport.errors} errors, see verification.json)`)}`,
      ...index.publicKeys.map((k) => `Public key ${k.file}: SHA-256 fingerprint ${k.fingerprint}`),
      `Verify it anywhere, without AWS: npx backstop audit verify --bundle ${opts.out}`,
    ];
    for (const line of lines) io.out(wrap(line).join('\n'));
  }
  return report.ok ? EXIT.ok : EXIT.notContained;
}

interface HoldOptions extends Target {
  incident: string;
  release?: boolean;
  reason?: string;
  local?: boolean;
}

async function holdCommand(io: Io, cmd: Command, opts: HoldOptions): Promise<number> {
  checkIncident(opts.incident);
  if (opts.release) {
    const config = loadConfig(opts.config);
    const requestId = holdReleaseRequestId(opts.incident);
    const text = [
      `Releasing the legal holds of incident ${opts.incident} needs the same two-person approval as a restore:`,
      `${config.restore.quorum} distinct approvers of restore.approvers (${config.restore.approvers.join(', ')}) must each approve release request ${requestId}.`,
      `How: each approver records an approval of ${requestId} through the restore approval endpoint; once ${config.restore.quorum} have, the approval flow asks the ${CONTROL_PLANE.auditSealerFunctionName} function to release the holds (action release-holds), the only principal the bucket policy lets remove one.`,
      'This command released nothing; every legal hold stays until then.',
    ];
    for (const paragraph of text) io.err(wrap(paragraph).join('\n'));
    return EXIT.notContained;
  }
  const { config, outputs, clients } = await target(io, cmd, opts, 'audit hold');
  const cp = clients.controlPlane();
  const caller = await cp.sts.send(new GetCallerIdentityCommand({}));
  const request = {
    incidentId: opts.incident,
    ...(caller.Arn && { requestedBy: caller.Arn }),
    ...(opts.reason && { reason: opts.reason }),
  };
  let result: HoldResult;
  if (opts.local) {
    const deps: HandlerDeps = {
      env: {
        tableName: outputs.stateTableName,
        auditBucketName: outputs.auditBucketName,
        auditKmsKeyArn: outputs.auditKeyArn,
        manifestSigningKeyArn: outputs.signingKeyArn,
        topicArn: outputs.topicArn,
        metricsNamespace: CONTROL_PLANE.metricsNamespace,
        directory: toDirectory(config),
      },
      clients,
      clock: () => new Date(),
      sleep: realSleep,
      randomId: randomHex,
      log: { info: () => {}, warn: () => {}, error: () => {} },
    };
    result = await placeIncidentHolds(deps, request);
  } else {
    const lambda = new LambdaClient({ region: config.controlPlane.region });
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: CONTROL_PLANE.auditSealerFunctionName,
        Payload: Buffer.from(JSON.stringify({ action: 'hold', ...request })),
      }),
    );
    const payload = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
    if (out.FunctionError) {
      let message = payload;
      try {
        const e = JSON.parse(payload) as { errorType?: string; errorMessage?: string };
        message = `${e.errorType ?? 'Error'}: ${e.errorMessage ?? payload}`;
      } catch {
        // not JSON: print as it came
      }
      io.err(wrap(pc.red(`The sealer refused or failed the hold (${message}); see its log.`)).join('\n'));
      return EXIT.error;
    }
    result = JSON.parse(payload) as HoldResult;
  }
  if (opts.json) io.out(JSON.stringify(result, null, 2));
  else {
    for (const line of [
      `Legal hold placed on ${result.versions.length} object versions of incident ${result.incidentId}.`,
      `Recorded in ${result.recordKey}, sealed by ${result.manifestKey}.`,
      `They stay until released with the two-person approval (backstop audit hold --release).`,
    ]) {
      io.out(wrap(line).join('\n'));
    }
  }
  return EXIT.ok;
}

/** Adds `backstop audit verify | export | hold`. `set` records a command's exit code. */
export function registerAuditCommands(
  program: Command,
  io: Io,
  set: (p: Promise<number>) => Promise<void>,
): void {
  const audit = program.command('audit').description('the Object Lock audit log: verify, export, hold');
  awsOptions(
    audit
      .command('verify')
      .description('check versions, retention, signatures, hashes and completeness of the audit log')
      .option('--incident <id>', 'one incident')
      .option('--all', 'every incident and the manifest chain')
      .option('--agent <id>', 'with --all: only incidents that touched this agent')
      .option(
        '--since <date>',
        'with --all: only incidents with an object written since (ISO 8601)',
        sinceOption,
      )
      .option('--bundle <path>', 'an exported evidence bundle (directory or .tar.gz), verified offline')
      .option('--public-key <pem>', 'the public signing key to trust (fetched from the bucket yourself)'),
    OUTPUTS_HELP,
  )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(function (this: Command, opts: VerifyOptions) {
      return set(verifyCommand(io, this, opts));
    });
  awsOptions(
    audit
      .command('export')
      .description('write an incident as an evidence bundle a reviewer verifies offline')
      .requiredOption('--incident <id>', 'the incident')
      .requiredOption('--out <path>', 'a new directory (or, with --archive, a new .tar.gz file)')
      .option('--archive', 'write one .tar.gz file instead of a directory'),
    OUTPUTS_HELP,
  )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(function (this: Command, opts: ExportOptions) {
      return set(exportCommand(io, this, opts));
    });
  awsOptions(
    audit
      .command('hold')
      .description('put an Object Lock legal hold on every object of an incident')
      .requiredOption('--incident <id>', 'the incident')
      .option('--reason <text>', 'why (goes in the audit log)')
      .option('--release', 'release the holds: needs two approvers, says how')
      .option('--local', 'place the holds from here with your credentials, not through the sealer function'),
    OUTPUTS_HELP,
  )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(function (this: Command, opts: HoldOptions) {
      return set(holdCommand(io, this, opts));
    });
}
