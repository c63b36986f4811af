import fc from 'fast-check';
import { incidentIdFor, MAX_REASON_LENGTH, validateKillRequest } from '../../../lambda/shared/request';
import type { Directory } from '../../../lambda/shared/types';

const directory: Directory = {
  partition: 'aws',
  controlPlane: { accountId: '111111111111', region: 'us-east-1' },
  workloads: [{ accountId: '222222222222', region: 'us-east-1' }],
  agents: [
    {
      agentId: 'support-bot',
      accountId: '222222222222',
      region: 'us-east-1',
      partition: 'aws',
      roleArns: [],
      resourceArns: [],
      highRiskActions: [],
      draftResources: [],
    },
    {
      agentId: 'orphan',
      accountId: '444444444444',
      region: 'us-east-1',
      partition: 'aws',
      roleArns: [],
      resourceArns: [],
      highRiskActions: [],
      draftResources: [],
    },
  ],
};

const valid = { agentId: 'support-bot', mode: 'full_stop', reason: 'exfiltration alarm' };

function rejection(request: unknown) {
  const r = validateKillRequest(request, directory, 'exec-1');
  if (r.ok) throw new Error('expected a rejection');
  return r.rejection;
}

describe('validateKillRequest', () => {
  it('accepts a well-formed request and defaults the incident id to the execution name', () => {
    const r = validateKillRequest(valid, directory, 'exec-1');
    expect(r).toEqual({
      ok: true,
      kill: expect.objectContaining({
        mode: 'full_stop',
        reason: 'exfiltration alarm',
        incidentId: 'exec-1',
        dryRun: false,
      }),
    });
  });

  it.each([
    [{ ...valid, mode: 'halt' }, /mode: unknown mode "halt"/],
    [{ ...valid, mode: undefined }, /mode: missing/],
    [{ ...valid, reason: '   ' }, /reason: missing or empty/],
    [{ ...valid, reason: 'x'.repeat(MAX_REASON_LENGTH + 1) }, /reason: 1025 characters, at most 1024/],
    [{ mode: 'full_stop', reason: 'r' }, /agentId: missing/],
    [{ ...valid, agentIds: ['a'] }, /give one of agentId, agentIds or accountId, not several/],
    [{ ...valid, agentId: undefined, agentIds: [] }, /agentIds: must be a non-empty array/],
    [{ ...valid, incidentId: '../etc' }, /incidentId:/],
    [{ ...valid, dryRun: 'yes' }, /dryRun: must be true or false/],
    [{ ...valid, agent: 'typo' }, /unknown field\(s\) agent/],
    ['kill it', /must be a JSON object/],
  ])('rejects %j with a message naming the field', (request, message) => {
    const r = rejection(request);
    expect(r.code).toBe('INVALID_REQUEST');
    expect(r.message).toMatch(message);
  });

  it('names an unknown agent', () => {
    expect(rejection({ ...valid, agentId: 'ghost' })).toEqual({
      code: 'UNKNOWN_AGENT',
      message: expect.stringMatching(/unknown agent\(s\) ghost/),
    });
  });

  it('refuses an agent whose account has no kill role', () => {
    expect(rejection({ ...valid, agentId: 'orphan' })).toEqual({
      code: 'NO_KILL_ROLE',
      message: expect.stringMatching(/account 444444444444 region us-east-1 has no Backstop kill role/),
    });
  });

  it('lists every problem of a request at once', () => {
    const r = rejection({ mode: 'nope', reason: '' });
    expect(r.message.split('; ')).toHaveLength(3);
  });

  it('never accepts a request without a valid mode and reason, whatever else it holds', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (mode, reason) => {
        const r = validateKillRequest({ agentId: 'support-bot', mode, reason }, directory, 'x');
        const good =
          ['approval_gated', 'draft_only', 'read_only', 'full_stop'].includes(mode as string) &&
          typeof reason === 'string' &&
          reason.trim() !== '' &&
          reason.length <= MAX_REASON_LENGTH;
        expect(r.ok).toBe(good);
      }),
    );
  });

  it('derives a session-safe incident id from any execution name, stable across retries', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80 }), (name) => {
        const id = incidentIdFor(name);
        expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,54}$/);
        expect(incidentIdFor(name)).toBe(id);
      }),
    );
  });
});

describe('fleet requests', () => {
  const fleet: Directory = {
    ...directory,
    workloads: [
      { accountId: '222222222222', region: 'us-east-1' },
      { accountId: '333333333333', region: 'eu-west-1' },
    ],
    agents: Array.from({ length: 10_001 }, (_, i) => ({
      ...directory.agents[0]!,
      agentId: `agent-${i}`,
      ...(i % 2 === 1 ? { accountId: '333333333333', region: 'eu-west-1' } : {}),
    })),
  };
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `agent-${i}`);

  it('takes up to 10,000 agents in one request', () => {
    const r = validateKillRequest({ ...valid, agentId: undefined, agentIds: ids(10_000) }, fleet, 'exec-1');
    expect(r.ok && r.kill.agents).toHaveLength(10_000);
  });

  it('refuses 10,001, naming the limit and what to do instead', () => {
    const r = validateKillRequest({ ...valid, agentId: undefined, agentIds: ids(10_001) }, fleet, 'exec-1');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.rejection).toEqual({
      code: 'INVALID_REQUEST',
      message:
        'agentIds: 10001 agents, at most 10000 per kill (or give accountId for every agent of an account)',
    });
  });

  it('kills every agent of an account, in every region the directory has it', () => {
    const r = validateKillRequest(
      { accountId: '333333333333', mode: 'full_stop', reason: 'account compromised' },
      fleet,
      'exec-1',
    );
    expect(r.ok && r.kill.agents.length).toBe(5000);
    expect(r.ok && new Set(r.kill.agents.map((a) => a.accountId))).toEqual(new Set(['333333333333']));
  });

  it('refuses an account with no agent, a malformed account, and an account beside agent ids', () => {
    expect(rejection({ accountId: '999999999999', mode: 'full_stop', reason: 'x' }).message).toBe(
      'accountId: no agent of account 999999999999 is in backstop.config.json',
    );
    expect(rejection({ accountId: '12345', mode: 'full_stop', reason: 'x' }).message).toMatch(
      /^accountId: must be a 12-digit AWS account id/,
    );
    expect(rejection({ ...valid, accountId: '222222222222' }).message).toBe(
      'agentId and accountId: give one of agentId, agentIds or accountId, not several',
    );
  });

  it('names at most 20 unknown agents of a large request', () => {
    const r = validateKillRequest(
      {
        ...valid,
        agentId: undefined,
        agentIds: ids(10).concat(Array.from({ length: 30 }, (_, i) => `ghost-${i}`)),
      },
      fleet,
      'exec-1',
    );
    expect(!r.ok && r.rejection.message).toMatch(/ghost-19 and 10 more: not in backstop.config.json/);
  });
});
