import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { KillResult } from '../../lambda/shared/kill-types';
import type { StoredSurfacePlan } from '../../lambda/shared/plan-store';
import { SURFACE_NAMES } from '../../lambda/shared/types';
import type { Command } from 'commander';
import { buildCli, EXIT } from '../../lib/cli';

const SAMPLE_CONFIG = join(__dirname, '..', '..', 'backstop.config.json');
const sfn = mockClient(SFNClient);
const dynamo = mockClient(DynamoDBDocumentClient);

/** Every variable the SDK reads credentials, profile, region or endpoint from. */
const AWS_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_REGION',
  'AWS_ENDPOINT_URL',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
] as const;
let saved: Record<string, string | undefined>;

beforeEach(() => {
  saved = Object.fromEntries(AWS_ENV.map((k) => [k, process.env[k]]));
  for (const k of AWS_ENV) delete process.env[k];
  // Fake keys: the calls are answered by the mocks, never sent. Nothing may reach the network
  // or read outside the repository: no instance metadata, no ~/.aws files.
  process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_CONFIG_FILE = join(__dirname, 'no-such-aws-config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(__dirname, 'no-such-aws-credentials');
});

afterEach(() => {
  for (const k of AWS_ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

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
    /** The errors with the line breaks of wrapping taken out. */
    flat: () => plain(err).replace(/\s*\n\s*/g, ' '),
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
  dynamo.reset();
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

const KILL = ['kill', 'support-bot', '--mode', 'full_stop', '--reason', 'spend spike'];

/** The sample config with `n` more agents in account 333333333333, written to a scratch file. */
function fleetConfig(n: number): string {
  const config = JSON.parse(readFileSync(SAMPLE_CONFIG, 'utf8')) as { agents: unknown[] };
  for (let i = 1; i <= n; i++) {
    const id = `fleet-${String(i).padStart(2, '0')}`;
    config.agents.push({
      id,
      accountId: '333333333333',
      region: 'us-east-1',
      roleArns: [`arn:aws:iam::333333333333:role/${id}`],
    });
  }
  const file = join(mkdtempSync(join(tmpdir(), 'backstop-cli-')), 'backstop.config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const FLEET_KILL = [
  'kill',
  '--account',
  '333333333333',
  '--mode',
  'full_stop',
  '--reason',
  'fleet spend spike',
];

function passExited(id: number, name: string, output: unknown) {
  return {
    id,
    type: 'PassStateExited' as const,
    timestamp: new Date(Date.parse('2026-11-22T00:00:02Z') + id),
    stateExitedEventDetails: { name, output: JSON.stringify(output) },
  };
}

describe('backstop kill of a fleet (deployed)', () => {
  it('counts the agents read back instead of printing each agent, and prints the count last', async () => {
    const file = fleetConfig(12);
    const agents = Array.from({ length: 13 }, (_, i) =>
      i === 0 ? 'code-reviewer' : `fleet-${String(i).padStart(2, '0')}`,
    );
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: agents.flatMap((agentId, i) => [
        {
          id: 100 + i,
          type: 'TaskStateExited' as const,
          timestamp: new Date('2026-11-22T00:00:01Z'),
          stateExitedEventDetails: {
            name: 'Cut IAM authority',
            output: JSON.stringify({ agentId, status: 'CONTAINED' }),
          },
        },
        passExited(200 + i, 'Agent done', { agentId, status: i === 3 ? 'PARTIAL' : 'CONTAINED' }),
      ]),
    });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: JSON.stringify(contained) });
    const c = cli();

    const code = await c.run(...FLEET_KILL, '--config', file);

    expect(code).toBe(EXIT.ok);
    expect(c.text()).not.toMatch(/Cut IAM authority \[fleet-01\]/);
    expect(c.text()).not.toMatch(/Agent done \[fleet-01\]/);
    expect(c.text()).toMatch(/Agents\s+13\/13 read back \(12 CONTAINED, 1 PARTIAL\)/);
    for (const line of c.text().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('counts the batches of a fleet run as child executions from its map run', async () => {
    const file = fleetConfig(12);
    const mapRunArn = 'arn:aws:states:us-east-1:111111111111:mapRun:backstop-kill/Cut-each-batch:0f1e2d3c';
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 5,
          type: 'MapRunStarted',
          timestamp: new Date('2026-11-22T00:00:01Z'),
          mapRunStartedEventDetails: { mapRunArn },
        },
      ],
    });
    sfn.on(DescribeMapRunCommand).resolves({
      executionCounts: {
        total: 3,
        succeeded: 2,
        running: 1,
        pending: 0,
        failed: 0,
        timedOut: 0,
        aborted: 0,
        resultsWritten: 2,
        pendingRedrive: 0,
        failuresNotRedrivable: 0,
      },
    } as never);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: JSON.stringify(contained) });
    const c = cli();

    await c.run(...FLEET_KILL, '--config', file);

    expect(sfn.commandCalls(DescribeMapRunCommand)[0]?.args[0].input).toEqual({ mapRunArn });
    expect(c.text()).toMatch(/0\/13 read back; batches 2\/3 done, 1 running/);
  });
});

