import { lambdaHandler } from '../shared/adapter';
import type { LoadBatchInput, LoadBatchOutput, PrepareInput, PrepareOutput } from '../shared/kill-types';
import { handle } from './prepare';

export const handler = lambdaHandler<PrepareInput | LoadBatchInput, PrepareOutput | LoadBatchOutput>(
  'kill-prepare',
  handle,
);
