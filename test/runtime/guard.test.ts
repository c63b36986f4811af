/**
 * The runtime guard's behaviour per mode, under staleness, on abort and with the control plane
 * unreachable, on jest's fake clock. The table is a fake FlagReader the test steers; the last
 * block reads a flag the kill path's own state store wrote, on the embedded simulator.
 */
import { type AttributeValue, DynamoDBClient, type GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createClientFactory } from '../../lambda/shared/clients';
import { StateStore } from '../../lambda/shared/state-store';
import { MODES } from '../../lambda/shared/types';
import { FLAG_READ_ATTRIBUTES } from '../../lib/constructs/state-table';
import {
  BackstopGuard,
  type BackstopGuardOptions,
  BackstopGuardConfigError,
  BackstopRefusedError,
  type FlagReader,
  GUARD_MODES,
  type GuardMode,
  type GuardWarning,
  isReadAction,
} from '../../lib/runtime';
import { Simulator, seedBackstopControlPlane } from '../../lib/local/simulator';

const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:111111111111:table/backstop-state';
const AGENT = 'support-bot';

/** The state table as the guard sees it: answers, hangs, or refuses, as the test says. */
class FakeTable implements FlagReader {
  item?: Record<string, AttributeValue>;
  behaviour: 'answer' | 'hang' | 'deny' = 'answer';
  readonly commands: GetItemCommand[] = [];

  setMode(mode: GuardMode, incidentId = 'inc-1', version = 1): void {
    this.item = {
      mode: { S: mode },
      highRiskToolsEnabled: { BOOL: mode === 'normal' },
      incidentId: { S: incidentId },
      updatedAt: { S: '2026-11-22T01:00:00.000Z' },
      version: { N: String(version) },
    };
  }

  async send(command: GetItemCommand, options?: { abortSignal?: AbortSignal }) {
    this.commands.push(command);
    if (this.behaviour === 'deny') {
      const e = new Error(`User: arn:aws:sts::222222222222:assumed-role/agent/x is not authorized`);
      e.name = 'AccessDeniedException';
      throw e;
    }
    if (this.behaviour === 'hang') {
      return new Promise<never>((_, reject) => {
        options?.abortSignal?.addEventListener('abort', () => reject(options.abortSignal?.reason));
      });
    }
    return { Item: this.item ? structuredClone(this.item) : undefined, $metadata: {} };
  }
}

let table: FakeTable;
let warnings: GuardWarning[];
const guards: BackstopGuard[] = [];

function guard(options: Partial<BackstopGuardOptions> = {}): BackstopGuard {
  const g = new BackstopGuard({
    agentId: AGENT,
    tableArn: TABLE_ARN,
    region: 'us-east-1',
    client: table,
    onWarning: (w) => warnings.push(w),
    ...options,
  });
  guards.push(g);
  return g;
}

async function refusal(p: Promise<unknown>): Promise<BackstopRefusedError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BackstopRefusedError) return e;
    throw e;
  }
  throw new Error('expected the check to be refused');
}

beforeEach(() => {
  jest.useFakeTimers();
  table = new FakeTable();
  warnings = [];
});

afterEach(() => {
  for (const g of guards.splice(0)) g.close();
  jest.useRealTimers();
});

