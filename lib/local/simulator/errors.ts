/**
 * Errors: the models throw a `SimError` (an AWS error code, message and HTTP status); the
 * middleware turns it into the exception class the client package exports for that code (or the
 * package's ServiceException base with that name), with `$metadata` and `$fault` set, so that
 * `instanceof`, `error.name` and the SDK's retry classification behave as against AWS.
 */
import * as cloudwatch from '@aws-sdk/client-cloudwatch';
import * as dynamodb from '@aws-sdk/client-dynamodb';
import * as ec2 from '@aws-sdk/client-ec2';
import * as events from '@aws-sdk/client-eventbridge';
import * as iam from '@aws-sdk/client-iam';
import * as kms from '@aws-sdk/client-kms';
import * as lambda from '@aws-sdk/client-lambda';
import * as tagging from '@aws-sdk/client-resource-groups-tagging-api';
import * as s3 from '@aws-sdk/client-s3';
import * as scheduler from '@aws-sdk/client-scheduler';
import * as sfn from '@aws-sdk/client-sfn';
import * as sns from '@aws-sdk/client-sns';
import * as sts from '@aws-sdk/client-sts';

/** Services by their IAM action prefix (`iam:GetRole`, `states:StopExecution`, `tag:GetResources`). */
export const SERVICE_NAMES = [
  'sts',
  'iam',
  'lambda',
  'events',
  'scheduler',
  'ec2',
  'states',
  'tag',
  's3',
  'dynamodb',
  'sns',
  'cloudwatch',
  'kms',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** An AWS error raised by a service model. */
export class SimError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Extra members of the error (DynamoDB's `Item`, `CancellationReasons`, S3's `BucketName`). */
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = code;
  }
}

interface ErrorKind {
  readonly code: string;
  readonly status: number;
}

interface ServiceInfo {
  readonly clientName: string;
  readonly module: Readonly<Record<string, unknown>>;
  readonly base: string;
  readonly throttle: ErrorKind;
  readonly accessDenied: ErrorKind;
  readonly internal: ErrorKind;
  /** Error for a bad or missing parameter. */
  readonly validation: string;
  readonly unknownKey: ErrorKind;
  readonly expired: ErrorKind;
}

const queryExpired = { code: 'ExpiredToken', status: 400 };
const jsonExpired = { code: 'ExpiredTokenException', status: 403 };

