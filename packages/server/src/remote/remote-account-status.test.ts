import { randomBytes } from 'node:crypto';
import { ToolMuxError } from '@toolmux/core';
import {
  createSampleToolkits,
  createTestPostgresStore,
  postgresSkipReason,
  type TestPostgresStore,
  testPostgresUrl,
} from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A newer server may add a connected-account status (a rolling upgrade: a newer instance wrote it to
 * the database an older one serves too). An older remote client reads it as UNKNOWN and lists the
 * account with the others: before, one such account failed the whole list (and `get`, and a
 * session's toolkit list) as SERVER_UNREACHABLE. Played here with a real server on PostgreSQL whose
 * status constraint a "newer migration" dropped.
 */

const skip = await postgresSkipReason();

let database: TestPostgresStore;
let server: TestServer;

beforeAll(async () => {
  if (skip) return;
  database = await createTestPostgresStore();
  await database.store.migrate();
  const url = new URL(testPostgresUrl());
  url.searchParams.set('options', `-c search_path=${database.schema}`);
  server = await startTestServer({
    toolkits: createSampleToolkits().toolkits,
    store: url.toString(),
    secretKey: randomBytes(32).toString('base64'),
  });
});
afterAll(async () => {
  await server?.close();
  await database?.cleanup();
});

/** What a newer instance does: its migration allows a status this SDK does not know, and writes it. */
async function suspendAsANewerServer(accountId: string): Promise<void> {
  const constraints = await database.query<{ conname: string }>(
    `SELECT conname FROM pg_constraint
      WHERE conrelid = 'toolmux_connected_accounts'::regclass AND contype = 'c'
        AND pg_get_constraintdef(oid) LIKE '%INITIATED%'`,
  );
  expect(constraints).toHaveLength(1);
  await database.query(`ALTER TABLE toolmux_connected_accounts DROP CONSTRAINT "${constraints[0]!.conname}"`);
  await database.query(`UPDATE toolmux_connected_accounts SET status = 'SUSPENDED' WHERE id = $1`, [
    accountId,
  ]);
}

describe.skipIf(skip)("a connected account's status a newer server added", () => {
  it('is UNKNOWN to an older remote client, which still lists every account, gets it, and lists the session toolkits', async () => {
    const remote = server.remote();
    const config = await remote.authConfigs.create('mail', { type: 'api_key' });
    const kept = await remote.connectedAccounts.create('user_status', config.id, { apiKey: 'key-one' });
    const suspended = await remote.connectedAccounts.create('user_status', config.id, { apiKey: 'key-two' });
    const session = await remote.create('user_status', { toolkits: ['mail'] });

    await suspendAsANewerServer(suspended.id);

    const { items } = await remote.connectedAccounts.list({ userIds: ['user_status'] });
    expect(new Map(items.map((account) => [account.id, account.status]))).toEqual(
      new Map([
        [kept.id, 'ACTIVE'],
        [suspended.id, 'UNKNOWN'],
      ]),
    );
    const read = await remote.connectedAccounts.get(suspended.id);
    expect(read).toMatchObject({
      id: suspended.id,
      userId: 'user_status',
      toolkit: 'mail',
      status: 'UNKNOWN',
    });
    // and the session's toolkit list is read (this server shows no account of that status there)
    expect((await session.toolkits()).items.map((toolkit) => toolkit.slug)).toEqual(['mail']);

    // UNKNOWN is what the SDK reports, never a filter: refused (no server knows it), as embedded
    const error = await remote.connectedAccounts.list({ statuses: ['UNKNOWN' as never] }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(ToolMuxError.isInstance(error) && error.code).toBe('INVALID_REQUEST');
  });
});
