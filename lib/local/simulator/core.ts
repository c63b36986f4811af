/**
 * Types the service models share with the Simulator, kept apart so that the models depend on an
 * interface, not on the Simulator class.
 */
import type { CloudWatchService } from './cloudwatch';
import type { DynamoDbService } from './dynamodb';
import type { Ec2Service } from './ec2';
import type { EventsService } from './events';
import type { IamService } from './iam';
import type { KmsService } from './kms';
import type { LambdaService } from './lambda';
import type { PageSize } from './pagination';
import type { S3Service } from './s3';
import type { SchedulerService } from './scheduler';
import type { SfnService } from './sfn';
import type { SnsService } from './sns';
import type { StsService } from './sts';
import type { TaggingService } from './tagging';
import type { Ids, Principal, SimClock, SimCredentials } from './world';

/** An SDK command output as the model returns it: the middleware adds `$metadata`. */
export type Out<T> = Omit<T, '$metadata'>;

export interface Settings {
  readonly pageSize: PageSize;
  readonly esmSettleReads: number;
  readonly esmSettleMs?: number;
  readonly functionUpdateSettleReads: number;
  readonly managedPolicyLimit: number;
}

export interface Services {
  readonly sts: StsService;
  readonly iam: IamService;
  readonly lambda: LambdaService;
  readonly events: EventsService;
  readonly scheduler: SchedulerService;
  readonly ec2: Ec2Service;
  readonly states: SfnService;
  readonly tag: TaggingService;
  readonly s3: S3Service;
  readonly dynamodb: DynamoDbService;
  readonly sns: SnsService;
  readonly cloudwatch: CloudWatchService;
  readonly kms: KmsService;
}

/** What the models may ask of the simulator. */
export interface SimCore {
  readonly clock: SimClock;
  readonly ids: Ids;
  readonly settings: Settings;
  readonly services: Services;
  /** Hands out credentials that resolve back to this principal. */
  issueCredentials(principal: Principal): SimCredentials;
  /** The organization an account belongs to, if one was set. */
  organizationOf(accountId: string): string | undefined;
}
