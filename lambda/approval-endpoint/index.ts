import { LambdaClient } from '@aws-sdk/client-lambda';
import { lambdaHandler } from '../shared/adapter';
import { readRestoreSettings } from '../restore-shared/settings';
import { type FunctionUrlEvent, type FunctionUrlResponse, run } from './handler';

let lambda: LambdaClient | undefined;

/** The restore endpoint's function URL (AWS_IAM): request, approve, reject, status. */
export const handler = lambdaHandler<FunctionUrlEvent, FunctionUrlResponse>(
  'approval-endpoint',
  (event, deps) => {
    lambda ??= new LambdaClient({ region: process.env.AWS_REGION });
    return run(event, deps, { settings: readRestoreSettings(process.env), lambda });
  },
);
