import {
  AGENT_TAG,
  agentBoundaryName,
  IAM_PATH,
  iamPolicyArn,
  killBoundaryName,
} from '../../lambda/shared/naming';
import { parseRoleArn } from '../../lambda/shared/arn';
import { type ConfigIssue, ConfigLimitError } from '../config/errors';
import type { AgentConfig } from '../config/schema';
import { ARN } from '../config/schema';
import type { Conditions } from './policy-builder';

/** One way of recognising an agent's resources in IAM: resource ARNs, plus conditions. */
export interface ScopeTarget {
  /** Suffix for the statement id (`Tagged`, `OnAgentPath`, `Declared`...). */
  readonly label: string;
  readonly resources: readonly string[];
  /** @default - none */
  readonly conditions?: Conditions;
  /** Why the resources hold a wildcard (the cdk-nag acknowledgment). @default - no wildcard */
  readonly wildcardReason?: string;
}

export interface AgentScopeProps {
  readonly partition: string;
  readonly accountId: string;
  readonly region: string;
  /** The agents of this account and region. */
  readonly agents: readonly AgentConfig[];
  /** Regions of this account that have a workload stack (their boundaries are all valid). */
  readonly accountRegions: readonly string[];
  /** IAM path of agent roles, besides the tag. @default - tag and declared ARNs only */
  readonly agentRolePath?: string;
  /**
   * Prefix of agent function names, besides the tag: the functions and their event source
   * mappings are reached by name pattern. @default - tag and declared ARNs only
   */
  readonly agentFunctionPrefix?: string;
}

/**
 * Characters of declared ARNs the execution roles may name one by one, per kind of resource, in
 * one account and region. Each such ARN is repeated in up to six statements of the restore role;
 * past this, the roles' policies would outgrow IAM's limits (6,144 characters per managed policy,
 * 10 managed policies per role) as the fleet grows. What lies beyond is reached by tag, by the
 * agent role path and by the agent function prefix, whose size does not grow with the fleet.
 */
export const DECLARED_ARN_BUDGET = 1500;

const FUNCTION_RESOURCE = /^function:([^:]+)/;

const TAGGED = { Null: { [`aws:ResourceTag/${AGENT_TAG}`]: 'false' } } satisfies Conditions;

/** Characters a list of ARNs takes in a policy document (quotes and comma included). */
function listSize(arns: readonly string[]): number {
  return arns.reduce((sum, arn) => sum + arn.length + 3, 0);
}

/**
 * How the execution roles of one workload account and region recognise an agent's resources:
 * by the `backstop:agent` tag where IAM can evaluate resource tags, by the configured role path
 * and function name prefix, and by the ARNs declared in the config that neither pattern covers.
 * Each way becomes its own statement, because IAM ORs statements but ANDs the conditions inside
 * one. The size of every statement is bounded whatever the size of the fleet: declared ARNs that
 * a pattern covers are not named again, and the others must fit {@link DECLARED_ARN_BUDGET}, or
 * the constructor throws a {@link ConfigLimitError} that says what to change.
 */
export class AgentScope {
  readonly partition: string;
  readonly accountId: string;
  readonly region: string;

  /** Declared role ARNs outside the agent role path (the path pattern covers the others). */
  private readonly declaredRoleArns: string[];
  /** Declared functions (unqualified) whose names do not start with the agent function prefix. */
  private readonly declaredFunctionArns: string[];
  private readonly declaredNetworkInterfaceArns: string[];
  private readonly declaredRuleArns: string[];

  constructor(private readonly props: AgentScopeProps) {
    this.partition = props.partition;
    this.accountId = props.accountId;
    this.region = props.region;
    const rolePath = props.agentRolePath;
    this.declaredRoleArns = unique(props.agents.flatMap((agent) => agent.roleArns)).filter(
      (arn) => !rolePath || !parseRoleArn(arn).path.startsWith(rolePath),
    );
    const resources = props.agents.flatMap((agent) => agent.resourceArns.map(parseArn));
    const prefix = props.agentFunctionPrefix;
    // A declared function ARN may carry a version or alias; concurrency and mappings belong to the function.
    this.declaredFunctionArns = unique(
      resources.flatMap((arn) => {
        const fn = arn.service === 'lambda' ? FUNCTION_RESOURCE.exec(arn.resource) : null;
        if (!fn || (prefix && fn[1].startsWith(prefix))) return [];
        return [this.arn('lambda', `function:${fn[1]}`)];
      }),
    );
    this.declaredNetworkInterfaceArns = unique(
      resources
        .filter((arn) => arn.service === 'ec2' && arn.resource.startsWith('network-interface/'))
        .map((arn) => this.arn('ec2', arn.resource)),
    );
    this.declaredRuleArns = unique(
      resources
        .filter((arn) => arn.service === 'events' && arn.resource.startsWith('rule/'))
        .map((arn) => this.arn('events', arn.resource)),
    );
    this.checkBudget();
  }

