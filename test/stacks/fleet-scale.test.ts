/**
 * Synth at fleet size (issue 10): 1000 agents over 10 accounts, and 250 agents in one account and
 * region, each declaring a role, two functions, a queue and a state machine. Every template stays
 * within CloudFormation's and IAM's limits, the execution roles still reach every agent resource
 * (and nothing else), and a configuration that would not fit fails synth with a message that names
 * the limit and what to change.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigLimitError, parseConfig } from '../../lib/config';
import {
  AGENT_TAG,
  approvalGatedPolicyName,
  draftOnlyPolicyName,
  fullStopPolicyName,
  iamPolicyArn,
  killExecutionRoleName,
} from '../../lambda/shared/naming';
import { addBackstopStacks, type BackstopStacks } from '../../lib/stacks/backstop-app';
import { AWS_LIMITS, checkTemplateLimits, type TemplateMeasures } from '../../lib/stacks/limits';
import type { CfnTemplate } from '../../lib/local/engine';
import {
  fleetAccount,
  fleetAgentName,
  fleetConfigInput,
  QUARTER_THOUSAND_IN_ONE_REGION,
  THOUSAND_OVER_TEN_ACCOUNTS,
} from '../helpers/fleet-configs';
import { evaluate, ResolvedTemplate } from '../security/iam-policies';

const REGION = 'us-east-1';

interface Synthesized {
  readonly stacks: BackstopStacks;
  readonly templates: ReadonlyMap<string, CfnTemplate>;
  readonly measures: readonly TemplateMeasures[];
}

function synthFleet(options: Parameters<typeof fleetConfigInput>[0]): Synthesized {
  const config = parseConfig(fleetConfigInput(options), '<fleet>');
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks = addBackstopStacks(app, config);
  const assembly = app.synth();
  const templates = new Map<string, CfnTemplate>();
  const measures: TemplateMeasures[] = [];
  for (const stack of assembly.stacks) {
    templates.set(stack.stackName, stack.template as CfnTemplate);
    const { measures: m, findings } = checkTemplateLimits(stack.stackName, stack.template as CfnTemplate, {
      accountId: stack.environment.account,
      region: stack.environment.region,
    });
    expect([stack.stackName, findings]).toEqual([stack.stackName, []]);
    measures.push(m);
  }
  return { stacks, templates, measures };
}

/** The kill role of one workload stack, with every policy it holds. */
function killRoleOf(s: Synthesized, accountId: string) {
  const template = s.templates.get(`Backstop-Workload-${accountId}-${REGION}`);
  if (!template) throw new Error(`no workload stack for ${accountId}`);
  const resolved = new ResolvedTemplate(Template.fromJSON(template), 'aws', accountId, REGION);
  return resolved.role(killExecutionRoleName(REGION));
}

/** Every IAM limit of every template, largest first: what the fleet actually uses of each. */
function worst(measures: readonly TemplateMeasures[]) {
  return {
    templateBytes: Math.max(...measures.map((m) => m.templateBytes)),
    resources: Math.max(...measures.map((m) => m.resources)),
    managedPolicyChars: Math.max(...measures.map((m) => m.largestManagedPolicy.chars)),
    inlinePolicyCharsPerRole: Math.max(...measures.map((m) => m.largestInlinePerRole.chars)),
    managedPoliciesPerRole: Math.max(...measures.map((m) => m.mostManagedPoliciesPerRole.count)),
    trustPolicyChars: Math.max(...measures.map((m) => m.largestTrustPolicy.chars)),
  };
}

async function expectKillRoleReachesAgent(s: Synthesized, accountId: string, agentIndex: number) {
  const killRole = killRoleOf(s, accountId);
  const agent = fleetAgentName(agentIndex);
  const as = (action: string, resource: string, context: Record<string, string> = {}) =>
    evaluate({ principal: killRole.arn, action, resource, context, identity: killRole.identity });
  const role = `arn:aws:iam::${accountId}:role/agents/${agent}-runtime`;
  const fn = (name: string) => `arn:aws:lambda:${REGION}:${accountId}:function:${name}`;
  const mapping = `arn:aws:lambda:${REGION}:${accountId}:event-source-mapping:0f1e2d3c-0000-4000-8000-000000000001`;
  // The declared role (untagged: reached by the agent path) and its own deny policies.
  for (const policy of [
    fullStopPolicyName(REGION),
    draftOnlyPolicyName(agent, REGION),
    approvalGatedPolicyName(agent, REGION),
  ]) {
    await expect(
      as('iam:AttachRolePolicy', role, { 'iam:PolicyARN': iamPolicyArn('aws', accountId, policy) }),
    ).resolves.toBe('Allowed');
  }
  // Declared functions (untagged: reached by the name prefix), and their mappings, whose only key is the function ARN.
  await expect(as('lambda:PutFunctionConcurrency', fn(`${agent}-tools`))).resolves.toBe('Allowed');
  await expect(
    as('lambda:UpdateEventSourceMapping', mapping, { 'lambda:FunctionArn': fn(`${agent}-worker`) }),
  ).resolves.toBe('Allowed');
  // Nothing that is not an agent's: an untagged role off the path, an untagged function without the prefix.
  await expect(
    as('iam:AttachRolePolicy', `arn:aws:iam::${accountId}:role/payments-service`, {
      'iam:PolicyARN': iamPolicyArn('aws', accountId, fullStopPolicyName(REGION)),
    }),
  ).resolves.not.toBe('Allowed');
  await expect(as('lambda:PutFunctionConcurrency', fn('payments'))).resolves.not.toBe('Allowed');
  await expect(
    as('lambda:UpdateEventSourceMapping', mapping, { 'lambda:FunctionArn': fn('payments') }),
  ).resolves.not.toBe('Allowed');
  // A tagged function without the prefix is still reached by its tag.
  await expect(
    as('lambda:PutFunctionConcurrency', fn('payments'), { [`aws:ResourceTag/${AGENT_TAG}`]: agent }),
  ).resolves.toBe('Allowed');
}

