/**
 * The two fleets of issue 10 as configurations, for the synth-at-scale tests and
 * scripts/synth-fleet.ts: every agent declares a role, two Lambda functions, an SQS queue and a
 * Step Functions state machine, the way a platform team writes them.
 */
import type { BackstopConfigInput } from '../../lib/config';

export interface FleetConfigOptions {
  /** Agents in all. */
  readonly agents: number;
  /** Workload accounts, one region each; agents are spread evenly. */
  readonly accounts: number;
  /**
   * Name agent roles under `/agents/` and functions `agent-...`, and say so in the config
   * (`agentRolePath`, `agentFunctionPrefix`). Without it the execution roles would have to name
   * every declared role and function. @default true
   */
  readonly conventions?: boolean;
}

const REGION = 'us-east-1';
const CONTROL_PLANE = '111111111111';

/** Workload account ids 300000000001, 300000000002... */
export function fleetAccount(index: number): string {
  return `3${String(index + 1).padStart(11, '0')}`;
}

export function fleetAgentName(index: number): string {
  return `agent-${String(index + 1).padStart(5, '0')}`;
}

/** A fleet configuration (as written in backstop.config.json). */
export function fleetConfigInput(options: FleetConfigOptions): BackstopConfigInput {
  const conventions = options.conventions ?? true;
  const perAccount = Math.ceil(options.agents / options.accounts);
  const accounts = Array.from({ length: options.accounts }, (_, i) => fleetAccount(i));
  return {
    controlPlane: { accountId: CONTROL_PLANE, region: REGION },
    ...(conventions ? { agentRolePath: '/agents/', agentFunctionPrefix: 'agent-' } : {}),
    workloadAccounts: accounts.map((accountId, i) => ({
      accountId,
      regions: [{ region: REGION, vpcIds: [`vpc-0c${(i + 1).toString(16).padStart(15, '0')}`] }],
    })),
    agents: Array.from({ length: options.agents }, (_, i) => {
      const id = fleetAgentName(i);
      const accountId = accounts[Math.floor(i / perAccount)] as string;
      const fn = (name: string) => `arn:aws:lambda:${REGION}:${accountId}:function:${id}-${name}`;
      return {
        id,
        accountId,
        region: REGION,
        roleArns: [`arn:aws:iam::${accountId}:role/${conventions ? 'agents/' : ''}${id}-runtime`],
        resourceArns: [
          fn('tools'),
          fn('worker'),
          `arn:aws:sqs:${REGION}:${accountId}:${id}-inbox`,
          `arn:aws:states:${REGION}:${accountId}:stateMachine:${id}-plan`,
        ],
        highRiskActions: ['iam:PassRole', 's3:DeleteObject', 'ses:SendEmail'],
        draftResources: [`arn:aws:s3:::${id}-drafts/*`],
      };
    }),
    breakGlass: { principals: [`arn:aws:iam::${CONTROL_PLANE}:user/oncall-alice`] },
    restore: {
      approvers: [
        `arn:aws:iam::${CONTROL_PLANE}:user/oncall-alice`,
        `arn:aws:iam::${CONTROL_PLANE}:user/oncall-bob`,
      ],
      quorum: 2,
    },
  };
}

/** 1000 agents over 10 workload accounts. */
export const THOUSAND_OVER_TEN_ACCOUNTS: FleetConfigOptions = { agents: 1000, accounts: 10 };
/** 250 agents in one account and region. */
export const QUARTER_THOUSAND_IN_ONE_REGION: FleetConfigOptions = { agents: 250, accounts: 1 };
