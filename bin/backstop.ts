#!/usr/bin/env -S npx tsx
// CLI entry: parse argv, call lib/cli, nothing else.
import { buildCli } from '../lib/cli';

// The SDK's Node 20 end-of-support notice is not something an on-call person can act on mid-incident.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// buildCli().run never throws; an error raised outside it (a stray promise) still ends in one
// line, never a stack trace, unless --debug asks for it.
const debug = process.argv.includes('--debug');
const last = (e: unknown) => {
  const err = e as Error;
  process.stderr.write(
    `${debug && err?.stack ? err.stack : `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`}\n`,
  );
  process.exit(1);
};
process.on('uncaughtException', last);
process.on('unhandledRejection', last);

buildCli()
  .run(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
