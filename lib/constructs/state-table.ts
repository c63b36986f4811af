import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { AGENT_TAG, stateTableName } from '../../lambda/shared/naming';
import { RETAIN } from './secure-defaults';

/** Who may read the control flags from the workload accounts, each agent its own. */
export interface FlagReaders {
  readonly partition: string;
  /** The workload accounts: only roles there (tagged `backstop:agent`) read a flag. */
  readonly accountIds: readonly string[];
  /** Also required of every reader when set. @default - no organization condition */
  readonly organizationId?: string;
}

export interface StateTableProps {
  /** Customer-managed key that encrypts the table. */
  readonly encryptionKey: kms.IKey;
  /**
   * The agents' roles that read their own control flag across accounts (the runtime guard).
   * @default - no cross-account reader
   */
  readonly flagReaders?: FlagReaders;
  /**
   * The only principals that may write the agents' items (control flags, kill locks): the kill and
   * restore workers' role ARNs. @default - no write restriction beyond identity policies
   */
  readonly flagWriterArns?: readonly string[];
}

/** Partition and sort key names of the state table. */
export const STATE_TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/**
 * The attributes of a control flag an agent may read (the runtime guard's projection): never the
 * reason a person wrote, nor anything of another item of its partition (the kill lock) beyond
 * what the flag itself says.
 */
export const FLAG_READ_ATTRIBUTES = [
  'mode',
  'highRiskToolsEnabled',
  'incidentId',
  'updatedAt',
  'version',
] as const;

/** Item writes IAM authorizes per item (TransactWriteItems is authorized as these). */
const ITEM_WRITES = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
/** PartiQL writes, which carry no partition key IAM could scope. */
const PARTIQL_WRITES = ['dynamodb:PartiQLInsert', 'dynamodb:PartiQLUpdate', 'dynamodb:PartiQLDelete'];

/**
 * The statements of the table's resource policy. `*` is the table itself (a resource policy cannot
 * name the ARN of the table it is created with).
 *
 * - Agents read their own flag: `GetItem` only, from a workload account, by a principal tagged
 *   `backstop:agent`, on the partition `AGENT#<that tag>` and only the flag's attributes. Scales to
 *   any number of agents: one statement, the tag decides.
 * - Nobody but the kill and restore workers writes an agent's items (explicit deny, whatever an
 *   identity policy in the control plane account grants), and nobody else writes with PartiQL.
 */
export function stateTablePolicyStatements(props: StateTableProps): iam.PolicyStatement[] {
  const statements: iam.PolicyStatement[] = [];
  const readers = props.flagReaders;
  if (readers && readers.accountIds.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'AgentsReadOnlyTheirOwnControlFlag',
        principals: [...new Set(readers.accountIds)].map(
          (id) => new iam.ArnPrincipal(`arn:${readers.partition}:iam::${id}:root`),
        ),
        actions: ['dynamodb:GetItem'],
        resources: ['*'],
        conditions: {
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': [`AGENT#\${aws:PrincipalTag/${AGENT_TAG}}`],
            'dynamodb:Attributes': [...FLAG_READ_ATTRIBUTES],
          },
          Null: {
            [`aws:PrincipalTag/${AGENT_TAG}`]: 'false',
            'dynamodb:LeadingKeys': 'false',
            'dynamodb:Attributes': 'false',
          },
          ...(readers.organizationId
            ? { StringEquals: { 'aws:PrincipalOrgID': readers.organizationId } }
            : {}),
        },
      }),
    );
  }
  const writers = props.flagWriterArns ?? [];
  if (writers.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'OnlyTheKillAndRestorePathsWriteAgentItems',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ITEM_WRITES,
        resources: ['*'],
        conditions: {
          ArnNotEquals: { 'aws:PrincipalArn': [...writers] },
          'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['AGENT#*'] },
        },
      }),
      new iam.PolicyStatement({
        sid: 'NoPartiQLWritesButTheKillAndRestorePaths',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: PARTIQL_WRITES,
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': [...writers] } },
      }),
    );
  }
  return statements;
}

/**
 * The control plane's state: agent modes, kill snapshots, per-agent locks, approvals. On demand,
 * point-in-time recovery, deletion protection, a customer-managed key, retained on stack deletion.
 * Its resource policy lets each agent read its own control flag from its workload account and
 * nothing else, and keeps every writer but the kill and restore paths off the agents' items.
 */
export class StateTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StateTableProps) {
    super(scope, id);
    const statements = stateTablePolicyStatements(props);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: stateTableName(),
      partitionKey: { name: STATE_TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: STATE_TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      removalPolicy: RETAIN,
      ...(statements.length > 0 ? { resourcePolicy: new iam.PolicyDocument({ statements }) } : {}),
    });
  }
}
