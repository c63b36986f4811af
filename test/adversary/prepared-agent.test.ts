/**
 * Red team, part 1: an agent that prepared for its kill. Every kill here runs the synthesized
 * state machine with the real handlers, and every write of the kill role is decided by its real
 * (synthesized) IAM policies. Each test ends with the kill CONTAINED and that CONTAINED checked
 * against what IAM would decide for the agent's roles afterwards, or with the attack shown
 * refused by IAM.
 */
import {
  BACKSTOP_INLINE_POLICY_NAMES,
  INLINE_DENY_POLICY,
  REVOKE_SESSIONS_POLICY,
} from '../../lambda/shared/naming';
import { KILL_MODES, type KillMode } from '../../lambda/shared/types';
import { createIamWorld } from './iam-world';
import { AGENT, allowAll, details, kill, R, RUNTIME_ROLE, TICKETS_TABLE, TOOLS_ROLE, W } from './support';

/** An action each mode must take away from the agent, and one it leaves where it leaves any. */
const TAKEN: Record<KillMode, [action: string, resource: string][]> = {
  full_stop: [
    ['s3:GetObject', 'arn:aws:s3:::support-bot-data/a.txt'],
    ['dynamodb:PutItem', TICKETS_TABLE],
  ],
  read_only: [
    ['dynamodb:PutItem', TICKETS_TABLE],
    ['iam:PassRole', RUNTIME_ROLE],
  ],
  draft_only: [['dynamodb:PutItem', TICKETS_TABLE]],
  approval_gated: [
    ['ses:SendEmail', '*'],
    ['iam:PassRole', RUNTIME_ROLE],
  ],
};

describe('an agent that filled its managed-policy quota and squats every Backstop name', () => {
  it('a read_only kill still ends CONTAINED, with a real deny in force on every role', async () => {
    const world = await createIamWorld();
    const api = world.simulator.as(W, R);
    for (const name of BACKSTOP_INLINE_POLICY_NAMES) {
      await api.iam.PutRolePolicy({
        RoleName: 'support-bot-runtime',
        PolicyName: name,
        PolicyDocument: allowAll(),
      });
    }
    for (let i = 1; i <= 7; i++) {
      const created = await api.iam.CreatePolicy({ PolicyName: `filler-${i}`, PolicyDocument: allowAll() });
      await api.iam.AttachRolePolicy({ RoleName: 'support-bot-runtime', PolicyArn: created.Policy!.Arn! });
    }
    expect(world.simulator.iam.roleByArn(RUNTIME_ROLE)?.attachedPolicyArns).toHaveLength(10);

    const run = await kill(world, { mode: 'read_only' });

    expect(run.result?.status).toBe('CONTAINED');
    expect(run.audit.ok).toBe(true);
    // The full role is cut by the kill boundary (stricter than read_only, and said so)...
    for (const [action, resource] of [...TAKEN.read_only, ['s3:GetObject', 'arn:aws:s3:::x/y']] as const) {
      await expect(world.authority(RUNTIME_ROLE, action, resource)).resolves.toBe('ExplicitlyDenied');
    }
    expect(details<{ reason: string }>(run.ofType('ResourceSkipped'))).toContainEqual(
      expect.objectContaining({ reason: expect.stringMatching(/quota.*stricter than read_only/) }),
    );
    // ...and the role with room keeps exactly what read_only leaves it: its reads.
    await expect(world.authority(TOOLS_ROLE, 'dynamodb:PutItem', TICKETS_TABLE)).resolves.toBe(
      'ExplicitlyDenied',
    );
    await expect(world.authority(TOOLS_ROLE, 's3:GetObject', 'arn:aws:s3:::x/y')).resolves.toBe('Allowed');
    expect(world.refused).toEqual([]);
  });
});

describe('an agent that squats every Backstop policy name', () => {
  it.each(KILL_MODES.map((m) => [m]))(
    'a %s kill ends CONTAINED and true, the planted policies recorded verbatim',
    async (mode) => {
      const world = await createIamWorld();
      const api = world.simulator.as(W, R);
      const planted = {
        [INLINE_DENY_POLICY]: allowAll(),
        [REVOKE_SESSIONS_POLICY]: allowAll({
          Condition: { DateLessThan: { 'aws:TokenIssueTime': '2999-01-01T00:00:00Z' } },
        }),
      };
      for (const [name, document] of Object.entries(planted)) {
        await api.iam.PutRolePolicy({
          RoleName: 'support-bot-runtime',
          PolicyName: name,
          PolicyDocument: document,
        });
      }
      expect(Object.keys(planted).sort()).toEqual([...BACKSTOP_INLINE_POLICY_NAMES].sort());
      // Backstop's managed names are taken by the workload stack: IAM refuses a second policy of that name.
      for (const arn of [world.workload.denyPolicyArns.fullStop, world.workload.killBoundaryArn]) {
        await expect(
          api.iam.CreatePolicy({ PolicyName: arn.split('/').pop()!, PolicyDocument: allowAll() }),
        ).rejects.toThrow(/already exists/);
      }

      const run = await kill(world, { mode });

      expect(run.result?.status).toBe('CONTAINED');
      for (const [action, resource] of TAKEN[mode]) {
        await expect(world.authority(RUNTIME_ROLE, action, resource)).resolves.toBe('ExplicitlyDenied');
      }
      const evidence = details<{ policy: string; document: string }>(run.ofType('PlantedPolicyFound'));
      expect(evidence.map((e) => [e.policy, e.document])).toEqual(
        expect.arrayContaining(Object.entries(planted)),
      );
      expect(run.audit.ok).toBe(true);
    },
  );
});

