import { Stack, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { ISOLATION_TAG } from '../../lambda/shared/naming';

export interface IsolationSecurityGroupsProps {
  /** VPCs of this account and region that get a pair of isolation groups (ids, no lookup at synth). */
  readonly vpcIds: readonly string[];
}

/** The pair of isolation groups of one VPC. */
export interface IsolationGroupPair {
  readonly vpcId: string;
  /** Allows all traffic in and out: moving an interface here first turns its tracked flows into untracked ones. */
  readonly open: ec2.CfnSecurityGroup;
  /** Allows nothing: the interface's final group. */
  readonly closed: ec2.CfnSecurityGroup;
}

/**
 * The egress rule of the closed group. CloudFormation gives a group created without egress rules
 * an allow-all egress rule, and removing it needs an API call after creation (a custom resource,
 * so a Lambda asset, which workload stacks must not have). So the group gets this one rule, which
 * matches no packet a VPC delivers: ICMP type 252 code 86 to the limited broadcast address,
 * which VPCs do not forward. It is the rule CDK itself uses for `allowAllOutbound: false`.
 */
export const CLOSED_GROUP_EGRESS: ec2.CfnSecurityGroup.EgressProperty = {
  ipProtocol: 'icmp',
  fromPort: 252,
  toPort: 86,
  cidrIp: '255.255.255.255/32',
  description: 'Matches no deliverable packet: the group allows no traffic',
};

/**
 * Per declared VPC, the two isolation groups of the network cut (connection tracking rule):
 * a kill first moves an agent's interfaces to the open group (all traffic allowed both ways, so
 * existing flows become untracked), then to the closed group (nothing allowed), which cuts every
 * flow at once. Both are tagged `backstop:isolation` (`open` / `closed`), which the agent boundary
 * protects. Built from `CfnSecurityGroup` with the VPC id, so synth needs no VPC lookup.
 */
export class IsolationSecurityGroups extends Construct {
  readonly pairs: readonly IsolationGroupPair[];

  constructor(scope: Construct, id: string, props: IsolationSecurityGroupsProps) {
    super(scope, id);
    this.pairs = props.vpcIds.map((vpcId) => {
      const open = new ec2.CfnSecurityGroup(this, `Open-${vpcId}`, {
        vpcId,
        groupDescription: `Backstop isolation step 1 (${vpcId}): all traffic, makes tracked flows untracked`,
        securityGroupIngress: [
          { ipProtocol: '-1', cidrIp: '0.0.0.0/0', description: 'All traffic: flows become untracked' },
          { ipProtocol: '-1', cidrIpv6: '::/0', description: 'All traffic: flows become untracked' },
        ],
        securityGroupEgress: [
          { ipProtocol: '-1', cidrIp: '0.0.0.0/0', description: 'All traffic: flows become untracked' },
          { ipProtocol: '-1', cidrIpv6: '::/0', description: 'All traffic: flows become untracked' },
        ],
      });
      const reason =
        'Isolation step 1 by design: an interface sits in this group for seconds, so that connection tracking stops tracking its flows before the closed group cuts them (tracked flows survive a rule change). Agents cannot change or use the group (agent boundary).';
      Validations.of(open).acknowledge({ id: 'AwsSolutions-EC23', reason });
      Validations.of(open).acknowledge({ id: 'CloudFormation-Validate::W2508', reason });
      Tags.of(open).add(ISOLATION_TAG, 'open');
      Tags.of(open).add('Name', `backstop-isolation-open-${vpcId}`);

      const closed = new ec2.CfnSecurityGroup(this, `Closed-${vpcId}`, {
        vpcId,
        groupDescription: `Backstop isolation step 2 (${vpcId}): no traffic at all`,
        securityGroupEgress: [CLOSED_GROUP_EGRESS],
      });
      Tags.of(closed).add(ISOLATION_TAG, 'closed');
      Tags.of(closed).add('Name', `backstop-isolation-closed-${vpcId}`);
      return { vpcId, open, closed };
    });
  }

  /** Ids of every isolation group. */
  get securityGroupIds(): string[] {
    return this.pairs.flatMap((pair) => [pair.open.attrGroupId, pair.closed.attrGroupId]);
  }

  /** ARNs of every isolation group. */
  get securityGroupArns(): string[] {
    const stack = Stack.of(this);
    return this.securityGroupIds.map((groupId) =>
      stack.formatArn({ service: 'ec2', resource: 'security-group', resourceName: groupId }),
    );
  }
}