  /** Declared ARNs named one by one must fit the budget, kind by kind; every overflow is named at once. */
  private checkBudget(): void {
    const where = `${this.accountId} ${this.region}`;
    const limit = `the execution roles name at most ${DECLARED_ARN_BUDGET} characters of them one by one (each is repeated in up to six statements; IAM allows 6,144 characters per managed policy and 10 managed policies per role)`;
    const issues: ConfigIssue[] = [];
    const check = (path: string, arns: readonly string[], what: string, fix: string) => {
      const size = listSize(arns);
      if (size <= DECLARED_ARN_BUDGET) return;
      issues.push({
        path,
        message: `the agents of ${where} declare ${arns.length} ${what} (${size} characters); ${limit}. ${fix}`,
      });
    };
    check(
      'agents[].roleArns',
      this.declaredRoleArns,
      this.props.agentRolePath ? `roles outside agentRolePath ${this.props.agentRolePath}` : 'roles',
      'Set agentRolePath to the IAM path the agent roles live under (roles under it need no ARN in the policies), or leave out of roleArns the roles that carry the backstop:agent tag (the tag is enough; discovery finds them by it).',
    );
    check(
      'agents[].resourceArns',
      this.declaredFunctionArns,
      this.props.agentFunctionPrefix
        ? `Lambda functions whose names do not start with agentFunctionPrefix ${this.props.agentFunctionPrefix}`
        : 'Lambda functions',
      'Set agentFunctionPrefix to the prefix the agent functions are named with: the kill role then reaches them and their event source mappings by name (IAM sees only the function ARN of a mapping, never its tags). Or leave out of resourceArns the functions that carry the backstop:agent tag and tag their event source mappings too.',
    );
    check(
      'agents[].resourceArns',
      this.declaredRuleArns,
      'EventBridge rules',
      'Tag the rules backstop:agent=<agent id> and leave them out of resourceArns (a rule that targets an agent is found by its target).',
    );
    check(
      'agents[].resourceArns',
      this.declaredNetworkInterfaceArns,
      'network interfaces',
      'Tag the interfaces backstop:agent=<agent id> and leave them out of resourceArns.',
    );
    if (issues.length > 0) throw new ConfigLimitError(issues);
  }

  /** `arn:<partition>:<service>:<region>:<account>:<resource>` in this account and region. */
  arn(service: string, resource: string, region = this.region): string {
    return `arn:${this.partition}:${service}:${region}:${this.accountId}:${resource}`;
  }

  /** An IAM ARN (`role/...`, `policy/...`) in this account. */
  iamArn(resource: string): string {
    return `arn:${this.partition}:iam::${this.accountId}:${resource}`;
  }

  /** Pattern of every role on Backstop's path (execution roles, forwarder role). */
  get backstopRoles(): string {
    return this.iamArn(`role${IAM_PATH}*`);
  }

  /** Pattern of every policy on Backstop's path (deny policies, boundaries). */
  get backstopPolicies(): string {
    return this.iamArn(`policy${IAM_PATH}*`);
  }

  /** The kill boundary of this region: set on agent roles by a kill, the only boundary the kill role may set. */
  get killBoundaryArn(): string {
    return iamPolicyArn(this.partition, this.accountId, killBoundaryName(this.region));
  }

  /** The agent boundary of every region of this account: roles bounded by any of them are agent roles. */
  get boundaryArns(): string[] {
    return this.props.accountRegions.map((region) =>
      iamPolicyArn(this.partition, this.accountId, agentBoundaryName(region)),
    );
  }

  /** Agent roles: tagged, on the agent path, or declared. */
  roles(): ScopeTarget[] {
    const targets: ScopeTarget[] = [
      {
        label: 'Tagged',
        resources: [this.iamArn('role/*')],
        conditions: TAGGED,
        wildcardReason: `Any role of the account, but only while it carries the ${AGENT_TAG} tag (aws:ResourceTag condition); Backstop's own roles are denied explicitly.`,
      },
    ];
    if (this.props.agentRolePath) {
      targets.push({
        label: 'OnAgentPath',
        resources: [this.iamArn(`role${this.props.agentRolePath}*`)],
        wildcardReason: `Roles under the configured agent role path ${this.props.agentRolePath}, which the config declares to hold agent roles only.`,
      });
    }
    if (this.declaredRoleArns.length > 0) {
      targets.push({ label: 'Declared', resources: this.declaredRoleArns });
    }
    return targets;
  }

