import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';

/** The state table's partition of one incident: its plan, outcome, batch and list items. */
export const incidentPk = (incidentId: string): string => `INCIDENT#${incidentId}`;

/**
 * Every item of the incident whose sort key starts with `prefix`, all pages, read consistently
 * (a step reads what the step before it wrote).
 */
export async function queryIncidentItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  incidentId: string,
  prefix: string,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': incidentPk(incidentId), ':prefix': prefix },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    out.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}
