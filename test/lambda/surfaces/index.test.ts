import { KILL_MODES, SURFACE_NAMES } from '../../../lambda/shared/types';
import { getSurface, SURFACES } from '../../../lambda/surfaces';

describe('surface registry', () => {
  it('lists every surface once, in the order a kill cuts them, each under its own name', () => {
    expect(Object.keys(SURFACES)).toEqual([...SURFACE_NAMES]);
    for (const name of SURFACE_NAMES) expect(SURFACES[name].name).toBe(name);
  });

  it('cuts IAM in every kill mode and everything else in full_stop only', () => {
    const applies = Object.fromEntries(
      SURFACE_NAMES.map((name) => [name, KILL_MODES.filter((mode) => SURFACES[name].appliesTo(mode))]),
    );
    expect(applies).toEqual({
      iam: [...KILL_MODES],
      lambda: ['full_stop'],
      'event-source-mappings': ['full_stop'],
      'eventbridge-rules': ['full_stop'],
      schedules: ['full_stop'],
      executions: ['full_stop'],
      network: ['full_stop'],
    });
  });

  it('finds a surface by name and refuses an unknown one by name', () => {
    expect(getSurface('network')).toBe(SURFACES.network);
    expect(() => getSurface('s3')).toThrow(
      'unknown surface "s3": expected one of iam, lambda, event-source-mappings',
    );
  });
});
