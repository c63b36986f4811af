import type { Failure } from '../surfaces/types';

/**
 * Reading AWS SDK v3 errors. A modeled error has `name` set to its exception class
 * (`NoSuchEntityException`); an unmodeled one (every EC2 error) to the wire code
 * (`InvalidNetworkInterfaceID.NotFound`). Names are compared without the `Exception` suffix so
 * that both forms of one error match (`NoSuchEntity` is IAM's wire code for `NoSuchEntityException`).
 */

function stripSuffix(name: string): string {
  return name.endsWith('Exception') && name !== 'Exception' ? name.slice(0, -'Exception'.length) : name;
}

function field(e: unknown, key: string): unknown {
  return e !== null && typeof e === 'object' ? (e as Record<string, unknown>)[key] : undefined;
}

/** The AWS error name (exception class or error code) of a thrown value. */
export function errorName(e: unknown): string {
  for (const key of ['name', 'Code', 'code']) {
    const value = field(e, key);
    if (typeof value === 'string' && value !== '') return value;
  }
  return 'UnknownError';
}

export function errorMessage(e: unknown): string {
  for (const key of ['message', 'Message']) {
    const value = field(e, key);
    if (typeof value === 'string' && value !== '') return value;
  }
  return typeof e === 'string' ? e : errorName(e);
}

/** HTTP status of the response that carried the error, when there was one. */
export function errorStatus(e: unknown): number | undefined {
  const status = field(field(e, '$metadata'), 'httpStatusCode');
  return typeof status === 'number' ? status : undefined;
}

/** Whether the error is one of the given names (with or without the `Exception` suffix). */
export function isErrorNamed(e: unknown, ...names: readonly string[]): boolean {
  const actual = stripSuffix(errorName(e));
  return names.some((name) => stripSuffix(name) === actual);
}

const NOT_FOUND = [
  'NoSuchEntity', // IAM
  'ResourceNotFound', // Lambda, EventBridge, Scheduler
  'ExecutionDoesNotExist', // Step Functions
  'StateMachineDoesNotExist',
  'InvalidNetworkInterfaceID.NotFound', // EC2
  'InvalidGroup.NotFound',
  'InvalidVpcID.NotFound',
];

/** The resource is gone: for a kill, "already gone" counts as "already done". */
export function isNotFound(e: unknown): boolean {
  return isErrorNamed(e, ...NOT_FOUND);
}

const THROTTLING = [
  'Throttling', // IAM, EventBridge, Scheduler, Step Functions, STS
  'Throttled', // Resource Groups Tagging API (ThrottledException)
  'TooManyRequests', // Lambda
  'RequestLimitExceeded', // EC2
  'RequestThrottled',
  'SlowDown', // S3
  'ProvisionedThroughputExceeded', // DynamoDB
];

/**
 * AWS refused the call for its rate, not its content: worth retrying later. (IAM's
 * `LimitExceeded` is a quota, such as the managed-policy limit of a role, not a rate.)
 */
export function isThrottling(e: unknown): boolean {
  const retryable = field(e, '$retryable');
  return isErrorNamed(e, ...THROTTLING) || errorStatus(e) === 429 || field(retryable, 'throttling') === true;
}

/** A per-resource failure record: what was attempted on what, and AWS's own error name and message. */
export function toFailure(resource: string, action: string, e: unknown): Failure {
  return { resource, action, error: errorName(e), message: errorMessage(e) };
}
