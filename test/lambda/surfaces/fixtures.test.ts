import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ListEventBusesResponse } from '@aws-sdk/client-eventbridge';
import type { EventSourceMappingConfiguration } from '@aws-sdk/client-lambda';
import { awsError, fixturesDir, loadFixture, loadFixtureError, revive } from '../../helpers/fixtures';

describe('recorded fixture loader', () => {
  it('finds the recordings inside the repository, with their licence', () => {
    expect(fixturesDir()).toBe(path.resolve(__dirname, '..', '..', 'fixtures', 'aws-recorded'));
    expect(existsSync(path.join(fixturesDir(), 'LICENSE'))).toBe(true);
  });

  it('turns a recording into an SDK v3 output: $metadata instead of ResponseMetadata, Dates revived', () => {
    const out = loadFixture<EventSourceMappingConfiguration>(
      'test_mu_sqs_subscriber/lambda.UpdateEventSourceMapping_1.json',
    );
    expect(out.$metadata).toEqual({ httpStatusCode: 202, requestId: '8ad11a9f-7ba5-11e8-ae54-5332f4bb8ca7' });
    expect(out).not.toHaveProperty('ResponseMetadata');
    expect(out.State).toBe('Enabling');
    expect(out.LastModified).toEqual(new Date('2018-06-29T10:05:56.424Z'));
    const buses = loadFixture<ListEventBusesResponse>('test_cwe_disable_rule/events.ListEventBuses_1.json');
    expect(buses.EventBuses?.[1].CreationTime).toBeInstanceOf(Date);
  });

  it('throws a recorded error as the SDK would, and hands it over as a value on request', () => {
    const path = 'test_s3_bucket_object_lock_configuration/s3.GetObjectLockConfiguration_2.json';
    expect(() => loadFixture(path)).toThrow('Object Lock configuration does not exist for this bucket');
    const error = loadFixtureError(path);
    expect(error.name).toBe('ObjectLockConfigurationNotFoundError');
    expect(error.$metadata.httpStatusCode).toBe(404);
    expect(error.$fault).toBe('client');
    expect(() => loadFixtureError('test_cwe_disable_rule/events.DisableRule_1.json')).toThrow(
      /success, not an error/,
    );
    expect(() => loadFixture('test_cwe_disable_rule/nope.json')).toThrow(/no recorded fixture/);
  });

  it('builds service exceptions for errors no recording covers', () => {
    const error = awsError('ServiceUnavailable', 'try later', 503);
    expect([error.name, error.message, error.$fault, error.$metadata.httpStatusCode]).toEqual([
      'ServiceUnavailable',
      'try later',
      'server',
      503,
    ]);
    expect(revive({ a: [{ __class__: 'datetime', year: 2020, month: 1, day: 2 }] })).toEqual({
      a: [new Date('2020-01-02T00:00:00Z')],
    });
  });
});