describe('per mode', () => {
  it('normal (no flag written yet): everything is allowed, high-risk included', async () => {
    const g = guard();
    await expect(g.check({ action: 's3:PutObject', resource: 'arn:aws:s3:::tickets/1' })).resolves.toBe(
      undefined,
    );
    await expect(g.check({ action: 'iam:PassRole', risk: 'high' })).resolves.toBe(undefined);
    expect(g.state().flag).toEqual({ mode: 'normal', highRiskToolsEnabled: true, version: 0 });
  });

  it('full_stop: everything is refused, reads too, with the mode and the incident', async () => {
    table.setMode('full_stop', 'inc-77');
    const g = guard();
    const e = await refusal(g.check({ action: 's3:GetObject' }));
    expect(e).toMatchObject({
      name: 'BackstopRefusedError',
      agentId: AGENT,
      action: 's3:GetObject',
      reason: 'full_stop',
      mode: 'full_stop',
      incidentId: 'inc-77',
    });
    expect(e.message).toContain('support-bot is in full_stop (incident inc-77)');
  });

  it('read_only: reads go on, writes are refused; the access can be named when the verb does not say it', async () => {
    table.setMode('read_only');
    const g = guard();
    for (const action of ['s3:GetObject', 'dynamodb:Query', 'list_tickets', 'searchKnowledgeBase']) {
      await expect(g.check({ action })).resolves.toBe(undefined);
    }
    await expect(refusal(g.check({ action: 's3:PutObject' }))).resolves.toMatchObject({
      reason: 'read_only',
    });
    await expect(refusal(g.check({ action: 'summarize' }))).resolves.toMatchObject({ reason: 'read_only' });
    await expect(g.check({ action: 'summarize', access: 'read' })).resolves.toBe(undefined);
  });

  it('draft_only: writes only to the draft resources; a write that names no resource is refused', async () => {
    table.setMode('draft_only');
    const g = guard({ draftResources: ['arn:aws:s3:::support-bot-drafts/*'] });
    await expect(
      g.check({ action: 's3:PutObject', resource: 'arn:aws:s3:::support-bot-drafts/reply-1.txt' }),
    ).resolves.toBe(undefined);
    await expect(g.check({ action: 's3:GetObject', resource: 'arn:aws:s3:::tickets/1' })).resolves.toBe(
      undefined,
    );
    const outside = await refusal(g.check({ action: 's3:PutObject', resource: 'arn:aws:s3:::tickets/1' }));
    expect(outside).toMatchObject({ reason: 'draft_only', resource: 'arn:aws:s3:::tickets/1' });
    expect(outside.message).toContain('arn:aws:s3:::tickets/1 is not one');
    await expect(refusal(g.check({ action: 'ses:SendEmail' }))).resolves.toMatchObject({
      reason: 'draft_only',
    });
  });

  it('approval_gated: high-risk actions need a token that verifies; other writes go on', async () => {
    table.setMode('approval_gated');
    const verify = jest.fn((token: string) => token === 'approved-by-alice');
    const g = guard({ verifyApproval: verify, highRiskActions: ['iam:*', 'ses:SendEmail'] });
    await expect(g.check({ action: 'dynamodb:PutItem', resource: 'tickets' })).resolves.toBe(undefined);
    await expect(refusal(g.check({ action: 'ses:SendEmail' }))).resolves.toMatchObject({
      reason: 'approval_gated',
    });
    await expect(refusal(g.check({ action: 'delete_repo', risk: 'high' }))).resolves.toMatchObject({
      reason: 'approval_gated',
    });
    await expect(
      refusal(g.check({ action: 'IAM:PassRole', approvalToken: 'made-up-by-the-agent' })),
    ).resolves.toMatchObject({ reason: 'approval_gated' });
    await expect(g.check({ action: 'iam:PassRole', approvalToken: 'approved-by-alice' })).resolves.toBe(
      undefined,
    );
    expect(verify).toHaveBeenCalledWith(
      'approved-by-alice',
      expect.objectContaining({ action: 'iam:PassRole' }),
    );
  });

  it('an agent cannot approve itself: without verifyApproval no token is accepted', async () => {
    table.setMode('approval_gated');
    const g = guard();
    const e = await refusal(g.check({ action: 'iam:PassRole', risk: 'high', approvalToken: 'yes' }));
    expect(e.message).toContain('no verifyApproval is configured');
  });

  it('the stricter modes keep approval_gated: high-risk reads are refused in read_only without approval', async () => {
    table.setMode('read_only');
    const g = guard({ verifyApproval: (t) => t === 'ok' });
    await expect(
      refusal(g.check({ action: 'secretsmanager:GetSecretValue', risk: 'high' })),
    ).resolves.toMatchObject({ reason: 'read_only' });
    await expect(
      g.check({ action: 'secretsmanager:GetSecretValue', risk: 'high', approvalToken: 'ok' }),
    ).resolves.toBe(undefined);
  });

  it('reads exactly its own flag item, strongly consistent, by table ARN, without the reason', async () => {
    const g = guard();
    await g.check({ action: 's3:GetObject' });
    const input = table.commands[0]?.input;
    expect(input).toMatchObject({
      TableName: TABLE_ARN,
      Key: { pk: { S: 'AGENT#support-bot' }, sk: { S: 'MODE' } },
      ConsistentRead: true,
    });
    // Exactly the attributes the state table's resource policy lets an agent read.
    expect(Object.values(input?.ExpressionAttributeNames ?? {}).sort()).toEqual(
      [...FLAG_READ_ATTRIBUTES].sort(),
    );
  });
});

