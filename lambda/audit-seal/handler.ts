import { assertAuditId } from '../shared/audit';
import type { HandlerDeps } from '../shared/deps';
import { type HoldResult, placeIncidentHolds, releaseIncidentHolds } from '../shared/legal-hold';
import { MANIFEST_KINDS, type ManifestKind } from '../shared/naming';
import { sealIncident } from '../shared/seal';
import type { SealManifestResult } from '../shared/manifest';
import {
  type AttributionOptions,
  type AttributionResult,
  attributeExecution,
  isCloudTrailApiCall,
} from './attribution';

/** What the sealer function is invoked with (see index.ts for who sends which). */
export type SealerEvent =
  | { readonly action: 'seal'; readonly incidentId: string; readonly kind: ManifestKind }
  | {
      readonly action: 'hold';
      readonly incidentId: string;
      readonly requestedBy?: string;
      readonly reason?: string;
    }
  | { readonly action: 'release-holds'; readonly incidentId: string; readonly requestId: string };

export type SealerResult = SealManifestResult | HoldResult | AttributionResult;

/** Settings of the sealer beyond the common handler environment. */
export interface SealerSettings {
  /** `restore.approvers` of the config: who may approve a hold release. */
  readonly approvers: readonly string[];
  /** `restore.quorum` of the config. */
  readonly quorum: number;
  readonly attribution?: AttributionOptions;
}

/** Environment variables of the sealer function, besides the common ones (lambda/shared/env.ts). */
export const SEALER_ENV = {
  approvers: 'BACKSTOP_RESTORE_APPROVERS',
  quorum: 'BACKSTOP_RESTORE_QUORUM',
} as const;

export function readSealerSettings(env: Readonly<Record<string, string | undefined>>): SealerSettings {
  let approvers: unknown;
  try {
    approvers = JSON.parse(env[SEALER_ENV.approvers] ?? '');
  } catch {
    approvers = undefined;
  }
  if (!Array.isArray(approvers) || !approvers.every((a) => typeof a === 'string')) {
    throw new Error(`environment variable ${SEALER_ENV.approvers} must be a JSON list of principal ARNs`);
  }
  const quorum = Number(env[SEALER_ENV.quorum]);
  if (!Number.isInteger(quorum) || quorum < 2) {
    throw new Error(`environment variable ${SEALER_ENV.quorum} must be a whole number of at least 2`);
  }
  return { approvers, quorum };
}

/**
 * The audit sealer: the one Lambda function (role `backstop-audit-sealer`) besides Finalize that
 * may sign manifests, and the only principal that may remove a legal hold.
 */
export async function run(
  event: unknown,
  deps: HandlerDeps,
  settings: SealerSettings,
): Promise<SealerResult> {
  if (isCloudTrailApiCall(event)) return attributeExecution(event, deps, settings.attribution);
  const e = event as Partial<Record<string, unknown>> | null;
  const action = e?.action;
  if (typeof e !== 'object' || e === null || typeof action !== 'string') {
    throw new Error('The sealer takes a CloudTrail StartExecution event or { action, incidentId, ... }');
  }
  assertAuditId('incidentId', e.incidentId);
  const incidentId = e.incidentId;
  switch (action) {
    case 'seal': {
      if (!(MANIFEST_KINDS as readonly unknown[]).includes(e.kind)) {
        throw new Error(`kind must be one of ${MANIFEST_KINDS.join(', ')}, got ${JSON.stringify(e.kind)}`);
      }
      return sealIncident(deps, { incidentId, kind: e.kind as ManifestKind });
    }
    case 'hold':
      return placeIncidentHolds(deps, {
        incidentId,
        ...(typeof e.requestedBy === 'string' && { requestedBy: e.requestedBy.slice(0, 2048) }),
        ...(typeof e.reason === 'string' && { reason: e.reason }),
      });
    case 'release-holds':
      if (typeof e.requestId !== 'string') throw new Error('release-holds needs requestId');
      return releaseIncidentHolds(deps, {
        incidentId,
        requestId: e.requestId,
        approvers: settings.approvers,
        quorum: settings.quorum,
      });
    default:
      throw new Error(`Unknown action ${JSON.stringify(action)}: seal, hold or release-holds`);
  }
}
