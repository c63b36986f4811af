/**
 * Where the manifest series of every incident is claimed: two kinds of item in the state table.
 *
 * | item | pk | sk |
 * |---|---|---|
 * | head of the log-wide manifest chain | `MANIFEST` | `LATEST` |
 * | manifest `seq` of an incident's series | `INCIDENT#<incidentId>` | `MANIFEST#<seq, 4 digits>` |
 *
 * A claim moves the head and creates the series item in one transaction: the head must still be
 * what the claimer read (compare-and-swap on its sha256) and the series item must not exist yet.
 * So two sealers of one incident can never both take the same `seq`, and two sealers of any two
 * incidents can never both follow the same head (the chain never forks).
 *
 * A claim carries the manifest's entries (gzipped) when they fit in an item, so that anyone can
 * finish a claim whose sealer died between the claim and the object: the manifest is rebuilt
 * byte for byte and signed again. The `MANIFEST`/`LATEST` item keeps the attributes the state
 * store reads (`incidentId`, `sha256`, `createdAt`, `previousIncidentId`, `previousSha256`).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { assertAuditId } from './audit';
import { type ManifestKind, MANIFEST_KINDS } from './naming';

/** One manifest, as the chain knows it: its incident, its object key and its canonical hash. */
export interface ManifestLink {
  readonly incidentId: string;
  readonly key: string;
  /** SHA-256 hex of the manifest's canonical bytes. */
  readonly sha256: string;
}

export interface ManifestEntry {
  readonly key: string;
  /** SHA-256 hex of the object's bytes. */
  readonly sha256: string;
  readonly versionId?: string;
}

/** A manifest's place in its incident's series and in the chain, as claimed before it is written. */
export interface ManifestClaim extends ManifestLink {
  readonly seq: number;
  readonly kind: ManifestKind;
  /** ISO 8601: the manifest's `createdAt`. */
  readonly createdAt: string;
  readonly previousInIncident: ManifestLink | null;
  readonly previousManifest: ManifestLink | null;
  /** The manifest's entries, when they fit in one item (see the file comment). */
  readonly entries?: { readonly records: ManifestEntry[]; readonly undelivered: ManifestEntry[] };
}

/** The head moved or the seq was taken: re-read the series and the head, then try again. */
export class ManifestClaimConflictError extends Error {
  override readonly name = 'ManifestClaimConflictError';
}

/** What the sealer needs from the state table. */
export interface ManifestSeriesStore {
  /** The incident's claims, by seq (strongly consistent). */
  listSeries(incidentId: string): Promise<ManifestClaim[]>;
  /** The head of the log-wide chain; undefined before the first manifest. */
  getHead(): Promise<ManifestLink | undefined>;
  /** Claims `claim.seq` of its incident and moves the head from `prevHead` to it, or throws {@link ManifestClaimConflictError}. */
  claim(prevHead: ManifestLink | null, claim: ManifestClaim): Promise<void>;
}

/** Largest gzipped, base64-encoded entry list kept in a claim (a DynamoDB item holds 400 KB). */
export const MAX_CLAIM_ENTRIES_BYTES = 350_000;

const HEAD_KEY = { pk: 'MANIFEST', sk: 'LATEST' } as const;
const SERIES_PREFIX = 'MANIFEST#';
const incidentPk = (incidentId: string) => `INCIDENT#${incidentId}`;
const seriesSk = (seq: number) => `${SERIES_PREFIX}${String(seq).padStart(4, '0')}`;

type Item = Record<string, unknown>;

