/**
 * `ActorAttributed`: who started a kill or restore execution, as CloudTrail recorded the
 * `StartExecution` call, written into that execution's incident and sealed.
 *
 * The kill path never takes "who" from its request body (anyone can type a name there). An
 * EventBridge rule on the control plane's default bus matches CloudTrail's management event for
 * `states:StartExecution` on `backstop-kill` and `backstop-restore` and invokes the sealer with
 * it. The record holds CloudTrail's `userIdentity` verbatim (type, ARN, session issuer, MFA,
 * source identity, `invokedBy` for an alarm-started kill), the source address and agent, and the
 * CloudTrail event id, which anyone can look up in the trail to compare.
 *
 * One execution has one attribution: the record's key and bytes derive from the execution and
 * the event (chain `actor-<hash of the execution ARN>`, time = the event time), so EventBridge's
 * repeated deliveries write nothing new, and a second, different event for the same execution
 * (a forgery, or a confused replay) is refused, left out of the log and raised as an alarm
 * metric, while the first record stays.
 */
import { createHash } from 'node:crypto';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import {
  AuditChain,
  AuditObjectConflictError,
  assertAuditId,
  newChainId,
  putImmutableObject,
  stateStoreFallback,
} from '../shared/audit';
import { errorMessage, errorName } from '../shared/aws-errors';
import { canonicalJson } from '../shared/hash';
import { type HandlerDeps, putMetric } from '../shared/deps';
import { openStore } from '../shared/kill-io';
import { DynamoManifestSeriesStore } from '../shared/manifest-store';
import { auditRecordKey, CONTROL_PLANE } from '../shared/naming';
import { incidentIdFor } from '../shared/request';
import { sealIncident } from '../shared/seal';

/** The EventBridge envelope of a CloudTrail management event (`AWS API Call via CloudTrail`). */
export interface CloudTrailApiCallEvent {
  readonly version?: string;
  readonly id?: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account?: string;
  readonly time?: string;
  readonly region?: string;
  readonly detail: CloudTrailRecord;
}

export interface CloudTrailRecord {
  readonly eventVersion?: string;
  readonly userIdentity?: CloudTrailUserIdentity;
  readonly eventTime?: string;
  readonly eventSource?: string;
  readonly eventName?: string;
  readonly awsRegion?: string;
  readonly sourceIPAddress?: string;
  readonly userAgent?: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly requestParameters?: { readonly stateMachineArn?: string; readonly name?: string } | null;
  readonly responseElements?: { readonly executionArn?: string; readonly startDate?: string } | null;
  readonly requestID?: string;
  readonly eventID?: string;
  readonly recipientAccountId?: string;
  readonly [key: string]: unknown;
}

export interface CloudTrailUserIdentity {
  readonly type?: string;
  readonly principalId?: string;
  readonly arn?: string;
  readonly accountId?: string;
  readonly accessKeyId?: string;
  readonly invokedBy?: string;
  readonly sessionContext?: {
    readonly sessionIssuer?: { readonly type?: string; readonly arn?: string; readonly userName?: string };
    readonly attributes?: { readonly mfaAuthenticated?: string; readonly creationDate?: string };
    readonly sourceIdentity?: string;
  };
  readonly [key: string]: unknown;
}

export function isCloudTrailApiCall(event: unknown): event is CloudTrailApiCallEvent {
  const e = event as Partial<CloudTrailApiCallEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    e['detail-type'] === 'AWS API Call via CloudTrail' &&
    typeof e.detail === 'object' &&
    e.detail !== null
  );
}

export type AttributionResult =
  | { readonly status: 'IGNORED'; readonly reason: string }
  | {
      readonly status: 'CONFLICT';
      readonly incidentId: string;
      readonly recordKey: string;
      readonly reason: string;
    }
  | {
      readonly status: 'ATTRIBUTED';
      readonly incidentId: string;
      readonly recordKey: string;
      /** Another delivery of the same event had written it already. */
      readonly alreadyRecorded: boolean;
      readonly manifestKey: string | null;
    };

export interface AttributionOptions {
  /** Longest wait for the execution's own manifest before sealing regardless. @default 600000 (10 min) */
  readonly waitForManifestMs?: number;
  /** Pause between two looks at the incident's manifests. @default 10000 */
  readonly pollMs?: number;
}

