// `npm run bench`: parse argv, run lib/local/bench, nothing else. Each fleet size runs in a child
// process of this same script (BACKSTOP_BENCH_JOB set), so that its peak memory is its own.
import { BENCH_JOB_ENV, forkJobRunner, runBenchCli, runJobFromEnv } from '../lib/local/bench/cli';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

if (process.env[BENCH_JOB_ENV]) {
  runJobFromEnv().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench job failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
} else {
  runBenchCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    runJob: forkJobRunner(__filename),
  }).then((code) => {
    process.exitCode = code;
  });
}