describe('bounded staleness', () => {
  it('checks within the bound share one read; a change is seen within the bound (2 s by default)', async () => {
    const g = guard();
    await g.check({ action: 's3:PutObject', resource: 'x' });
    expect(table.commands).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1000);
    await Promise.all([1, 2, 3].map(() => g.check({ action: 's3:PutObject', resource: 'x' })));
    expect(table.commands).toHaveLength(1);

    table.setMode('full_stop', 'inc-9');
    await jest.advanceTimersByTimeAsync(999);
    // Still within the bound of the first read: the cached flag decides.
    await expect(g.check({ action: 's3:PutObject', resource: 'x' })).resolves.toBe(undefined);
    await jest.advanceTimersByTimeAsync(1);
    await expect(refusal(g.check({ action: 's3:PutObject', resource: 'x' }))).resolves.toMatchObject({
      reason: 'full_stop',
      incidentId: 'inc-9',
    });
    expect(table.commands).toHaveLength(2);
  });

  it('a shorter bound reads more often', async () => {
    const g = guard({ maxStalenessMs: 250 });
    await g.check({ action: 'list_tickets' });
    await jest.advanceTimersByTimeAsync(1000);
    expect(table.commands.length).toBe(5);
    expect(g.state()).toMatchObject({ fresh: true });
  });

  it('a check after the bound reads again before it decides, even without the poll', async () => {
    const g = guard();
    await g.check({ action: 's3:GetObject' });
    g.close();
    table.setMode('read_only');
    await jest.advanceTimersByTimeAsync(5000);
    expect(table.commands).toHaveLength(1);
    await expect(refusal(g.check({ action: 's3:PutObject' }))).resolves.toMatchObject({
      reason: 'read_only',
    });
    expect(table.commands).toHaveLength(2);
  });
});

describe('abort', () => {
  it('aborts the signal when the mode becomes full_stop, cancelling in-flight tool calls', async () => {
    const g = guard();
    await g.start();
    const toolCall = g.run(
      { action: 'bedrock:InvokeModel' },
      (signal) =>
        new Promise((resolve, reject) => {
          const done = setTimeout(resolve, 60_000, 'answer');
          signal.addEventListener('abort', () => {
            clearTimeout(done);
            reject(signal.reason);
          });
        }),
    );
    const observed = expect(toolCall).rejects.toMatchObject({ reason: 'full_stop', incidentId: 'inc-5' });
    table.setMode('full_stop', 'inc-5');
    await jest.advanceTimersByTimeAsync(2000);
    await observed;
  });

  it('aborts on read_only too, then hands out a fresh signal for the reads still allowed', async () => {
    const g = guard();
    const first = g.signal;
    await jest.advanceTimersByTimeAsync(0);
    table.setMode('read_only');
    await jest.advanceTimersByTimeAsync(2000);
    expect(first.aborted).toBe(true);
    expect(first.reason).toBeInstanceOf(BackstopRefusedError);
    const next = g.signal;
    expect(next.aborted).toBe(false);
    // read_only -> read_only: nothing new to cancel.
    table.setMode('read_only', 'inc-1', 2);
    await jest.advanceTimersByTimeAsync(2000);
    expect(next.aborted).toBe(false);
    table.setMode('full_stop', 'inc-1', 3);
    await jest.advanceTimersByTimeAsync(2000);
    expect(next.aborted).toBe(true);
  });

  it('does not abort on draft_only or approval_gated (unless asked to)', async () => {
    const g = guard();
    const signal = g.signal;
    table.setMode('draft_only');
    await jest.advanceTimersByTimeAsync(2000);
    expect(signal.aborted).toBe(false);

    const strict = guard({ abortOn: ['approval_gated', 'draft_only', 'read_only', 'full_stop'] });
    const strictSignal = strict.signal;
    await jest.advanceTimersByTimeAsync(2000);
    expect(strictSignal.aborted).toBe(true);
  });

  it('aborts work started before the first read when that read already says full_stop', async () => {
    table.setMode('full_stop');
    const g = guard();
    const signal = g.signal;
    await jest.advanceTimersByTimeAsync(2000);
    expect(signal.aborted).toBe(true);
  });
});

