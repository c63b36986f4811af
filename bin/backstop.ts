#!/usr/bin/env -S npx tsx
// CLI entry: parse argv, call lib/cli, nothing else.
import { buildCli } from '../lib/cli';

// The SDK's Node 20 end-of-support notice is not something an on-call person can act on mid-incident.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

buildCli()
  .run(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
