import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { incidentPk, queryIncidentItems } from './incident-items';
import type { PlannedAction, PlannedSkip } from '../surfaces/types';
import type { KillMode, SurfaceName } from './types';

/** What a dry run found on one surface of one agent: what a kill in `mode` would do to each resource. */
export interface StoredSurfacePlan {
  readonly agentId: string;
  readonly surface: SurfaceName;
  readonly mode: KillMode;
  /** Whether a kill in `mode` cuts this surface at all. */
  readonly applies: boolean;
  /** Resources found on the surface. */
  readonly resources: number;
  readonly actions: PlannedAction[];
  readonly skipped: PlannedSkip[];
  /** Set when the lists were cut to fit one item; the audit log's SnapshotTaken record has them whole. */
  readonly truncated?: { readonly actions: number; readonly skipped: number };
  /** Set when the surface could not be planned (discovery failed): the error, in one line. */
  readonly error?: string;
}

/** Past this size a plan's lists are cut (DynamoDB items stop at 400 KB). */
const MAX_ITEM_BYTES = 350_000;
/** Plans are kept a month: long enough to compare with the next one, short enough not to pile up. */
const TTL_SECONDS = 30 * 24 * 3600;

const pk = incidentPk;
const SK_PREFIX = 'PLAN#';

/**
 * The full plan of a dry run (`backstop plan`), one item per agent and surface, in the state
 * table. The state machine carries only counts, so a plan of any size stays under Step Functions'
 * payload limit; the CLI reads the plan back from here.
 */
export class PlanStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async put(incidentId: string, plan: StoredSurfacePlan): Promise<void> {
    let item: StoredSurfacePlan = plan;
    for (let keep = 1000; Buffer.byteLength(JSON.stringify(item)) > MAX_ITEM_BYTES && keep >= 1; keep /= 10) {
      item = {
        ...plan,
        actions: plan.actions.slice(0, keep),
        skipped: plan.skipped.slice(0, keep),
        truncated: { actions: plan.actions.length, skipped: plan.skipped.length },
      };
    }
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: pk(incidentId),
          sk: `${SK_PREFIX}${plan.agentId}#${plan.surface}`,
          plan: item,
          ttl: Math.floor(this.clock().getTime() / 1000) + TTL_SECONDS,
        },
      }),
    );
  }

  /** Every surface plan of a dry run, by agent then in the order the items sort. */
  async list(incidentId: string): Promise<StoredSurfacePlan[]> {
    const items = await queryIncidentItems(this.doc, this.tableName, incidentId, SK_PREFIX);
    return items.map((item) => item.plan as StoredSurfacePlan);
  }
}
