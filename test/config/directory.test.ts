import { agentsIn, DEFAULT_HIGH_RISK_ACTIONS, toDirectory, workloadTargets } from '../../lib/config';
import { configWith, sampleConfig } from '../helpers/cdk';

describe('toDirectory', () => {
  it('compiles the sample configuration into the directory the handlers read', () => {
    expect(toDirectory(sampleConfig())).toEqual({
      partition: 'aws',
      controlPlane: { accountId: '111111111111', region: 'us-east-1' },
      workloads: [
        { accountId: '222222222222', region: 'us-east-1' },
        { accountId: '222222222222', region: 'eu-west-1' },
        { accountId: '333333333333', region: 'us-east-1' },
      ],
      agents: [
        {
          agentId: 'support-bot',
          accountId: '222222222222',
          region: 'us-east-1',
          partition: 'aws',
          roleArns: ['arn:aws:iam::222222222222:role/agents/support-bot-runtime'],
          resourceArns: [
            'arn:aws:lambda:us-east-1:222222222222:function:support-bot-tools',
            'arn:aws:sqs:us-east-1:222222222222:support-bot-inbox',
          ],
          highRiskActions: ['iam:PassRole', 's3:DeleteObject', 'ses:SendEmail'],
          draftResources: ['arn:aws:s3:::support-bot-drafts/*'],
        },
        {
          agentId: 'etl-agent',
          accountId: '222222222222',
          region: 'eu-west-1',
          partition: 'aws',
          roleArns: [],
          resourceArns: ['arn:aws:states:eu-west-1:222222222222:stateMachine:etl-agent-pipeline'],
          highRiskActions: [...DEFAULT_HIGH_RISK_ACTIONS],
          draftResources: [],
        },
        {
          agentId: 'code-reviewer',
          accountId: '333333333333',
          region: 'us-east-1',
          partition: 'aws',
          roleArns: ['arn:aws:iam::333333333333:role/code-reviewer'],
          resourceArns: [],
          highRiskActions: [...DEFAULT_HIGH_RISK_ACTIONS],
          draftResources: [],
        },
      ],
      agentsPerBatch: 100,
    });
  });

  it('carries the agent role path only when one is configured', () => {
    expect(toDirectory(sampleConfig())).not.toHaveProperty('agentRolePath');
    expect(
      toDirectory(
        configWith((c) => {
          c.agentRolePath = '/agents/';
        }),
      ).agentRolePath,
    ).toBe('/agents/');
  });

  it('lists one workload target per account and region, and the agents of each', () => {
    const config = sampleConfig();
    expect(workloadTargets(config)).toHaveLength(3);
    expect(agentsIn(config, '222222222222', 'us-east-1').map((a) => a.id)).toEqual(['support-bot']);
    expect(agentsIn(config, '222222222222', 'eu-west-1').map((a) => a.id)).toEqual(['etl-agent']);
    expect(agentsIn(config, '333333333333', 'eu-west-1')).toEqual([]);
  });
});
