import { randomBytes } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { PendingAuditRecord } from '../../../lambda/shared/audit';
import { canonicalJson, sha256Hex, snapshotSha256 } from '../../../lambda/shared/hash';
import {
  IncidentNotFoundError,
  ManifestConflictError,
  ModeChangedError,
  ModeWouldLoosenError,
  SnapshotIntegrityError,
  StateItemTooLargeError,
  StateStore,
} from '../../../lambda/shared/state-store';

const ddbMock = mockClient(DynamoDBDocumentClient);
const TABLE = 'backstop-state';
const T0 = new Date('2026-03-01T12:00:00.000Z');
const T0_SECONDS = T0.getTime() / 1000;

function store(): StateStore {
  return new StateStore({
    doc: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    tableName: TABLE,
    clock: () => T0,
  });
}

/** The error DynamoDB returns for a failed condition with ReturnValuesOnConditionCheckFailure ALL_OLD. */
function conditionFailed(item?: Record<string, unknown>): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    $metadata: { httpStatusCode: 400 },
    message: 'The conditional request failed',
    ...(item && { Item: marshall(item, { removeUndefinedValues: true }) }),
  });
}

beforeEach(() => ddbMock.reset());

describe('control flag', () => {
  it('reads an absent flag as undefined (normal) with a consistent read', async () => {
    ddbMock.on(GetCommand).resolves({});
    expect(await store().getMode('agent-1')).toBeUndefined();
    expect(ddbMock.commandCalls(GetCommand)[0].args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'AGENT#agent-1', sk: 'MODE' },
      ConsistentRead: true,
    });
  });

  it('raises the flag with one conditional update that can only tighten, and disables high-risk tools', async () => {
    ddbMock.on(UpdateCommand).resolves({});
    const result = await store().raiseMode('agent-1', {
      mode: 'full_stop',
      incidentId: 'inc-1',
      reason: 'exfiltration alarm',
      at: T0,
    });
    expect(result).toEqual({
      previous: undefined,
      changed: true,
      current: {
        agentId: 'agent-1',
        mode: 'full_stop',
        highRiskToolsEnabled: false,
        incidentId: 'inc-1',
        reason: 'exfiltration alarm',
        updatedAt: T0.toISOString(),
        version: 1,
      },
    });
    const input = ddbMock.commandCalls(UpdateCommand)[0].args[0].input;
    expect(input.Key).toEqual({ pk: 'AGENT#agent-1', sk: 'MODE' });
    expect(input.ConditionExpression).toBe('attribute_not_exists(#pk) OR #modeRank < :rank');
    expect(input.ExpressionAttributeValues).toMatchObject({
      ':rank': 4,
      ':mode': 'full_stop',
      ':highRisk': false,
    });
    expect(input.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });

  it('returns the previous flag when it raises read_only to full_stop', async () => {
    const old = {
      pk: 'AGENT#agent-1',
      sk: 'MODE',
      agentId: 'agent-1',
      mode: 'read_only',
      modeRank: 3,
      highRiskToolsEnabled: false,
      incidentId: 'inc-0',
      reason: 'first',
      updatedAt: '2026-03-01T11:00:00.000Z',
      version: 2,
    };
    ddbMock.on(UpdateCommand).resolves({ Attributes: old });
    const result = await store().raiseMode('agent-1', {
      mode: 'full_stop',
      incidentId: 'inc-1',
      reason: 'r',
      at: T0,
    });
    expect(result.previous).toMatchObject({ mode: 'read_only', incidentId: 'inc-0', version: 2 });
    expect(result.current).toMatchObject({ mode: 'full_stop', incidentId: 'inc-1', version: 3 });
  });

  it('refuses to loosen: a read_only kill of a full_stop agent throws ModeWouldLoosenError and writes nothing else', async () => {
    ddbMock.on(UpdateCommand).rejects(
      conditionFailed({
        pk: 'AGENT#agent-1',
        sk: 'MODE',
        agentId: 'agent-1',
        mode: 'full_stop',
        modeRank: 4,
        incidentId: 'inc-0',
        reason: 'first',
        updatedAt: '2026-03-01T11:00:00.000Z',
        version: 1,
      }),
    );
    const attempt = store().raiseMode('agent-1', {
      mode: 'read_only',
      incidentId: 'inc-1',
      reason: 'r',
      at: T0,
    });
    await expect(attempt).rejects.toBeInstanceOf(ModeWouldLoosenError);
    await expect(attempt).rejects.toThrow(
      /agent-1 is in full_stop \(incident inc-0\); a kill to read_only would loosen it/,
    );
    expect(ddbMock.calls()).toHaveLength(1);
  });

  it('leaves the flag (and the incident that set it) alone when the agent is already at that mode', async () => {
    ddbMock.on(UpdateCommand).rejects(
      conditionFailed({
        agentId: 'agent-1',
        mode: 'full_stop',
        modeRank: 4,
        incidentId: 'inc-0',
        reason: 'first',
        version: 1,
      }),
    );
    const result = await store().raiseMode('agent-1', {
      mode: 'full_stop',
      incidentId: 'inc-1',
      reason: 'r',
      at: T0,
    });
    expect(result.changed).toBe(false);
    expect(result.current).toMatchObject({ mode: 'full_stop', incidentId: 'inc-0' });
  });

  it('reads the item when the failed condition does not carry it', async () => {
    ddbMock.on(UpdateCommand).rejects(conditionFailed());
    ddbMock
      .on(GetCommand)
      .resolves({ Item: { agentId: 'agent-1', mode: 'full_stop', modeRank: 4, incidentId: 'inc-0' } });
    await expect(
      store().raiseMode('agent-1', { mode: 'approval_gated', incidentId: 'inc-1', reason: 'r', at: T0 }),
    ).rejects.toBeInstanceOf(ModeWouldLoosenError);
    expect(ddbMock.commandCalls(GetCommand)[0].args[0].input.ConsistentRead).toBe(true);
  });

  it('refuses a non-kill mode, an empty reason or a bad agent id before calling DynamoDB', async () => {
    const s = store();
    await expect(
      s.raiseMode('agent-1', { mode: 'normal', incidentId: 'inc-1', reason: 'r', at: T0 }),
    ).rejects.toThrow(/"normal" is not a kill mode/);
    await expect(
      s.raiseMode('agent-1', { mode: 'full_stop', incidentId: 'inc-1', reason: ' ', at: T0 }),
    ).rejects.toThrow(/A reason is required/);
    await expect(s.getMode('a#b')).rejects.toThrow(/Agent id "a#b" is not valid/);
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('lowers the flag only for the incident that set it', async () => {
    ddbMock.on(UpdateCommand).rejects(
      conditionFailed({
        agentId: 'agent-1',
        mode: 'full_stop',
        modeRank: 4,
        incidentId: 'inc-9',
        version: 4,
      }),
    );
    const attempt = store().lowerMode('agent-1', {
      mode: 'normal',
      incidentId: 'inc-1',
      reason: 'restored',
      at: T0,
    });
    await expect(attempt).rejects.toBeInstanceOf(ModeChangedError);
    await expect(attempt).rejects.toThrow(/was set by incident inc-9, not inc-1/);
  });

  it('lowers to normal and turns high-risk tools back on', async () => {
    ddbMock.on(UpdateCommand).resolves({
      Attributes: {
        agentId: 'agent-1',
        mode: 'full_stop',
        modeRank: 4,
        incidentId: 'inc-1',
        reason: 'r',
        version: 1,
      },
    });
    const result = await store().lowerMode('agent-1', {
      mode: 'normal',
      incidentId: 'inc-1',
      reason: 'restored',
      at: T0,
    });
    expect(result.current).toMatchObject({
      mode: 'normal',
      highRiskToolsEnabled: true,
      version: 2,
      incidentId: 'inc-1',
    });
    const input = ddbMock.commandCalls(UpdateCommand)[0].args[0].input;
    expect(input.ConditionExpression).toBe('#incidentId = :incidentId AND #modeRank >= :rank');
    expect(input.ExpressionAttributeValues).toMatchObject({
      ':incidentId': 'inc-1',
      ':rank': 0,
      ':highRisk': true,
    });
  });
});

describe('kill locks', () => {
  const request = { incidentId: 'inc-2', mode: 'full_stop' as const, at: T0, ttlSeconds: 900 };
  const heldBy = (incidentId: string, mode: string, ttl: number) => ({
    pk: 'AGENT#agent-1',
    sk: 'LOCK',
    agentId: 'agent-1',
    incidentId,
    mode,
    modeRank: ['normal', 'approval_gated', 'draft_only', 'read_only', 'full_stop'].indexOf(mode),
    acquiredAt: '2026-03-01T11:59:00.000Z',
    expiresAt: new Date(ttl * 1000).toISOString(),
    ttl,
  });

  it('ACQUIRED: one conditional put when no lock exists, with the TTL the table expires it by', async () => {
    ddbMock.on(PutCommand).resolves({});
    const result = await store().acquireLock('agent-1', request);
    expect(result).toEqual({
      outcome: 'ACQUIRED',
      lock: {
        agentId: 'agent-1',
        incidentId: 'inc-2',
        mode: 'full_stop',
        acquiredAt: T0.toISOString(),
        expiresAt: new Date((T0_SECONDS + 900) * 1000).toISOString(),
      },
    });
    const input = ddbMock.commandCalls(PutCommand)[0].args[0].input;
    expect(input.Item).toMatchObject({ pk: 'AGENT#agent-1', sk: 'LOCK', ttl: T0_SECONDS + 900, modeRank: 4 });
    expect(input.ConditionExpression).toBe(
      'attribute_not_exists(#pk) OR #ttl <= :now OR #incidentId = :incidentId OR #modeRank < :rank',
    );
    expect(input.ExpressionAttributeValues).toEqual({
      ':now': T0_SECONDS,
      ':incidentId': 'inc-2',
      ':rank': 4,
    });
    expect(input.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
    expect(ddbMock.calls()).toHaveLength(1);
  });

  it('ACQUIRED: an expired lock of another incident counts as free', async () => {
    ddbMock.on(PutCommand).resolves({ Attributes: heldBy('inc-1', 'full_stop', T0_SECONDS - 1) });
    expect((await store().acquireLock('agent-1', request)).outcome).toBe('ACQUIRED');
  });

  it('REENTERED: a retry of the same incident keeps the lock', async () => {
    ddbMock.on(PutCommand).resolves({ Attributes: heldBy('inc-2', 'full_stop', T0_SECONDS + 600) });
    expect((await store().acquireLock('agent-1', request)).outcome).toBe('REENTERED');
  });

  it('RAISED: a live lock of another incident at a lower mode is taken over and its holder returned', async () => {
    ddbMock.on(PutCommand).resolves({ Attributes: heldBy('inc-1', 'read_only', T0_SECONDS + 600) });
    const result = await store().acquireLock('agent-1', request);
    expect(result).toMatchObject({
      outcome: 'RAISED',
      lock: { incidentId: 'inc-2', mode: 'full_stop' },
      holder: { incidentId: 'inc-1', mode: 'read_only' },
    });
  });

  it('JOINED: a live lock of another incident at the same or a higher mode is not taken', async () => {
    ddbMock.on(PutCommand).rejects(conditionFailed(heldBy('inc-1', 'full_stop', T0_SECONDS + 600)));
    const result = await store().acquireLock('agent-1', request);
    expect(result).toEqual({
      outcome: 'JOINED',
      holder: {
        agentId: 'agent-1',
        incidentId: 'inc-1',
        mode: 'full_stop',
        acquiredAt: '2026-03-01T11:59:00.000Z',
        expiresAt: new Date((T0_SECONDS + 600) * 1000).toISOString(),
      },
    });
    expect(ddbMock.calls()).toHaveLength(1);
  });

  it('writes again when the lock changed between the failed condition and the read (no stale verdict)', async () => {
    ddbMock.on(PutCommand).rejectsOnce(conditionFailed()).resolves({});
    ddbMock.on(GetCommand).resolves({}); // released meanwhile
    expect((await store().acquireLock('agent-1', request)).outcome).toBe('ACQUIRED');
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(2);
  });

  it('does not join a holder that the failed condition shows at a lower mode (it changed meanwhile): writes again', async () => {
    const lower = heldBy('inc-1', 'read_only', T0_SECONDS + 600);
    ddbMock.on(PutCommand).rejectsOnce(conditionFailed(lower)).resolves({ Attributes: lower });
    const result = await store().acquireLock('agent-1', request);
    expect(result).toMatchObject({ outcome: 'RAISED', holder: { incidentId: 'inc-1', mode: 'read_only' } });
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(2);
  });

  it('releases only the holder’s lock', async () => {
    ddbMock.on(DeleteCommand).rejects(conditionFailed(heldBy('inc-3', 'full_stop', T0_SECONDS + 600)));
    const result = await store().releaseLock('agent-1', 'inc-2');
    expect(result).toMatchObject({ released: false, holder: { incidentId: 'inc-3' } });
    expect(ddbMock.commandCalls(DeleteCommand)[0].args[0].input).toMatchObject({
      Key: { pk: 'AGENT#agent-1', sk: 'LOCK' },
      ConditionExpression: '#incidentId = :incidentId',
      ExpressionAttributeValues: { ':incidentId': 'inc-2' },
    });
  });

  it('refuses a TTL that is not a positive whole number of seconds', async () => {
    await expect(store().acquireLock('agent-1', { ...request, ttlSeconds: 0 })).rejects.toThrow(/ttlSeconds/);
    expect(ddbMock.calls()).toHaveLength(0);
  });
});

describe('snapshots', () => {
  const role = 'arn:aws:iam::111111111111:role/agent-role';
  const fn = 'arn:aws:lambda:us-east-1:111111111111:function:agent-fn';
  const preKillRole = {
    id: role,
    state: { attachedPolicies: ['arn:aws:iam::aws:policy/AmazonS3FullAccess'], inline: {} },
  };
  const killedRole = {
    id: role,
    state: { attachedPolicies: ['arn:aws:iam::111111111111:policy/backstop/deny'], inline: {} },
  };
  const fnState = { id: fn, state: { reservedConcurrency: null } };

  it('stores each resource with its canonical state, hash and incident, only if none is stored yet', async () => {
    ddbMock.on(PutCommand).resolves({});
    const result = await store().putSnapshot('agent-1', 'iam', 'inc-1', [preKillRole]);
    expect(result.added).toEqual([role]);
    expect(result.preserved).toEqual([]);
    expect(result.stored).toEqual([
      { ...preKillRole, incidentId: 'inc-1', takenAt: T0.toISOString(), sha256: snapshotSha256(preKillRole) },
    ]);
    const input = ddbMock.commandCalls(PutCommand)[0].args[0].input;
    expect(input.Item).toEqual({
      pk: 'SNAPSHOT#agent-1',
      sk: `iam#${role}`,
      agentId: 'agent-1',
      surface: 'iam',
      resourceId: role,
      incidentId: 'inc-1',
      takenAt: T0.toISOString(),
      sha256: snapshotSha256(preKillRole),
      state: canonicalJson(preKillRole.state),
    });
    expect(input.ConditionExpression).toBe('attribute_not_exists(#pk)');
  });

  it('a second kill keeps the first snapshot: the killed state never overwrites the pre-kill state', async () => {
    const earlier = {
      pk: 'SNAPSHOT#agent-1',
      sk: `iam#${role}`,
      agentId: 'agent-1',
      surface: 'iam',
      resourceId: role,
      incidentId: 'inc-1',
      takenAt: '2026-03-01T11:00:00.000Z',
      sha256: snapshotSha256(preKillRole),
      state: canonicalJson(preKillRole.state),
    };
    ddbMock.on(PutCommand, { Item: { resourceId: role } }).rejects(conditionFailed(earlier));
    ddbMock.on(PutCommand, { Item: { resourceId: fn } }).resolves({});

    const result = await store().putSnapshot<unknown>('agent-1', 'iam', 'inc-2', [killedRole, fnState]);
    expect(result.preserved).toEqual([role]);
    expect(result.added).toEqual([fn]);
    expect(result.stored[0]).toEqual({
      id: role,
      state: preKillRole.state,
      incidentId: 'inc-1',
      takenAt: '2026-03-01T11:00:00.000Z',
      sha256: snapshotSha256(preKillRole),
    });
    expect(result.stored[1]).toMatchObject({ id: fn, incidentId: 'inc-2' });
    // Nothing was written over the earlier item: every put was conditional on its absence.
    for (const call of ddbMock.commandCalls(PutCommand)) {
      expect(call.args[0].input.ConditionExpression).toBe('attribute_not_exists(#pk)');
    }
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('gzips a state over 350,000 bytes and reads it back intact', async () => {
    const big = { id: role, state: { policy: 'x'.repeat(400_000) } };
    ddbMock.on(PutCommand).resolves({});
    await store().putSnapshot('agent-1', 'iam', 'inc-1', [big]);
    const item = ddbMock.commandCalls(PutCommand)[0].args[0].input.Item as Record<string, unknown>;
    expect(item.state).toBeUndefined();
    expect((item.stateGz as string).length).toBeLessThan(350_000);

    ddbMock.on(QueryCommand).resolves({ Items: [item] });
    const [stored] = await store().getSnapshot('agent-1', 'iam');
    expect(stored.state).toEqual(big.state);
    expect(stored.sha256).toBe(snapshotSha256(big));
  });

  it('refuses, with a clear error and no write, a state that is too large even gzipped', async () => {
    const huge = { id: role, state: { blob: randomBytes(400_000).toString('base64') } };
    await expect(store().putSnapshot('agent-1', 'iam', 'inc-1', [huge])).rejects.toBeInstanceOf(
      StateItemTooLargeError,
    );
    await expect(store().putSnapshot('agent-1', 'iam', 'inc-1', [huge])).rejects.toThrow(
      /snapshot of arn:aws:iam::111111111111:role\/agent-role is \d+ bytes .* over the 350000-byte limit/,
    );
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('refuses a snapshot that names the same resource twice', async () => {
    await expect(store().putSnapshot('agent-1', 'iam', 'inc-1', [preKillRole, preKillRole])).rejects.toThrow(
      /appears twice/,
    );
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('reads one surface with begins_with on its prefix, across pages', async () => {
    const item = (snap: { id: string; state: unknown }, surface: string) => ({
      pk: 'SNAPSHOT#agent-1',
      sk: `${surface}#${snap.id}`,
      resourceId: snap.id,
      incidentId: 'inc-1',
      takenAt: T0.toISOString(),
      sha256: snapshotSha256(snap),
      state: canonicalJson(snap.state),
    });
    ddbMock
      .on(QueryCommand)
      .resolvesOnce({
        Items: [item(preKillRole, 'iam')],
        LastEvaluatedKey: { pk: 'SNAPSHOT#agent-1', sk: `iam#${role}` },
      })
      .resolvesOnce({ Items: [item({ id: `${role}-2`, state: {} }, 'iam')] });
    const entries = await store().getSnapshot('agent-1', 'iam');
    expect(entries.map((e) => e.id)).toEqual([role, `${role}-2`]);
    const inputs = ddbMock.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(inputs[0]).toMatchObject({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'SNAPSHOT#agent-1', ':prefix': 'iam#' },
      ConsistentRead: true,
    });
    expect(inputs[1].ExclusiveStartKey).toEqual({ pk: 'SNAPSHOT#agent-1', sk: `iam#${role}` });
  });

  it('refuses to hand out a stored snapshot whose state no longer matches its hash', async () => {
    ddbMock.on(QueryCommand).resolves({
      Items: [
        {
          resourceId: role,
          incidentId: 'inc-1',
          takenAt: T0.toISOString(),
          sha256: snapshotSha256(preKillRole),
          state: canonicalJson(killedRole.state),
        },
      ],
    });
    await expect(store().getSnapshot('agent-1', 'iam')).rejects.toBeInstanceOf(SnapshotIntegrityError);
  });

  it('clearing after a restore moves the snapshot to history instead of deleting it', async () => {
    const item = {
      pk: 'SNAPSHOT#agent-1',
      sk: `iam#${role}`,
      resourceId: role,
      incidentId: 'inc-1',
      sha256: snapshotSha256(preKillRole),
      state: canonicalJson(preKillRole.state),
    };
    ddbMock.on(GetCommand, { Key: { sk: `iam#${role}` } }).resolves({ Item: item });
    ddbMock.on(GetCommand, { Key: { sk: 'iam#gone' } }).resolves({});
    ddbMock.on(TransactWriteCommand).resolves({});
    const result = await store().clearSnapshot('agent-1', 'iam', [role, 'gone']);
    expect(result).toEqual({ cleared: [role], missing: ['gone'] });
    const [put, del] = ddbMock.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems ?? [];
    expect(put.Put?.Item).toMatchObject({
      pk: 'SNAPSHOT_HISTORY#agent-1',
      sk: `iam#${role}#${T0.toISOString()}`,
      state: item.state,
      clearedAt: T0.toISOString(),
    });
    expect(del.Delete).toMatchObject({
      Key: { pk: 'SNAPSHOT#agent-1', sk: `iam#${role}` },
      ConditionExpression: '#sha256 = :sha256 AND #incidentId = :incidentId',
    });
  });
});

describe('incidents', () => {
  const incident = {
    incidentId: 'inc-1',
    executionName: 'inc-1',
    status: 'RUNNING' as const,
    mode: 'full_stop' as const,
    agentIds: ['agent-1'],
    requestedAt: T0,
    reason: 'alarm',
    actor: { type: 'alarm' as const, arn: 'arn:aws:cloudwatch:us-east-1:111111111111:alarm:agent-1-exfil' },
  };

  it('creates an incident once and returns the stored one on a retry', async () => {
    ddbMock
      .on(PutCommand)
      .resolvesOnce({})
      .rejects(
        conditionFailed({
          ...incident,
          requestedAt: T0.toISOString(),
          updatedAt: T0.toISOString(),
          status: 'PARTIAL',
        }),
      );
    const first = await store().putIncident(incident);
    expect(first).toMatchObject({
      created: true,
      incident: { status: 'RUNNING', requestedAt: T0.toISOString() },
    });
    const again = await store().putIncident(incident);
    expect(again).toMatchObject({ created: false, incident: { status: 'PARTIAL' } });
  });

  it('updates the status of an existing incident and says so when there is none', async () => {
    ddbMock.on(UpdateCommand).rejectsOnce(conditionFailed());
    await expect(store().updateIncidentStatus('inc-1', 'CONTAINED', {})).rejects.toBeInstanceOf(
      IncidentNotFoundError,
    );
    ddbMock.on(UpdateCommand).resolves({
      Attributes: { ...incident, requestedAt: T0.toISOString(), status: 'CONTAINED', summary: { agents: 1 } },
    });
    const updated = await store().updateIncidentStatus('inc-1', 'CONTAINED', { agents: 1 });
    expect(updated).toMatchObject({ status: 'CONTAINED', summary: { agents: 1 } });
  });

  it('refuses an unknown status', async () => {
    await expect(store().updateIncidentStatus('inc-1', 'DONE' as never)).rejects.toThrow(
      /"DONE" is not an incident status/,
    );
    expect(ddbMock.calls()).toHaveLength(0);
  });
});

describe('pending audit records', () => {
  const body = '{"seq":2}';
  const record: PendingAuditRecord = {
    key: 'incidents/inc-1/iam-agent-1-00000000/0002-SnapshotTaken.json',
    incidentId: 'inc-1',
    chainId: 'iam-agent-1-00000000',
    seq: 2,
    type: 'SnapshotTaken',
    body,
    sha256: sha256Hex(body),
    error: { name: 'InternalError', message: 'We encountered an internal error' },
    attempts: 3,
  };

  it('stores undelivered records with their exact bytes and lists them back', async () => {
    ddbMock.on(PutCommand).resolves({});
    await store().addPendingAudit('inc-1', [record]);
    const item = ddbMock.commandCalls(PutCommand)[0].args[0].input.Item as Record<string, unknown>;
    expect(item).toMatchObject({
      pk: 'INCIDENT#inc-1',
      sk: `PENDING#${record.key}`,
      body,
      sha256: record.sha256,
    });
    ddbMock.on(QueryCommand).resolves({ Items: [item] });
    expect(await store().listPendingAudit('inc-1')).toEqual([record]);
    expect(ddbMock.commandCalls(QueryCommand)[0].args[0].input.ExpressionAttributeValues).toEqual({
      ':pk': 'INCIDENT#inc-1',
      ':prefix': 'PENDING#',
    });
  });

  it('refuses a record of another incident or whose bytes do not match its hash', async () => {
    await expect(store().addPendingAudit('inc-2', [record])).rejects.toThrow(/belongs to incident inc-1/);
    await expect(store().addPendingAudit('inc-1', [{ ...record, body: '{}' }])).rejects.toThrow(
      /does not match its sha256/,
    );
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('removes delivered records by key', async () => {
    ddbMock.on(DeleteCommand).resolves({});
    await store().removePendingAudit('inc-1', [record.key]);
    expect(ddbMock.commandCalls(DeleteCommand)[0].args[0].input.Key).toEqual({
      pk: 'INCIDENT#inc-1',
      sk: `PENDING#${record.key}`,
    });
  });
});

describe('manifest chain head', () => {
  const sha = (c: string) => c.repeat(64);

  it('claims the first head with attribute_not_exists and records the incident pointer in the same transaction', async () => {
    ddbMock.on(TransactWriteCommand).resolves({});
    await store().setLatestManifest(null, {
      incidentId: 'inc-1',
      sha256: sha('a'),
      previous: null,
      createdAt: T0.toISOString(),
    });
    const [head, pointer] = ddbMock.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems ?? [];
    expect(head.Put).toMatchObject({
      Item: { pk: 'MANIFEST', sk: 'LATEST', incidentId: 'inc-1', sha256: sha('a') },
      ConditionExpression: 'attribute_not_exists(#pk)',
    });
    expect(pointer.Put).toMatchObject({
      Item: { pk: 'INCIDENT#inc-1', sk: 'MANIFEST', sha256: sha('a') },
      ConditionExpression: 'attribute_not_exists(#pk)',
    });
  });

  it('swaps the head only from the expected previous manifest', async () => {
    ddbMock.on(TransactWriteCommand).resolves({});
    const prev = { incidentId: 'inc-1', sha256: sha('a') };
    await store().setLatestManifest(prev, {
      incidentId: 'inc-2',
      sha256: sha('b'),
      previous: prev,
      createdAt: T0.toISOString(),
    });
    const [head] = ddbMock.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems ?? [];
    expect(head.Put).toMatchObject({
      Item: { incidentId: 'inc-2', previousIncidentId: 'inc-1', previousSha256: sha('a') },
      ConditionExpression: '#incidentId = :prevIncidentId AND #sha256 = :prevSha256',
      ExpressionAttributeValues: { ':prevIncidentId': 'inc-1', ':prevSha256': sha('a') },
    });
  });

  it('reports the head that won when the swap loses a race', async () => {
    ddbMock.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        $metadata: { httpStatusCode: 400 },
        message: 'Transaction cancelled',
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
      }),
    );
    ddbMock.on(GetCommand, { Key: { pk: 'MANIFEST' } }).resolves({
      Item: {
        incidentId: 'inc-3',
        sha256: sha('c'),
        createdAt: T0.toISOString(),
        previousIncidentId: 'inc-1',
        previousSha256: sha('a'),
      },
    });
    ddbMock.on(GetCommand, { Key: { pk: 'INCIDENT#inc-2' } }).resolves({});
    const prev = { incidentId: 'inc-1', sha256: sha('a') };
    const attempt = store().setLatestManifest(prev, {
      incidentId: 'inc-2',
      sha256: sha('b'),
      previous: prev,
      createdAt: T0.toISOString(),
    });
    await expect(attempt).rejects.toBeInstanceOf(ManifestConflictError);
    await expect(attempt).rejects.toMatchObject({
      latest: { incidentId: 'inc-3', sha256: sha('c'), previous: prev },
      existing: undefined,
    });
  });

  it('refuses a next pointer that does not follow the manifest it replaces', async () => {
    await expect(
      store().setLatestManifest(
        { incidentId: 'inc-1', sha256: sha('a') },
        { incidentId: 'inc-2', sha256: sha('b'), previous: null, createdAt: T0.toISOString() },
      ),
    ).rejects.toThrow(/must be the manifest it replaces/);
    expect(ddbMock.calls()).toHaveLength(0);
  });
});

describe('restore approvals', () => {
  const alice = 'arn:aws:sts::999999999999:assumed-role/approver/alice';
  const bob = 'arn:aws:sts::999999999999:assumed-role/approver/bob';

  it('counts each approver once: a second approval by the same principal is not recorded', async () => {
    ddbMock.on(PutCommand).resolvesOnce({}).rejectsOnce(conditionFailed()).resolvesOnce({});
    const s = store();
    expect(await s.recordApproval('inc-1', 'rst-1', alice, T0)).toEqual({ recorded: true });
    expect(await s.recordApproval('inc-1', 'rst-1', alice, T0)).toEqual({ recorded: false });
    expect(await s.recordApproval('inc-1', 'rst-1', bob, T0)).toEqual({ recorded: true });
    const items = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item);
    expect(items.map((i) => i?.sk)).toEqual([
      `APPROVAL#rst-1#${alice}`,
      `APPROVAL#rst-1#${alice}`,
      `APPROVAL#rst-1#${bob}`,
    ]);

    ddbMock.on(QueryCommand).resolves({ Items: [items[0], items[2]] as Record<string, unknown>[] });
    expect(await s.countApprovals('inc-1', 'rst-1')).toBe(2);
    expect(ddbMock.commandCalls(QueryCommand)[0].args[0].input.ExpressionAttributeValues).toEqual({
      ':pk': 'INCIDENT#inc-1',
      ':prefix': 'APPROVAL#rst-1#',
    });
  });

  it('refuses an approver that is not an IAM or STS principal', async () => {
    await expect(store().recordApproval('inc-1', 'rst-1', 'alice', T0)).rejects.toThrow(
      /not an IAM or STS principal ARN/,
    );
    expect(ddbMock.calls()).toHaveLength(0);
  });
});
