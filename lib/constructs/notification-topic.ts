import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface NotificationTopicProps {
  /** Customer-managed key that encrypts the messages. */
  readonly encryptionKey: kms.IKey;
  /** Display name of the topic. @default 'Backstop' */
  readonly displayName?: string;
}

/**
 * Where Backstop tells people what happened (kill outcomes, partial kills, approvals needed):
 * KMS-encrypted, and its policy denies every request that does not use TLS.
 */
export class NotificationTopic extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: props.displayName ?? 'Backstop',
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    // CloudWatch alarms (partial or failed kills) publish to this encrypted topic: they need the key.
    if (props.encryptionKey instanceof kms.Key) {
      props.encryptionKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchAlarmsToPublishToEncryptedTopic',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
    }
  }
}
