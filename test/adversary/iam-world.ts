/**
 * The drill's world with IAM in it. The embedded simulator models trust, not authorization; here
 * every write the kill execution role and the restore execution role send is decided the way IAM
 * would decide it: the synthesized roles' policies (the very template `cdk deploy` would ship, with the simulator's physical
 * names) are evaluated with the IAM policy simulator library, with the request context AWS builds
 * (the target's tags, its current permissions boundary, the policy being attached, the groups an
 * interface moves into, the role a schedule passes...). A refusal is the service's AccessDenied.
 *
 * `authority` answers "can this role still do X?" from the role's policies as they stand in the
 * simulator (managed default versions, inline documents, boundary): the truth a CONTAINED is
 * checked against.
 */
import type { EvaluationResult } from '@cloud-copilot/iam-simulate';
import {
  AGENT_TAG,
  agentBoundaryName,
  killExecutionRoleName,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import { parseConfig } from '../../lib/config';
import { createDrillWorld, type DrillWorld, type DrillWorldOptions } from '../../lib/local/drill/run';
import { DRILL_CONFIG, DRILL_WORKLOAD } from '../../lib/local/drill/scenario';
import type { AuthorizedCall } from '../../lib/local/simulator/simulator';
import { synthStacks } from '../helpers/cdk';
import { evaluate, type NamedPolicy, type PolicyDocument, ResolvedTemplate } from '../security/iam-policies';

const { accountId: W, region: R, vpcId: VPC } = DRILL_WORKLOAD;
type Context = Record<string, string | string[]>;

interface Authorization {
  readonly action: string;
  readonly resource: string;
  readonly context: Context;
}

export interface IamWorld extends DrillWorld {
  readonly killRoleArn: string;
  /** Every authorization the kill role was refused, as `action resource`. */
  readonly refused: string[];
  readonly restoreRoleArn: string;
  /** Every authorization the restore role was refused, as `action resource`. */
  readonly restoreRefused: string[];
  /** What IAM would decide for this role now, from its policies as they stand in the simulator. */
  authority(roleArn: string, action: string, resource?: string, context?: Context): Promise<EvaluationResult>;
}

/** The drill's world, the kill role's writes decided by its synthesized policies. */
export async function createIamWorld(options: DrillWorldOptions = {}): Promise<IamWorld> {
  const world = await createDrillWorld(options);
  const sim = world.simulator;
  const api = sim.as(W, R);
  const synth = synthStacks(parseConfig(DRILL_CONFIG, 'drill'));
  const raw = synth.workloadTemplate(W, R);
  // The template's isolation groups are the simulator's groups.
  const groups = world.workload.isolationGroups[VPC];
  const physicalNames: Record<string, Record<string, string>> = {};
  for (const [logicalId, resource] of Object.entries(raw.toJSON().Resources ?? {}) as [
    string,
    { Type: string; Properties?: { Tags?: { Key: string; Value: string }[] } },
  ][]) {
    if (resource.Type !== 'AWS::EC2::SecurityGroup') continue;
    const step = resource.Properties?.Tags?.find((t) => t.Key === 'backstop:isolation')?.Value as
      'open' | 'closed' | undefined;
    const id = step && groups?.[step];
    if (id) physicalNames[logicalId] = { Ref: id, GroupId: id };
  }
  const template = new ResolvedTemplate(raw, 'aws', W, R, physicalNames);
  const killRole = template.role(killExecutionRoleName(R));
  const restoreRole = template.role(restoreExecutionRoleName(R));
  // The agent boundary in force is the synthesized one, not the seed's shorter stand-in.
  await api.iam.CreatePolicyVersion({
    PolicyArn: world.workload.boundaryArn,
    PolicyDocument: JSON.stringify(template.managedPolicy(agentBoundaryName(R))),
    SetAsDefault: true,
  });
  const refused: string[] = [];
  const restoreRefused: string[] = [];

  const roleContext = async (roleName: string): Promise<{ arn: string; context: Context }> => {
    const role = sim.iam.roleByName(W, roleName);
    if (!role) return { arn: `arn:aws:iam::${W}:role/${roleName}`, context: {} };
    return {
      arn: role.arn,
      context: {
        ...tagContext(role.tags),
        ...(role.boundaryArn ? { 'iam:PermissionsBoundary': role.boundaryArn } : {}),
      },
    };
  };
  const functionContext = async (name: string): Promise<{ arn: string; context: Context }> => {
    const fn = await api.lambda.GetFunction({ FunctionName: name }).catch(() => undefined);
    const arn = fn?.Configuration?.FunctionArn ?? `arn:aws:lambda:${R}:${W}:function:${name}`;
    return { arn, context: tagContext(fn?.Tags ?? {}) };
  };

  /** The authorizations AWS checks for one call of the kill role (writes; reads are allowed). */
  const authorizations = async (call: AuthorizedCall): Promise<Authorization[]> => {
    const input = call.input as Record<string, unknown>;
    const s = (key: string) => String(input[key] ?? '');
    const on = (action: string, resource: string, context: Context = {}) => ({ action, resource, context });
    switch (`${call.service}:${call.action}`) {
      case 'iam:AttachRolePolicy':
      case 'iam:DetachRolePolicy': {
        const role = await roleContext(s('RoleName'));
        return [on(`iam:${call.action}`, role.arn, { ...role.context, 'iam:PolicyARN': s('PolicyArn') })];
      }
      case 'iam:PutRolePolicy':
      case 'iam:DeleteRolePolicy':
      case 'iam:DeleteRolePermissionsBoundary':
      case 'iam:UpdateAssumeRolePolicy': {
        const role = await roleContext(s('RoleName'));
        return [on(`iam:${call.action}`, role.arn, role.context)];
      }
      case 'iam:PutRolePermissionsBoundary': {
        const role = await roleContext(s('RoleName'));
        return [
          on('iam:PutRolePermissionsBoundary', role.arn, {
            ...role.context,
            'iam:PermissionsBoundary': s('PermissionsBoundary'),
          }),
        ];
      }
      case 'iam:CreatePolicyVersion':
        return [on('iam:CreatePolicyVersion', s('PolicyArn'))];
      case 'iam:CreateRole':
        return [on('iam:CreateRole', `arn:aws:iam::${W}:role${s('Path') || '/'}${s('RoleName')}`)];
      case 'lambda:PutFunctionConcurrency':
      case 'lambda:DeleteFunctionConcurrency': {
        const fn = await functionContext(s('FunctionName'));
        return [on(`lambda:${call.action}`, fn.arn, fn.context)];
      }
      case 'lambda:UpdateFunctionConfiguration': {
        const fn = await functionContext(s('FunctionName'));
        const vpc = input.VpcConfig as { SecurityGroupIds?: string[]; SubnetIds?: string[] } | undefined;
        return [
          on('lambda:UpdateFunctionConfiguration', fn.arn, {
            ...fn.context,
            ...(vpc?.SecurityGroupIds ? { 'lambda:SecurityGroupIds': vpc.SecurityGroupIds } : {}),
            ...(vpc?.SubnetIds ? { 'lambda:SubnetIds': vpc.SubnetIds, 'lambda:VpcIds': VPC } : {}),
            ...(input.Layers ? { 'lambda:Layer': input.Layers as string[] } : {}),
          }),
          ...['ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs'].map((a) => on(a, '*')),
        ];
      }
      case 'lambda:UpdateEventSourceMapping': {
        const mapping = await api.lambda.GetEventSourceMapping({ UUID: s('UUID') });
        const arn =
          mapping.EventSourceMappingArn ?? `arn:aws:lambda:${R}:${W}:event-source-mapping:${s('UUID')}`;
        const tags = (await api.lambda.ListTags({ Resource: arn }).catch(() => ({ Tags: {} }))).Tags ?? {};
        return [
          on('lambda:UpdateEventSourceMapping', arn, {
            ...tagContext(tags),
            'lambda:FunctionArn': mapping.FunctionArn ?? '',
          }),
        ];
      }
      case 'events:DisableRule':
      case 'events:EnableRule': {
        const bus = s('EventBusName');
        const path = bus && bus !== 'default' ? `${bus}/${s('Name')}` : s('Name');
        return [on(`events:${call.action}`, `arn:aws:events:${R}:${W}:rule/${path}`)];
      }
      case 'events:PutRule': {
        const bus = s('EventBusName');
        const path = bus && bus !== 'default' ? `${bus}/${s('Name')}` : s('Name');
        const arn = `arn:aws:events:${R}:${W}:rule/${path}`;
        const tags = await api.events.ListTagsForResource({ ResourceARN: arn }).catch(() => ({ Tags: [] }));
        const requestTags = (input.Tags as { Key: string }[] | undefined) ?? [];
        return [
          on('events:PutRule', arn, {
            ...tagContext(Object.fromEntries((tags.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']))),
            ...(requestTags.length > 0 ? { 'aws:TagKeys': requestTags.map((t) => t.Key) } : {}),
          }),
        ];
      }
      case 'scheduler:UpdateSchedule': {
        const group = s('GroupName') || 'default';
        const target = input.Target as { RoleArn?: string } | undefined;
        const roleName = target?.RoleArn?.split('/').pop() ?? '';
        const role = await roleContext(roleName);
        return [
          on('scheduler:UpdateSchedule', `arn:aws:scheduler:${R}:${W}:schedule/${group}/${s('Name')}`),
          on('iam:PassRole', role.arn, { ...role.context, 'iam:PassedToService': 'scheduler.amazonaws.com' }),
        ];
      }
      case 'states:StopExecution':
        return [on('states:StopExecution', s('executionArn'))];
      case 'ec2:ModifyNetworkInterfaceAttribute': {
        const eni = (
          await api.ec2.DescribeNetworkInterfaces({ NetworkInterfaceIds: [s('NetworkInterfaceId')] })
        ).NetworkInterfaces?.[0];
        const eniTags = Object.fromEntries((eni?.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
        const groupIds = (input.Groups as string[] | undefined) ?? [];
        const described = groupIds.length
          ? ((await api.ec2.DescribeSecurityGroups({ GroupIds: groupIds })).SecurityGroups ?? [])
          : [];
        return [
          on(
            'ec2:ModifyNetworkInterfaceAttribute',
            `arn:aws:ec2:${R}:${W}:network-interface/${s('NetworkInterfaceId')}`,
            tagContext(eniTags),
          ),
          ...described.map((g) =>
            on('ec2:ModifyNetworkInterfaceAttribute', `arn:aws:ec2:${R}:${W}:security-group/${g.GroupId}`, {
              ...tagContext(Object.fromEntries((g.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']))),
              ...(g.VpcId ? { 'ec2:Vpc': `arn:aws:ec2:${R}:${W}:vpc/${g.VpcId}` } : {}),
            }),
          ),
        ];
      }
      default:
        return [];
    }
  };

  sim.authorize(async (call) => {
    const role =
      call.caller.principalArn === killRole.arn
        ? { ...killRole, refusals: refused }
        : call.caller.principalArn === restoreRole.arn
          ? { ...restoreRole, refusals: restoreRefused }
          : undefined;
    if (!role) return true;
    for (const need of await authorizations(call)) {
      const result = await evaluate({
        principal: role.arn,
        action: need.action,
        resource: need.resource,
        context: need.context,
        identity: role.identity,
      });
      if (result !== 'Allowed') {
        role.refusals.push(`${need.action} ${need.resource}`);
        return need.resource;
      }
    }
    return true;
  });

  const authority: IamWorld['authority'] = async (roleArn, action, resource = '*', context = {}) => {
    const role = sim.iam.roleByArn(roleArn);
    if (!role) throw new Error(`no role ${roleArn}`);
    const doc = (arn: string): PolicyDocument =>
      JSON.parse(sim.iam.policyDocument(arn) ?? '{"Statement":[]}');
    const identity: NamedPolicy[] = [
      ...role.attachedPolicyArns.map((arn) => ({ name: arn.split('/').pop() ?? arn, policy: doc(arn) })),
      ...Object.entries(role.inlinePolicies).map(([name, text]) => ({ name, policy: JSON.parse(text) })),
    ];
    return evaluate({
      principal: role.arn,
      action,
      resource,
      context: { [`aws:PrincipalTag/${AGENT_TAG}`]: role.tags[AGENT_TAG] ?? '', ...context },
      identity,
      boundary: role.boundaryArn ? doc(role.boundaryArn) : undefined,
    });
  };

  return {
    ...world,
    killRoleArn: killRole.arn,
    refused,
    restoreRoleArn: restoreRole.arn,
    restoreRefused,
    authority,
  };
}

function tagContext(tags: Readonly<Record<string, string>>): Context {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
}