describe('control plane unreachable', () => {
  it('with no flag read yet: reads go on with a warning, writes and high-risk actions fail closed', async () => {
    table.behaviour = 'hang';
    const g = guard();
    const read = g.check({ action: 's3:GetObject' });
    await jest.advanceTimersByTimeAsync(1000);
    await expect(read).resolves.toBe(undefined);
    expect(warnings.map((w) => w.code)).toEqual(['FLAG_UNAVAILABLE', 'READ_WITHOUT_FLAG']);
    expect(warnings[0]?.message).toContain('no answer within 1000 ms');

    const write = await refusal(g.check({ action: 's3:PutObject', resource: 'x' }));
    expect(write).toMatchObject({ reason: 'flag_unavailable' });
    expect(write.message).toContain('writes fail closed');
    expect(write.mode).toBeUndefined();
    const risky = await refusal(g.check({ action: 's3:GetObject', risk: 'high' }));
    expect(risky.message).toContain('high-risk actions fail closed');
  });

  it('after a good read: the cached flag holds within the bound, then writes fail closed', async () => {
    const g = guard();
    await g.check({ action: 's3:PutObject', resource: 'x' });
    table.behaviour = 'hang';
    await jest.advanceTimersByTimeAsync(1500);
    await expect(g.check({ action: 's3:PutObject', resource: 'x' })).resolves.toBe(undefined);
    await jest.advanceTimersByTimeAsync(1500); // the poll at 2 s times out at 3 s
    await expect(refusal(g.check({ action: 's3:PutObject', resource: 'x' }))).resolves.toMatchObject({
      reason: 'flag_unavailable',
      mode: 'normal',
    });
    await expect(g.check({ action: 'list_tickets' })).resolves.toBe(undefined);
    expect(warnings.some((w) => w.code === 'READ_WITHOUT_FLAG' && w.action === 'list_tickets')).toBe(true);

    // The control plane answers again: writes go on at the next read.
    table.behaviour = 'answer';
    await jest.advanceTimersByTimeAsync(2000);
    await expect(g.check({ action: 's3:PutObject', resource: 'x' })).resolves.toBe(undefined);
  });

  it('a stricter mode read before the outage still holds: full_stop refuses reads too', async () => {
    table.setMode('full_stop');
    const g = guard();
    await refusal(g.check({ action: 's3:GetObject' }));
    table.behaviour = 'deny'; // a full_stop deny on the agent's role also stops it reading the flag
    await jest.advanceTimersByTimeAsync(5000);
    const e = await refusal(g.check({ action: 's3:GetObject' }));
    expect(e).toMatchObject({ reason: 'full_stop' });
    expect(e.message).toContain('the flag is unavailable now');
  });

  it('an AccessDenied on the flag counts as unavailable, and does not hammer the table', async () => {
    table.behaviour = 'deny';
    const g = guard();
    await g.check({ action: 'list_tickets' });
    await refusal(g.check({ action: 'update_ticket' }));
    await refusal(g.check({ action: 'update_ticket' }));
    expect(table.commands).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      code: 'FLAG_UNAVAILABLE',
      error: { name: 'AccessDeniedException' },
    });
  });

  it('a flag holding a mode it does not know counts as unavailable (fails closed)', async () => {
    table.item = { mode: { S: 'quarantine' }, version: { N: '4' } };
    const g = guard();
    await expect(refusal(g.check({ action: 's3:PutObject', resource: 'x' }))).resolves.toMatchObject({
      reason: 'flag_unavailable',
    });
    expect(warnings[0]?.message).toContain('"quarantine"');
  });
});

