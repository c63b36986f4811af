import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ServiceException } from '@smithy/core/client';

/**
 * Recorded AWS responses (test/fixtures/aws-recorded, copied into the repository with their licence) turned into what
 * the AWS SDK for JavaScript v3 returns: `ResponseMetadata` becomes `$metadata`, botocore's
 * `{"__class__": "datetime", ...}` objects become Dates, and a non-2xx recording becomes the
 * ServiceException the SDK would throw.
 */

/** The repository root: the nearest folder above this file that holds package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** `<repo>/test/fixtures/aws-recorded`: the recordings and their licence (see the README there). */
export function fixturesDir(): string {
  const dir = path.resolve(repoRoot(), 'test', 'fixtures', 'aws-recorded');
  if (!existsSync(dir)) throw new Error(`recorded AWS fixtures not found at ${dir}`);
  return dir;
}

interface Recording {
  readonly status_code: number;
  readonly data: Record<string, unknown>;
}

interface BotocoreDatetime {
  readonly __class__: 'datetime';
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour?: number;
  readonly minute?: number;
  readonly second?: number;
  readonly microsecond?: number;
}

function isDatetime(value: unknown): value is BotocoreDatetime {
  return (
    value !== null && typeof value === 'object' && (value as { __class__?: unknown }).__class__ === 'datetime'
  );
}

/** Deep copy with every recorded datetime revived as a Date (the recorder wrote them in UTC). */
export function revive(value: unknown): unknown {
  if (isDatetime(value)) {
    const { year, month, day, hour = 0, minute = 0, second = 0, microsecond = 0 } = value;
    return new Date(Date.UTC(year, month - 1, day, hour, minute, second, Math.floor(microsecond / 1000)));
  }
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

function read(relativePath: string): Recording {
  const file = path.join(fixturesDir(), relativePath);
  if (!existsSync(file)) throw new Error(`no recorded fixture ${relativePath} (looked in ${fixturesDir()})`);
  const recording = JSON.parse(readFileSync(file, 'utf8')) as Recording;
  if (typeof recording.status_code !== 'number' || typeof recording.data !== 'object') {
    throw new Error(`${relativePath} is not a recording ({"status_code", "data"})`);
  }
  return recording;
}

function requestId(data: Record<string, unknown>): string | undefined {
  const meta = data.ResponseMetadata as { RequestId?: string } | undefined;
  return meta?.RequestId;
}

/** An SDK v3 ServiceException as a client throws it, for errors no recording covers. */
export function awsError(name: string, message: string, status = 400): ServiceException {
  return new ServiceException({
    name,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

/**
 * The SDK output of a recorded 2xx response (`loadFixture('test_mu_sqs_subscriber/lambda.ListEventSourceMappings_1.json')`),
 * typed by the caller. A recorded error is thrown as the SDK would throw it: use `loadFixtureError`
 * to get it as a value.
 */
export function loadFixture<T extends object>(
  relativePath: string,
): T & { $metadata: { httpStatusCode: number } } {
  const { status_code, data } = read(relativePath);
  if (status_code < 200 || status_code >= 300) throw loadFixtureError(relativePath);
  const { ResponseMetadata: _dropped, ...output } = data;
  const id = requestId(data);
  return {
    ...(revive(output) as T),
    $metadata: { httpStatusCode: status_code, ...(id ? { requestId: id } : {}) },
  };
}

/** The ServiceException a recorded non-2xx response stands for: `name` is the recorded `Error.Code`. */
export function loadFixtureError(relativePath: string): ServiceException {
  const { status_code, data } = read(relativePath);
  if (status_code >= 200 && status_code < 300) {
    throw new Error(`${relativePath} is a ${status_code} success, not an error: use loadFixture`);
  }
  const error = (data.Error ?? {}) as { Code?: string; Message?: string };
  if (!error.Code) throw new Error(`${relativePath} has status ${status_code} but no Error.Code`);
  const exception = awsError(error.Code, error.Message ?? error.Code, status_code);
  const id = requestId(data);
  if (id) exception.$metadata.requestId = id;
  return exception;
}
