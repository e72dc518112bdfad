import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.js';
import { PRUNE_BATCH } from '../store/pruner.js';
import {
  ATTEMPT_EXPIRED_REASON,
  type ConnectedAccountRecord,
  type ConnectionRequestRecord,
  type Store,
} from '../store/types.js';
import { databaseBackends, pastTime, quiet, rejection } from '../test/auth-fixtures.js';
import { account, authConfig, connectionRequest } from '../test/auth-store-records.js';
import {
  databasePerOAuthTest,
  octoOptions,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';
import { ABANDONED_ATTEMPT_MS, ATTEMPTS_PER_USER_AND_CONFIG } from './connection-requests.js';
import {
  CONNECTION_REQUEST_GRACE_MS,
  connectionStatePruner,
  NEVER_CONNECTED_ACCOUNT_MS,
} from './connection-state-pruning.js';

const secretKey = Buffer.alloc(32, 13).toString('base64');
const appCallback = 'http://localhost:3000/connected';
const MINUTE = 60_000;
const SEALED = { keyId: '0011223344556677', ciphertext: 'v1.Y3JlZGVudGlhbHM' };

let oauthServer: TestOAuthServerWithCallback;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

/** `ms` milliseconds before now. */
const ago = (ms: number) => new Date(Date.now() - ms);

/** Every account id of the store, with its status. */
async function accountStatuses(store: Store): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  let cursor: string | undefined;
  do {
    const page = await store.listConnectedAccounts({ limit: 1000, cursor });
    for (const each of page.items) statuses.set(each.id, each.status);
    cursor = page.nextCursor;
  } while (cursor);
  return statuses;
}

/** Runs the pruning the ToolMux runs, once, as the ToolMux does (store methods, bounds). */
async function prune(store: Store, logger = recordingLogger()): Promise<number> {
  const count = await connectionStatePruner(store, logger)!.run();
  expect(logger.warnings).toEqual([]);
  return count;
}

const backends = await databaseBackends();

