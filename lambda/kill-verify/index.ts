import { lambdaHandler } from '../shared/adapter';
import type { VerifyInput } from '../shared/kill-types';
import { run } from './verify';

export const handler = lambdaHandler<VerifyInput, Awaited<ReturnType<typeof run>>>('kill-verify', run);