  /** Agent functions: tagged, named with the agent function prefix, or declared. */
  functions(): ScopeTarget[] {
    const targets: ScopeTarget[] = [
      {
        label: 'Tagged',
        resources: [this.arn('lambda', 'function:*')],
        conditions: TAGGED,
        wildcardReason: `Any function of this account and region, but only while it carries the ${AGENT_TAG} tag (aws:ResourceTag condition).`,
      },
    ];
    const prefix = this.props.agentFunctionPrefix;
    if (prefix) {
      targets.push({
        label: 'Prefixed',
        resources: [this.arn('lambda', `function:${prefix}*`)],
        wildcardReason: `Functions named with the configured agent function prefix ${prefix}, which the config declares to name agent functions only.`,
      });
    }
    if (this.declaredFunctionArns.length > 0) {
      targets.push({ label: 'Declared', resources: this.declaredFunctionArns });
    }
    return targets;
  }

  /**
   * Agent event source mappings: mappings tagged for an agent, and mappings of agent functions
   * that IAM can tell by ARN (`lambda:FunctionArn`, the mapping's function): named with the agent
   * function prefix, or declared. A mapping of a function that is only tagged must carry the tag
   * itself: IAM cannot see the function's tags from the mapping.
   */
  eventSourceMappings(): ScopeTarget[] {
    const targets: ScopeTarget[] = [
      {
        label: 'Tagged',
        resources: [this.arn('lambda', 'event-source-mapping:*')],
        conditions: TAGGED,
        wildcardReason: `Any event source mapping of this account and region, but only while it carries the ${AGENT_TAG} tag (aws:ResourceTag condition).`,
      },
    ];
    const prefix = this.props.agentFunctionPrefix;
    if (prefix) {
      const pattern = this.arn('lambda', `function:${prefix}*`);
      targets.push({
        label: 'OfPrefixedFunctions',
        resources: [this.arn('lambda', 'event-source-mapping:*')],
        conditions: { ArnLike: { 'lambda:FunctionArn': pattern } },
        wildcardReason: `Mapping UUIDs are not known before discovery; the lambda:FunctionArn condition limits it to mappings of functions named with the agent function prefix ${prefix}.`,
      });
    }
    if (this.declaredFunctionArns.length > 0) {
      targets.push({
        label: 'OfDeclaredFunctions',
        resources: [this.arn('lambda', 'event-source-mapping:*')],
        conditions: {
          ArnLike: {
            'lambda:FunctionArn': this.declaredFunctionArns.flatMap((arn) => [arn, `${arn}:*`]),
          },
        },
        wildcardReason:
          "Mapping UUIDs are not known before discovery; the lambda:FunctionArn condition limits it to mappings of the agents' declared functions.",
      });
    }
    return targets;
  }

  /**
   * Agent EventBridge rules, on any bus: tagged or declared. Rules that only target an agent's
   * resources carry no tag and are not covered: only calls that cannot grant anything (disable,
   * enable) reach every rule of the region.
   */
  rules(): ScopeTarget[] {
    const targets: ScopeTarget[] = [
      {
        label: 'Tagged',
        resources: [this.arn('events', 'rule/*')],
        conditions: TAGGED,
        wildcardReason: `Any rule of this account and region, on any bus, but only while it carries the ${AGENT_TAG} tag (aws:ResourceTag condition); Backstop's forwarding rule is denied explicitly.`,
      },
    ];
    if (this.declaredRuleArns.length > 0) {
      targets.push({ label: 'Declared', resources: this.declaredRuleArns });
    }
    return targets;
  }

  /** Agent network interfaces: tagged or declared. */
  networkInterfaces(): ScopeTarget[] {
    const targets: ScopeTarget[] = [
      {
        label: 'Tagged',
        resources: [this.arn('ec2', 'network-interface/*')],
        conditions: TAGGED,
        wildcardReason: `Any network interface of this account and region, but only while it carries the ${AGENT_TAG} tag (aws:ResourceTag condition).`,
      },
    ];
    if (this.declaredNetworkInterfaceArns.length > 0) {
      targets.push({ label: 'Declared', resources: this.declaredNetworkInterfaceArns });
    }
    return targets;
  }
}

interface ArnParts {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

/** Splits an ARN the config validated against {@link ARN}. */
function parseArn(arn: string): ArnParts {
  const match = ARN.exec(arn);
  if (!match) throw new Error(`AgentScope: ${arn} is not an ARN (the config schema should have refused it)`);
  const [, partition, service, region, account, resource] = match;
  return { partition, service, region, account: account ?? '', resource };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
