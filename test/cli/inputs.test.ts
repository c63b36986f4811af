import fc from 'fast-check';
import { validateKillRequest } from '../../lambda/shared/request';
import type { Directory } from '../../lambda/shared/types';
import { loadConfig } from '../../lib/config';
import {
  checkEndpoint,
  checkIncident,
  checkReason,
  chooseRegion,
  editDistance,
  nearest,
  UsageError,
} from '../../lib/cli/inputs';
import { errorDetail, oneLineCause, progressFromEngine } from '../../lib/cli/progress';
import { progressLine } from '../../lib/cli/render';
import { clip, fitTable, shortenMiddle, wrap } from '../../lib/cli/text';
import { SAMPLE_CONFIG_PATH } from '../helpers/cdk';

describe('nearest known agent id', () => {
  it('counts one-character edits', () => {
    expect(editDistance('support-bot', 'support-bot')).toBe(0);
    expect(editDistance('suport-bot', 'support-bot')).toBe(1);
    expect(editDistance('support-tob', 'support-bot')).toBe(2);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests the closest id, whatever the case typed', () => {
    const known = ['support-bot', 'etl-agent', 'code-reviewer'];
    expect(nearest('support-bt', known)).toBe('support-bot');
    expect(nearest('ETL-AGENT', known)).toBe('etl-agent');
    expect(nearest('code-review', known)).toBe('code-reviewer');
    expect(nearest('x', [])).toBeUndefined();
  });
});

describe('option checks', () => {
  const directory: Directory = {
    partition: 'aws',
    controlPlane: { accountId: '1', region: 'us-east-1' },
    workloads: [],
    agents: [],
  };

  it('accepts exactly the incident ids the kill path accepts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (id) => {
        let cli = true;
        try {
          checkIncident(id);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          cli = false;
        }
        const kill = validateKillRequest(
          { agentId: 'a', mode: 'full_stop', reason: 'r', incidentId: id },
          directory,
          'x',
        );
        const rejectedForId = !kill.ok && kill.rejection.message.includes('incidentId');
        expect(cli).toBe(!rejectedForId);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses endpoints without http(s) and a host, and suggests the fix', () => {
    expect(checkEndpoint('http://localhost:4566')).toBe('http://localhost:4566');
    expect(checkEndpoint('https://vpce-1.sts.us-east-1.vpce.amazonaws.com')).toBeDefined();
    for (const bad of ['localhost:4566', 'ftp://x', 'http://', 'mailto:a@b', '']) {
      expect(() => checkEndpoint(bad)).toThrow(/needs a URL with http:\/\/ or https:\/\//);
    }
    expect(() => checkEndpoint('127.0.0.1:4566')).toThrow(/for example http:\/\/127\.0\.0\.1:4566/);
  });

  it('trims a reason, refuses an empty or overlong one, and needs one only for a kill', () => {
    expect(checkReason('  spend spike ', true)).toBe('spend spike');
    expect(checkReason(undefined, false)).toBeUndefined();
    expect(() => checkReason(undefined, true)).toThrow(/--reason <text> is required/);
    expect(() => checkReason('', true)).toThrow('--reason is empty');
    expect(() => checkReason('x'.repeat(1024), true)).not.toThrow();
    expect(() => checkReason('x'.repeat(1025), true)).toThrow(
      '--reason is 1025 characters long; at most 1024',
    );
  });

  it("keeps the control plane's region: --region may confirm it, AWS_REGION elsewhere is noted", () => {
    const config = loadConfig(SAMPLE_CONFIG_PATH);
    expect(chooseRegion(config, undefined, undefined, 'c.json')).toEqual({ region: 'us-east-1' });
    expect(chooseRegion(config, 'us-east-1', 'cli', 'c.json')).toEqual({ region: 'us-east-1' });
    expect(chooseRegion(config, 'eu-west-1', 'env', 'c.json')).toEqual({
      region: 'us-east-1',
      note: 'AWS_REGION="eu-west-1" not used: the control plane is in us-east-1 (controlPlane.region in c.json)',
    });
    expect(() => chooseRegion(config, 'eu-west-1', 'cli', 'c.json')).toThrow(
      /--region eu-west-1: the control plane is in us-east-1/,
    );
    expect(() => chooseRegion(config, 'mars', 'cli', 'c.json')).toThrow(
      '--region "mars": not an AWS region name',
    );
  });
});

describe('text for a 100-column terminal', () => {
  it('shortens in the middle, keeping both ends', () => {
    const arn = 'arn:aws:iam::222222222222:role/agents/support-bot-runtime-with-a-long-name';
    const short = shortenMiddle(arn, 40);
    expect(short).toHaveLength(40);
    expect(short.startsWith('arn:aws:iam::')).toBe(true);
    expect(short.endsWith('a-long-name')).toBe(true);
    expect(short).toContain('…');
  });

  it('wraps at words, and no line of a table is wider than 100 columns', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.string({ maxLength: 200 }), { minLength: 4, maxLength: 4 }), { maxLength: 6 }),
        (rows) => {
          const table = fitTable(['surface', 'resource', 'action', 'detail'], rows);
          for (const line of table.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
          for (const line of wrap(rows.flat().join(' '))) expect(line.length).toBeLessThanOrEqual(100);
        },
      ),
      { numRuns: 100 },
    );
    expect(clip('x'.repeat(300))).toHaveLength(100);
  });
});

describe('errors in the timeline', () => {
  const lambdaCause = JSON.stringify({
    errorType: 'CredentialsProviderError',
    errorMessage: 'Could not load credentials from any providers',
    trace: [
      'CredentialsProviderError: Could not load credentials from any providers',
      '    at /work/node_modules/@aws-sdk/credential-provider-node/dist-cjs/index.js:131:11',
    ],
  });

  it('keeps the message of a Lambda error and drops its stack trace', () => {
    expect(oneLineCause(lambdaCause)).toBe('Could not load credentials from any providers');
    expect(oneLineCause('Error: boom\n    at x (y.js:1:1)')).toBe('Error: boom');
    expect(oneLineCause('x'.repeat(500))).toHaveLength(160);
    expect(errorDetail('States.TaskFailed', lambdaCause)).toBe(
      'States.TaskFailed: Could not load credentials from any providers',
    );
  });

  it('shows a failed task as one line of at most 100 columns', () => {
    const p = progressFromEngine({
      type: 'ExecutionFailed',
      time: '2026-12-03T00:00:00.000Z',
      elapsedMs: 1234,
      scope: [],
      error: 'CredentialsProviderError',
      cause: lambdaCause,
    });
    const line = progressLine(p as NonNullable<typeof p>);
    // eslint-disable-next-line no-control-regex
    const plain = line.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/Kill ended {2}failed {2}CredentialsProviderError: Could not load credentials/);
    expect(plain).not.toMatch(/ at |trace|\{/);
    expect(plain.length).toBeLessThanOrEqual(100);
  });
});