/** The {@link ManifestSeriesStore} on the state table. */
export class DynamoManifestSeriesStore implements ManifestSeriesStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    if (!tableName) throw new Error('DynamoManifestSeriesStore needs the state table name');
  }

  async listSeries(incidentId: string): Promise<ManifestClaim[]> {
    assertAuditId('Incident id', incidentId);
    const items: Item[] = [];
    let start: QueryCommandInput['ExclusiveStartKey'];
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
          ExpressionAttributeValues: { ':pk': incidentPk(incidentId), ':prefix': SERIES_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items.map(toClaim).sort((a, b) => a.seq - b.seq);
  }

  async getHead(): Promise<ManifestLink | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: HEAD_KEY, ConsistentRead: true }),
    );
    const item = out.Item;
    if (!item) return undefined;
    return {
      incidentId: String(item.incidentId),
      sha256: String(item.sha256),
      // A head written before manifest series existed names the incident's single manifest.
      key: typeof item.key === 'string' ? item.key : `manifests/${String(item.incidentId)}.json`,
    };
  }

  async claim(prevHead: ManifestLink | null, claim: ManifestClaim): Promise<void> {
    assertAuditId('Incident id', claim.incidentId);
    if (!/^[0-9a-f]{64}$/.test(claim.sha256)) throw new Error('claim: sha256 must be 64 hex digits');
    if (!Number.isInteger(claim.seq) || claim.seq < 1 || claim.seq > 9999) {
      throw new Error(`claim: seq ${claim.seq} must be a whole number from 1 to 9999`);
    }
    const sameHead =
      prevHead === null
        ? claim.previousManifest === null
        : claim.previousManifest?.sha256 === prevHead.sha256;
    if (!sameHead) throw new Error('claim: previousManifest must be the head it replaces');
    const head = {
      ...HEAD_KEY,
      incidentId: claim.incidentId,
      sha256: claim.sha256,
      key: claim.key,
      seq: claim.seq,
      createdAt: claim.createdAt,
      ...(claim.previousManifest && {
        previousIncidentId: claim.previousManifest.incidentId,
        previousSha256: claim.previousManifest.sha256,
        previousKey: claim.previousManifest.key,
      }),
    };
    const headCondition: {
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues?: Record<string, string>;
    } = prevHead
      ? {
          ConditionExpression: '#sha256 = :prevSha256',
          ExpressionAttributeNames: { '#sha256': 'sha256' },
          ExpressionAttributeValues: { ':prevSha256': prevHead.sha256 },
        }
      : { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } };
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: head, ...headCondition } },
            {
              Put: {
                TableName: this.tableName,
                Item: { pk: incidentPk(claim.incidentId), sk: seriesSk(claim.seq), ...toItem(claim) },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': 'pk' },
              },
            },
          ],
        }),
      );
    } catch (err) {
      if ((err as Error)?.name !== 'TransactionCanceledException') throw err;
      throw new ManifestClaimConflictError(
        `Manifest ${claim.seq} of ${claim.incidentId} was not claimed: the chain head moved or the seq is taken`,
      );
    }
  }
}

function linkFields(prefix: string, link: ManifestLink | null): Item {
  return link
    ? {
        [`${prefix}IncidentId`]: link.incidentId,
        [`${prefix}Key`]: link.key,
        [`${prefix}Sha256`]: link.sha256,
      }
    : {};
}

function readLink(item: Item, prefix: string): ManifestLink | null {
  const incidentId = item[`${prefix}IncidentId`];
  if (typeof incidentId !== 'string') return null;
  return { incidentId, key: String(item[`${prefix}Key`]), sha256: String(item[`${prefix}Sha256`]) };
}

function toItem(claim: ManifestClaim): Item {
  let entriesGz: string | undefined;
  if (claim.entries) {
    const gz = gzipSync(JSON.stringify(claim.entries)).toString('base64');
    if (gz.length <= MAX_CLAIM_ENTRIES_BYTES) entriesGz = gz;
  }
  return {
    incidentId: claim.incidentId,
    seq: claim.seq,
    kind: claim.kind,
    key: claim.key,
    sha256: claim.sha256,
    createdAt: claim.createdAt,
    ...linkFields('previousInIncident', claim.previousInIncident),
    ...linkFields('previous', claim.previousManifest),
    ...(entriesGz && { entriesGz }),
  };
}

function toClaim(item: Item): ManifestClaim {
  const kind = item.kind as ManifestKind;
  if (!(MANIFEST_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`State table item ${String(item.pk)} / ${String(item.sk)} has an unknown manifest kind`);
  }
  const entries =
    typeof item.entriesGz === 'string'
      ? (JSON.parse(
          gunzipSync(Buffer.from(item.entriesGz, 'base64')).toString('utf8'),
        ) as ManifestClaim['entries'])
      : undefined;
  return {
    incidentId: String(item.incidentId),
    seq: Number(item.seq),
    kind,
    key: String(item.key),
    sha256: String(item.sha256),
    createdAt: String(item.createdAt),
    previousInIncident: readLink(item, 'previousInIncident'),
    previousManifest: readLink(item, 'previous'),
    ...(entries && { entries }),
  };
}
