import { SURFACE_NAMES, type SurfaceName } from '../shared/types';
import { eventSourceMappings } from './event-source-mappings';
import { eventBridgeRules } from './eventbridge-rules';
import { executions } from './executions';
import { iamRoles } from './iam-roles';
import { lambdaConcurrency } from './lambda-concurrency';
import { network } from './network';
import { schedules } from './schedules';
import type { Surface } from './types';

/** Every authority surface, in the order a kill cuts them (restore walks them backwards). */
export const SURFACES: Readonly<Record<SurfaceName, Surface>> = {
  iam: iamRoles,
  lambda: lambdaConcurrency,
  'event-source-mappings': eventSourceMappings,
  'eventbridge-rules': eventBridgeRules,
  schedules,
  executions,
  network,
};

export function getSurface(name: string): Surface {
  if (!(SURFACE_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown surface "${name}": expected one of ${SURFACE_NAMES.join(', ')}`);
  }
  return SURFACES[name as SurfaceName];
}