describe('backstop kill (deployed)', () => {
  it('starts the kill state machine named in the config, follows it, and exits 0 when contained', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: JSON.stringify(contained) });
    const c = cli();

    const code = await c.run(...KILL, '--incident', 'inc-1', '--config', SAMPLE_CONFIG);

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

  it('still takes the old --incident-id, and refuses it naming another incident than --incident', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: JSON.stringify(contained) });
    const old = cli();
    expect(await old.run(...KILL, '--incident-id', 'inc-1', '--config', SAMPLE_CONFIG)).toBe(EXIT.ok);
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.name).toBe('inc-1');

    const both = cli();
    const code = await both.run(...KILL, '--incident', 'a', '--incident-id', 'b', '--config', SAMPLE_CONFIG);
    expect(code).toBe(EXIT.error);
    expect(both.errors()).toMatch(/--incident and --incident-id name two different incidents/);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
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

    const code = await c.run(...KILL, '--config', SAMPLE_CONFIG, '--json');

    expect(code).toBe(EXIT.notContained);
    expect(JSON.parse(c.text()).result.status).toBe('PARTIAL');
  });

  it('exits 2 with the reason, in one line and no stack trace, when the kill path refuses the request', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      error: 'Backstop.KillRejected',
      cause: JSON.stringify({
        errorType: 'Backstop.KillRejected',
        errorMessage: 'a read_only kill would loosen: agent support-bot is at full_stop',
        trace: [
          'Backstop.KillRejected: a read_only kill would loosen',
          '    at run (/var/task/index.js:1:1)',
        ],
      }),
    });
    const c = cli();

    const code = await c.run(
      'kill',
      'support-bot',
      '--mode',
      'read_only',
      '--reason',
      'x',
      '--config',
      SAMPLE_CONFIG,
    );

    expect(code).toBe(EXIT.notContained);
    expect(c.errors()).toBe(
      'kill execution FAILED: Backstop.KillRejected: a read_only kill would loosen: agent support-bot is at\nfull_stop',
    );
  });

  it('returns the execution ARN at once with --no-wait', async () => {
    const c = cli();

    const code = await c.run(...KILL, '--no-wait', '--config', SAMPLE_CONFIG);

    expect(code).toBe(EXIT.ok);
    expect(c.text()).toMatch(/started arn:aws:states:.*:execution:backstop-kill:inc-1/);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
  });
});

