import { lambdaHandler } from '../shared/adapter';
import type { PrepareInput } from '../shared/kill-types';
import { run } from './prepare';

export const handler = lambdaHandler<PrepareInput, Awaited<ReturnType<typeof run>>>('kill-prepare', run);
