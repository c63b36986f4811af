/**
 * The execution roles are allowed every call the authority surfaces make, so that a real
 * deployment never ends PARTIAL (or a restore half-done) for a permission the role lacks.
 *
 * `CALLS` lists every SDK command that lambda/surfaces/*.ts sends, per file, with the phases that
 * send it and every authorization AWS checks for it (an `UpdateSchedule` also checks `iam:PassRole`
 * on the schedule's role; an `UpdateFunctionConfiguration` with a `VpcConfig` also checks the
 * EC2 reads Lambda makes for the caller). Each call is evaluated with the IAM simulator against
 * the synthesized role, on a tagged agent resource of its kind. A guard reads the surfaces'
 * source, so a command added to a surface without a row here fails the suite.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventRuleArn, lambdaFunctionArn, networkInterfaceArn, scheduleArn } from '../../lambda/shared/arn';
import {
  AGENT_TAG,
  agentBoundaryName,
  denyPolicyArn,
  iamPolicyArn,
  killBoundaryArn,
  killExecutionRoleName,
  REVOKE_SESSIONS_POLICY,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import { KILL_MODES } from '../../lambda/shared/types';
import { synthStacks } from '../helpers/cdk';
import { evaluate, ResolvedTemplate } from './iam-policies';

const PARTITION = 'aws';
const ACCOUNT = '222222222222';
const REGION = 'us-east-1';
const AGENT = 'support-bot';
const SURFACES_DIR = join(__dirname, '..', '..', 'lambda', 'surfaces');

const template = new ResolvedTemplate(
  synthStacks().workloadTemplate(ACCOUNT, REGION),
  PARTITION,
  ACCOUNT,
  REGION,
);
const killRole = template.role(killExecutionRoleName(REGION));
const restoreRole = template.role(restoreExecutionRoleName(REGION));

type Context = Record<string, string | string[]>;
type Phase = 'discover' | 'snapshot' | 'contain' | 'verify' | 'restore';
const KILL_PHASES: readonly Phase[] = ['discover', 'snapshot', 'contain', 'verify'];

/** One authorization AWS evaluates for a call: the action, on which resource, with which request context. */
interface Authorization {
  readonly action: string;
  readonly resource: string;
  /** @default {} */
  readonly context?: Context;
}

interface Call {
  /** File in lambda/surfaces that sends the command. */
  readonly source: string;
  /** The SDK command class, as the source names it. */
  readonly command: string;
  readonly phases: readonly Phase[];
  /** What the call does, for the test name. */
  readonly what: string;
  /** Every authorization the call needs; all must be allowed. */
  readonly needs: readonly Authorization[];
  /**
   * A restore write that puts authority back and that IAM can tell apart from a cut: the kill
   * role must be refused it. @default false
   */
  readonly grantsBack?: boolean;
}

// Agent resources of each kind, as the surfaces address them (ARNs built with the handlers' own builders).
const TAGGED: Context = { [`aws:ResourceTag/${AGENT_TAG}`]: AGENT };
const ROLE = `arn:${PARTITION}:iam::${ACCOUNT}:role/agent-runtime`;
/** Agent roles carry the agent boundary: the condition under which inline policies may be put. */
const ROLE_CONTEXT: Context = {
  ...TAGGED,
  'iam:PermissionsBoundary': iamPolicyArn(PARTITION, ACCOUNT, agentBoundaryName(REGION)),
};
const AGENT_BOUNDARY = iamPolicyArn(PARTITION, ACCOUNT, agentBoundaryName(REGION));
const KILL_BOUNDARY = killBoundaryArn(PARTITION, ACCOUNT, REGION);
/** A role the kill has cut: it carries the kill boundary. */
const UNDER_KILL_BOUNDARY: Context = { 'iam:PermissionsBoundary': KILL_BOUNDARY };
const AGENT_MANAGED_POLICIES = [
  `arn:${PARTITION}:iam::${ACCOUNT}:policy/agent-s3-access`,
  `arn:${PARTITION}:iam::aws:policy/AmazonS3ReadOnlyAccess`,
];
const DENY_POLICIES = KILL_MODES.map((mode) => denyPolicyArn(PARTITION, ACCOUNT, REGION, AGENT, mode));
const FUNCTION = lambdaFunctionArn(PARTITION, REGION, ACCOUNT, 'agent-tools');
/** A function the config declares for the agent: its mappings are the agent's (`lambda:FunctionArn`). */
const DECLARED_FUNCTION = lambdaFunctionArn(PARTITION, REGION, ACCOUNT, 'support-bot-tools');
const MAPPING = `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:event-source-mapping:6b1b5e1a-0000-4000-8000-000000000001`;
const RULES = [
  eventRuleArn(PARTITION, REGION, ACCOUNT, 'default', 'agent-nightly'),
  eventRuleArn(PARTITION, REGION, ACCOUNT, 'agent-bus', 'agent-orders'),
];
const SCHEDULE = scheduleArn(PARTITION, REGION, ACCOUNT, 'agent-jobs', 'agent-nightly');
const SCHEDULE_GROUP = `arn:${PARTITION}:scheduler:${REGION}:${ACCOUNT}:schedule-group/agent-jobs`;
const STATE_MACHINE = `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:agent-flow`;
const EXECUTION = `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:execution:agent-flow:run-1`;
const ENI = networkInterfaceArn(PARTITION, REGION, ACCOUNT, 'eni-0123456789abcdef0');
const VPC = 'vpc-0a1b2c3d4e5f67890'; // declared for 222222222222 us-east-1 in the sample config
const SUBNETS = ['subnet-0123456789abcdef0'];
/** A group the interface or function had before the kill: any group of the region. */
const ORIGINAL_GROUP = 'sg-0aaaabbbbccccdddd';
const groupArn = (id: string) => `arn:${PARTITION}:ec2:${REGION}:${ACCOUNT}:security-group/${id}`;

