import { Stack } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { auditBucketLockSettings, withNonNegotiableBucketSettings } from './secure-defaults';

export interface ActorAttributionProps {
  /** The sealer function: writes the ActorAttributed record and seals it. */
  readonly sealer: lambda.IFunction;
  /**
   * Whether the account already has a trail logging management events (an organization trail
   * counts). Without one, CloudTrail sends no `AWS API Call via CloudTrail` event to EventBridge,
   * so one is created.
   */
  readonly existingTrail: boolean;
  /** Retention of the created trail's log files, and the audit bucket whose writes it records. */
  readonly trailRetention?: s3.ObjectLockRetention;
  /** Also record the audit bucket's object writes (data events) in the created trail. */
  readonly auditBucket?: s3.IBucket;
  /** Receives the created trail bucket's server access logs. */
  readonly accessLogsBucket?: s3.IBucket;
}

/**
 * Who started each kill and restore: an EventBridge rule on the control plane's default bus that
 * matches CloudTrail's management event for `states:StartExecution` on `backstop-kill` and
 * `backstop-restore` and hands it to the sealer, which writes `ActorAttributed` into the
 * execution's incident. When the account has no trail, a multi-region trail is created, its logs
 * in an Object Lock bucket, recording the audit bucket's writes as well.
 */
export class ActorAttribution extends Construct {
  readonly rule: events.Rule;
  readonly trail?: cloudtrail.Trail;

  constructor(scope: Construct, id: string, props: ActorAttributionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const stateMachines = [CONTROL_PLANE.killStateMachineName, CONTROL_PLANE.restoreStateMachineName].map(
      (name) => `arn:${stack.partition}:states:${stack.region}:${stack.account}:stateMachine:${name}`,
    );
    this.rule = new events.Rule(this, 'StartExecutionRule', {
      description: 'Backstop: attribute every kill and restore execution to the caller CloudTrail recorded',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['states.amazonaws.com'],
          eventName: ['StartExecution'],
          requestParameters: { stateMachineArn: stateMachines },
        },
      },
      targets: [new targets.LambdaFunction(props.sealer, { retryAttempts: 8 })],
    });

    if (props.existingTrail) return;
    const logs = new s3.Bucket(this, 'TrailLogs', {
      ...withNonNegotiableBucketSettings({ encryption: s3.BucketEncryption.S3_MANAGED }),
      ...(props.trailRetention && auditBucketLockSettings(props.trailRetention)),
      ...(props.accessLogsBucket && {
        serverAccessLogsBucket: props.accessLogsBucket,
        serverAccessLogsPrefix: 'trail-bucket/',
      }),
    });
    logs.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyDeletingOrExpiringTrailLogs',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [
          's3:DeleteObject',
          's3:DeleteObjectVersion',
          's3:BypassGovernanceRetention',
          's3:PutBucketObjectLockConfiguration',
          's3:PutLifecycleConfiguration',
        ],
        resources: [logs.bucketArn, logs.arnForObjects('*')],
      }),
    );
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      bucket: logs,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableFileValidation: true,
    });
    if (props.auditBucket) {
      this.trail.addS3EventSelector([{ bucket: props.auditBucket }], {
        readWriteType: cloudtrail.ReadWriteType.WRITE_ONLY,
        includeManagementEvents: true,
      });
    }
  }
}