/** What each service really answers, by the names its SDK client reports. */
export const SERVICES: Readonly<Record<ServiceName, ServiceInfo>> = {
  sts: {
    clientName: 'STSClient',
    module: sts,
    base: 'STSServiceException',
    throttle: { code: 'Throttling', status: 400 },
    accessDenied: { code: 'AccessDenied', status: 403 },
    internal: { code: 'InternalFailure', status: 500 },
    validation: 'ValidationError',
    unknownKey: { code: 'InvalidClientTokenId', status: 403 },
    expired: { code: 'ExpiredTokenException', status: 400 },
  },
  iam: {
    clientName: 'IAMClient',
    module: iam,
    base: 'IAMServiceException',
    throttle: { code: 'Throttling', status: 400 },
    accessDenied: { code: 'AccessDenied', status: 403 },
    internal: { code: 'ServiceFailureException', status: 500 },
    validation: 'ValidationError',
    unknownKey: { code: 'InvalidClientTokenId', status: 403 },
    expired: queryExpired,
  },
  lambda: {
    clientName: 'LambdaClient',
    module: lambda,
    base: 'LambdaServiceException',
    throttle: { code: 'TooManyRequestsException', status: 429 },
    accessDenied: { code: 'AccessDeniedException', status: 403 },
    internal: { code: 'ServiceException', status: 500 },
    validation: 'InvalidParameterValueException',
    unknownKey: { code: 'UnrecognizedClientException', status: 403 },
    expired: jsonExpired,
  },
  events: {
    clientName: 'EventBridgeClient',
    module: events,
    base: 'EventBridgeServiceException',
    throttle: { code: 'ThrottlingException', status: 400 },
    accessDenied: { code: 'AccessDeniedException', status: 400 },
    internal: { code: 'InternalException', status: 500 },
    validation: 'ValidationException',
    unknownKey: { code: 'UnrecognizedClientException', status: 400 },
    expired: jsonExpired,
  },
  scheduler: {
    clientName: 'SchedulerClient',
    module: scheduler,
    base: 'SchedulerServiceException',
    throttle: { code: 'ThrottlingException', status: 429 },
    accessDenied: { code: 'AccessDeniedException', status: 403 },
    internal: { code: 'InternalServerException', status: 500 },
    validation: 'ValidationException',
    unknownKey: { code: 'UnrecognizedClientException', status: 403 },
    expired: jsonExpired,
  },
  ec2: {
    clientName: 'EC2Client',
    module: ec2,
    base: 'EC2ServiceException',
    throttle: { code: 'RequestLimitExceeded', status: 503 },
    accessDenied: { code: 'UnauthorizedOperation', status: 403 },
    internal: { code: 'InternalError', status: 500 },
    validation: 'InvalidParameterValue',
    unknownKey: { code: 'AuthFailure', status: 401 },
    expired: { code: 'RequestExpired', status: 400 },
  },
  states: {
    clientName: 'SFNClient',
    module: sfn,
    base: 'SFNServiceException',
    throttle: { code: 'ThrottlingException', status: 400 },
    accessDenied: { code: 'AccessDeniedException', status: 400 },
    internal: { code: 'InternalFailure', status: 500 },
    validation: 'ValidationException',
    unknownKey: { code: 'UnrecognizedClientException', status: 400 },
    expired: jsonExpired,
  },
  tag: {
    clientName: 'ResourceGroupsTaggingAPIClient',
    module: tagging,
    base: 'ResourceGroupsTaggingAPIServiceException',
    throttle: { code: 'ThrottledException', status: 400 },
    accessDenied: { code: 'AccessDeniedException', status: 400 },
    internal: { code: 'InternalServiceException', status: 500 },
    validation: 'InvalidParameterException',
    unknownKey: { code: 'UnrecognizedClientException', status: 400 },
    expired: jsonExpired,
  },
  s3: {
    clientName: 'S3Client',
    module: s3,
    base: 'S3ServiceException',
    throttle: { code: 'SlowDown', status: 503 },
    accessDenied: { code: 'AccessDenied', status: 403 },
    internal: { code: 'InternalError', status: 500 },
    validation: 'InvalidArgument',
    unknownKey: { code: 'InvalidAccessKeyId', status: 403 },
    expired: queryExpired,
  },
  dynamodb: {
    clientName: 'DynamoDBClient',
    module: dynamodb,
    base: 'DynamoDBServiceException',
    throttle: { code: 'ProvisionedThroughputExceededException', status: 400 },
    accessDenied: { code: 'AccessDeniedException', status: 400 },
    internal: { code: 'InternalServerError', status: 500 },
    validation: 'ValidationException',
    unknownKey: { code: 'UnrecognizedClientException', status: 400 },
    expired: jsonExpired,
  },
  sns: {
    clientName: 'SNSClient',
    module: sns,
    base: 'SNSServiceException',
    throttle: { code: 'ThrottledException', status: 429 },
    accessDenied: { code: 'AuthorizationErrorException', status: 403 },
    internal: { code: 'InternalErrorException', status: 500 },
    validation: 'InvalidParameterException',
    unknownKey: { code: 'InvalidClientTokenId', status: 403 },
    expired: queryExpired,
  },
  cloudwatch: {
    clientName: 'CloudWatchClient',
    module: cloudwatch,
    base: 'CloudWatchServiceException',
    throttle: { code: 'Throttling', status: 400 },
    accessDenied: { code: 'AccessDenied', status: 403 },
    internal: { code: 'InternalServiceFault', status: 500 },
    validation: 'InvalidParameterValueException',
    unknownKey: { code: 'InvalidClientTokenId', status: 403 },
    expired: queryExpired,
  },
  kms: {
    clientName: 'KMSClient',
    module: kms,
    base: 'KMSServiceException',
    throttle: { code: 'ThrottlingException', status: 400 },
    accessDenied: { code: 'AccessDeniedException', status: 400 },
    internal: { code: 'KMSInternalException', status: 500 },
    validation: 'ValidationException',
    unknownKey: { code: 'UnrecognizedClientException', status: 400 },
    expired: jsonExpired,
  },
};

