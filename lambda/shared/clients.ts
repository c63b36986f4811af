import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';

/** Credentials of an assumed role (STS AssumeRole output, or static keys). */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/**
 * A hook applied to every client the factory builds. Production passes none. The local engine
 * passes the embedded simulator's middleware here, so handler code is the same in both.
 */
export type ClientPlugin = (client: { middlewareStack: { use: (p: never) => void } } & object) => void;

/** Clients for the control plane account, under the handler's own identity. */
export interface ControlPlaneClients {
  readonly sts: STSClient;
  readonly s3: S3Client;
  readonly dynamo: DynamoDBDocumentClient;
  readonly sns: SNSClient;
  readonly cloudwatch: CloudWatchClient;
  readonly kms: KMSClient;
  readonly sfn: SFNClient;
}

/** Clients for one workload account and region, under an assumed execution role. */
export interface WorkloadClients {
  readonly iam: IAMClient;
  readonly lambda: LambdaClient;
  readonly events: EventBridgeClient;
  readonly scheduler: SchedulerClient;
  readonly ec2: EC2Client;
  readonly sfn: SFNClient;
  readonly tagging: ResourceGroupsTaggingAPIClient;
}

export interface ClientFactory {
  controlPlane(): ControlPlaneClients;
  workload(region: string, credentials: Credentials): WorkloadClients;
}

export interface ClientFactoryOptions {
  /** Region of the control plane clients. */
  readonly region: string;
  /** Attempts per AWS call, first one included. @default DEFAULT_MAX_ATTEMPTS (10) */
  readonly maxAttempts?: number;
  /** Cap of one backoff delay in milliseconds. @default DEFAULT_MAX_BACKOFF_MS (1000) */
  readonly maxBackoffMs?: number;
  /** Base of the exponential backoff in milliseconds. @default 100 */
  readonly baseBackoffMs?: number;
  /** Hooks applied to every client built. @default - none (real AWS, or AWS_ENDPOINT_URL) */
  readonly plugins?: readonly ClientPlugin[];
  /** Credentials of the control plane clients. @default - the standard AWS SDK chain */
  readonly credentials?: Credentials;
}

/**
 * Exponential backoff with full jitter (the AWS Architecture Blog's recommendation): the SDK's
 * retry strategy classifies throttling, 5xx and transient errors; this decides how long to wait.
 */
export function fullJitterBackoff(baseMs: number, capMs: number, random: () => number = Math.random) {
  return (attempt: number): number => Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

/** Attempts per call, the first included. */
export const DEFAULT_MAX_ATTEMPTS = 10;
export const DEFAULT_BASE_BACKOFF_MS = 100;
/**
 * Longest pause before a retry. AWS's control plane quotas are token buckets with a burst (IAM
 * writes 10, Lambda 15, EC2's ModifyNetworkInterfaceAttribute 100): a bucket left alone for under a
 * second keeps what it refilled, so a throttled call that waits longer only delays itself, and the
 * last calls of a kill (the ones that end it) waited longest.
 */
export const DEFAULT_MAX_BACKOFF_MS = 1000;

/** Workload client sets kept per container (one per assumed session). */
const MAX_WORKLOAD_SESSIONS = 16;

/**
 * Builds SDK clients once per container. Endpoints come from the standard SDK settings
 * (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), never from code.
 */
export function createClientFactory(options: ClientFactoryOptions): ClientFactory {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const backoff = fullJitterBackoff(
    options.baseBackoffMs ?? DEFAULT_BASE_BACKOFF_MS,
    options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
  );
  // One strategy (and so one retry quota) per client: a throttled service must not use up the
  // retries of every other client the handler holds.
  const base = () => ({ retryStrategy: new ConfiguredRetryStrategy(maxAttempts, backoff), maxAttempts });
  const forcePathStyle = Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3);
  const plug = <T extends object>(client: T): T => {
    for (const plugin of options.plugins ?? []) plugin(client as never);
    return client;
  };
  let control: ControlPlaneClients | undefined;
  const workloads = new Map<string, WorkloadClients>();

  return {
    controlPlane() {
      if (!control) {
        const cfg = () => ({ ...base(), region: options.region, credentials: options.credentials });
        control = {
          sts: plug(new STSClient(cfg())),
          s3: plug(new S3Client({ ...cfg(), forcePathStyle })),
          // The document client shares the plain client's middleware stack: plug only the plain one.
          dynamo: DynamoDBDocumentClient.from(plug(new DynamoDBClient(cfg())), {
            marshallOptions: { removeUndefinedValues: true },
          }),
          sns: plug(new SNSClient(cfg())),
          cloudwatch: plug(new CloudWatchClient(cfg())),
          kms: plug(new KMSClient(cfg())),
          sfn: plug(new SFNClient(cfg())),
        };
      }
      return control;
    },
    workload(region, credentials) {
      const key = `${region}|${credentials.accessKeyId}|${credentials.sessionToken ?? ''}`;
      let clients = workloads.get(key);
      if (!clients) {
        const cfg = () => ({ ...base(), region, credentials });
        // Built on first use: a handler invocation needs one or two of the seven (the surface it
        // cuts), and building an SDK client costs a few milliseconds of CPU.
        clients = lazyClients({
          iam: () => plug(new IAMClient(cfg())),
          lambda: () => plug(new LambdaClient(cfg())),
          events: () => plug(new EventBridgeClient(cfg())),
          scheduler: () => plug(new SchedulerClient(cfg())),
          ec2: () => plug(new EC2Client(cfg())),
          sfn: () => plug(new SFNClient(cfg())),
          tagging: () => plug(new ResourceGroupsTaggingAPIClient(cfg())),
        });
        // Each kill assumes a fresh session, so a warm container would otherwise keep every
        // session's clients forever: keep the most recent few.
        if (workloads.size >= MAX_WORKLOAD_SESSIONS)
          workloads.delete(workloads.keys().next().value as string);
        workloads.set(key, clients);
      }
      return clients;
    },
  };
}

/** An object whose every property is built by its factory on first read, then kept. */
function lazyClients<T extends object>(factories: { readonly [K in keyof T]: () => T[K] }): T {
  const built: Partial<T> = {};
  const out = {} as T;
  for (const key of Object.keys(factories) as (keyof T)[]) {
    Object.defineProperty(out, key, {
      enumerable: true,
      get: () => {
        if (!(key in built)) built[key] = factories[key]();
        return built[key] as T[typeof key];
      },
    });
  }
  return out;
}