describe('options and checks', () => {
  it.each([
    [{ agentId: 'Support Bot' }, 'agentId must be'],
    [{ tableArn: 'backstop-state' }, 'tableArn must be'],
    [{ region: 'eu-west-1' }, 'region eu-west-1 is not the region of tableArn (us-east-1)'],
    [{ maxStalenessMs: 0 }, 'maxStalenessMs must be'],
    [{ abortOn: ['normal'] as GuardMode[] }, 'abortOn: normal is not a kill mode'],
    [{ draftResources: [''] }, 'draftResources must be'],
  ])('refuses %j, naming the option', (options, message) => {
    expect(() => guard(options as Partial<BackstopGuardOptions>)).toThrow(BackstopGuardConfigError);
    expect(() => guard(options as Partial<BackstopGuardOptions>)).toThrow(message);
  });

  it('refuses a malformed check before reading anything', async () => {
    const g = guard();
    await expect(g.check({ action: '' })).rejects.toThrow('action must name');
    await expect(g.check({ action: 'x', risk: 'extreme' as 'high' })).rejects.toThrow('risk must be');
    expect(table.commands).toHaveLength(0);
  });

  it('classifies actions by their verb, and anything unknown as a write', () => {
    expect(
      ['s3:GetObject', 'dynamodb:BatchGetItem', 'ec2:DescribeVpcs', 'get_weather', 'readFile'].map(
        isReadAction,
      ),
    ).toEqual([true, true, true, true, true]);
    expect(['s3:PutObject', 'send_email', 'forget', 'deleteTicket'].map(isReadAction)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('knows the kill path modes, in the same order', () => {
    expect([...GUARD_MODES]).toEqual([...MODES]);
  });
});

describe('with the state store that the kill path writes (embedded simulator, real clock)', () => {
  beforeEach(() => jest.useRealTimers());

  it('reads the flag raiseMode set and lowerMode put back', async () => {
    const sim = new Simulator();
    const cp = await seedBackstopControlPlane(sim, { accountId: '111111111111', region: 'us-east-1' });
    const credentials = sim.credentialsFor(cp.killWorkerRoleArn);
    const store = new StateStore({
      doc: createClientFactory({ region: 'us-east-1', plugins: [sim.plugin()], credentials }).controlPlane()
        .dynamo,
      tableName: cp.tableName,
    });
    const client = new DynamoDBClient({ region: 'us-east-1', credentials });
    sim.plugin()(client as never);
    const g = guard({
      tableArn: `arn:aws:dynamodb:us-east-1:111111111111:table/${cp.tableName}`,
      client,
      maxStalenessMs: 100,
    });

    await expect(g.check({ action: 's3:PutObject', resource: 'x' })).resolves.toBe(undefined);
    await store.raiseMode(AGENT, {
      mode: 'read_only',
      incidentId: 'inc-sim',
      reason: 'test',
      at: new Date(),
    });
    await new Promise((r) => setTimeout(r, 150));
    await expect(refusal(g.check({ action: 's3:PutObject', resource: 'x' }))).resolves.toMatchObject({
      reason: 'read_only',
      incidentId: 'inc-sim',
    });
    expect(g.state().flag).toMatchObject({ mode: 'read_only', highRiskToolsEnabled: false, version: 1 });
    await store.lowerMode(AGENT, {
      mode: 'normal',
      incidentId: 'inc-sim',
      reason: 'restored',
      at: new Date(),
    });
    await new Promise((r) => setTimeout(r, 150));
    await expect(g.check({ action: 's3:PutObject', resource: 'x' })).resolves.toBe(undefined);
  });
});
