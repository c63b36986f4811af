import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Stack, Stage } from 'aws-cdk-lib';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { DIRECTORY_FILE } from '../../lambda/shared/env';
import type { Directory } from '../../lambda/shared/types';

const PROJECT_ROOT = path.join(__dirname, '..', '..');

/**
 * Writes the fleet directory next to the cloud assembly (named by its hash, so a config change is
 * a new file and a new asset hash) and returns the shell command that copies it into a bundle as
 * {@link DIRECTORY_FILE}. A file under the project root is named from the bundler's input
 * directory, so the command works in Docker bundling too. Nothing is written when the stack is
 * not bundled (`aws:cdk:bundling-stacks`).
 */
function directoryCopy(
  scope: Construct,
  directory: Directory,
): (inputDir: string, outputDir: string) => string[] {
  const json = JSON.stringify(directory);
  const hash = createHash('sha256').update(json).digest('hex').slice(0, 16);
  const outdir = Stage.of(scope)?.outdir ?? path.join(PROJECT_ROOT, 'cdk.out');
  const file = path.join(outdir, `backstop-directory-${hash}.json`);
  if (Stack.of(scope).bundlingRequired) {
    mkdirSync(outdir, { recursive: true });
    writeFileSync(file, json);
  }
  const relative = path.relative(PROJECT_ROOT, file);
  const underRoot = !relative.startsWith('..') && !path.isAbsolute(relative);
  const quote = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;
  return (inputDir, outputDir) => [
    `cp ${quote(underRoot ? path.posix.join(inputDir, ...relative.split(path.sep)) : file)} ${quote(path.posix.join(outputDir, DIRECTORY_FILE))}`,
  ];
}

/**
 * How every handler that reads the fleet directory is bundled (the kill and restore paths, the
 * approval endpoint, the canary, the audit sealer): minified with source maps for Node 24; the
 * SDK bundled too, so the deployed handlers run exactly the client versions the tests ran, not
 * whatever the Lambda runtime ships that day; esbuild silent unless it fails (`cdk synth -q`
 * stays quiet); and the directory a file of the bundle as {@link DIRECTORY_FILE}, read by
 * `bundledDirectory` on the first invocation, never in the environment (4 KB) or in an esbuild
 * `define` on a command line (about 128 KB: E2BIG at about 125 agents). A config change is a new
 * deployment of the handlers.
 */
export function handlerBundling(scope: Construct, directory: Directory): nodejs.BundlingOptions {
  const copy = directoryCopy(scope, directory);
  return {
    minify: true,
    sourceMap: true,
    logLevel: nodejs.LogLevel.ERROR,
    target: 'node24',
    externalModules: [],
    commandHooks: { beforeBundling: () => [], beforeInstall: () => [], afterBundling: copy },
  };
}
