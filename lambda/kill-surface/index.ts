import { lambdaHandler } from '../shared/adapter';
import type { SurfaceTaskInput } from '../shared/kill-types';
import { run } from './surface';

export const handler = lambdaHandler<SurfaceTaskInput, Awaited<ReturnType<typeof run>>>('kill-surface', run);