const STATE_MACHINES = {
  [CONTROL_PLANE.killStateMachineName]: 'kill',
  [CONTROL_PLANE.restoreStateMachineName]: 'restore',
} as const;
/** Execution names and request incident ids as the kill path accepts them (lambda/shared/request.ts). */
const INCIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,54}$/;
const STATE_MACHINE_ARN = /^arn:([^:]+):states:([^:]+):(\d{12}):stateMachine:([^:]+)$/;
const EXECUTION_ARN = /^arn:([^:]+):states:([^:]+):(\d{12}):execution:([^:]+):([^:]+)$/;

/** Writes the ActorAttributed record of a StartExecution event and seals it (see the file comment). */
export async function attributeExecution(
  event: CloudTrailApiCallEvent,
  deps: HandlerDeps,
  options: AttributionOptions = {},
): Promise<AttributionResult> {
  const d = event.detail;
  const ignore = (reason: string): AttributionResult => {
    deps.log.info('CloudTrail event not attributed', { reason, eventID: d.eventID });
    return { status: 'IGNORED', reason };
  };
  if (d.eventSource !== 'states.amazonaws.com' || d.eventName !== 'StartExecution') {
    return ignore(`${String(d.eventSource)} ${String(d.eventName)} is not states:StartExecution`);
  }
  if (d.errorCode) return ignore(`the call failed (${d.errorCode}): no execution was started`);
  const sm = STATE_MACHINE_ARN.exec(d.requestParameters?.stateMachineArn ?? '');
  const exec = EXECUTION_ARN.exec(d.responseElements?.executionArn ?? '');
  const { controlPlane } = deps.env.directory;
  if (!sm || !exec) return ignore('the event names no state machine or execution ARN');
  const kind = STATE_MACHINES[sm[4] as keyof typeof STATE_MACHINES];
  if (!kind) return ignore(`state machine ${sm[4]} is not Backstop's kill or restore path`);
  if (sm[3] !== controlPlane.accountId || sm[2] !== controlPlane.region) {
    return ignore(
      `state machine ${sm[0]} is not in the control plane ${controlPlane.accountId}/${controlPlane.region}`,
    );
  }
  if (exec[4] !== sm[4] || exec[3] !== sm[3] || exec[2] !== sm[2]) {
    return ignore(`execution ${exec[0]} does not belong to ${sm[0]}`);
  }
  const identity = d.userIdentity;
  if (!identity || typeof d.eventID !== 'string' || typeof d.eventTime !== 'string') {
    return ignore('the event has no userIdentity, eventID or eventTime');
  }
  const eventTime = new Date(d.eventTime);
  if (Number.isNaN(eventTime.getTime())) return ignore(`eventTime ${d.eventTime} is not a time`);

  const executionArn = exec[0];
  const executionName = exec[5] as string;
  const incident = await incidentOf(deps, executionArn, executionName);
  assertAuditId('Incident id', incident.incidentId);
  const { incidentId } = incident;

  // One attribution per execution: a fixed chain, and bytes that depend on the event only.
  const chainId = newChainId('actor', () =>
    createHash('sha256').update(executionArn).digest('hex').slice(0, 16),
  );
  const principalArn = identity.arn ?? identity.sessionContext?.sessionIssuer?.arn ?? identity.invokedBy;
  const fields = {
    actor: {
      type: 'iam' as const,
      ...(principalArn && { arn: principalArn }),
      detail: { source: 'CloudTrail', eventID: d.eventID },
    },
    detail: {
      path: kind,
      executionArn,
      executionName,
      stateMachineArn: sm[0],
      incidentFrom: incident.from,
      principalArn: principalArn ?? null,
      principalType: identity.type ?? null,
      roleArn: identity.sessionContext?.sessionIssuer?.arn ?? null,
      mfaAuthenticated: identity.sessionContext?.attributes?.mfaAuthenticated === 'true',
      sourceIdentity: identity.sessionContext?.sourceIdentity ?? null,
      invokedBy: identity.invokedBy ?? null,
      sourceIPAddress: d.sourceIPAddress ?? null,
      userAgent: d.userAgent ?? null,
      eventID: d.eventID,
      eventTime: d.eventTime,
      requestID: d.requestID ?? null,
      userIdentity: identity,
      deliveredBy: { eventBridgeEventId: event.id ?? null, source: event.source },
    },
  };
  const chain = new AuditChain({
    s3: deps.clients.controlPlane().s3,
    bucket: deps.env.auditBucketName,
    kmsKeyArn: deps.env.auditKmsKeyArn,
    incidentId,
    chainId,
    actor: fields.actor,
    clock: () => eventTime,
    sleep: deps.sleep,
    onUndeliverable: stateStoreFallback(openStore(deps)),
  });
  // Written through putImmutableObject first, so that a conflicting record is seen, not hidden.
  const recordKey = auditRecordKey(incidentId, chainId, 1, 'ActorAttributed');
  const body = canonicalJson({
    schemaVersion: 1,
    incidentId,
    chainId,
    seq: 1,
    type: 'ActorAttributed',
    time: eventTime.toISOString(),
    actor: fields.actor,
    detail: fields.detail,
    prevHash: null,
  });
  let alreadyRecorded = false;
  try {
    const put = await putImmutableObject({
      s3: deps.clients.controlPlane().s3,
      bucket: deps.env.auditBucketName,
      kmsKeyArn: deps.env.auditKmsKeyArn,
      key: recordKey,
      body,
    });
    alreadyRecorded = put.status === 'already-present';
  } catch (err) {
    if (err instanceof AuditObjectConflictError) {
      deps.log.error('a different attribution of this execution is already recorded; this one was refused', {
        incidentId,
        executionArn,
        eventID: d.eventID,
        principalArn,
      });
      await putMetric(deps, 'AttributionConflicts', 1, 'Count');
      return {
        status: 'CONFLICT',
        incidentId,
        recordKey,
        reason: `${recordKey} already attributes ${executionArn} differently; the event ${d.eventID} was not recorded`,
      };
    }
    // The bucket is unreachable: the chain's retries and fallback keep it for the sealer.
    deps.log.warn('attribution record not written directly; retrying through the chain', {
      error: errorName(err),
      message: errorMessage(err),
    });
    await chain.write('ActorAttributed', fields);
    await chain.flush();
  }

  await waitForOwnManifest(deps, incidentId, kind, executionArn, eventTime, options);
  const sealed = await sealIncident(deps, { incidentId, kind: 'attribution' });
  return { status: 'ATTRIBUTED', incidentId, recordKey, alreadyRecorded, manifestKey: sealed.key };
}

