import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { incidentPk, queryIncidentItems } from './incident-items';
import type { AgentKillResult } from './kill-types';

/** Past this size an outcome's lists are cut (the audit log keeps them whole). */
const MAX_ITEM_BYTES = 350_000;

const pk = incidentPk;
const SK_PREFIX = 'OUTCOME#';

/**
 * Each agent's full kill outcome (every surface's cut and read-back), kept in the state table
 * by the read-back step. The state machine then carries one line per agent instead of the whole
 * outcome, so a fleet kill stays under Step Functions' 256 KB payload limit; Finalize reads them
 * back from here.
 */
export class OutcomeStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(incidentId: string, outcome: AgentKillResult): Promise<void> {
    let item: AgentKillResult = outcome;
    if (Buffer.byteLength(JSON.stringify(item)) > MAX_ITEM_BYTES) {
      item = {
        ...outcome,
        contain: outcome.contain.map((c) => ({
          ...c,
          skipped: c.skipped.slice(0, 5),
          failures: c.failures.slice(0, 5),
        })),
      };
    }
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: pk(incidentId), sk: `${SK_PREFIX}${outcome.agentId}`, outcome: item },
      }),
    );
  }

  /** Every agent outcome of the incident, by agent id. */
  async list(incidentId: string): Promise<Map<string, AgentKillResult>> {
    const items = await queryIncidentItems(this.doc, this.tableName, incidentId, SK_PREFIX);
    const outcomes = items.map((item) => item.outcome as AgentKillResult);
    return new Map(outcomes.map((o) => [o.agentId, o]));
  }
}