describe('1000 agents over 10 accounts', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthFleet(THOUSAND_OVER_TEN_ACCOUNTS);
  }, 300_000);

  it('synthesizes a control plane and one workload stack per account, every template within the limits', () => {
    expect(s.stacks.workloads).toHaveLength(10);
    expect(s.stacks.denyPolicyStacks).toHaveLength(0);
    const w = worst(s.measures);
    for (const [limit, value] of Object.entries(w)) {
      expect([limit, value <= AWS_LIMITS[limit as keyof typeof AWS_LIMITS]]).toEqual([limit, true]);
    }
    // The policies of every execution role stay the size they have for one agent: nothing is enumerated.
    expect(w.managedPoliciesPerRole).toBeLessThanOrEqual(3);
  });

  it('lets each account’s kill role cut its agents’ declared roles, functions and mappings, and nothing else', async () => {
    await expectKillRoleReachesAgent(s, fleetAccount(0), 0);
    await expectKillRoleReachesAgent(s, fleetAccount(9), 999);
  });
});

describe('250 agents in one account and region', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthFleet(QUARTER_THOUSAND_IN_ONE_REGION);
  }, 300_000);

  it('spreads the per-agent deny policies over more stacks, every template within the limits', () => {
    expect(s.stacks.workloads).toHaveLength(1);
    expect(s.stacks.denyPolicyStacks.length).toBeGreaterThanOrEqual(1);
    expect(s.stacks.denyPolicyStacks.map((d) => d.stackName)).toEqual(
      s.stacks.denyPolicyStacks.map(
        (_, i) => `Backstop-Workload-${fleetAccount(0)}-${REGION}-Denies-${i + 2}`,
      ),
    );
    const w = worst(s.measures);
    for (const [limit, value] of Object.entries(w)) {
      expect([limit, value <= AWS_LIMITS[limit as keyof typeof AWS_LIMITS]]).toEqual([limit, true]);
    }
  });

  it('deploys each agent’s two deny policies exactly once, under their usual names', () => {
    const names = [...s.templates.values()].flatMap((t) =>
      Object.values(t.Resources ?? {})
        .filter((r) => r.Type === 'AWS::IAM::ManagedPolicy')
        .map((r) => String(r.Properties?.ManagedPolicyName)),
    );
    for (let i = 0; i < 250; i++) {
      const agent = fleetAgentName(i);
      for (const name of [draftOnlyPolicyName(agent, REGION), approvalGatedPolicyName(agent, REGION)]) {
        expect([name, names.filter((n) => n === name).length]).toEqual([name, 1]);
      }
    }
  });

  it('lets the kill role cut the first and the last agent, whose policies sit in different stacks', async () => {
    await expectKillRoleReachesAgent(s, fleetAccount(0), 0);
    await expectKillRoleReachesAgent(s, fleetAccount(0), 249);
  });
});

describe('a fleet too large for a limit', () => {
  it('fails synth naming the limit and what to change, when roles and functions are only declared', () => {
    const config = parseConfig(fleetConfigInput({ ...QUARTER_THOUSAND_IN_ONE_REGION, conventions: false }));
    let error: unknown;
    try {
      addBackstopStacks(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigLimitError);
    const message = (error as Error).message;
    expect(message).toMatch(/declare 250 roles \(\d+ characters\)/);
    expect(message).toMatch(/declare 500 Lambda functions/);
    expect(message).toContain('6,144 characters per managed policy');
    expect(message).toContain('Set agentRolePath');
    expect(message).toContain('Set agentFunctionPrefix');
    expect(message).not.toMatch(/\n\s+at /); // no stack trace
    for (const line of message.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('fails synth naming the agent whose deny policy is over IAM’s size', () => {
    const input = fleetConfigInput({ agents: 2, accounts: 1 });
    const agents = input.agents ?? [];
    agents[1] = {
      ...agents[1],
      id: agents[1]?.id ?? 'x',
      accountId: agents[1]?.accountId ?? '',
      region: REGION,
      draftResources: Array.from({ length: 200 }, (_, i) => `arn:aws:s3:::bucket-${i}-of-drafts/*`),
    };
    const config = parseConfig(input);
    expect(() => addBackstopStacks(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), config)).toThrow(
      /agents\[1\]: the draft_only \(\d+ characters\) deny policy of agent agent-00002 is over the 6144/,
    );
  });
});