describe('backstop plan (deployed)', () => {
  const planned: KillResult = {
    ...contained,
    incidentId: 'plan-1',
    status: 'PLANNED',
    dryRun: true,
    timeToContainMs: null,
    counts: { PLANNED: 1 },
    agents: [
      {
        agentId: 'support-bot',
        status: 'PLANNED',
        surfaces: SURFACE_NAMES.map((surface) => ({
          surface,
          contain: surface === 'iam' ? 'PLANNED' : 'NOT_APPLICABLE',
          verify: surface === 'iam' ? 'VERIFIED' : 'NOT_APPLICABLE',
        })),
      },
    ],
  };
  const stored = (surface: (typeof SURFACE_NAMES)[number]): StoredSurfacePlan => ({
    agentId: 'support-bot',
    surface,
    mode: 'read_only',
    applies: surface === 'iam',
    resources: 1,
    actions:
      surface === 'iam'
        ? [
            {
              resource: 'arn:aws:iam::222222222222:role/agents/support-bot-runtime',
              label: 'role support-bot-runtime',
              action: 'AttachRolePolicy backstop-read-only-us-east-1',
              current: '3 managed, 2 inline',
              after: 'attached: cuts the role',
            },
          ]
        : [],
    skipped:
      surface === 'iam'
        ? []
        : [
            {
              resource: `arn:aws:lambda:us-east-1:222222222222:function:${surface}-thing`,
              current: 'ENABLED',
              reason: 'a read_only kill leaves it as it is (only full_stop cuts this surface)',
            },
          ],
  });

  beforeEach(() => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: JSON.stringify(planned) });
  });

  it('runs a dry run and reads the plan back from the state table the configuration names', async () => {
    dynamo.on(QueryCommand).resolves({
      Items: SURFACE_NAMES.map((s) => ({
        pk: 'INCIDENT#plan-1',
        sk: `PLAN#support-bot#${s}`,
        plan: stored(s),
      })),
    });
    dynamo.on(GetCommand).resolves({});
    const c = cli();

    const code = await c.run('plan', 'support-bot', '--mode', 'read_only', '--config', SAMPLE_CONFIG);

    expect(code).toBe(EXIT.ok);
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input as string)).toEqual(
      expect.objectContaining({ agentId: 'support-bot', mode: 'read_only', dryRun: true }),
    );
    expect(dynamo.commandCalls(QueryCommand)[0]?.args[0].input.TableName).toBe('backstop-state');
    const text = c.text().replace(/\s+/g, ' ');
    expect(text).toMatch(/Plan plan-1: PLANNED \(read_only\): a dry run, nothing was changed/);
    expect(text).toMatch(
      /role support-bot-runtime AttachRolePolicy 3 managed, 2 inline -> attached: cuts the role backstop-read-only-us-east-1/,
    );
    expect(text).toMatch(
      /In short: a read_only kill would change 1 IAM role and the control flag\. It leaves running: 1 Lambda function, 1 event source mapping/,
    );
    for (const line of c.text().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('exits 2 and says the plan is incomplete when the state table cannot be read', async () => {
    dynamo.on(QueryCommand).rejects(
      Object.assign(new Error('not authorized to perform dynamodb:Query'), {
        name: 'AccessDeniedException',
      }),
    );
    dynamo.on(GetCommand).resolves({});
    const c = cli();

    const code = await c.run('plan', 'support-bot', '--config', SAMPLE_CONFIG, '--json');

    expect(code).toBe(EXIT.notContained);
    const json = JSON.parse(c.text());
    expect(json.complete).toBe(false);
    expect(json.incomplete[0]).toMatch(
      /^the plan could not be read from the state table backstop-state: AccessDeniedException/,
    );
  });
});

