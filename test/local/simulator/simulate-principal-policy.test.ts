/**
 * IAM SimulatePrincipalPolicy on the simulator: a role's inline and managed policies and its
 * boundary, evaluated per action and resource with the request context, paginated as IAM does,
 * and refused by name where the evaluator does not model something.
 */
import {
  type EvaluationResult,
  type SimulatePrincipalPolicyCommandInput,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import { killBoundaryArn } from '../../../lambda/shared/kill-permissions';
import { AGENT, REGION, rejection, WL, type World, world } from './helpers';

const ROLE = (name: string) => `arn:aws:iam::${WL}:role/${name}`;
const doc = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

async function simulate(
  w: World,
  input: Omit<SimulatePrincipalPolicyCommandInput, 'PolicySourceArn'> & { PolicySourceArn?: string },
) {
  const results: EvaluationResult[] = [];
  let Marker: string | undefined;
  do {
    const out = await w.workload.iam.send(
      new SimulatePrincipalPolicyCommand({ PolicySourceArn: w.wl.killRoleArn, ...input, Marker }),
    );
    results.push(...(out.EvaluationResults ?? []));
    expect(out.IsTruncated).toBe(out.Marker !== undefined);
    Marker = out.Marker;
  } while (Marker);
  return results.map((r) => [r.EvalActionName, r.EvalResourceName, r.EvalDecision]);
}

async function agentRole(
  w: World,
  name: string,
  policies: { inline?: string; managed?: string; boundary?: string },
) {
  const api = w.sim.as(WL, REGION);
  let boundaryArn: string | undefined;
  if (policies.boundary) {
    boundaryArn = (
      await api.iam.CreatePolicy({ PolicyName: `${name}-boundary`, PolicyDocument: policies.boundary })
    ).Policy?.Arn;
  }
  await api.iam.CreateRole({
    RoleName: name,
    AssumeRolePolicyDocument: doc([
      { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]),
    PermissionsBoundary: boundaryArn,
  });
  if (policies.inline)
    await api.iam.PutRolePolicy({ RoleName: name, PolicyName: 'inline', PolicyDocument: policies.inline });
  if (policies.managed) {
    const arn = (
      await api.iam.CreatePolicy({ PolicyName: `${name}-managed`, PolicyDocument: policies.managed })
    ).Policy?.Arn;
    await api.iam.AttachRolePolicy({ RoleName: name, PolicyArn: arn });
  }
  return ROLE(name);
}

describe('SimulatePrincipalPolicy', () => {
  it('evaluates every action on every resource, in order, across pages', async () => {
    const w = await world();
    const results = await simulate(w, {
      ActionNames: ['events:DisableRule', 'events:EnableRule'],
      ResourceArns: [
        `arn:aws:events:${REGION}:${WL}:rule/a`,
        `arn:aws:events:${REGION}:${WL}:rule/b`,
        `arn:aws:events:${REGION}:${WL}:rule/c`,
      ],
    });
    expect(results).toEqual([
      ['events:DisableRule', `arn:aws:events:${REGION}:${WL}:rule/a`, 'allowed'],
      ['events:DisableRule', `arn:aws:events:${REGION}:${WL}:rule/b`, 'allowed'],
      ['events:DisableRule', `arn:aws:events:${REGION}:${WL}:rule/c`, 'allowed'],
      ['events:EnableRule', `arn:aws:events:${REGION}:${WL}:rule/a`, 'implicitDeny'],
      ['events:EnableRule', `arn:aws:events:${REGION}:${WL}:rule/b`, 'implicitDeny'],
      ['events:EnableRule', `arn:aws:events:${REGION}:${WL}:rule/c`, 'implicitDeny'],
    ]);
  });

  it('applies the conditions of the seeded kill role to the context given', async () => {
    const w = await world();
    const role = ROLE('agent');
    const attach = (policy: string) =>
      simulate(w, {
        ActionNames: ['iam:AttachRolePolicy'],
        ResourceArns: [role],
        ContextEntries: [
          { ContextKeyName: 'iam:PolicyARN', ContextKeyValues: [policy], ContextKeyType: 'string' },
        ],
      });
    expect(await attach(w.wl.denyPolicyArns.fullStop)).toEqual([['iam:AttachRolePolicy', role, 'allowed']]);
    expect(await attach('arn:aws:iam::aws:policy/AdministratorAccess')).toEqual([
      ['iam:AttachRolePolicy', role, 'implicitDeny'],
    ]);
    // Detaching needs the kill boundary on the role; without the key in the context, no.
    expect(await simulate(w, { ActionNames: ['iam:DeleteRolePolicy'], ResourceArns: [role] })).toEqual([
      ['iam:DeleteRolePolicy', role, 'implicitDeny'],
    ]);
    expect(
      await simulate(w, {
        ActionNames: ['iam:DeleteRolePolicy'],
        ResourceArns: [role],
        ContextEntries: [
          {
            ContextKeyName: 'iam:PermissionsBoundary',
            ContextKeyValues: [killBoundaryArn('aws', WL, REGION)],
            ContextKeyType: 'string',
          },
        ],
      }),
    ).toEqual([['iam:DeleteRolePolicy', role, 'allowed']]);
  });

  it('lets an explicit deny win, names the policy that decided, and reports missing context keys', async () => {
    const w = await world();
    await w.sim.as(WL, REGION).iam.PutRolePolicy({
      RoleName: `backstop-kill-${REGION}`,
      PolicyName: 'no-stopping',
      PolicyDocument: doc([{ Effect: 'Deny', Action: 'states:Stop*', Resource: '*' }]),
    });
    const out = await w.workload.iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: w.wl.killRoleArn,
        ActionNames: ['states:StopExecution', 'iam:PassRole'],
        ResourceArns: [`arn:aws:states:${REGION}:${WL}:execution:m:e`],
      }),
    );
    expect(out.EvaluationResults?.[0]).toMatchObject({
      EvalDecision: 'explicitDeny',
      MatchedStatements: [{ SourcePolicyId: 'no-stopping', SourcePolicyType: 'role' }],
    });
    expect(out.EvaluationResults?.[1]).toMatchObject({
      EvalDecision: 'implicitDeny',
      MissingContextValues: ['iam:PassedToService'],
    });
  });

  it('caps an allow with the role’s permissions boundary, and evaluates set operators and policy variables', async () => {
    const w = await world();
    const role = await agentRole(w, 'tagged-agent', {
      managed: doc([
        { Effect: 'Allow', Action: ['s3:*', 'dynamodb:GetItem'], Resource: '*' },
        {
          Effect: 'Allow',
          Action: 'dynamodb:Query',
          Resource: '*',
          Condition: {
            'ForAllValues:StringEquals': {
              'dynamodb:LeadingKeys': ['AGENT#${aws:PrincipalTag/backstop:agent}'],
            },
          },
        },
      ]),
      boundary: doc([{ Effect: 'Allow', Action: 'dynamodb:*', Resource: '*' }]),
    });
    const ask = (action: string, context: SimulatePrincipalPolicyCommandInput['ContextEntries'] = []) =>
      simulate(w, { PolicySourceArn: role, ActionNames: [action], ContextEntries: context });
    expect(await ask('s3:GetObject')).toEqual([['s3:GetObject', '*', 'implicitDeny']]);
    expect(await ask('dynamodb:GetItem')).toEqual([['dynamodb:GetItem', '*', 'allowed']]);
    const tag = {
      ContextKeyName: 'aws:PrincipalTag/backstop:agent',
      ContextKeyValues: [AGENT],
      ContextKeyType: 'string' as const,
    };
    const keys = (values: string[]) => ({
      ContextKeyName: 'dynamodb:LeadingKeys',
      ContextKeyValues: values,
      ContextKeyType: 'stringList' as const,
    });
    expect(await ask('dynamodb:Query', [tag, keys([`AGENT#${AGENT}`])])).toEqual([
      ['dynamodb:Query', '*', 'allowed'],
    ]);
    expect(await ask('dynamodb:Query', [tag, keys([`AGENT#${AGENT}`, 'AGENT#other'])])).toEqual([
      ['dynamodb:Query', '*', 'implicitDeny'],
    ]);
  });

  it('refuses what it does not model, by name, and a role it does not know', async () => {
    const w = await world();
    const numeric = await agentRole(w, 'numeric', {
      inline: doc([
        {
          Effect: 'Allow',
          Action: 's3:*',
          Resource: '*',
          Condition: { NumericLessThan: { 's3:max-keys': '10' } },
        },
      ]),
    });
    const refused = await rejection(
      w.workload.iam.send(
        new SimulatePrincipalPolicyCommand({ PolicySourceArn: numeric, ActionNames: ['s3:ListBucket'] }),
      ),
    );
    expect(refused.name).toBe('InvalidInputException');
    expect(refused.message).toContain('condition operator NumericLessThan is not modelled');
    const resourcePolicy = await rejection(
      w.workload.iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: w.wl.killRoleArn,
          ActionNames: ['s3:GetObject'],
          ResourcePolicy: '{}',
        }),
      ),
    );
    expect(resourcePolicy.message).toContain("does not model SimulatePrincipalPolicy's ResourcePolicy");
    const unknown = await rejection(
      w.workload.iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: ROLE('nobody'),
          ActionNames: ['s3:GetObject'],
        }),
      ),
    );
    expect(unknown.name).toBe('NoSuchEntityException');
  });
});
