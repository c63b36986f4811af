import { IAM_PATH } from '../../lambda/shared/naming';
import type { ConfigIssue } from './errors';
import { ARN, type BackstopConfig } from './schema';

/**
 * Rules that relate fields to each other. Runs on a configuration that already passed the
 * schema, and returns every issue it finds (an empty list means the configuration is usable).
 */
export function crossFieldIssues(config: BackstopConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });

  if (config.audit.mode === 'GOVERNANCE' && !config.audit.allowGovernance) {
    add(
      'audit.mode',
      'GOVERNANCE requires "allowGovernance": true in audit (GOVERNANCE retention can be lifted by privileged users; it is meant for drills and dev accounts, production audit logs use COMPLIANCE)',
    );
  }

  if (config.agentRolePath === '/') {
    add(
      'agentRolePath',
      'must not be "/": that would make every role in the account an agent role; omit it to find agent roles by tag and roleArns',
    );
  } else if (config.agentRolePath?.startsWith(IAM_PATH)) {
    add(
      'agentRolePath',
      `must not be under ${IAM_PATH}: that path is reserved for Backstop's own roles and policies`,
    );
  }

  // Workload accounts and regions.
  const regionsByAccount = new Map<string, Set<string>>();
  const firstAccountIndex = new Map<string, number>();
  config.workloadAccounts.forEach((account, i) => {
    const at = `workloadAccounts[${i}]`;
    if (account.accountId === config.controlPlane.accountId) {
      add(
        `${at}.accountId`,
        `account ${account.accountId} is the control plane account; Backstop must run outside the accounts its agents run in`,
      );
    }
    const first = firstAccountIndex.get(account.accountId);
    if (first !== undefined) {
      add(
        `${at}.accountId`,
        `account ${account.accountId} is declared twice (also workloadAccounts[${first}])`,
      );
    } else {
      firstAccountIndex.set(account.accountId, i);
    }
    const regions = regionsByAccount.get(account.accountId) ?? new Set<string>();
    regionsByAccount.set(account.accountId, regions);
    account.regions.forEach((r, j) => {
      if (regions.has(r.region)) {
        add(
          `${at}.regions[${j}].region`,
          `region ${r.region} is declared twice for account ${account.accountId}`,
        );
      }
      regions.add(r.region);
      const vpcs = new Set<string>();
      r.vpcIds.forEach((vpcId, k) => {
        if (vpcs.has(vpcId)) add(`${at}.regions[${j}].vpcIds[${k}]`, `VPC ${vpcId} is listed twice`);
        vpcs.add(vpcId);
      });
    });
  });

  // Agents.
  const firstAgentIndex = new Map<string, number>();
  const alarmOwners = new Map<string, string>();
  config.agents.forEach((agent, i) => {
    const at = `agents[${i}]`;
    const first = firstAgentIndex.get(agent.id);
    if (first !== undefined) {
      add(`${at}.id`, `duplicate agent id "${agent.id}" (also agents[${first}])`);
    } else {
      firstAgentIndex.set(agent.id, i);
    }

    const regions = regionsByAccount.get(agent.accountId);
    if (!regions) {
      add(`${at}.accountId`, `account ${agent.accountId} is not a declared workload account`);
    } else if (!regions.has(agent.region)) {
      add(
        `${at}.region`,
        `region ${agent.region} is not declared for workload account ${agent.accountId} (declared: ${[...regions].join(', ')})`,
      );
    }

    agent.roleArns.forEach((roleArn, j) => {
      const parts = ARN.exec(roleArn);
      if (!parts) return;
      if (parts[1] !== config.partition) {
        add(`${at}.roleArns[${j}]`, `role ${roleArn} is in partition ${parts[1]}, not ${config.partition}`);
      }
      if (parts[4] !== agent.accountId) {
        add(
          `${at}.roleArns[${j}]`,
          `role ${roleArn} is in account ${parts[4]}, not the agent's account ${agent.accountId}`,
        );
      }
    });

    const checkResource = (field: 'resourceArns' | 'draftResources', resourceArn: string, j: number) => {
      const parts = ARN.exec(resourceArn);
      if (!parts) return;
      const [, partition, , arnRegion, arnAccount] = parts;
      if (partition !== config.partition) {
        add(`${at}.${field}[${j}]`, `${resourceArn} is in partition ${partition}, not ${config.partition}`);
      }
      if (arnAccount && arnAccount !== 'aws' && arnAccount !== '*' && arnAccount !== agent.accountId) {
        add(
          `${at}.${field}[${j}]`,
          `${resourceArn} is in account ${arnAccount}, not the agent's account ${agent.accountId}`,
        );
      }
      if (field === 'resourceArns' && arnRegion && arnRegion !== agent.region) {
        add(
          `${at}.${field}[${j}]`,
          `${resourceArn} is in region ${arnRegion}, not the agent's region ${agent.region} (declare a separate agent per region)`,
        );
      }
    };
    agent.resourceArns.forEach((resourceArn, j) => {
      checkResource('resourceArns', resourceArn, j);
    });
    agent.draftResources.forEach((resourceArn, j) => {
      checkResource('draftResources', resourceArn, j);
    });

    agent.alarms.forEach((alarm, j) => {
      const key = `${agent.accountId}|${agent.region}|${alarm.alarmName}`;
      const owner = alarmOwners.get(key);
      if (owner !== undefined) {
        add(
          `${at}.alarms[${j}].alarmName`,
          `alarm "${alarm.alarmName}" in ${agent.accountId} ${agent.region} already triggers ${owner}; one alarm maps to one agent and mode`,
        );
      } else {
        alarmOwners.set(key, `${at} (${agent.id})`);
      }
    });
  });

  // People.
  const checkPrincipals = (field: string, principals: readonly string[]) => {
    const seen = new Map<string, number>();
    principals.forEach((principal, j) => {
      const parts = ARN.exec(principal);
      if (parts && parts[1] !== config.partition) {
        add(`${field}[${j}]`, `${principal} is in partition ${parts[1]}, not ${config.partition}`);
      }
      const first = seen.get(principal);
      if (first !== undefined)
        add(`${field}[${j}]`, `${principal} is listed twice (also ${field}[${first}])`);
      else seen.set(principal, j);
    });
  };
  checkPrincipals('breakGlass.principals', config.breakGlass.principals);
  checkPrincipals('restore.approvers', config.restore.approvers);
  if (config.restore.quorum > config.restore.approvers.length) {
    add(
      'restore.quorum',
      `quorum ${config.restore.quorum} exceeds the ${config.restore.approvers.length} approvers listed in restore.approvers`,
    );
  }

  return issues;
}
