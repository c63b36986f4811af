#!/usr/bin/env -S npx tsx
// CLI entry: parse argv, call lib/cli, nothing else.
import { buildCli } from '../lib/cli';

buildCli()
  .run(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
