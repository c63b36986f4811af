import { CfnOutput, DefaultStackSynthesizer, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { CONTROL_PLANE, iamRoleArn } from '../../lambda/shared/naming';
import { agentsIn, regionsOf } from '../config/directory';
import type { AgentConfig, BackstopConfig } from '../config/schema';
import { AgentBoundary } from '../constructs/agent-boundary';
import { AgentScope } from '../constructs/agent-scope';
import { AlarmForwarder, BACKSTOP_RULE_PREFIX } from '../constructs/alarm-forwarder';
import { AgentDenyPolicies, DenyPolicies } from '../constructs/deny-policies';
import { IsolationSecurityGroups } from '../constructs/isolation-security-groups';
import { KillExecutionRole } from '../constructs/kill-execution-role';
import { RestoreExecutionRole } from '../constructs/restore-execution-role';

export interface WorkloadAccountStackProps extends StackProps {
  /** The validated configuration (`loadConfig`). */
  readonly config: BackstopConfig;
  /** The workload account; must be declared in the config. The stack's env is this account and region. */
  readonly accountId: string;
  /** The region; must be declared for the account in the config. */
  readonly region: string;
  /**
   * The agents whose per-agent deny policies this stack holds (the others are in
   * {@link WorkloadDenyPoliciesStack}s of the same account and region).
   * @default - every agent of the account and region
   */
  readonly denyPolicyAgents?: readonly AgentConfig[];
}

/**
 * Backstop's footprint in one workload account and region: the kill and restore execution roles,
 * the deny policies (one per mode), the agent permissions boundary, the isolation security groups
 * of each declared VPC, and the rule that forwards agent alarms to the control plane.
 *
 * No Lambda assets and no bootstrap version check: the synthesized template deploys as it is,
 * with `cdk deploy` or through CloudFormation StackSets.
 */
export class WorkloadAccountStack extends Stack {
  readonly config: BackstopConfig;
  readonly agents: readonly AgentConfig[];
  readonly agentScope: AgentScope;
  readonly denyPolicies: DenyPolicies;
  /** The permissions boundary every agent role of this account must carry. */
  readonly agentBoundary: iam.ManagedPolicy;
  readonly killExecutionRole: iam.Role;
  readonly restoreExecutionRole: iam.Role;
  /** @default - undefined when the config declares no VPC for this region */
  readonly isolationGroups?: IsolationSecurityGroups;
  /** @default - undefined when no agent of this account and region has an alarm */
  readonly alarmForwarder?: AlarmForwarder;

  constructor(scope: Construct, id: string, props: WorkloadAccountStackProps) {
    const { config, accountId, region, denyPolicyAgents, ...stackProps } = props;
    const declared = config.workloadAccounts
      .find((a) => a.accountId === accountId)
      ?.regions.find((r) => r.region === region);
    if (!declared) {
      throw new Error(
        `WorkloadAccountStack: ${accountId} ${region} is not a workload account and region declared in the config`,
      );
    }
    super(scope, id, {
      description: `Backstop workload footprint for ${accountId} ${region}: execution roles, deny policies, agent boundary`,
      synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
      ...stackProps,
      env: { account: accountId, region },
    });
    this.config = config;
    this.agents = agentsIn(config, accountId, region);
    const partition = config.partition;
    const cp = config.controlPlane;

    this.agentScope = new AgentScope({
      partition,
      accountId,
      region,
      agents: this.agents,
      accountRegions: regionsOf(config, accountId),
      agentRolePath: config.agentRolePath,
      agentFunctionPrefix: config.agentFunctionPrefix,
    });

    this.denyPolicies = new DenyPolicies(this, 'DenyPolicies', {
      partition,
      accountId,
      region,
      agents: denyPolicyAgents ?? this.agents,
    });

    const triggerAlarmArns = config.agents
      .filter((agent) => agent.accountId === accountId)
      .flatMap((agent) =>
        agent.alarms.map(
          (alarm) => `arn:${partition}:cloudwatch:${agent.region}:${accountId}:alarm:${alarm.alarmName}`,
        ),
      );
    if (declared.vpcIds.length > 0) {
      this.isolationGroups = new IsolationSecurityGroups(this, 'Isolation', { vpcIds: declared.vpcIds });
    }
    this.agentBoundary = new AgentBoundary(this, 'AgentBoundary', {
      agentScope: this.agentScope,
      backstopRulePrefix: BACKSTOP_RULE_PREFIX,
      triggerAlarmArns,
      isolationGroupIds: this.isolationGroups?.securityGroupIds,
    }).policy;

    this.killExecutionRole = new KillExecutionRole(this, 'Kill', {
      agentScope: this.agentScope,
      denyPolicies: this.denyPolicies,
      isolationGroups: this.isolationGroups,
      backstopRulePrefix: BACKSTOP_RULE_PREFIX,
      workerRole: iam.Role.fromRoleArn(
        this,
        'KillWorker',
        iamRoleArn(partition, cp.accountId, CONTROL_PLANE.killWorkerRoleName),
        { mutable: false },
      ),
      organizationId: config.organizationId,
    }).role;

    this.restoreExecutionRole = new RestoreExecutionRole(this, 'Restore', {
      agentScope: this.agentScope,
      denyPolicies: this.denyPolicies,
      vpcIds: declared.vpcIds,
      backstopRulePrefix: BACKSTOP_RULE_PREFIX,
      workerRole: iam.Role.fromRoleArn(
        this,
        'RestoreWorker',
        iamRoleArn(partition, cp.accountId, CONTROL_PLANE.restoreWorkerRoleName),
        { mutable: false },
      ),
      organizationId: config.organizationId,
    }).role;

    const alarmNames = this.agents.flatMap((agent) => agent.alarms.map((alarm) => alarm.alarmName));
    if (alarmNames.length > 0) {
      this.alarmForwarder = new AlarmForwarder(this, 'AlarmForwarder', {
        alarmNames,
        controlPlaneBus: events.EventBus.fromEventBusArn(
          this,
          'ControlPlaneBus',
          `arn:${partition}:events:${cp.region}:${cp.accountId}:event-bus/${CONTROL_PLANE.eventBusName}`,
        ),
      });
    }

    new CfnOutput(this, 'KillExecutionRoleArn', { value: this.killExecutionRole.roleArn });
    new CfnOutput(this, 'RestoreExecutionRoleArn', { value: this.restoreExecutionRole.roleArn });
    new CfnOutput(this, 'KillBoundaryArn', {
      value: this.denyPolicies.killBoundary.managedPolicyArn,
      description: 'Permissions boundary a kill sets on agent roles (denies everything)',
    });
    new CfnOutput(this, 'AgentBoundaryArn', {
      value: this.agentBoundary.managedPolicyArn,
      description: 'Permissions boundary to set on every agent role',
    });
    for (const pair of this.isolationGroups?.pairs ?? []) {
      new CfnOutput(this, `IsolationOpen${pair.vpcId.replace(/[^A-Za-z0-9]/g, '')}`, {
        value: pair.open.attrGroupId,
      });
      new CfnOutput(this, `IsolationClosed${pair.vpcId.replace(/[^A-Za-z0-9]/g, '')}`, {
        value: pair.closed.attrGroupId,
      });
    }
  }
}

export interface WorkloadDenyPoliciesStackProps extends StackProps {
  readonly accountId: string;
  readonly region: string;
  /** The agents whose `draft_only` and `approval_gated` policies this stack holds. */
  readonly agents: readonly AgentConfig[];
}

/**
 * More per-agent deny policies of one workload account and region, when they do not all fit the
 * workload stack's template (CloudFormation: 1 MB, 500 resources). Policy names do not depend on
 * the stack that holds them: the kill role attaches them by name pattern. Like the workload stack,
 * it deploys as a plain template or through StackSets, in any order.
 */
export class WorkloadDenyPoliciesStack extends Stack {
  readonly policies: AgentDenyPolicies;

  constructor(scope: Construct, id: string, props: WorkloadDenyPoliciesStackProps) {
    const { accountId, region, agents, ...stackProps } = props;
    super(scope, id, {
      description: `Backstop per-agent deny policies for ${accountId} ${region} (${agents.length} agents)`,
      synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
      ...stackProps,
      env: { account: accountId, region },
    });
    this.policies = new AgentDenyPolicies(this, 'DenyPolicies', { region, agents });
  }
}
