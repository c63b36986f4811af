/**
 * Who started the kill a restore undoes, as AWS recorded it: the `ActorAttributed` record the audit
 * sealer writes from CloudTrail's `StartExecution` event (lambda/audit-seal/attribution.ts), never
 * a name from a request. Its key is fixed by the kill's execution ARN (chain
 * `actor-<first 16 hex of SHA-256 of the ARN>`, seq 1), so it is read directly. Until CloudTrail's
 * event has been attributed the initiator is unknown, and approvals are refused (fail closed).
 */
import { createHash } from 'node:crypto';
import { getObjectIfExists } from '../shared/manifest';
import type { HandlerDeps } from '../shared/deps';
import { auditRecordKey } from '../shared/naming';
import type { Incident } from '../shared/state-store';

export type KillInitiator =
  | {
      readonly known: true;
      /** The principal CloudTrail named and, for a session, the role it belongs to. */
      readonly arns: readonly string[];
      readonly recordKey: string;
      readonly eventId: string | null;
    }
  | { readonly known: false; readonly reason: string };

/** Where the ActorAttributed record of an execution is (see attribution.ts's chain id). */
export function attributionKey(incidentId: string, executionArn: string): string {
  const chainId = `actor-${createHash('sha256').update(executionArn).digest('hex').slice(0, 16)}`;
  return auditRecordKey(incidentId, chainId, 1, 'ActorAttributed');
}

export async function killInitiator(deps: HandlerDeps, incident: Incident): Promise<KillInitiator> {
  const executionArn = incident.actor?.type === 'execution' ? incident.actor.arn : undefined;
  if (!executionArn) {
    return { known: false, reason: `incident ${incident.incidentId} names no kill execution` };
  }
  const key = attributionKey(incident.incidentId, executionArn);
  const found = await getObjectIfExists(deps.clients.controlPlane().s3, deps.env.auditBucketName, key);
  if (!found) {
    return {
      known: false,
      reason: `who started the kill of incident ${incident.incidentId} is not known yet: CloudTrail's record of its StartExecution has not been attributed (no ${key}). Approvals are refused until it is; try again in a few minutes`,
    };
  }
  let record: { detail?: Record<string, unknown> };
  try {
    record = JSON.parse(Buffer.from(found.bytes).toString('utf8')) as typeof record;
  } catch {
    return { known: false, reason: `${key} is not a readable audit record` };
  }
  const d = record.detail ?? {};
  if (d.path !== 'kill' || d.executionArn !== executionArn) {
    return { known: false, reason: `${key} does not attribute the kill execution ${executionArn}` };
  }
  const arns = [d.principalArn, d.roleArn].filter((a): a is string => typeof a === 'string' && a !== '');
  if (arns.length === 0) {
    return {
      known: false,
      reason: `${key} names no principal for the kill of incident ${incident.incidentId}`,
    };
  }
  return { known: true, arns, recordKey: key, eventId: typeof d.eventID === 'string' ? d.eventID : null };
}