/** The VPC's isolation groups as the workload stack creates them (found by their `backstop:isolation` tag). */
function isolationGroup(kind: 'open' | 'closed'): string {
  const found = template.find(
    'AWS::EC2::SecurityGroup',
    (p) =>
      JSON.stringify(p.Tags).includes(`"Value":"${kind}"`) && JSON.stringify(p.VpcId) === JSON.stringify(VPC),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind} isolation group in ${VPC}, found ${found.length}`);
  return template.physical(found[0][0]);
}
const OPEN = isolationGroup('open');
const CLOSED = isolationGroup('closed');

const everywhere = (action: string): Authorization => ({ action, resource: '*' });
const onRole = (action: string, context: Context = {}): Authorization => ({
  action,
  resource: ROLE,
  context: { ...ROLE_CONTEXT, ...context },
});
const onFunction = (action: string, context: Context = {}): Authorization => ({
  action,
  resource: FUNCTION,
  context: { ...TAGGED, ...context },
});
/** Lambda checks, for the caller, the EC2 reads it makes to validate a `VpcConfig`. */
const VPC_CONFIG_READS = ['ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs'].map(
  everywhere,
);
const vpcConfig = (groups: readonly string[]): Context => ({
  'lambda:SecurityGroupIds': [...groups],
  'lambda:SubnetIds': SUBNETS,
  'lambda:VpcIds': VPC,
});
/** UpdateSchedule passes the schedule's target role (an agent role) to Scheduler. */
const PASS_SCHEDULE_ROLE = onRole('iam:PassRole', { 'iam:PassedToService': 'scheduler.amazonaws.com' });

const CALLS: readonly Call[] = [
  // common.ts: tag discovery, shared by every surface but IAM.
  {
    source: 'common.ts',
    command: 'GetResourcesCommand',
    phases: ['discover'],
    what: 'find resources tagged for the agent',
    needs: [everywhere('tag:GetResources')],
  },

  // iam-roles.ts
  {
    source: 'iam-roles.ts',
    command: 'ListRolesCommand',
    phases: ['discover'],
    what: 'list the roles of the account',
    needs: [everywhere('iam:ListRoles')],
  },
  {
    source: 'iam-roles.ts',
    command: 'ListRoleTagsCommand',
    phases: ['discover'],
    what: 'read the tags of any role of the account (untagged ones too: that is how agent roles are found)',
    needs: [
      { action: 'iam:ListRoleTags', resource: `arn:${PARTITION}:iam::${ACCOUNT}:role/payments-service` },
    ],
  },
  {
    source: 'iam-roles.ts',
    command: 'GetRoleCommand',
    phases: ['contain', 'snapshot', 'verify', 'restore'],
    what: 'read an agent role (its boundary before the kill boundary replaces it)',
    needs: [onRole('iam:GetRole')],
  },
  {
    source: 'iam-roles.ts',
    command: 'ListAttachedRolePoliciesCommand',
    phases: ['snapshot', 'contain', 'verify', 'restore'],
    what: "list an agent role's managed policies",
    needs: [onRole('iam:ListAttachedRolePolicies')],
  },
  {
    source: 'iam-roles.ts',
    command: 'ListRolePoliciesCommand',
    phases: ['snapshot', 'contain', 'verify', 'restore'],
    what: "list an agent role's inline policies",
    needs: [onRole('iam:ListRolePolicies')],
  },
  {
    source: 'iam-roles.ts',
    command: 'GetRolePolicyCommand',
    phases: ['snapshot', 'contain', 'verify', 'restore'],
    what: "read an agent role's inline policy verbatim",
    needs: [onRole('iam:GetRolePolicy')],
  },
  {
    source: 'iam-roles.ts',
    command: 'GetPolicyCommand',
    phases: ['contain', 'verify'],
    what: "find the default version of Backstop's deny policies and the kill boundary",
    needs: [...DENY_POLICIES, KILL_BOUNDARY].map((resource) => ({ action: 'iam:GetPolicy', resource })),
  },
  {
    source: 'iam-roles.ts',
    command: 'GetPolicyVersionCommand',
    phases: ['contain', 'verify'],
    what: 'read the document in force of a Backstop deny policy or boundary, to judge it by its content',
    needs: [...DENY_POLICIES, KILL_BOUNDARY].map((resource) => ({
      action: 'iam:GetPolicyVersion',
      resource,
    })),
  },
  {
    source: 'iam-roles.ts',
    command: 'AttachRolePolicyCommand',
    phases: ['contain'],
    what: "attach the mode's deny policy (every mode) to an agent role",
    needs: DENY_POLICIES.map((policy) => onRole('iam:AttachRolePolicy', { 'iam:PolicyARN': policy })),
  },
  {
    source: 'iam-roles.ts',
    command: 'PutRolePermissionsBoundaryCommand',
    phases: ['contain'],
    what: 'set the kill boundary on an agent role',
    needs: [onRole('iam:PutRolePermissionsBoundary', { 'iam:PermissionsBoundary': KILL_BOUNDARY })],
  },
  {
    source: 'iam-roles.ts',
    command: 'DetachRolePolicyCommand',
    phases: ['contain'],
    what: "detach the agent's own managed policies from a role under the kill boundary",
    needs: AGENT_MANAGED_POLICIES.map((policy) =>
      onRole('iam:DetachRolePolicy', { 'iam:PolicyARN': policy, ...UNDER_KILL_BOUNDARY }),
    ),
  },
  {
    source: 'iam-roles.ts',
    command: 'DeleteRolePolicyCommand',
    phases: ['contain'],
    what: "delete the agent's own inline policies from a role under the kill boundary",
    needs: [onRole('iam:DeleteRolePolicy', UNDER_KILL_BOUNDARY)],
  },
  {
    source: 'iam-roles.ts',
    command: 'PutRolePolicyCommand',
    phases: ['restore'],
    // IAM authorizes PutRolePolicy on the role; the policy name is not in the request context.
    what: `put ${REVOKE_SESSIONS_POLICY} and the agent's inline policies back into a role under the kill boundary`,
    needs: [onRole('iam:PutRolePolicy', UNDER_KILL_BOUNDARY)],
    grantsBack: true,
  },
  {
    source: 'iam-roles.ts',
    command: 'AttachRolePolicyCommand',
    phases: ['restore'],
    what: "re-attach the agent's own managed policies",
    needs: AGENT_MANAGED_POLICIES.map((policy) =>
      onRole('iam:AttachRolePolicy', { 'iam:PolicyARN': policy, ...UNDER_KILL_BOUNDARY }),
    ),
    grantsBack: true,
  },
  {
    source: 'iam-roles.ts',
    command: 'AttachRolePolicyCommand',
    phases: ['restore'],
    what: "attach the deny policy of the mode restored to (a lower kill mode's)",
    needs: DENY_POLICIES.map((policy) =>
      onRole('iam:AttachRolePolicy', { 'iam:PolicyARN': policy, ...UNDER_KILL_BOUNDARY }),
    ),
  },
  {
    source: 'iam-roles.ts',
    command: 'DetachRolePolicyCommand',
    phases: ['restore'],
    what: "detach Backstop's deny policies",
    needs: DENY_POLICIES.map((policy) =>
      onRole('iam:DetachRolePolicy', { 'iam:PolicyARN': policy, ...UNDER_KILL_BOUNDARY }),
    ),
    grantsBack: true,
  },
  {
    source: 'iam-roles.ts',
    command: 'PutRolePermissionsBoundaryCommand',
    phases: ['restore'],
    what: 'put the kill boundary on a role before restoring it, where a lower mode’s kill did not',
    needs: [onRole('iam:PutRolePermissionsBoundary', { 'iam:PermissionsBoundary': KILL_BOUNDARY })],
  },
  {
    source: 'iam-roles.ts',
    command: 'PutRolePermissionsBoundaryCommand',
    phases: ['restore'],
    what: 'put the agent boundary back in place of the kill boundary',
    needs: [onRole('iam:PutRolePermissionsBoundary', { 'iam:PermissionsBoundary': AGENT_BOUNDARY })],
    grantsBack: true,
  },
  {
    source: 'iam-roles.ts',
    command: 'DeleteRolePermissionsBoundaryCommand',
    phases: ['restore'],
    what: 'lift the kill boundary from a role that had no boundary before the kill',
    needs: [onRole('iam:DeleteRolePermissionsBoundary', UNDER_KILL_BOUNDARY)],
    grantsBack: true,
  },

  // lambda-concurrency.ts
  {
    source: 'lambda-concurrency.ts',
    command: 'GetFunctionCommand',
    phases: ['snapshot', 'contain', 'verify'],
    what: "read an agent function's reserved concurrency (outside Lambda's control plane quota)",
    needs: [onFunction('lambda:GetFunction')],
  },
  {
    source: 'lambda-concurrency.ts',
    command: 'GetFunctionConcurrencyCommand',
    phases: ['restore'],
    what: "read an agent function's reserved concurrency",
    needs: [onFunction('lambda:GetFunctionConcurrency')],
  },
  {
    source: 'lambda-concurrency.ts',
    command: 'PutFunctionConcurrencyCommand',
    phases: ['contain', 'restore'],
    what: "set an agent function's reserved concurrency (0, or back to its value)",
    needs: [onFunction('lambda:PutFunctionConcurrency')],
  },
  {
    source: 'lambda-concurrency.ts',
    command: 'DeleteFunctionConcurrencyCommand',
    phases: ['restore'],
    what: 'remove the reserved concurrency of a function that had none',
    needs: [onFunction('lambda:DeleteFunctionConcurrency')],
    grantsBack: true,
  },

  // event-source-mappings.ts
  {
    source: 'event-source-mappings.ts',
    command: 'ListEventSourceMappingsCommand',
    phases: ['discover'],
    what: "list an agent function's event source mappings",
    needs: [everywhere('lambda:ListEventSourceMappings')],
  },
  {
    source: 'event-source-mappings.ts',
    command: 'GetEventSourceMappingCommand',
    phases: ['snapshot', 'contain', 'verify', 'restore'],
    what: 'read the state of a mapping of a declared agent function',
    needs: [{ action: 'lambda:GetEventSourceMapping', resource: MAPPING }],
  },
  {
    source: 'event-source-mappings.ts',
    command: 'UpdateEventSourceMappingCommand',
    phases: ['contain', 'restore'],
    what: 'disable (or re-enable) a mapping of a declared agent function',
    needs: [
      {
        action: 'lambda:UpdateEventSourceMapping',
        resource: MAPPING,
        context: { 'lambda:FunctionArn': DECLARED_FUNCTION },
      },
    ],
  },

  // eventbridge-rules.ts
  {
    source: 'eventbridge-rules.ts',
    command: 'ListEventBusesCommand',
    phases: ['discover'],
    what: 'list the event buses',
    needs: [everywhere('events:ListEventBuses')],
  },
  {
    source: 'eventbridge-rules.ts',
    command: 'ListRuleNamesByTargetCommand',
    phases: ['discover'],
    what: "find the rules that target the agent's resources",
    needs: [everywhere('events:ListRuleNamesByTarget')],
  },
  {
    source: 'eventbridge-rules.ts',
    command: 'ListRulesCommand',
    phases: ['snapshot'],
    what: "read a bus's rules",
    needs: [everywhere('events:ListRules')],
  },
  {
    source: 'eventbridge-rules.ts',
    command: 'DescribeRuleCommand',
    phases: ['contain', 'verify', 'restore'],
    what: 'read an agent rule (default and custom bus)',
    needs: RULES.map((rule) => ({ action: 'events:DescribeRule', resource: rule, context: TAGGED })),
  },
  {
    source: 'eventbridge-rules.ts',
    command: 'DisableRuleCommand',
    phases: ['contain'],
    what: 'disable an agent rule (default and custom bus)',
    needs: RULES.map((rule) => ({ action: 'events:DisableRule', resource: rule, context: TAGGED })),
  },
  {
    source: 'eventbridge-rules.ts',
    command: 'EnableRuleCommand',
    phases: ['restore'],
    what: 'enable an agent rule again',
    needs: RULES.map((rule) => ({ action: 'events:EnableRule', resource: rule, context: TAGGED })),
    grantsBack: true,
  },
  {
    source: 'eventbridge-rules.ts',
    command: 'PutRuleCommand',
    phases: ['restore'],
    what: 'put an agent rule back to ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
    needs: RULES.map((rule) => ({ action: 'events:PutRule', resource: rule, context: TAGGED })),
    grantsBack: true,
  },

  // schedules.ts
  {
    source: 'schedules.ts',
    command: 'ListScheduleGroupsCommand',
    phases: ['discover'],
    what: 'list the schedule groups',
    needs: [everywhere('scheduler:ListScheduleGroups')],
  },
  {
    source: 'schedules.ts',
    command: 'ListTagsForResourceCommand',
    phases: ['discover'],
    what: "read a schedule group's tags",
    needs: [{ action: 'scheduler:ListTagsForResource', resource: SCHEDULE_GROUP }],
  },
  {
    source: 'schedules.ts',
    command: 'ListSchedulesCommand',
    phases: ['discover'],
    what: "list a group's schedules",
    needs: [everywhere('scheduler:ListSchedules')],
  },
  {
    source: 'schedules.ts',
    command: 'GetScheduleCommand',
    phases: ['snapshot', 'contain', 'verify', 'restore'],
    what: "read an agent schedule's whole definition",
    needs: [{ action: 'scheduler:GetSchedule', resource: SCHEDULE }],
  },
  {
    source: 'schedules.ts',
    command: 'UpdateScheduleCommand',
    phases: ['contain', 'restore'],
    what: 'disable (or restore) an agent schedule whose target role is an agent role',
    needs: [{ action: 'scheduler:UpdateSchedule', resource: SCHEDULE }, PASS_SCHEDULE_ROLE],
  },

  // executions.ts
  {
    source: 'executions.ts',
    command: 'ListExecutionsCommand',
    phases: ['discover'],
    what: "list the running executions of an agent's state machine",
    needs: [{ action: 'states:ListExecutions', resource: STATE_MACHINE, context: TAGGED }],
  },
  {
    source: 'executions.ts',
    command: 'DescribeExecutionCommand',
    phases: ['snapshot', 'contain', 'verify'],
    what: 'read an execution',
    needs: [{ action: 'states:DescribeExecution', resource: EXECUTION }],
  },
  {
    source: 'executions.ts',
    command: 'StopExecutionCommand',
    phases: ['contain'],
    what: 'stop a running execution',
    needs: [{ action: 'states:StopExecution', resource: EXECUTION }],
  },

  // network.ts
  {
    source: 'network.ts',
    command: 'GetFunctionCommand',
    phases: ['discover', 'snapshot', 'contain', 'verify'],
    what: "read an agent function's VpcConfig (outside Lambda's control plane quota)",
    needs: [onFunction('lambda:GetFunction')],
  },
  {
    source: 'network.ts',
    command: 'GetFunctionConfigurationCommand',
    phases: ['restore'],
    what: "read an agent function's VpcConfig",
    needs: [onFunction('lambda:GetFunctionConfiguration')],
  },
  {
    source: 'network.ts',
    command: 'DescribeNetworkInterfacesCommand',
    phases: ['snapshot', 'contain', 'verify', 'restore'],
    what: 'read an agent network interface',
    needs: [everywhere('ec2:DescribeNetworkInterfaces')],
  },
  {
    source: 'network.ts',
    command: 'DescribeSecurityGroupsCommand',
    phases: ['contain', 'verify'],
    what: "find the VPC's isolation groups",
    needs: [everywhere('ec2:DescribeSecurityGroups')],
  },
  {
    source: 'network.ts',
    command: 'ModifyNetworkInterfaceAttributeCommand',
    phases: ['contain'],
    what: 'move an agent interface into the open, then the closed isolation group',
    needs: [
      { action: 'ec2:ModifyNetworkInterfaceAttribute', resource: ENI, context: TAGGED },
      { action: 'ec2:ModifyNetworkInterfaceAttribute', resource: groupArn(OPEN) },
      { action: 'ec2:ModifyNetworkInterfaceAttribute', resource: groupArn(CLOSED) },
    ],
  },
  {
    source: 'network.ts',
    command: 'UpdateFunctionConfigurationCommand',
    phases: ['contain'],
    what: "set an agent function's VpcConfig to the closed isolation group",
    needs: [onFunction('lambda:UpdateFunctionConfiguration', vpcConfig([CLOSED])), ...VPC_CONFIG_READS],
  },
  {
    source: 'network.ts',
    command: 'ModifyNetworkInterfaceAttributeCommand',
    phases: ['restore'],
    what: 'move an agent interface back to its original groups',
    needs: [
      { action: 'ec2:ModifyNetworkInterfaceAttribute', resource: ENI, context: TAGGED },
      {
        action: 'ec2:ModifyNetworkInterfaceAttribute',
        resource: groupArn(ORIGINAL_GROUP),
        context: { 'ec2:Vpc': `arn:${PARTITION}:ec2:${REGION}:${ACCOUNT}:vpc/${VPC}` },
      },
    ],
    grantsBack: true,
  },
  {
    source: 'network.ts',
    command: 'UpdateFunctionConfigurationCommand',
    phases: ['restore'],
    what: "put an agent function's original VpcConfig back",
    needs: [
      onFunction('lambda:UpdateFunctionConfiguration', vpcConfig([ORIGINAL_GROUP])),
      ...VPC_CONFIG_READS,
    ],
    grantsBack: true,
  },
];

