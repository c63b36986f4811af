import { lambdaHandler } from '../shared/adapter';
import { readRestoreSettings } from '../restore-shared/settings';
import { run } from './finalize';

export const handler = lambdaHandler<Parameters<typeof run>[0], Awaited<ReturnType<typeof run>>>(
  'restore-finalize',
  (event, deps) => run(event, deps, readRestoreSettings(process.env)),
);
