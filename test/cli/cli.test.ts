import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { KillResult } from '../../lambda/shared/kill-types';
import { buildCli, EXIT } from '../../lib/cli';

const SAMPLE_CONFIG = join(__dirname, '..', '..', 'backstop.config.json');
const sfn = mockClient(SFNClient);

function cli() {
  const out: string[] = [];
  const err: string[] = [];
  const { run } = buildCli({ out: (t) => out.push(t), err: (t) => err.push(t) });
  // Colour depends on the terminal (CI turns it on): assert on the words.
  // eslint-disable-next-line no-control-regex
  const plain = (lines: string[]) => lines.join('\n').replace(/\u001b\[[0-9;]*m/g, '');
  return {
    run: (...argv: string[]) => run(argv),
    out,
    err,
    text: () => plain(out),
    errors: () => plain(err),
  };
}

const contained: KillResult = {
  incidentId: 'inc-1',
  status: 'CONTAINED',
  mode: 'full_stop',
  dryRun: false,
  timeToContainMs: 4200,
  timeToAuthorityCutMs: 900,
  counts: { CONTAINED: 1 },
  agents: [
    {
      agentId: 'support-bot',
      status: 'CONTAINED',
      surfaces: [{ surface: 'iam', contain: 'CONTAINED', verify: 'VERIFIED' }],
    },
  ],
  joined: [],
  unreachable: [],
  rejection: null,
  manifestKey: 'manifests/inc-1.json',
};

beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({
    executionArn: 'arn:aws:states:us-east-1:111111111111:execution:backstop-kill:inc-1',
    startDate: new Date('2026-11-22T00:00:00Z'),
  });
  sfn.on(GetExecutionHistoryCommand).resolves({
    events: [
      {
        id: 7,
        type: 'TaskStateExited',
        timestamp: new Date('2026-11-22T00:00:01Z'),
        stateExitedEventDetails: {
          name: 'Cut IAM authority',
          output: JSON.stringify({ agentId: 'support-bot', status: 'CONTAINED' }),
        },
      },
    ],
  });
});

describe('backstop kill (deployed)', () => {
  it('starts the kill state machine named in the config, follows it, and exits 0 when contained', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: JSON.stringify(contained) });
    const c = cli();

    const code = await c.run(
      'kill',
      'support-bot',
      '--mode',
      'full_stop',
      '--reason',
      'spend spike',
      '--incident-id',
      'inc-1',
      '--config',
      SAMPLE_CONFIG,
    );

    expect(code).toBe(EXIT.ok);
    const start = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(start).toEqual({
      stateMachineArn: 'arn:aws:states:us-east-1:111111111111:stateMachine:backstop-kill',
      name: 'inc-1',
      input: JSON.stringify({
        agentId: 'support-bot',
        mode: 'full_stop',
        reason: 'spend spike',
        incidentId: 'inc-1',
      }),
    });
    expect(c.text()).toMatch(/Cut IAM authority \[support-bot\]\s+succeeded\s+CONTAINED/);
    expect(c.text()).toMatch(/Incident inc-1: CONTAINED \(full_stop\)/);
  });

  it('exits 2 and says what PARTIAL means when some authority was not proven cut', async () => {
    const partial: KillResult = {
      ...contained,
      status: 'PARTIAL',
      agents: [
        {
          agentId: 'support-bot',
          status: 'PARTIAL',
          surfaces: [
            { surface: 'eventbridge-rules', contain: 'FAILED', verify: 'FAILED', detail: 'AccessDenied' },
          ],
        },
      ],
    };
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: JSON.stringify(partial) });
    const c = cli();

    const code = await c.run(
      'kill',
      'support-bot',
      '--mode',
      'full_stop',
      '--reason',
      'x',
      '--config',
      SAMPLE_CONFIG,
      '--json',
    );

    expect(code).toBe(EXIT.notContained);
    expect(JSON.parse(c.text()).result.status).toBe('PARTIAL');
  });

  it('exits 2 with the reason when the kill path refuses the request', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      error: 'Backstop.KillRejected',
      cause: 'agentId: unknown agent(s) ghost',
    });
    const c = cli();

    const code = await c.run(
      'kill',
      'ghost',
      '--mode',
      'full_stop',
      '--reason',
      'x',
      '--config',
      SAMPLE_CONFIG,
    );

    expect(code).toBe(EXIT.notContained);
    expect(c.errors()).toMatch(/unknown agent\(s\) ghost/);
  });

  it('returns the execution ARN at once with --no-wait', async () => {
    const c = cli();

    const code = await c.run(
      'kill',
      'support-bot',
      '--mode',
      'read_only',
      '--reason',
      'x',
      '--no-wait',
      '--config',
      SAMPLE_CONFIG,
    );

    expect(code).toBe(EXIT.ok);
    expect(c.text()).toMatch(/started arn:aws:states:.*:execution:backstop-kill:inc-1/);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
  });
});

describe('backstop command line errors', () => {
  it.each([
    [
      ['kill', 'support-bot', '--mode', 'halt', '--reason', 'x'],
      /unknown mode "halt" \(one of approval_gated, draft_only, read_only, full_stop\)/,
    ],
    [['kill', 'support-bot', '--mode', 'full_stop'], /required option '--reason <text>' not specified/],
    [['kill', 'support-bot', '--reason', 'x'], /required option '--mode <mode>' not specified/],
    [
      ['kill', 'support-bot', '--mode', 'full_stop', '--reason', 'x', '--local', '--config', SAMPLE_CONFIG],
      /--local needs --outputs <file>/,
    ],
    [
      ['kill', 'support-bot', '--mode', 'full_stop', '--reason', 'x', '--config', 'missing.json'],
      /missing\.json/,
    ],
    [['audit', 'verify', '--config', SAMPLE_CONFIG], /audit verify needs --outputs <file>/],
    [
      [
        'kill',
        'support-bot',
        '--mode',
        'full_stop',
        '--reason',
        'x',
        '--endpoint',
        'not a url',
        '--config',
        SAMPLE_CONFIG,
      ],
      /--endpoint not a url: not a URL/,
    ],
  ])('%j fails with a message naming the problem and starts nothing', async (argv, message) => {
    const c = cli();

    const code = await c.run(...argv);

    expect(code).toBe(EXIT.error);
    expect(c.errors()).toMatch(message);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('names the missing stack outputs of an incomplete --outputs file', async () => {
    const file = join(tmpdir(), `backstop-outputs-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ 'Backstop-ControlPlane': { AuditBucketName: 'b' } }));
    const c = cli();

    const code = await c.run('audit', 'verify', '--all', '--outputs', file, '--config', SAMPLE_CONFIG);

    expect(code).toBe(EXIT.error);
    expect(c.errors()).toMatch(/lacks output\(s\) StateTableName, TopicArn, AuditKeyArn/);
  });
});
