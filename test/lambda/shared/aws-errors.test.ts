import { NoSuchEntityException } from '@aws-sdk/client-iam';
import {
  errorMessage,
  errorName,
  errorStatus,
  isErrorNamed,
  isNotFound,
  isThrottling,
  toFailure,
} from '../../../lambda/shared/aws-errors';
import { awsError, loadFixtureError } from '../../helpers/fixtures';

describe('AWS errors', () => {
  it('reads name, message and status of modeled and unmodeled SDK errors', () => {
    const modeled = new NoSuchEntityException({
      message: 'The role with name x cannot be found.',
      $metadata: { httpStatusCode: 404 },
    });
    expect([errorName(modeled), errorMessage(modeled), errorStatus(modeled)]).toEqual([
      'NoSuchEntityException',
      'The role with name x cannot be found.',
      404,
    ]);
    const recorded = loadFixtureError(
      'test_s3_bucket_object_lock_configuration/s3.GetObjectLockConfiguration_2.json',
    );
    expect(errorName(recorded)).toBe('ObjectLockConfigurationNotFoundError');
    expect(errorStatus(recorded)).toBe(404);
    expect(errorName('boom')).toBe('UnknownError');
    expect(errorMessage('boom')).toBe('boom');
    expect(errorName({ Code: 'Throttling', Message: 'Rate exceeded' })).toBe('Throttling');
    expect(errorMessage({ Code: 'Throttling', Message: 'Rate exceeded' })).toBe('Rate exceeded');
  });

  it('matches a name with or without the Exception suffix', () => {
    expect(isErrorNamed(awsError('NoSuchEntity', 'x'), 'NoSuchEntityException')).toBe(true);
    expect(isErrorNamed(awsError('LimitExceededException', 'x'), 'LimitExceeded')).toBe(true);
    expect(isErrorNamed(awsError('AccessDenied', 'x'), 'NoSuchEntity')).toBe(false);
  });

  it('knows "already gone" in every service the surfaces call, and nothing else', () => {
    for (const name of [
      'NoSuchEntityException',
      'ResourceNotFoundException',
      'ExecutionDoesNotExist',
      'StateMachineDoesNotExist',
      'InvalidNetworkInterfaceID.NotFound',
      'InvalidGroup.NotFound',
    ]) {
      expect(isNotFound(awsError(name, 'gone', 404))).toBe(true);
    }
    expect(isNotFound(awsError('AccessDenied', 'no', 403))).toBe(false);
    expect(isNotFound(awsError('ResourceInUseException', 'busy', 409))).toBe(false);
  });

  it('tells throttling from quota errors', () => {
    for (const name of [
      'Throttling',
      'ThrottlingException',
      'TooManyRequestsException',
      'RequestLimitExceeded',
      'ThrottledException',
    ]) {
      expect(isThrottling(awsError(name, 'slow down'))).toBe(true);
    }
    expect(isThrottling(awsError('SomethingElse', 'x', 429))).toBe(true);
    expect(
      isThrottling(awsError('LimitExceededException', 'Cannot exceed quota for PoliciesPerRole: 10', 409)),
    ).toBe(false);
  });

  it('records a failure with the AWS error name and message', () => {
    expect(
      toFailure('arn:aws:iam::1:role/r', 'AttachRolePolicy', awsError('AccessDenied', 'not authorized', 403)),
    ).toEqual({
      resource: 'arn:aws:iam::1:role/r',
      action: 'AttachRolePolicy',
      error: 'AccessDenied',
      message: 'not authorized',
    });
  });
});
