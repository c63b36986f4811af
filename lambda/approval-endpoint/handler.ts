/**
 * The restore endpoint: a Lambda function URL with `AWS_IAM` auth, the one door of the restore
 * path for people. Lambda checks the SigV4 signature and the function's resource policy (only the
 * configured approvers and the break-glass role may invoke it, and only through the URL) and hands
 * the caller's identity to the function in `requestContext.authorizer.iam`: that identity, never
 * the body, is who asks, approves or rejects.
 *
 * `POST` with a JSON body:
 * - `{ "action": "request", "incidentId", "agentId", "toMode", "surfaces"?, "reason" }`: records
 *   the request (lambda/restore-shared/request.ts) and starts the `backstop-restore` execution
 *   named after the restore id. 202 `{ restoreId, executionArn }`.
 * - `{ "action": "approve" | "reject", "restoreId", "reason"? }` (decide.ts). 200 when accepted.
 * - `{ "action": "status", "restoreId" }`: the restore as recorded (never its task token).
 *
 * A refusal answers 4xx `{ error: <code>, message }` and changes nothing but the audit log.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { errorMessage, errorName, isErrorNamed } from '../shared/aws-errors';
import type { HandlerDeps } from '../shared/deps';
import { openStore } from '../shared/kill-io';
import type { HoldResult } from '../shared/legal-hold';
import { configuredAs } from '../restore-shared/identity';
import { deliverDecision } from '../restore-shared/deliver';
import { openRestoreStore, type SealRequester } from '../restore-shared/io';
import { RestoreRefusedError, requestRestore } from '../restore-shared/request';
import type { RestoreSettings } from '../restore-shared/settings';
import { publicView } from '../restore-shared/store';
import type { CallerIdentity } from '../restore-shared/types';
import { decide, validateDecision } from './decide';
import { decideHoldRelease, type HoldReleaser, isHoldRelease } from './hold-release';

/** The part of a function URL event (payload format 2.0) the endpoint reads. */
export interface FunctionUrlEvent {
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: {
    readonly http?: { readonly method?: string };
    readonly authorizer?: { readonly iam?: { readonly userArn?: string; readonly accountId?: string } };
  };
}

export interface FunctionUrlResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface EndpointDeps {
  readonly settings: RestoreSettings;
  /** @default - the sealer function named in the settings, invoked asynchronously */
  readonly requestSeal?: SealRequester;
  /** Lambda client for the sealer invocation. @default - one built for the control plane region */
  readonly lambda?: LambdaClient;
  /** Releases an incident's legal holds at quorum. @default - invokes the sealer (`release-holds`) */
  readonly releaseHolds?: HoldReleaser;
}

function respond(statusCode: number, body: unknown): FunctionUrlResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** The caller as the URL's IAM authorizer reports it; undefined for anything that is not such a call. */
export function callerOf(event: FunctionUrlEvent): CallerIdentity | undefined {
  const arn = event.requestContext?.authorizer?.iam?.userArn;
  return typeof arn === 'string' && arn.startsWith('arn:') ? { arn, source: 'function-url' } : undefined;
}

const REFUSAL_STATUS: Record<string, number> = {
  INVALID_REQUEST: 400,
  NOT_A_REQUESTER: 403,
  NOT_AN_APPROVER: 403,
  REQUESTER: 403,
  KILL_INITIATOR: 403,
  UNKNOWN_AGENT: 404,
  UNKNOWN_RESTORE: 404,
  UNKNOWN_INCIDENT: 404,
  NO_RECORDED_KILL: 404,
  INITIATOR_UNKNOWN: 409,
};

export async function run(
  event: FunctionUrlEvent,
  deps: HandlerDeps,
  options: EndpointDeps,
): Promise<FunctionUrlResponse> {
  const caller = callerOf(event);
  if (!caller) {
    return respond(401, {
      error: 'NOT_SIGNED',
      message:
        'this endpoint takes only requests signed with AWS credentials (its function URL, AWS_IAM auth)',
    });
  }
  if (event.requestContext?.http?.method && event.requestContext.http.method !== 'POST') {
    return respond(405, { error: 'INVALID_REQUEST', message: 'POST a JSON body with an action' });
  }
  let body: Record<string, unknown>;
  try {
    const text = event.isBase64Encoded
      ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
      : (event.body ?? '');
    body = JSON.parse(text) as Record<string, unknown>;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
  } catch {
    return respond(400, {
      error: 'INVALID_REQUEST',
      message: 'the body must be a JSON object with an action',
    });
  }
  const { action, ...rest } = body;
  const requestSeal = options.requestSeal ?? sealerInvoker(options);
  try {
    switch (action) {
      case 'request':
        return await startRestore(deps, options.settings, caller, rest, requestSeal);
      case 'approve':
      case 'reject': {
        let request;
        try {
          request = validateDecision({ action, ...rest });
        } catch (e) {
          return respond(400, { error: 'INVALID_REQUEST', message: errorMessage(e) });
        }
        if (isHoldRelease(request.restoreId)) {
          const release = options.releaseHolds ?? holdReleaser(options);
          const result = await decideHoldRelease(
            deps,
            options.settings,
            caller,
            request,
            release,
            requestSeal,
          );
          return respond(result.accepted ? 200 : (REFUSAL_STATUS[result.code ?? ''] ?? 409), result);
        }
        const decided = await decide(deps, options.settings, caller, request, requestSeal);
        let delivery: string | undefined;
        if (decided.record) {
          try {
            await deliverDecision(deps, decided.record);
          } catch (e) {
            // A token already used or timed out: the task has its answer, or the wait is over.
            delivery = `${errorName(e)}: ${errorMessage(e)}`;
            deps.log.warn('decision not delivered to the restore path', {
              restoreId: request.restoreId,
              error: errorName(e),
            });
          }
        }
        const { result } = decided;
        const statusCode = result.accepted ? 200 : (REFUSAL_STATUS[result.code ?? ''] ?? 409);
        return respond(statusCode, {
          ...result,
          ...(delivery && {
            delivery: `the restore path was not told (${delivery}): approve again to retry`,
          }),
        });
      }
      case 'status':
        return await status(deps, options.settings, caller, rest);
      default:
        return respond(400, {
          error: 'INVALID_REQUEST',
          message: 'action: one of request, approve, reject, status',
        });
    }
  } catch (e) {
    if (e instanceof RestoreRefusedError) {
      return respond(REFUSAL_STATUS[e.code] ?? 409, { error: e.code, message: e.message });
    }
    deps.log.error('restore endpoint failed', { error: errorName(e), message: errorMessage(e) });
    return respond(500, { error: errorName(e), message: 'the restore endpoint failed; see its logs' });
  }
}