describe.each(backends)('stale connection state on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'pruning', () => {
    const { database, opened } = databasePerOAuthTest(open, () => oauthServer);

    async function store(): Promise<Store> {
      const made = await openStore(database.spec);
      opened.push(made);
      await made.insertAuthConfig(authConfig({ id: 'ac_none', secret: null }));
      return made;
    }

    function muxOn(): ToolMux {
      const mux = new ToolMux({
        ...octoOptions(oauthServer),
        store: database.spec,
        secretKey,
        logger: quiet,
      });
      opened.push(mux);
      oauthServer.current ??= mux;
      return mux;
    }

    /** Opens another ToolMux on the database (its store's opening prunes) and waits until `done`. */
    async function untilPruned(done: () => Promise<boolean>): Promise<void> {
      await muxOn().sessions.list({ limit: 1 });
      for (let waited = 0; waited < 200 && !(await done()); waited++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await done()).toBe(true);
    }

    it('an OAuth attempt whose request expired becomes EXPIRED; its waiter, a late callback and the calls say so; the request goes a day later, the account 30 days after', async () => {
      const mux = muxOn();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const attemptId = request.connectedAccountId!;
      // the user signed in at the provider, and the callback comes back only now
      const lateCallback = await oauthServer.signIn(request.redirectUrl);
      // started 16 minutes ago: its request expired 6 minutes ago, past a callback's last moment
      await database.exec(
        `UPDATE toolmux_connected_accounts SET created_at = ${pastTime(database.spec, 16 * MINUTE)} WHERE id = '${attemptId}'`,
      );
      await database.exec(
        `UPDATE toolmux_connection_requests SET expires_at = ${pastTime(database.spec, 6 * MINUTE)} WHERE id = '${request.id}'`,
      );
      expect((await mux.connectedAccounts.get(attemptId)).status).toBe('INITIATED');

      await untilPruned(async () => (await mux.connectedAccounts.get(attemptId)).status === 'EXPIRED');
      expect(await mux.connectedAccounts.get(attemptId)).toMatchObject({
        status: 'EXPIRED',
        statusReason: ATTEMPT_EXPIRED_REASON,
      });
      expect((await mux.connectedAccounts.list({ statuses: ['INITIATED'] })).items).toEqual([]);
      // a waiter hears EXPIRED at its first look, not at its timeout
      const started = performance.now();
      await rejection(request.waitForConnection(30_000), 'CONNECTION_REQUEST_EXPIRED');
      expect(performance.now() - started).toBeLessThan(2_000);
      // the late callback: a readable "expired", nothing changed
      const asJson = { accept: 'application/json' };
      const late = await fetch(lateCallback, { redirect: 'manual', headers: asJson });
      expect(late.status).toBe(400);
      expect(await late.json()).toMatchObject({ error: { code: 'CONNECTION_REQUEST_EXPIRED' } });
      // the user never connected: the call asks for a connection, it does not say one expired
      const call = await session.execute('OCTO_WHOAMI', {});
      expect(call).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });

      // a day after it expired, the request (and its encrypted code verifier) is gone
      await database.exec(
        `UPDATE toolmux_connection_requests SET expires_at = ${pastTime(database.spec, CONNECTION_REQUEST_GRACE_MS + MINUTE)} WHERE id = '${request.id}'`,
      );
      const requestGone = async () =>
        (await database.rows(`SELECT id FROM toolmux_connection_requests WHERE id = '${request.id}'`))
          .length === 0;
      await untilPruned(requestGone);
      const unknown = await fetch(lateCallback, { redirect: 'manual', headers: asJson });
      expect(unknown.status).toBe(400);
      const body = (await unknown.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('CONNECTION_REQUEST_INVALID');
      expect(body.error.message).toContain('expired more than a day ago');
      await rejection(request.waitForConnection(1_000), 'CONNECTION_REQUEST_NOT_FOUND');
      expect((await mux.connectedAccounts.get(attemptId)).status).toBe('EXPIRED');

      // 30 days after its last change, the account that never held credentials goes too
      await database.exec(
        `UPDATE toolmux_connected_accounts SET updated_at = ${pastTime(database.spec, NEVER_CONNECTED_ACCOUNT_MS + MINUTE)} WHERE id = '${attemptId}'`,
      );
      await untilPruned(
        async () =>
          (await database.rows(`SELECT id FROM toolmux_connected_accounts WHERE id = '${attemptId}'`))
            .length === 0,
      );
      await rejection(mux.connectedAccounts.get(attemptId), 'CONNECTED_ACCOUNT_NOT_FOUND');
    });

    it('a request whose callback took it and never finished (its process went away) is EXPIRED 5 minutes after its expiry, for its waiters too', async () => {
      const mux = muxOn();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const taken = (expiredAgoMs: number) =>
        database.exec(
          `UPDATE toolmux_connection_requests SET used_at = ${pastTime(database.spec, expiredAgoMs + MINUTE)}, ` +
            `expires_at = ${pastTime(database.spec, expiredAgoMs)} WHERE id = '${request.id}'`,
        );
      // expired 4 minutes ago, taken just before: its completion may still be going on
      await taken(4 * MINUTE);
      await rejection(request.waitForConnection(0), 'CONNECTION_TIMEOUT');
      expect((await mux.connectionRequests.get(request.id)).status).toBe('PENDING');
      // 6 minutes: no completion takes that long; waiters hear it at their first look
      await taken(6 * MINUTE);
      const started = performance.now();
      await rejection(request.waitForConnection(30_000), 'CONNECTION_REQUEST_EXPIRED');
      expect(performance.now() - started).toBeLessThan(2_000);
      expect((await mux.connectionRequests.get(request.id)).status).toBe('EXPIRED');
      const waited = await session.waitForConnections(['octo'], { timeoutMs: 30_000 });
      expect(waited).toMatchObject({ timedOut: false, toolkits: { octo: { status: 'EXPIRED' } } });
    });

    it('each step takes the oldest rows first, at most a batch, and leaves the rest', async () => {
      const db = await store();
      const now = new Date();
      // attempts: created 20, 17, 16 minutes ago (abandoned) and 14 and 1 minutes ago (still open)
      const attempts = [20, 17, 16, 14, 1].map((minutes) =>
        account({
          status: 'INITIATED',
          secret: null,
          connectedAt: null,
          createdAt: ago(minutes * MINUTE),
          updatedAt: ago(minutes * MINUTE),
        }),
      );
      const connected = account({ createdAt: ago(60 * MINUTE) });
      for (const each of [...attempts, connected]) await db.insertConnectedAccount(each);
      const createdBefore = new Date(now.getTime() - ABANDONED_ATTEMPT_MS);
      expect(await db.expireAbandonedAttempts!(createdBefore, now, 2)).toBe(2);
      expect(await db.getConnectedAccount(attempts[0]!.id)).toMatchObject({
        status: 'EXPIRED',
        statusReason: ATTEMPT_EXPIRED_REASON,
        version: 2,
        updatedAt: now,
      });
      expect((await db.getConnectedAccount(attempts[2]!.id))!.status).toBe('INITIATED');
      expect(await db.expireAbandonedAttempts!(createdBefore, now, 2)).toBe(1);
      expect(await db.expireAbandonedAttempts!(createdBefore, now, 2)).toBe(0);
      const statuses = await accountStatuses(db);
      expect(attempts.map((each) => statuses.get(each.id))).toEqual([
        'EXPIRED',
        'EXPIRED',
        'EXPIRED',
        'INITIATED',
        'INITIATED',
      ]);
      expect(statuses.get(connected.id)).toBe('ACTIVE');

      // requests: expired 3, 2 and 1.5 days ago (finished or not), and an hour ago
      const requests = [
        connectionRequest({ expiresAt: ago(3 * 24 * 60 * MINUTE), status: 'COMPLETED', usedAt: ago(1) }),
        connectionRequest({ expiresAt: ago(2 * 24 * 60 * MINUTE) }),
        connectionRequest({ expiresAt: ago(36 * 60 * MINUTE), status: 'FAILED', usedAt: ago(1) }),
        connectionRequest({ expiresAt: ago(60 * MINUTE) }),
      ];
      for (const each of requests) await db.insertConnectionRequest(each);
      const before = new Date(now.getTime() - CONNECTION_REQUEST_GRACE_MS);
      expect(await db.deleteConnectionRequestsBefore!(before, 2)).toBe(2);
      expect(await db.getConnectionRequest(requests[0]!.id)).toBeUndefined();
      expect(await db.getConnectionRequest(requests[2]!.id)).toBeDefined();
      expect(await db.deleteConnectionRequestsBefore!(before, 2)).toBe(1);
      expect(await db.deleteConnectionRequestsBefore!(before, 2)).toBe(0);
      expect(await db.getConnectionRequest(requests[3]!.id)).toBeDefined();

      // accounts never connected, changed 40 and 31 days ago and yesterday; and connected ones as old
      const days = (count: number) => ago(count * 24 * 60 * MINUTE);
      const never = [
        account({ status: 'FAILED', secret: null, connectedAt: null, updatedAt: days(40) }),
        account({ status: 'EXPIRED', secret: null, connectedAt: null, updatedAt: days(31) }),
        account({ status: 'FAILED', secret: null, connectedAt: null, updatedAt: days(1) }),
      ];
      const held = [
        account({ status: 'EXPIRED', updatedAt: days(50) }),
        account({ status: 'FAILED', updatedAt: days(50) }),
        account({ status: 'REVOKED', updatedAt: days(50) }),
        account({ status: 'INACTIVE', updatedAt: days(50) }),
        // credentials without a connectedAt (not made by toolmux), or a connectedAt without them
        account({ status: 'EXPIRED', connectedAt: null, updatedAt: days(50) }),
        account({ status: 'FAILED', secret: null, updatedAt: days(50) }),
      ];
      for (const each of [...never, ...held]) await db.insertConnectedAccount(each);
      // a request of the oldest one, still in its grace period: it goes with its account
      const ofNever = connectionRequest({ connectedAccountId: never[0]!.id, expiresAt: ago(MINUTE) });
      await db.insertConnectionRequest(ofNever);
      const unchangedSince = new Date(now.getTime() - NEVER_CONNECTED_ACCOUNT_MS);
      expect(await db.deleteNeverConnectedAccountsBefore!(unchangedSince, 1)).toBe(1);
      expect(await db.getConnectedAccount(never[0]!.id)).toBeUndefined();
      expect(await db.getConnectionRequest(ofNever.id)).toBeUndefined();
      expect(await db.deleteNeverConnectedAccountsBefore!(unchangedSince, 5)).toBe(1);
      expect(await db.deleteNeverConnectedAccountsBefore!(unchangedSince, 5)).toBe(0);
      expect(await db.getConnectedAccount(never[2]!.id)).toBeDefined();
      for (const each of held) expect(await db.getConnectedAccount(each.id)).toEqual(each);
    });

    it('an account that ever held credentials is never deleted, whatever its history; the others go once old enough', async () => {
      const db = await store();
      type Step = 'connect' | 'fail' | 'expire' | 'disable' | 'enable' | 'revoke';
      const history = fc.record({
        // an OAuth attempt, or an account made with credentials (a form, connectedAccounts.create)
        start: fc.constantFrom<'attempt' | 'credentials'>('attempt', 'credentials'),
        steps: fc.array(fc.constantFrom<Step>('connect', 'fail', 'expire', 'disable', 'enable', 'revoke'), {
          maxLength: 5,
        }),
        // its request: none, or one that expired this many minutes ago (negative: it expires later);
        // whole minutes, so that none is within the test's run of the one-day boundary, and never the
        // boundary itself (pruned in the same millisecond it was made, it stayed, and the check a
        // moment later expected it gone)
        requestExpiredAgoMinutes: fc.option(
          fc.integer({ min: -24 * 60, max: 3 * 24 * 60 }).filter((minutes) => minutes !== 24 * 60),
        ),
      });
      const changesOf: Record<Step, Partial<ConnectedAccountRecord>> = {
        connect: { status: 'ACTIVE', secret: SEALED, connectedAt: new Date() },
        fail: { status: 'FAILED', statusReason: 'access_denied: no' },
        expire: { status: 'EXPIRED', statusReason: 'invalid_grant: gone' },
        disable: { status: 'INACTIVE' },
        enable: { status: 'ACTIVE' },
        revoke: { status: 'REVOKED' },
      };
      await fc.assert(
        fc.asyncProperty(fc.array(history, { minLength: 1, maxLength: 8 }), async (histories) => {
          const made: Array<{
            id: string;
            held: boolean;
            last: ConnectedAccountRecord;
            request?: ConnectionRequestRecord;
          }> = [];
          for (const { start, steps, requestExpiredAgoMinutes } of histories) {
            const record = account(
              start === 'attempt'
                ? { status: 'INITIATED', secret: null, connectedAt: null, createdAt: ago(20 * MINUTE) }
                : {},
            );
            await db.insertConnectedAccount(record);
            let held = start === 'credentials';
            let last = record;
            for (const step of steps) {
              held ||= step === 'connect';
              last = (await db.updateConnectedAccount(record.id, changesOf[step]))!;
            }
            let request: ConnectionRequestRecord | undefined;
            if (requestExpiredAgoMinutes !== null) {
              request = connectionRequest({
                connectedAccountId: record.id,
                expiresAt: ago(requestExpiredAgoMinutes * MINUTE),
              });
              await db.insertConnectionRequest(request);
            }
            made.push({ id: record.id, held, last, request });
          }
          // prune as the ToolMux does, now and then as if 31 days had passed (the steps above changed
          // the accounts now)
          await prune(db);
          const later = Date.now() + 31 * 86_400_000;
          while (
            (await db.deleteNeverConnectedAccountsBefore!(new Date(later - NEVER_CONNECTED_ACCOUNT_MS), 3)) >
            0
          );
          for (const { id, held, last, request } of made) {
            const now = await db.getConnectedAccount(id);
            // never connected and ended (an attempt's request expired): gone; anything else untouched,
            // credentials and all
            const ended = !held && ['INITIATED', 'EXPIRED', 'FAILED'].includes(last.status);
            if (ended) expect(now, `${id} ${last.status}`).toBeUndefined();
            else expect(now).toEqual(last);
            if (request) {
              // a day after it expired, or with its account, the request goes
              const gone = ended || request.expiresAt.getTime() < Date.now() - CONNECTION_REQUEST_GRACE_MS;
              expect(await db.getConnectionRequest(request.id)).toEqual(gone ? undefined : request);
            }
          }
        }),
        { numRuns: database.spec.startsWith('sqlite:') ? 60 : 25 },
      );
    });

    it('instances sharing the database prune at once without waiting for each other, each row once', {
      timeout: 60_000,
    }, async () => {
      const first = await store();
      const second = await openStore(database.spec);
      opened.push(second);
      const rows = PRUNE_BATCH * 2 + 37;
      // many rows at once, past the store: abandoned attempts, requests expired two days ago, and
      // failed attempts unchanged for 40 days
      const series = `WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < ${rows}) `;
      const insertAccounts = (prefix: string, status: string, ageMs: number) =>
        database.exec(
          `${series}INSERT INTO toolmux_connected_accounts (id, user_id, toolkit, auth_config_id, status, version, created_at, updated_at) ` +
            `SELECT '${prefix}' || g, 'user_1', 'github', 'ac_none', '${status}', 1, ${pastTime(database.spec, ageMs)}, ${pastTime(database.spec, ageMs)} FROM series`,
        );
      await insertAccounts('ca_attempt_', 'INITIATED', 20 * MINUTE);
      await insertAccounts('ca_failed_', 'FAILED', 40 * 86_400_000);
      await database.exec(
        `${series}INSERT INTO toolmux_connection_requests (id, kind, user_id, toolkit, auth_config_id, callback_url, status, expires_at, created_at) ` +
          `SELECT 'cr_old_' || g, 'fields', 'user_1', 'github', 'ac_none', 'https://app.example.com', 'PENDING', ${pastTime(database.spec, 2 * 86_400_000)}, ${pastTime(database.spec, 2 * 86_400_000)} FROM series`,
      );
      const held: ConnectedAccountRecord[] = [];
      for (let index = 0; index < 20; index++) {
        const kept = account({ status: 'EXPIRED', updatedAt: ago(40 * 86_400_000) });
        await first.insertConnectedAccount(kept);
        held.push(kept);
      }
      const [a, b] = await Promise.all([prune(first), prune(second)]);
      // every attempt expired once, every request and failed account deleted once, and the expired
      // attempts past the newest 10 of the user and auth config deleted once (the count bound)
      expect(a + b).toBe(rows * 3 + (rows - ATTEMPTS_PER_USER_AND_CONFIG));
      const counts = await database.rows(
        'SELECT status, COUNT(*) AS count FROM toolmux_connected_accounts GROUP BY status ORDER BY status',
      );
      // the newest attempts expired just now (they go 30 days later), and the accounts that held
      // credentials
      expect(counts.map(({ status, count }) => [status, Number(count)])).toEqual([
        ['EXPIRED', ATTEMPTS_PER_USER_AND_CONFIG + held.length],
      ]);
      for (const each of held) expect(await first.getConnectedAccount(each.id)).toEqual(each);
      expect(await database.rows('SELECT id FROM toolmux_connection_requests')).toEqual([]);
    });
  });
});
