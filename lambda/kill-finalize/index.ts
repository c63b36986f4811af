import { lambdaHandler } from '../shared/adapter';
import type { FinalizeInput } from '../shared/kill-types';
import { run } from './finalize';

export const handler = lambdaHandler<FinalizeInput, Awaited<ReturnType<typeof run>>>('kill-finalize', run);