async function startRestore(
  deps: HandlerDeps,
  settings: RestoreSettings,
  caller: CallerIdentity,
  raw: unknown,
  requestSeal: SealRequester,
): Promise<FunctionUrlResponse> {
  if (!settings.stateMachineArn) throw new Error('the endpoint has no restore state machine ARN');
  const requested = await requestRestore(deps, raw, { settings, caller, requestSeal });
  const { restoreId } = requested.record;
  try {
    const out = await deps.clients.controlPlane().sfn.send(
      new StartExecutionCommand({
        stateMachineArn: settings.stateMachineArn,
        name: restoreId,
        input: JSON.stringify(requested.input),
      }),
    );
    return respond(202, { restoreId, executionArn: out.executionArn, status: 'REQUESTED' });
  } catch (e) {
    // Nothing runs: the request ends here, and the agent's restore lock is given back.
    const restores = openRestoreStore(deps);
    await restores.transition(restoreId, ['REQUESTED'], 'FAILED', { finishedAt: deps.clock().toISOString() });
    await restores.releaseAgent(requested.record.agentId, restoreId);
    throw e;
  }
}

async function status(
  deps: HandlerDeps,
  settings: RestoreSettings,
  caller: CallerIdentity,
  raw: Record<string, unknown>,
): Promise<FunctionUrlResponse> {
  if (!configuredAs(caller.arn, settings.approvers) && !configuredAs(caller.arn, settings.requesters)) {
    return respond(403, { error: 'NOT_AN_APPROVER', message: `${caller.arn} may not read restores` });
  }
  if (typeof raw.restoreId !== 'string') {
    return respond(400, { error: 'INVALID_REQUEST', message: 'restoreId: missing' });
  }
  const record = await openRestoreStore(deps)
    .get(raw.restoreId)
    .catch(() => undefined);
  if (!record)
    return respond(404, { error: 'UNKNOWN_RESTORE', message: `there is no restore ${raw.restoreId}` });
  const approvals = await openStore(deps).listApprovals(record.incidentId, record.restoreId);
  return respond(200, {
    ...publicView(record),
    approvals: approvals.map((a) => a.approverArn),
    quorum: settings.quorum,
  });
}

/** Invokes the audit sealer asynchronously (`{ action: 'seal', kind: 'restore' }`). */
function sealerInvoker(options: EndpointDeps): SealRequester {
  return async (incidentId) => {
    const fn = options.settings.sealerFunction;
    if (!fn || !options.lambda) return;
    try {
      await options.lambda.send(
        new InvokeCommand({
          FunctionName: fn,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify({ action: 'seal', incidentId, kind: 'restore' })),
        }),
      );
    } catch (e) {
      if (!isErrorNamed(e, 'ResourceNotFound')) throw e;
    }
  };
}

/**
 * Asks the audit sealer to release an incident's legal holds and waits for its answer: the sealer
 * counts the approvals again and is the only principal the bucket policy lets remove a hold.
 */
function holdReleaser(options: EndpointDeps): HoldReleaser {
  return async (incidentId, requestId) => {
    const fn = options.settings.sealerFunction;
    if (!fn || !options.lambda) throw new Error('the endpoint knows no audit sealer function');
    const out = await options.lambda.send(
      new InvokeCommand({
        FunctionName: fn,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify({ action: 'release-holds', incidentId, requestId })),
      }),
    );
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '{}';
    const answer = JSON.parse(text) as HoldResult & { errorType?: string; errorMessage?: string };
    if (out.FunctionError) {
      const error = new Error(answer.errorMessage ?? `the sealer failed (${out.FunctionError})`);
      error.name = answer.errorType ?? 'SealerError';
      throw error;
    }
    return answer;
  };
}
