import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  type BackstopConfigInput,
  ConfigError,
  type ConfigIssue,
  DEFAULT_HIGH_RISK_ACTIONS,
  loadConfig,
  parseConfig,
} from '../../lib/config';
import { previewValue } from '../../lib/config/errors';
import { SAMPLE_CONFIG_PATH, sampleConfigInput } from '../helpers/cdk';

/** The issues a configuration is rejected with (fails the test if it is accepted). */
function issuesOf(change: (input: BackstopConfigInput) => void): ConfigIssue[] {
  const input = sampleConfigInput();
  change(input);
  try {
    parseConfig(input, '<test>');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error('configuration was accepted');
}

function issue(path: string, message: RegExp) {
  return { path, message: expect.stringMatching(message) };
}

/** A minimal valid configuration: only required fields. */
function minimal(): BackstopConfigInput {
  return {
    controlPlane: { accountId: '111111111111', region: 'us-east-1' },
    workloadAccounts: [{ accountId: '222222222222', regions: [{ region: 'us-east-1' }] }],
    agents: [{ id: 'bot', accountId: '222222222222', region: 'us-east-1' }],
    breakGlass: { principals: ['arn:aws:iam::111111111111:user/alice'] },
    restore: { approvers: ['arn:aws:iam::111111111111:user/alice', 'arn:aws:iam::111111111111:user/bob'] },
  };
}

describe('loading the configuration', () => {
  it('loads the sample configuration shipped in the repository', () => {
    const config = loadConfig(SAMPLE_CONFIG_PATH);
    expect(config.controlPlane).toEqual({ accountId: '111111111111', region: 'us-east-1' });
    expect(config.workloadAccounts.map((a) => a.accountId)).toEqual(['222222222222', '333333333333']);
    expect(config.agents.map((a) => a.id)).toEqual(['support-bot', 'etl-agent', 'code-reviewer']);
    expect(config.restore.quorum).toBe(2);
  });

  it('applies every default to a configuration that leaves optional fields out', () => {
    const config = parseConfig(minimal());
    expect(config.partition).toBe('aws');
    expect(config.audit).toEqual({ retentionDays: 365, mode: 'COMPLIANCE', allowGovernance: false });
    expect(config.restore.quorum).toBe(2);
    expect(config.organizationId).toBeUndefined();
    expect(config.agentRolePath).toBeUndefined();
    expect(config.workloadAccounts[0].regions[0].vpcIds).toEqual([]);
    expect(config.agents[0]).toEqual({
      id: 'bot',
      accountId: '222222222222',
      region: 'us-east-1',
      roleArns: [],
      resourceArns: [],
      highRiskActions: [...DEFAULT_HIGH_RISK_ACTIONS],
      draftResources: [],
      alarms: [],
    });
  });

  it('accepts GOVERNANCE mode when the explicit opt-in is set', () => {
    const config = parseConfig({
      ...minimal(),
      audit: { mode: 'GOVERNANCE', allowGovernance: true, retentionDays: 1 },
    });
    expect(config.audit).toEqual({ mode: 'GOVERNANCE', allowGovernance: true, retentionDays: 1 });
  });

  it('names the file when it does not exist', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backstop-')), 'missing.json');
    expect(() => loadConfig(path)).toThrow(ConfigError);
    expect(() => loadConfig(path)).toThrow(`Invalid Backstop configuration ${path}:\n  - file not found`);
  });

  it('names the file when it is not JSON', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backstop-')), 'broken.json');
    writeFileSync(path, '{ "controlPlane": ');
    expect(() => loadConfig(path)).toThrow(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\n  - not valid JSON`),
    );
  });

  it('lists every issue, each as "<field>: <reason>", in the error message', () => {
    const input = sampleConfigInput();
    input.audit = { retentionDays: 0 };
    input.controlPlane.accountId = '12345';
    expect(() => parseConfig(input, 'backstop.config.json')).toThrow(
      'Invalid Backstop configuration backstop.config.json:\n' +
        '  - controlPlane.accountId: must be a 12-digit AWS account id, got "12345"\n' +
        '  - audit.retentionDays: must be at least 1 day, got 0',
    );
  });
});

describe('configuration errors name the field and the reason', () => {
  it('rejects an agent in an account that is not a declared workload account', () => {
    expect(
      issuesOf((c) => {
        c.agents![1].accountId = '444444444444';
      }),
    ).toContainEqual({
      path: 'agents[1].accountId',
      message: 'account 444444444444 is not a declared workload account',
    });
  });

  it('rejects an agent in a region not declared for its account', () => {
    expect(
      issuesOf((c) => {
        c.agents![2].region = 'eu-west-1';
      }),
    ).toContainEqual(
      issue('agents[2].region', /^region eu-west-1 is not declared for workload account 333333333333/),
    );
  });

  it('rejects a duplicate agent id', () => {
    expect(
      issuesOf((c) => {
        c.agents![2].id = 'support-bot';
      }),
    ).toContainEqual({ path: 'agents[2].id', message: 'duplicate agent id "support-bot" (also agents[0])' });
  });

  it('rejects any retention below 1 day', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 0 }), (days) => {
        expect(
          issuesOf((c) => {
            c.audit = { retentionDays: days };
          }),
        ).toEqual([{ path: 'audit.retentionDays', message: `must be at least 1 day, got ${days}` }]);
      }),
      { numRuns: 25 },
    );
  });

  it('rejects GOVERNANCE mode without the explicit opt-in', () => {
    for (const audit of [
      { mode: 'GOVERNANCE' as const },
      { mode: 'GOVERNANCE' as const, allowGovernance: false },
    ]) {
      expect(
        issuesOf((c) => {
          c.audit = audit;
        }),
      ).toEqual([issue('audit.mode', /^GOVERNANCE requires "allowGovernance": true in audit/)]);
    }
  });

  it('rejects any account id that is not exactly 12 digits, wherever it appears', () => {
    const malformed = fc.string({ maxLength: 20 }).filter((s) => !/^\d{12}$/.test(s));
    fc.assert(
      fc.property(malformed, fc.constantFrom('controlPlane', 'workload', 'agent'), (accountId, where) => {
        const issues = issuesOf((c) => {
          if (where === 'controlPlane') c.controlPlane.accountId = accountId;
          if (where === 'workload') c.workloadAccounts[1].accountId = accountId;
          if (where === 'agent') c.agents![0].accountId = accountId;
        });
        const path = {
          controlPlane: 'controlPlane.accountId',
          workload: 'workloadAccounts[1].accountId',
          agent: 'agents[0].accountId',
        }[where];
        expect(issues).toContainEqual({
          path,
          message: `must be a 12-digit AWS account id, got ${previewValue(accountId)}`,
        });
      }),
      { numRuns: 60 },
    );
  });

  it('rejects malformed ARNs in role, resource, draft, break-glass and approver lists', () => {
    const notAnArn = fc.string({ maxLength: 40 }).filter((s) => !s.startsWith('arn:'));
    fc.assert(
      fc.property(notAnArn, (value) => {
        const issues = issuesOf((c) => {
          c.agents![0].roleArns = [value];
          c.agents![0].resourceArns = [value];
          c.agents![0].draftResources = [value];
          c.breakGlass.principals = [value];
          c.restore.approvers = [value, 'arn:aws:iam::111111111111:user/bob'];
        });
        expect(issues.map((i) => i.path)).toEqual(
          expect.arrayContaining([
            'agents[0].roleArns[0]',
            'agents[0].resourceArns[0]',
            'agents[0].draftResources[0]',
            'breakGlass.principals[0]',
            'restore.approvers[0]',
          ]),
        );
        expect(issues.find((i) => i.path === 'agents[0].roleArns[0]')?.message).toMatch(
          /^must be an IAM role ARN/,
        );
        expect(issues.find((i) => i.path === 'agents[0].resourceArns[0]')?.message).toMatch(
          /^must be an ARN/,
        );
      }),
      { numRuns: 40 },
    );
  });

  it('rejects an agent role ARN in another account than the agent', () => {
    expect(
      issuesOf((c) => {
        c.agents![0].roleArns = ['arn:aws:iam::333333333333:role/agents/support-bot-runtime'];
      }),
    ).toContainEqual({
      path: 'agents[0].roleArns[0]',
      message:
        "role arn:aws:iam::333333333333:role/agents/support-bot-runtime is in account 333333333333, not the agent's account 222222222222",
    });
  });

  it('rejects an agent resource in another account or region than the agent', () => {
    const issues = issuesOf((c) => {
      c.agents![0].resourceArns = [
        'arn:aws:lambda:us-east-1:333333333333:function:elsewhere',
        'arn:aws:lambda:eu-west-1:222222222222:function:other-region',
      ];
    });
    expect(issues).toContainEqual(
      issue('agents[0].resourceArns[0]', /is in account 333333333333, not the agent's account/),
    );
    expect(issues).toContainEqual(
      issue('agents[0].resourceArns[1]', /is in region eu-west-1, not the agent's region us-east-1/),
    );
  });

  it('rejects unknown fields instead of ignoring a typo', () => {
    expect(
      issuesOf((c) => {
        (c.agents![0] as Record<string, unknown>).rolesArns = [];
      }),
    ).toContainEqual(issue('agents[0].rolesArns', /^unknown field/));
  });

  it('rejects a missing required field', () => {
    expect(
      issuesOf((c) => {
        delete (c as Partial<BackstopConfigInput>).breakGlass;
      }),
    ).toEqual([{ path: 'breakGlass', message: 'is required: expected an object' }]);
  });

  it('says a number where a string belongs is a type error, naming the field, the type and the value', () => {
    expect(
      issuesOf((c) => {
        (c.workloadAccounts[1] as Record<string, unknown>).accountId = 111111111111;
      }),
    ).toEqual([
      {
        path: 'workloadAccounts[1].accountId',
        message: 'expected a 12-digit AWS account id (a string), found the number 111111111111',
      },
    ]);
  });

  it.each([
    [[{ controlPlane: {} }], 'an array [{"controlPlane":{}}]'],
    [null, 'null'],
    ['backstop', 'the string "backstop"'],
    [42, 'the number 42'],
  ])('says a configuration that is not an object (%j) is not one, and what it is', (input, found) => {
    expect(() => parseConfig(input, 'backstop.config.json')).toThrow(
      `Invalid Backstop configuration backstop.config.json:\n  - the configuration must be a JSON object (controlPlane, workloadAccounts, agents, breakGlass, restore), found ${found}`,
    );
  });

  it('never echoes a huge invalid value: at most 80 characters of it, cut in the middle', () => {
    const huge = `${'x'.repeat(5_000_000)}END`;
    const issues = issuesOf((c) => {
      c.agents![0].roleArns = [huge];
    });
    const message = issues.find((i) => i.path === 'agents[0].roleArns[0]')?.message ?? '';
    const got = message.slice(message.indexOf('got ') + 4);
    expect(got.length).toBeLessThanOrEqual(80);
    expect(got).toMatch(/^"x+…x+END"$/);
    expect(message.length).toBeLessThan(200);
  });

  it('names the field, the expected type and a short view of what was found for other type slips', () => {
    expect(
      issuesOf((c) => {
        (c.audit as Record<string, unknown>) = { retentionDays: '365' };
        (c.agents![0] as Record<string, unknown>).roleArns = 'arn:aws:iam::222222222222:role/x';
      }),
    ).toEqual([
      {
        path: 'audit.retentionDays',
        message: 'expected a whole number of days (a number), found the string "365"',
      },
      {
        path: 'agents[0].roleArns',
        message: 'expected an array, found the string "arn:aws:iam::222222222222:role/x"',
      },
    ]);
  });

  it('rejects agent ids that are not lowercase [a-z0-9-] of at most 32 characters', () => {
    for (const id of ['Support-Bot', 'bot_1', '-bot', 'a'.repeat(33), '']) {
      expect(
        issuesOf((c) => {
          c.agents![0].id = id;
        }).map((i) => i.path),
      ).toContain('agents[0].id');
    }
  });

  it('rejects a quorum above the number of approvers, or below two', () => {
    expect(
      issuesOf((c) => {
        c.restore.quorum = 4;
      }),
    ).toEqual([
      { path: 'restore.quorum', message: 'quorum 4 exceeds the 3 approvers listed in restore.approvers' },
    ]);
    expect(
      issuesOf((c) => {
        c.restore.quorum = 1;
      }),
    ).toEqual([issue('restore.quorum', /^must be at least 2/)]);
  });

  it('rejects a control plane account that is also a workload account', () => {
    expect(
      issuesOf((c) => {
        c.controlPlane.accountId = '333333333333';
      }),
    ).toContainEqual(issue('workloadAccounts[1].accountId', /is the control plane account/));
  });

  it('rejects an agent role path that would cover every role or Backstop path', () => {
    expect(
      issuesOf((c) => {
        c.agentRolePath = '/';
      }),
    ).toEqual([issue('agentRolePath', /every role in the account/)]);
    expect(
      issuesOf((c) => {
        c.agentRolePath = '/backstop/agents/';
      }),
    ).toEqual([issue('agentRolePath', /reserved for Backstop/)]);
  });

  it('rejects high-risk actions with a wildcard service or an empty list', () => {
    expect(
      issuesOf((c) => {
        c.agents![0].highRiskActions = ['*:Delete*'];
      }),
    ).toEqual([issue('agents[0].highRiskActions[0]', /never in the service/)]);
    expect(
      issuesOf((c) => {
        c.agents![0].highRiskActions = [];
      }),
    ).toEqual([issue('agents[0].highRiskActions', /omit the field to use the default/)]);
  });

  it('rejects one alarm mapped to two agents', () => {
    expect(
      issuesOf((c) => {
        c.agents!.push({
          id: 'copycat',
          accountId: '222222222222',
          region: 'us-east-1',
          alarms: [{ alarmName: 'support-bot-error-rate', mode: 'full_stop' }],
        });
      }),
    ).toEqual([issue('agents[3].alarms[0].alarmName', /already triggers agents\[0\] \(support-bot\)/)]);
  });
});