const BY_CLIENT = new Map(
  Object.entries(SERVICES).map(([name, info]) => [info.clientName, name as ServiceName]),
);

/** The service a client belongs to, from `context.clientName` (e.g. `IAMClient`). */
export function serviceOfClient(clientName: string): ServiceName | undefined {
  return BY_CLIENT.get(clientName);
}

/** Codes the SDK's retry strategy treats as throttling (from @smithy/core/retry). */
const THROTTLING_CODES = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/** Symbolic error kinds a test can inject without knowing each service's spelling. */
export type ErrorKindName = 'throttle' | 'internal' | 'accessDenied';

/**
 * The error a service answers for an injected fault: a symbolic kind maps to the service's own
 * code; a literal code gets the status AWS would use for it (throttling codes keep the service's
 * throttling status, `Internal*`/`*Failure`/`*Fault` are 500, `ServiceUnavailable` 503, else 400).
 */
export function injectedError(
  service: ServiceName,
  error: ErrorKindName | string,
  message?: string,
  status?: number,
): SimError {
  const info = SERVICES[service];
  let kind: ErrorKind;
  if (error === 'throttle') kind = info.throttle;
  else if (error === 'internal') kind = info.internal;
  else if (error === 'accessDenied') kind = info.accessDenied;
  else if (error === info.throttle.code) kind = info.throttle;
  else if (THROTTLING_CODES.has(error))
    kind = { code: error, status: error === 'TooManyRequestsException' ? 429 : 400 };
  else if (error === 'ServiceUnavailable' || error === 'ServiceUnavailableException')
    kind = { code: error, status: 503 };
  else if (/^Internal|Failure$|Fault$|^ServiceException$|ServiceFailure/.test(error))
    kind = { code: error, status: 500 };
  else kind = { code: error, status: 400 };
  return new SimError(
    kind.code,
    message ?? `Injected ${kind.code} (simulator fault injection)`,
    status ?? kind.status,
  );
}

export function throttlingError(service: ServiceName): SimError {
  const t = SERVICES[service].throttle;
  return new SimError(t.code, 'Rate exceeded', t.status);
}

export function accessDeniedError(
  service: ServiceName,
  callerArn: string,
  action: string,
  resource: string,
): SimError {
  const d = SERVICES[service].accessDenied;
  const onResource = resource ? ` on resource: ${resource}` : '';
  const message =
    service === 's3'
      ? 'Access Denied'
      : `User: ${callerArn} is not authorized to perform: ${service}:${action}${onResource} with an explicit deny in an identity-based policy`;
  return new SimError(d.code, message, d.status);
}

export function validationError(service: ServiceName, message: string): SimError {
  return new SimError(SERVICES[service].validation, message, 400);
}

type ExceptionCtor = new (opts: Record<string, unknown>) => Error;

function exceptionClass(service: ServiceName, code: string): { ctor: ExceptionCtor; modeled: boolean } {
  const info = SERVICES[service];
  const base = info.module[info.base] as ExceptionCtor;
  const candidate = info.module[code];
  if (typeof candidate === 'function' && candidate.prototype instanceof base) {
    return { ctor: candidate as ExceptionCtor, modeled: true };
  }
  return { ctor: base, modeled: false };
}

/** Builds the SDK exception a real client would throw for this error. */
export function toSdkError(service: ServiceName, error: SimError, requestId: string): Error {
  const { ctor, modeled } = exceptionClass(service, error.code);
  const $metadata = {
    httpStatusCode: error.status,
    requestId,
    extendedRequestId: service === 's3' ? requestId : undefined,
    cfId: undefined,
  };
  const opts: Record<string, unknown> = { message: error.message, $metadata, ...error.extra };
  if (!modeled) {
    opts.name = error.code;
    opts.$fault = error.status >= 500 ? 'server' : 'client';
  }
  const sdkError = new ctor(opts) as Error & Record<string, unknown>;
  // Unmodeled errors keep their extra members too (S3's BucketName, for instance).
  for (const [k, v] of Object.entries(error.extra)) if (sdkError[k] === undefined) sdkError[k] = v;
  return sdkError;
}
