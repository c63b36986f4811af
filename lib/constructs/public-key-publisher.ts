import * as path from 'node:path';
import { CustomResource, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/env';
import { CONTROL_PLANE, IAM_PATH, iamRoleArn, PUBLIC_KEY_PREFIX } from '../../lambda/shared/naming';
import { wildcardResourceFinding } from './policy-builder';

export interface PublicKeyPublisherProps {
  readonly auditBucket: s3.IBucket;
  /** Encrypts the published object (the bucket policy requires the audit key). */
  readonly auditKey: kms.IKey;
  readonly signingKey: kms.IKey;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/** The publisher role's ARN, as the bucket policy names it. */
export function publicKeyPublisherRoleArn(partition: string, accountId: string): string {
  return iamRoleArn(partition, accountId, CONTROL_PLANE.publicKeyPublisherRoleName);
}

/**
 * Publishes the manifest signing key's public key in the audit bucket at deploy time
 * (`public-keys/<key id>.pem`, see lambda/audit-public-key): a custom resource backed by a
 * function of the control plane, whose role may read that one public key and write that one
 * object (once, under retention and a legal hold), nothing else.
 */
export class PublicKeyPublisher extends Construct {
  /** The published object's key in the bucket. */
  readonly objectKey: string;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: PublicKeyPublisherProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.objectKey = Fn.join('', [PUBLIC_KEY_PREFIX, props.signingKey.keyId, '.pem']);
    const role = new iam.Role(this, 'Role', {
      roleName: CONTROL_PLANE.publicKeyPublisherRoleName,
      path: IAM_PATH,
      description: 'Backstop: publishes the public manifest signing key in the audit bucket at deploy time',
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(__dirname, '..', '..', 'lambda', 'audit-public-key', 'index.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role,
      timeout: Duration.minutes(2),
      memorySize: 256,
      logGroup,
      environment: {
        [ENV.auditBucketName]: props.auditBucket.bucketName,
        [ENV.auditKmsKeyArn]: props.auditKey.keyArn,
        [ENV.manifestSigningKeyArn]: props.signingKey.keyArn,
      },
      bundling: { minify: true, sourceMap: true, target: 'node24', externalModules: [] },
    });
    const object = props.auditBucket.arnForObjects(this.objectKey);
    const statements: iam.PolicyStatementProps[] = [
      { sid: 'ReadThePublicSigningKey', actions: ['kms:GetPublicKey'], resources: [props.signingKey.keyArn] },
      {
        sid: 'WriteAndHoldThePublishedKey',
        actions: ['s3:PutObject', 's3:GetObject', 's3:PutObjectLegalHold', 's3:GetObjectLegalHold'],
        resources: [object],
      },
      {
        sid: 'EncryptThroughS3',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.auditKey.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${stack.region}.${stack.urlSuffix}` },
        },
      },
      {
        sid: 'WritePublisherLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${logGroup.logGroupArn}:*`],
      },
    ];
    for (const s of statements) role.addToPrincipalPolicy(new iam.PolicyStatement(s));
    const policy = role.node.tryFindChild('DefaultPolicy');
    if (!policy) throw new Error('PublicKeyPublisher: the role has no DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: wildcardResourceFinding(this, `${logGroup.logGroupArn}:*`),
      reason:
        "Log streams are created by Lambda at run time under the publisher's own log group (log-stream ARNs end in :*); no other log group is reachable.",
    });

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::BackstopPublicSigningKey',
      properties: { SigningKeyArn: props.signingKey.keyArn, ObjectKey: this.objectKey },
    });
    // The role's policy must be in place before CloudFormation calls the function.
    this.resource.node.addDependency(role);
  }
}
