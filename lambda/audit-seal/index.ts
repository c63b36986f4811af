import { lambdaHandler } from '../shared/adapter';
import { readSealerSettings, run, type SealerResult } from './handler';

/**
 * Invoked by the EventBridge rule on CloudTrail's StartExecution events (attribution), by the
 * approval flow (`release-holds`), by `backstop audit hold` (`hold`) and by any handler that
 * must seal without holding `kms:Sign` itself (`seal`).
 */
export const handler = lambdaHandler<unknown, SealerResult>('audit-seal', (event, deps) =>
  run(event, deps, readSealerSettings(process.env)),
);