describe('an agent that planted a far-future session policy under the session deny’s name', () => {
  it('full_stop cuts every session (old and new) with the kill boundary and removes the planted policy, recorded', async () => {
    const world = await createIamWorld();
    const farFuture = allowAll({
      Condition: { DateLessThan: { 'aws:TokenIssueTime': '2999-01-01T00:00:00Z' } },
    });
    await world.simulator.as(W, R).iam.PutRolePolicy({
      RoleName: 'support-bot-runtime',
      PolicyName: REVOKE_SESSIONS_POLICY,
      PolicyDocument: farFuture,
    });

    const run = await kill(world);

    expect(run.result?.status).toBe('CONTAINED');
    const role = world.simulator.iam.roleByArn(RUNTIME_ROLE)!;
    expect(role.inlinePolicies).toEqual({});
    expect(role.boundaryArn).toBe(world.workload.killBoundaryArn);
    for (const issued of ['2020-01-01T00:00:00Z', new Date().toISOString(), '2998-12-31T00:00:00Z']) {
      await expect(
        world.authority(RUNTIME_ROLE, 'dynamodb:PutItem', TICKETS_TABLE, { 'aws:TokenIssueTime': issued }),
      ).resolves.toBe('ExplicitlyDenied');
    }
    const deleted = details<{ action: string; before: { policyName: string; document: string } }>(
      run.ofType('ResourceChanged'),
    ).find((c) => c.action === 'DeleteRolePolicy' && c.before.policyName === REVOKE_SESSIONS_POLICY);
    expect(deleted?.before.document).toBe(farFuture);
    expect(details(run.ofType('PlantedPolicyFound'))).toEqual([
      expect.objectContaining({ policy: REVOKE_SESSIONS_POLICY, document: farFuture }),
    ]);
  });
});

describe('an agent that built itself a shadow role', () => {
  it('a shadow role it tagged as its own before the kill is found, cut and proven cut', async () => {
    const world = await createIamWorld();
    const api = world.simulator.as(W, R);
    await api.iam.CreateRole({
      RoleName: 'support-bot-shadow',
      Path: '/',
      PermissionsBoundary: world.workload.boundaryArn,
      Tags: [{ Key: 'backstop:agent', Value: AGENT }],
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    });
    await api.iam.AttachRolePolicy({
      RoleName: 'support-bot-shadow',
      PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
    });
    const shadow = `arn:aws:iam::${W}:role/support-bot-shadow`;
    await expect(world.authority(shadow, 's3:PutObject', 'arn:aws:s3:::x/y')).resolves.toBe('Allowed');

    const run = await kill(world);

    expect(run.result?.status).toBe('CONTAINED');
    await expect(world.authority(shadow, 's3:PutObject', 'arn:aws:s3:::x/y')).resolves.toBe(
      'ExplicitlyDenied',
    );
    expect(world.simulator.iam.roleByArn(shadow)?.attachedPolicyArns).not.toContain(
      'arn:aws:iam::aws:policy/AdministratorAccess',
    );
  });

  it('a shadow role or user that would escape discovery, or a key for one, is refused by IAM', async () => {
    const world = await createIamWorld();
    // The agent's role as it stands before any kill: its boundary and tag, its own policies widened
    // to everything (the worst case).
    const api = world.simulator.as(W, R);
    await api.iam.AttachRolePolicy({
      RoleName: 'support-bot-runtime',
      PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
    });
    await expect(world.authority(RUNTIME_ROLE, 's3:PutObject', 'arn:aws:s3:::x/y')).resolves.toBe('Allowed');
    for (const [action, resource, context] of [
      ['iam:CreateRole', `arn:aws:iam::${W}:role/shadow`, {}],
      ['iam:CreateUser', `arn:aws:iam::${W}:user/shadow`, {}],
      [
        'iam:CreateRole',
        `arn:aws:iam::${W}:role/shadow`,
        { 'iam:PermissionsBoundary': world.workload.boundaryArn },
      ],
      ['iam:CreateAccessKey', `arn:aws:iam::${W}:user/anyone`, {}],
      ['iam:UpdateAssumeRolePolicy', `arn:aws:iam::${W}:role/payments-service`, {}],
    ] as const) {
      await expect(world.authority(RUNTIME_ROLE, action, resource, context)).resolves.toBe(
        'ExplicitlyDenied',
      );
    }
  });
});
