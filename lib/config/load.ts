import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue, describeFound, formatPath, previewValue } from './errors';
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
  // reportInput: a type error then says what it found, not just that something is missing.
  const parsed = configSchema.safeParse(input, { reportInput: true });
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

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
};

const TOP_LEVEL_FIELDS = 'controlPlane, workloadAccounts, agents, breakGlass, restore';

/** A schema message written for this field ("must be a 12-digit AWS account id"), not zod's default. */
function ownWords(message: string): string | undefined {
  return message.startsWith('Invalid input') ? undefined : message.replace(/^must be /, '');
}

function toConfigIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: 'unknown field (check the spelling; see lib/config/schema.ts for the fields)',
    }));
  }
  if (issue.code === 'invalid_type') {
    const type = TYPE_NAMES[issue.expected] ?? issue.expected;
    const own = ownWords(issue.message);
    const expected = own && own !== type ? `${own} (${type})` : type;
    // JSON has no undefined: an undefined input is a field left out.
    if (issue.input === undefined) return [{ path, message: `is required: expected ${expected}` }];
    if (path === '') {
      return [
        {
          path,
          message: `the configuration must be a JSON object (${TOP_LEVEL_FIELDS}), found ${describeFound(issue.input)}`,
        },
      ];
    }
    return [{ path, message: `expected ${expected}, found ${describeFound(issue.input)}` }];
  }
  // Format and range errors say what they got; the others get it added here, shortened.
  if ('input' in issue && !/\bgot\b/.test(issue.message)) {
    return [{ path, message: `${issue.message}, got ${previewValue(issue.input)}` }];
  }
  return [{ path, message: issue.message }];
}