describe('wrong input is said at once, names the option, exits 1, and calls nothing', () => {
  const config = ['--config', SAMPLE_CONFIG];
  it.each([
    [
      'an unknown agent (kill), with the nearest known id',
      ['kill', 'no-such-bot', '--mode', 'full_stop', '--reason', 'x', ...config],
      /^unknown agent "no-such-bot": not in .*backstop\.config\.json\. Did you mean [a-z-]+\? Known agents: support-bot, etl-agent, code-reviewer$/,
    ],
    [
      'a mistyped agent (plan)',
      ['plan', 'suport-bot', ...config],
      /unknown agent "suport-bot": .*Did you mean support-bot\?/,
    ],
    [
      'a mistyped agent (status)',
      ['status', 'typo-bot', ...config],
      /unknown agent "typo-bot": .*Did you mean support-bot\?/,
    ],
    [
      'an empty reason',
      ['kill', 'support-bot', '--mode', 'full_stop', '--reason', '   ', ...config],
      /^--reason is empty: say why \(it goes in the audit log\)$/,
    ],
    [
      'an overlong reason',
      ['kill', 'support-bot', '--mode', 'full_stop', '--reason', 'x'.repeat(1025), ...config],
      /^--reason is 1025 characters long; at most 1024/,
    ],
    [
      'a missing reason',
      ['kill', 'support-bot', '--mode', 'full_stop', ...config],
      /required option '--reason <text>' not specified/,
    ],
    [
      'an unknown mode',
      ['kill', 'support-bot', '--mode', 'halt', '--reason', 'x', ...config],
      /option '--mode <mode>' argument 'halt' is invalid\. unknown mode "halt" \(one of approval_gated, draft_only, read_only, full_stop\)/,
    ],
    [
      'a missing mode',
      ['kill', 'support-bot', '--reason', 'x', ...config],
      /required option '--mode <mode>' not specified/,
    ],
    [
      'a malformed incident id (kill)',
      ['kill', 'support-bot', '--mode', 'full_stop', '--reason', 'x', '--incident', 'INC 4711!', ...config],
      /^--incident "INC 4711!": 1 to 55 letters, digits, "\.", "_" or "-"/,
    ],
    [
      'a malformed incident id (the old option name)',
      ['kill', 'support-bot', '--mode', 'full_stop', '--reason', 'x', '--incident-id', '-x', ...config],
      /^--incident-id "-x": 1 to 55 letters/,
    ],
    [
      'a malformed incident id (audit verify)',
      ['audit', 'verify', '--incident', '../../etc', '--outputs', 'cdk-outputs.json', ...config],
      /^--incident "\.\.\/\.\.\/etc": 1 to 55 letters/,
    ],
    [
      'an endpoint without a scheme',
      [
        'kill',
        'support-bot',
        '--mode',
        'full_stop',
        '--reason',
        'x',
        '--endpoint',
        'localhost:4566',
        ...config,
      ],
      /^--endpoint "localhost:4566": needs a URL with http:\/\/ or https:\/\/ \(for example http:\/\/localhost:4566\)$/,
    ],
    [
      'an endpoint that is not a URL',
      ['status', '--endpoint', 'not a url', ...config],
      /^--endpoint "not a url": needs a URL with http:\/\/ or https:\/\//,
    ],
    [
      'a region other than the control plane region',
      ['status', '--region', 'eu-west-1', ...config],
      /^--region eu-west-1: the control plane is in us-east-1 \(controlPlane\.region in .*\) and the kill path runs only there\. Leave --region out or pass --region us-east-1\.$/,
    ],
    [
      '--local without --outputs',
      ['kill', 'support-bot', '--mode', 'full_stop', '--reason', 'x', '--local', ...config],
      /--local needs --outputs <file>/,
    ],
    [
      'a missing configuration file',
      ['kill', 'support-bot', '--mode', 'full_stop', '--reason', 'x', '--config', 'missing.json'],
      /missing\.json: - file not found/,
    ],
    [
      'a missing outputs file',
      ['status', '--outputs', join(__dirname, 'no-such-outputs.json'), ...config],
      /--outputs .*no-such-outputs\.json: file not found \(cdk deploy Backstop-ControlPlane --outputs-file/,
    ],
    [
      'audit verify without --outputs',
      ['audit', 'verify', '--all', ...config],
      /audit verify needs --outputs <file>/,
    ],
    [
      'audit verify without a scope',
      ['audit', 'verify', ...config],
      /needs exactly one of --incident <id>, --all or --bundle <path>/,
    ],
  ])('%s', async (_what, argv, message) => {
    const c = cli();

    const code = await c.run(...argv);

    expect(code).toBe(EXIT.error);
    expect(c.flat()).toMatch(message);
    expect(c.errors()).not.toMatch(/^\s+at /m);
    for (const line of c.errors().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(sfn.calls()).toHaveLength(0);
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('names the missing stack outputs of an incomplete --outputs file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'backstop-cli-')), 'outputs.json');
    writeFileSync(file, JSON.stringify({ 'Backstop-ControlPlane': { AuditBucketName: 'b' } }));
    const c = cli();

    const code = await c.run('audit', 'verify', '--all', '--outputs', file, '--config', SAMPLE_CONFIG);

    expect(code).toBe(EXIT.error);
    expect(c.flat()).toMatch(/lacks output\(s\) StateTableName, TopicArn, AuditKeyArn/);
  });

  it('says which credentials it tried, and how to fix it, when there are none: the default chain', async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
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
    );

    expect(code).toBe(EXIT.error);
    expect(c.flat()).toMatch(/^No AWS credentials\. Tried the SDK's default chain: AWS_ACCESS_KEY_ID/);
    expect(c.flat()).toMatch(/Fix: pass --profile <name> \(or set AWS_PROFILE\), or run aws sso login/);
    expect(c.errors()).not.toMatch(/CredentialsProviderError|^\s+at /m);
    expect(sfn.calls()).toHaveLength(0);
  });

  it.each([
    [['--profile', 'oncall'], 'from --profile'],
    [[], 'from AWS_PROFILE'],
  ])('says which profile it tried (%j) and how to fix it', async (flag, from) => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    if (flag.length === 0) process.env.AWS_PROFILE = 'oncall';
    const c = cli();

    const code = await c.run('status', ...flag, '--config', SAMPLE_CONFIG);

    expect(code).toBe(EXIT.error);
    expect(c.flat()).toMatch(
      new RegExp(
        `^No AWS credentials\\. Tried profile "oncall" \\(${from}\\) in ~/\\.aws/config and ~/\\.aws/credentials`,
      ),
    );
    expect(c.flat()).toMatch(/Fix: aws sso login --profile oncall, or aws configure --profile oncall/);
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('notes an AWS_REGION set to another region and uses the control plane region', async () => {
    process.env.AWS_REGION = 'eu-west-1';
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: JSON.stringify(contained) });
    const c = cli();

    const code = await c.run(...KILL, '--config', SAMPLE_CONFIG);

    expect(code).toBe(EXIT.ok);
    expect(c.errors()).toMatch(/^note: AWS_REGION="eu-west-1" not used: the control plane is in us-east-1/);
    expect(await sfn.commandCalls(StartExecutionCommand)[0]?.thisValue.config.region()).toBe('us-east-1');
  });

  it('shows no stack trace for an unexpected error, and shows it with --debug', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const quiet = cli();
    expect(await quiet.run(...KILL, '--config', SAMPLE_CONFIG)).toBe(EXIT.error);
    expect(quiet.errors()).toBe('ThrottlingException: Rate exceeded\n(run with --debug for the stack trace)');

    const debug = cli();
    expect(await debug.run(...KILL, '--config', SAMPLE_CONFIG, '--debug')).toBe(EXIT.error);
    expect(debug.errors()).toMatch(/^ThrottlingException: Rate exceeded\n.*\n\s+at /s);
  });
});