/** The incident the execution runs: the request's `incidentId` when it names a valid one, else derived from the name. */
async function incidentOf(
  deps: HandlerDeps,
  executionArn: string,
  executionName: string,
): Promise<{ incidentId: string; from: 'request' | 'execution name' }> {
  try {
    const out = await deps.clients.controlPlane().sfn.send(new DescribeExecutionCommand({ executionArn }));
    const input = JSON.parse(out.input ?? '{}') as { incidentId?: unknown };
    if (typeof input.incidentId === 'string' && INCIDENT_ID.test(input.incidentId)) {
      return { incidentId: input.incidentId, from: 'request' };
    }
  } catch (err) {
    deps.log.warn('execution input not readable; the incident is derived from the execution name', {
      executionArn,
      error: errorName(err),
    });
  }
  return { incidentId: incidentIdFor(executionName), from: 'execution name' };
}

/**
 * Waits until the execution has sealed its own records (a manifest of its kind created at or
 * after it started), so that the attribution gets a manifest of its own; gives up after
 * `waitForManifestMs` or as soon as the execution has ended, and the caller seals anyway.
 */
async function waitForOwnManifest(
  deps: HandlerDeps,
  incidentId: string,
  kind: 'kill' | 'restore',
  executionArn: string,
  startedAt: Date,
  options: AttributionOptions,
): Promise<void> {
  const series = new DynamoManifestSeriesStore(deps.clients.controlPlane().dynamo, deps.env.tableName);
  const poll = options.pollMs ?? 10_000;
  const looks = Math.ceil((options.waitForManifestMs ?? 600_000) / poll);
  for (let look = 0; ; look++) {
    const claims = await series.listSeries(incidentId);
    if (claims.some((c) => c.kind === kind && new Date(c.createdAt).getTime() >= startedAt.getTime() - 1000))
      return;
    if (look >= looks) {
      deps.log.warn('the execution did not seal its records in time; sealing the attribution anyway', {
        executionArn,
      });
      return;
    }
    try {
      const out = await deps.clients.controlPlane().sfn.send(new DescribeExecutionCommand({ executionArn }));
      // Finalize seals before the execution ends: an ended execution has nothing more to seal.
      if (out.status && out.status !== 'RUNNING') return;
    } catch (err) {
      deps.log.warn('execution status not readable', { executionArn, error: errorName(err) });
    }
    await deps.sleep(poll);
  }
}
