import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/**
 * What would make the audit log unreadable or unverifiable: disabling or deleting the audit key
 * (the COMPLIANCE-locked records could no longer be decrypted) or the signing key (no manifest
 * would verify unless its public key was kept), or rewriting a key policy to allow either.
 */
export const KEY_TAMPER_ACTIONS = ['kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy'] as const;

/**
 * Denies {@link KEY_TAMPER_ACTIONS} on the key to every principal, the account root included (a
 * key policy binds root too). KMS refuses to create a key whose policy nobody could change again
 * unless the lockout safety check is bypassed: that is the point, so it is bypassed. The key
 * policy is final from creation on; a later change to it fails the deployment (make a new key).
 */
export function protectKey(key: kms.Key): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyDisablingDeletingOrRepolicingTheKey',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: [...KEY_TAMPER_ACTIONS],
      resources: ['*'],
    }),
  );
  (key.node.defaultChild as kms.CfnKey).bypassPolicyLockoutSafetyCheck = true;
}

export interface AuditKeyAlarmsProps {
  /** The keys whose tampering is alarmed. */
  readonly keys: readonly kms.IKey[];
  /** Where the alarm goes. */
  readonly topic: sns.ITopic;
}

/**
 * An EventBridge rule on CloudTrail's management events that tells the topic about every attempt
 * to disable, schedule the deletion of, or change the policy of the audit or signing key, denied
 * or not (a denied attempt is the interesting one). Needs a trail in the account (CloudTrail
 * delivers `AWS API Call via CloudTrail` events to EventBridge only then).
 */
export class AuditKeyAlarms extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: AuditKeyAlarmsProps) {
    super(scope, id);
    // EventBridge publishes to the encrypted topic: it needs the topic's key, for this account only.
    const topicKey = props.topic.masterKey;
    if (topicKey instanceof kms.Key) {
      topicKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowEventBridgeToPublishToEncryptedTopic',
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
    }
    const arns = props.keys.map((k) => k.keyArn);
    const ids = props.keys.map((k) => k.keyId);
    this.rule = new events.Rule(this, 'Rule', {
      description:
        'Backstop: an attempt to disable, delete or re-policy the audit or manifest signing key (CloudTrail)',
      eventPattern: {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: KEY_TAMPER_ACTIONS.map((a) => a.slice('kms:'.length)),
          // A denied call may name the key as given (id or ARN) and carry no resources.
          $or: [{ requestParameters: { keyId: [...arns, ...ids] } }, { resources: { ARN: arns } }],
        },
      },
      targets: [
        new targets.SnsTopic(props.topic, {
          message: events.RuleTargetInput.fromText(
            `Backstop audit key tampering: ${events.EventField.fromPath('$.detail.eventName')} on ${events.EventField.fromPath('$.detail.requestParameters.keyId')} by ${events.EventField.fromPath('$.detail.userIdentity.arn')} at ${events.EventField.time} (error: ${events.EventField.fromPath('$.detail.errorCode')}). Event ${events.EventField.fromPath('$.detail.eventID')}.`,
          ),
        }),
      ],
    });
  }
}
