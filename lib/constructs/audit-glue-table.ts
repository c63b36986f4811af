import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** The Glue database and table names a reviewer queries from Athena. */
export const AUDIT_GLUE_DATABASE = 'backstop_audit';
export const AUDIT_GLUE_TABLE = 'records';

/**
 * The columns of the records table: every top-level field of an audit record (lambda/shared/audit.ts)
 * and the few `detail` fields a review asks about. Field names are matched case-insensitively.
 */
export const AUDIT_GLUE_COLUMNS: readonly glue.CfnTable.ColumnProperty[] = [
  { name: 'schemaversion', type: 'int' },
  { name: 'incidentid', type: 'string', comment: 'the incident (also the folder under incidents/)' },
  { name: 'chainid', type: 'string', comment: 'one hash chain per handler invocation' },
  { name: 'seq', type: 'int' },
  {
    name: 'type',
    type: 'string',
    comment: 'KillRequested, ResourceChanged, KillCompleted, ActorAttributed...',
  },
  { name: 'time', type: 'string', comment: 'ISO 8601' },
  {
    name: 'actor',
    type: 'struct<type:string,arn:string>',
    comment: 'who caused the record, as AWS reported it',
  },
  { name: 'agentid', type: 'string' },
  { name: 'accountid', type: 'string' },
  { name: 'region', type: 'string' },
  { name: 'surface', type: 'string' },
  { name: 'mode', type: 'string' },
  { name: 'reason', type: 'string' },
  {
    name: 'detail',
    type: 'struct<status:string,resource:string,action:string,principalarn:string,executionarn:string,manifestkey:string>',
    comment: 'the detail fields a review asks about; the full record is the object at "$path"',
  },
  { name: 'prevhash', type: 'string' },
];

export interface AuditGlueTableProps {
  readonly auditBucket: s3.IBucket;
}

/**
 * A Glue table over every audit record (`s3://<audit bucket>/incidents/`), for Athena: who killed
 * what, when and why, across incidents, without reading objects one by one. It holds no data and
 * reads the records in place (the reader needs `s3:GetObject` on the bucket and `kms:Decrypt` of
 * the audit key). The table is a convenience for searching: the evidence is the signed log, which
 * `backstop audit verify` checks.
 */
export class AuditGlueTable extends Construct {
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;

  constructor(scope: Construct, id: string, props: AuditGlueTableProps) {
    super(scope, id);
    const catalogId = Stack.of(this).account;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId,
      databaseInput: {
        name: AUDIT_GLUE_DATABASE,
        description: 'Backstop: the kill and restore audit log, read in place from the Object Lock bucket',
      },
    });
    this.table = new glue.CfnTable(this, 'Table', {
      catalogId,
      databaseName: AUDIT_GLUE_DATABASE,
      tableInput: {
        name: AUDIT_GLUE_TABLE,
        description: 'One row per audit record (incidents/<incident>/<chain>/<seq>-<type>.json)',
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'json', EXTERNAL: 'TRUE' },
        storageDescriptor: {
          location: `s3://${props.auditBucket.bucketName}/incidents/`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hive.hcatalog.data.JsonSerDe' },
          columns: [...AUDIT_GLUE_COLUMNS],
        },
      },
    });
    this.table.node.addDependency(this.database);
  }
}

/** The same table as Athena DDL, for the README and for reviewers who create it by hand. */
export function auditTableDdl(bucketName: string): string {
  const columns = AUDIT_GLUE_COLUMNS.map((c) => `  \`${c.name}\` ${c.type}`).join(',\n');
  return [
    `CREATE EXTERNAL TABLE IF NOT EXISTS ${AUDIT_GLUE_DATABASE}.${AUDIT_GLUE_TABLE} (`,
    columns,
    ')',
    "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'",
    `LOCATION 's3://${bucketName}/incidents/'`,
    "TBLPROPERTIES ('classification' = 'json');",
  ].join('\n');
}
