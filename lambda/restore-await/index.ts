import { lambdaHandler } from '../shared/adapter';
import { readRestoreSettings } from '../restore-shared/settings';
import { run } from './await';

export const handler = lambdaHandler<Parameters<typeof run>[0], Awaited<ReturnType<typeof run>>>(
  'restore-await',
  (event, deps) => run(event, deps, readRestoreSettings(process.env)),
);
