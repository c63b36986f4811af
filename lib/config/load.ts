import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue, formatPath } from './errors';
import { type BackstopConfig, configSchema } from './schema';
import { crossFieldIssues } from './validate';

/**
 * Validates a configuration object and applies its defaults. Throws a {@link ConfigError} that
 * names every bad field and the reason; never returns a partly valid configuration.
 *
 * @param input the parsed JSON
 * @param source where it came from, for the error message
 */
export function parseConfig(input: unknown, source = '<inline>'): BackstopConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(source, parsed.error.issues.flatMap(toConfigIssues));
  }
  const issues = crossFieldIssues(parsed.data);
  if (issues.length > 0) throw new ConfigError(source, issues);
  return parsed.data;
}

/**
 * Reads, parses and validates a configuration file (the CDK app and the CLI both call this).
 * A missing file, a file that is not JSON, or an invalid configuration all throw a
 * {@link ConfigError} that names the file.
 *
 * @param path path of backstop.config.json, relative to the working directory or absolute
 */
export function loadConfig(path: string): BackstopConfig {
  const fullPath = resolve(path);
  let text: string;
  try {
    text = readFileSync(fullPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : `cannot be read (${(error as Error).message})`;
    throw new ConfigError(fullPath, [{ path: '', message: reason }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(fullPath, [{ path: '', message: `not valid JSON: ${(error as Error).message}` }]);
  }
  return parseConfig(json, fullPath);
}

function toConfigIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: 'unknown field (check the spelling; see lib/config/schema.ts for the fields)',
    }));
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return [{ path, message: 'is required' }];
  }
  return [{ path, message: issue.message }];
}