type Identity = typeof killRole.identity;

function decide(principal: string, identity: Identity, need: Authorization) {
  return evaluate({
    principal,
    action: need.action,
    resource: need.resource,
    context: need.context ?? {},
    identity,
  });
}

/** The authorizations of `call` that `identity` is not allowed, with what the simulator said. */
async function refused(principal: string, identity: Identity, call: Call): Promise<string[]> {
  const out: string[] = [];
  for (const need of call.needs) {
    const result = await decide(principal, identity, need);
    if (result !== 'Allowed') out.push(`${need.action} on ${need.resource}: ${result}`);
  }
  return out;
}

const label = (call: Call) => `${call.source} ${call.command} (${call.phases.join(', ')}): ${call.what}`;
const killCalls = CALLS.filter((c) => c.phases.some((p) => KILL_PHASES.includes(p)));
const restoreCalls = CALLS.filter((c) => c.phases.includes('restore'));

describe('the table of surface calls', () => {
  it('names every SDK command each surface module sends, and no command they do not send', () => {
    const files = readdirSync(SURFACES_DIR).filter((f) => f.endsWith('.ts'));
    const sent = (file: string) =>
      [...readFileSync(join(SURFACES_DIR, file), 'utf8').matchAll(/\bnew\s+([A-Z][A-Za-z0-9]*Command)\s*\(/g)]
        .map((m) => m[1])
        .filter((name, i, all) => all.indexOf(name) === i)
        .sort();
    const listed = (file: string) =>
      CALLS.filter((c) => c.source === file)
        .map((c) => c.command)
        .filter((name, i, all) => all.indexOf(name) === i)
        .sort();
    expect(files).toEqual(expect.arrayContaining([...new Set(CALLS.map((c) => c.source))]));
    for (const file of files) expect([file, listed(file)]).toEqual([file, sent(file)]);
  });
});

describe('the kill execution role is allowed every call of discover, snapshot, contain and verify', () => {
  it.each(killCalls.map((call) => [label(call), call] as const))('%s', async (_name, call) => {
    await expect(refused(killRole.arn, killRole.identity, call)).resolves.toEqual([]);
  });
});

describe('the restore execution role is allowed every call of restore', () => {
  it.each(restoreCalls.map((call) => [label(call), call] as const))('%s', async (_name, call) => {
    await expect(refused(restoreRole.arn, restoreRole.identity, call)).resolves.toEqual([]);
  });
});

describe('the kill execution role never puts authority back', () => {
  /** What a restore shares with a cut: the agent interface or function itself, and the EC2 reads. */
  const sharedWithCut = (need: Authorization) =>
    need.resource === '*' || (need.resource === ENI && need.action === 'ec2:ModifyNetworkInterfaceAttribute');

  it.each(CALLS.filter((c) => c.grantsBack).map((call) => [label(call), call] as const))(
    'is refused: %s',
    async (_name, call) => {
      const distinguishing = call.needs.filter((need) => !sharedWithCut(need));
      expect(distinguishing.length).toBeGreaterThan(0);
      for (const need of distinguishing) {
        await expect(decide(killRole.arn, killRole.identity, need)).resolves.not.toBe('Allowed');
      }
    },
  );
});
