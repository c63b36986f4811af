/**
 * `backstop approve <restoreId> [--reason]` and `backstop reject <restoreId> --reason`.
 * Registered on the CLI by lib/cli/index.ts through {@link registerApprovalCommands}.
 *
 * Deployed, the decision goes to the restore endpoint (function URL, AWS_IAM): Lambda verifies
 * the signature and the endpoint takes the approver from it. With `--local --endpoint <url>` the
 * decision is recorded here, as the identity STS reports for the caller's credentials at that
 * endpoint; the restore path (running elsewhere, `backstop restore --local`) sees it in the state
 * table. Exit code 0 only when the approval or rejection was accepted.
 */
import type { Command } from 'commander';
import pc from 'picocolors';
import { type DecisionResult, decide, validateDecision } from '../../lambda/approval-endpoint/decide';
import { decideHoldRelease, isHoldRelease } from '../../lambda/approval-endpoint/hold-release';
import { randomHex, realSleep } from '../../lambda/shared/deps';
import { releaseIncidentHolds } from '../../lambda/shared/legal-hold';
import type { HandlerDeps } from '../../lambda/shared/deps';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { toDirectory } from '../config';
import { EXIT, type Io } from './index';
import { checkReason, UsageError } from './inputs';
import { connect } from './options';
import { callEndpoint, type Fetch, restoreEndpointUrl } from './restore-endpoint';
import {
  type RestoreTarget,
  restoreResolve,
  restoreSettingsOf,
  restoreTargetOptions,
  stsIdentity,
} from './restore';
import { clip, printable, wrap } from './text';

interface DecisionOptions extends RestoreTarget {
  reason?: string;
}

function print(io: Io, result: DecisionResult, json: boolean | undefined): number {
  if (json) {
    io.out(JSON.stringify(result, null, 2));
  } else {
    const verdict = result.accepted ? pc.green('accepted') : pc.red(`refused (${result.code ?? 'refused'})`);
    io.out(clip(`${result.action} ${printable(result.restoreId)}: ${verdict}`));
    for (const line of wrap(printable(result.message))) io.out(line);
    if (result.status)
      io.out(`Restore status: ${result.status}, approvals ${result.approvals} of ${result.quorum}`);
  }
  return result.accepted ? EXIT.ok : EXIT.notContained;
}

async function decisionCommand(
  io: Io,
  cmd: Command,
  action: 'approve' | 'reject',
  restoreId: string,
  opts: DecisionOptions,
  fetchFn?: Fetch,
): Promise<number> {
  const r = restoreResolve(cmd, opts, [], action);
  const reason = checkReason(opts.reason, action === 'reject');
  let request;
  try {
    request = validateDecision({
      action,
      restoreId,
      ...(reason !== undefined && { reason }),
    });
  } catch (e) {
    throw new UsageError(
      `${action}: ${(e as Error).message.replace('reason:', '--reason:').replace('restoreId:', '<restoreId>:')}`,
    );
  }
  const clients = await connect(io, r);

  if (opts.local) {
    const cp = r.outputs;
    if (!cp) throw new UsageError(`${action} --local needs --outputs <file>`);
    const deps: HandlerDeps = {
      env: {
        tableName: cp.stateTableName,
        auditBucketName: cp.auditBucketName,
        auditKmsKeyArn: cp.auditKeyArn,
        manifestSigningKeyArn: cp.signingKeyArn,
        topicArn: cp.topicArn,
        metricsNamespace: CONTROL_PLANE.metricsNamespace,
        directory: toDirectory(r.config),
      },
      clients,
      clock: () => new Date(),
      sleep: realSleep,
      randomId: randomHex,
      log: { info: () => {}, warn: () => {}, error: () => {} },
    };
    const caller = await stsIdentity(clients);
    const settings = restoreSettingsOf(r.config);
    if (isHoldRelease(request.restoreId)) {
      // `audit hold --release` printed this id: at quorum, release here (the bucket policy lets
      // only the sealer's role remove a hold, so these credentials must be that role's).
      const release = (incidentId: string, requestId: string) =>
        releaseIncidentHolds(deps, {
          incidentId,
          requestId,
          approvers: settings.approvers,
          quorum: settings.quorum,
        });
      return print(io, await decideHoldRelease(deps, settings, caller, request, release), opts.json);
    }
    const { result } = await decide(deps, settings, caller, request);
    return print(io, result, opts.json);
  }

  const url = restoreEndpointUrl(r.outputsFile);
  const answer = await callEndpoint(clients, r.target.region, url, { ...request }, fetchFn);
  if (typeof answer.body.accepted !== 'boolean') {
    const message = `${String(answer.body.error ?? answer.status)}: ${String(answer.body.message ?? '')}`;
    if (opts.json) io.out(JSON.stringify(answer.body, null, 2));
    else for (const line of wrap(printable(message))) io.err(pc.red(line));
    return EXIT.notContained;
  }
  return print(io, answer.body as unknown as DecisionResult, opts.json);
}

/** `approve <restoreId> [--reason]` and `reject <restoreId> --reason`. */
export function registerApprovalCommands(
  program: Command,
  io: Io,
  set: (p: Promise<number>) => Promise<void>,
  fetchFn?: Fetch,
): void {
  restoreTargetOptions(
    program
      .command('approve')
      .description(
        'approve a restore (you must be one of restore.approvers; not its requester nor the killer)',
      )
      .argument('<restoreId>', 'the id `backstop restore` printed, or hold-release-<incident>')
      .option('--reason <text>', 'why (goes in the audit log)'),
  ).action(function (this: Command, restoreId: string, opts: DecisionOptions) {
    return set(decisionCommand(io, this, 'approve', restoreId, opts, fetchFn));
  });
  restoreTargetOptions(
    program
      .command('reject')
      .description('reject a restore: one rejection ends it, and nothing changes')
      .argument('<restoreId>', 'the id `backstop restore` printed')
      .option('--reason <text>', 'why (required: goes in the audit log)'),
  ).action(function (this: Command, restoreId: string, opts: DecisionOptions) {
    return set(decisionCommand(io, this, 'reject', restoreId, opts, fetchFn));
  });
}