describe('backstop help and version', () => {
  it('prints the version', async () => {
    const c = cli();
    expect(await c.run('--version')).toBe(EXIT.ok);
    expect(c.text()).toMatch(/^backstop \d+\.\d+\.\d+$/);
  });

  it('lists the exit codes and the AWS environment in --help, in at most 100 columns', async () => {
    const c = cli();
    expect(await c.run('--help')).toBe(EXIT.ok);
    expect(c.text()).toMatch(
      /Exit codes:\n {2}0 {2}done.*\n {2}1 {2}nothing started.*\n {2}2 {2}not contained/,
    );
    expect(c.text()).toMatch(/AWS_PROFILE/);
    expect(c.text()).toMatch(/AWS_REGION/);
    for (const line of c.text().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('fits the help of every command and subcommand in 100 columns', async () => {
    const { program } = buildCli({ out: () => undefined, err: () => undefined });
    const paths: string[][] = [];
    const walk = (cmd: Command, path: string[]) => {
      for (const sub of cmd.commands) {
        paths.push([...path, sub.name()]);
        walk(sub, [...path, sub.name()]);
      }
    };
    walk(program, []);
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths) {
      const c = cli();
      expect(await c.run(...path, '--help')).toBe(EXIT.ok);
      const long = c
        .text()
        .split('\n')
        .filter((line) => line.length > 100);
      expect({ command: path.join(' '), long }).toEqual({ command: path.join(' '), long: [] });
    }
  });

  it.each([['kill'], ['plan'], ['status'], ['audit', 'verify']])(
    'gives %j --profile and --region (with their environment variables), one incident option, and the exit codes',
    async (...command) => {
      const c = cli();
      expect(await c.run(...command, '--help')).toBe(EXIT.ok);
      expect(c.text()).toMatch(/--profile <name>.*\(env: AWS_PROFILE\)/);
      expect(c.text()).toMatch(/--region <region>[\s\S]*\(env: AWS_REGION\)/);
      expect(c.text()).not.toMatch(/--incident-id/);
      expect(c.text()).toMatch(/Exit codes:/);
      for (const line of c.text().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    },
  );
});
