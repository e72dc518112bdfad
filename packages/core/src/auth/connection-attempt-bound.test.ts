import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.js';
import {
  ATTEMPT_REPLACED_REASON,
  type ConnectedAccountRecord,
  type ConnectionRequestRecord,
  type Store,
} from '../store/types.js';
import { databaseBackends, quiet, rejection } from '../test/auth-fixtures.js';
import { account, authConfig, connectionRequest } from '../test/auth-store-records.js';
import {
  databasePerOAuthTest,
  octoOptions,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';
import { ATTEMPTS_PER_USER_AND_CONFIG, CONNECTION_REQUEST_TTL_MS } from './connection-requests.js';
import { connectionStatePruner } from './connection-state-pruning.js';
import { connectionRequestAuthorizationUrl } from './hosted-connect-page.js';

/**
 * The count bound of connection state: at most 10 pending OAuth attempts per user and auth config
 * (a new one ends the oldest at once, in its start's transaction), and the newest 10 accounts never
 * connected kept per user and auth config (the pruner deletes older ones). Both stores, SQLite on a
 * file and PostgreSQL, with two stores on one database racing.
 */

const secretKey = Buffer.alloc(32, 13).toString('base64');
const appCallback = 'http://localhost:3000/connected';
const MINUTE = 60_000;
const SEALED = { keyId: '0011223344556677', ciphertext: 'v1.Y3JlZGVudGlhbHM' };
const N = ATTEMPTS_PER_USER_AND_CONFIG;

let oauthServer: TestOAuthServerWithCallback;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

const ago = (ms: number) => new Date(Date.now() - ms);

/** An OAuth attempt as `#startOAuth` makes it: an INITIATED account and its request, both of `at`. */
function attempt(
  at: Date,
  overrides: { userId?: string; authConfigId?: string } = {},
): { account: ConnectedAccountRecord; request: ConnectionRequestRecord } {
  const userId = overrides.userId ?? 'user_1';
  const authConfigId = overrides.authConfigId ?? 'ac_a';
  const made = account({
    userId,
    authConfigId,
    status: 'INITIATED',
    secret: null,
    expiresAt: null,
    connectedAt: null,
    createdAt: at,
    updatedAt: at,
  });
  const request = connectionRequest({
    connectedAccountId: made.id,
    userId,
    authConfigId,
    createdAt: at,
    expiresAt: new Date(at.getTime() + CONNECTION_REQUEST_TTL_MS),
  });
  return { account: made, request };
}

/** Every account of the store by id. */
async function accountsOf(store: Store): Promise<Map<string, ConnectedAccountRecord>> {
  const accounts = new Map<string, ConnectedAccountRecord>();
  let cursor: string | undefined;
  do {
    const page = await store.listConnectedAccounts({ limit: 1000, cursor });
    for (const each of page.items) accounts.set(each.id, each);
    cursor = page.nextCursor;
  } while (cursor);
  return accounts;
}

const backends = await databaseBackends();

describe.each(backends)('the count bound of connection state on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'bound', () => {
    const { database, opened } = databasePerOAuthTest(open, () => oauthServer);

    /** A store on the test database with auth configs `ac_a` and `ac_b`. */
    async function store(): Promise<Store> {
      const made = await openStore(database.spec);
      opened.push(made);
      for (const id of ['ac_a', 'ac_b']) {
        if (!(await made.getAuthConfig(id))) await made.insertAuthConfig(authConfig({ id, secret: null }));
      }
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

    it('25 attempts of one user and auth config leave the newest 10 pending; the 15 oldest are EXPIRED as replaced, and their waiters, late callbacks and connect links say so at once', {
      timeout: 60_000,
    }, async () => {
      const mux = muxOn();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      // a connected account of the same user and auth config, and attempts of others
      const first = await session.authorize('octo', { callbackUrl: appCallback });
      const connectedBack = await fetch(await oauthServer.signIn(first.redirectUrl), { redirect: 'manual' });
      expect(connectedBack.status).toBe(302);
      const connected = await mux.connectedAccounts.get(first.connectedAccountId!);
      expect(connected.status).toBe('ACTIVE');
      const managedConfig = connected.authConfigId;
      const otherConfig = await mux.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauthServer.clientId,
        clientSecret: oauthServer.clientSecret,
      });
      const otherUser = await mux.create('user_2', { toolkits: ['octo'] });
      const others = [
        ...(await Promise.all(
          [1, 2, 3].map(() => otherUser.authorize('octo', { callbackUrl: appCallback })),
        )),
        ...(await Promise.all(
          [1, 2, 3].map(() =>
            mux.connectedAccounts.link('user_1', otherConfig.id, { callbackUrl: appCallback }),
          ),
        )),
      ];

      const requests = [];
      const waiters: Array<Promise<unknown>> = [];
      let lateCallback: string | undefined;
      for (let index = 0; index < 25; index++) {
        const request = await session.authorize('octo', { callbackUrl: appCallback });
        requests.push(request);
        // each waits from its start, as an application would
        waiters.push(
          request.waitForConnection(60_000).then(
            () => undefined,
            (error: unknown) => error,
          ),
        );
        // the user of the first one signed in at the provider, and its callback comes back only later
        if (index === 0) lateCallback = await oauthServer.signIn(request.redirectUrl);
      }
      const started = performance.now();
      const replaced = requests.slice(0, 15);
      const pending = requests.slice(15);

      const initiated = await mux.connectedAccounts.list({ userIds: ['user_1'], statuses: ['INITIATED'] });
      const ofManaged = initiated.items.filter((each) => each.authConfigId === managedConfig);
      expect(ofManaged.map((each) => each.id).sort()).toEqual(
        pending.map((each) => each.connectedAccountId).sort(),
      );
      for (const request of replaced) {
        expect(await mux.connectedAccounts.get(request.connectedAccountId!)).toMatchObject({
          status: 'EXPIRED',
          statusReason: ATTEMPT_REPLACED_REASON,
        });
        expect((await mux.connectionRequests.get(request.id)).status).toBe('EXPIRED');
      }
      // the waiters of the replaced ones heard it at their next look, not at their timeout
      const heard = await Promise.all(waiters.slice(0, 15));
      expect(performance.now() - started).toBeLessThan(5_000);
      for (const error of heard) {
        expect(error).toMatchObject({ code: 'CONNECTION_REQUEST_EXPIRED' });
        expect((error as Error).message).toContain('replaced by newer connection attempts');
      }
      for (const request of pending) {
        expect((await mux.connectionRequests.get(request.id)).status).toBe('PENDING');
        await rejection(request.waitForConnection(0), 'CONNECTION_TIMEOUT');
      }
      // the late callback of a replaced attempt: the precise "expired", nothing connected
      const late = await fetch(lateCallback!, {
        redirect: 'manual',
        headers: { accept: 'application/json' },
      });
      expect(late.status).toBe(400);
      const body = (await late.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('CONNECTION_REQUEST_EXPIRED');
      expect(body.error.message).toContain(
        'newer connection attempts of the same user and auth config replaced it',
      );
      expect((await mux.connectedAccounts.get(replaced[0]!.connectedAccountId!)).status).toBe('EXPIRED');
      // its connect link too (the hosted connect page's "Continue")
      const link = await rejection(
        connectionRequestAuthorizationUrl(mux, replaced[1]!.id),
        'CONNECTION_REQUEST_EXPIRED',
      );
      expect(link.message).toContain('replaced it');

      // the other user's attempts, the other auth config's, and the connected account: untouched
      for (const request of others) {
        expect((await mux.connectedAccounts.get(request.connectedAccountId!)).status).toBe('INITIATED');
        expect((await mux.connectionRequests.get(request.id)).status).toBe('PENDING');
      }
      expect(await mux.connectedAccounts.get(connected.id)).toEqual(connected);
      // the application's late waiters are still told, and the pending ones can still connect
      const back = await fetch(await oauthServer.signIn(pending[0]!.redirectUrl), { redirect: 'manual' });
      expect(back.status).toBe(302);
      expect(await pending[0]!.waitForConnection(5_000)).toMatchObject({ status: 'ACTIVE' });
    });

    it('a store of your own without insertConnectionAttempt still starts attempts, bounded by time only', async () => {
      const store = await openStore(database.spec);
      opened.push(store);
      const without = new Proxy(store, {
        get: (target, key) =>
          key === 'insertConnectionAttempt' || key === 'deleteNeverConnectedAccountsBeyond'
            ? undefined
            : Reflect.get(target, key, target),
      }) as Store;
      const mux = new ToolMux({ ...octoOptions(oauthServer), store: without, secretKey, logger: quiet });
      opened.push(mux);
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const requests = [];
      for (let index = 0; index < 12; index++) {
        requests.push(await session.authorize('octo', { callbackUrl: appCallback }));
      }
      for (const request of requests) {
        expect((await mux.connectedAccounts.get(request.connectedAccountId!)).status).toBe('INITIATED');
        expect((await mux.connectionRequests.get(request.id)).status).toBe('PENDING');
      }
    });

    it('a start ends the oldest pending attempts past the bound, never its own, nor one a callback took, nor one expired by time', async () => {
      const db = await store();
      const base = Date.now() - 5 * MINUTE;
      const at = (second: number) => new Date(base + second * 1000);
      // one expired by time (16 minutes old, not yet EXPIRED by the pruner), one whose callback took
      // it, then 12 more
      const old = attempt(ago(16 * MINUTE));
      old.request.expiresAt = ago(6 * MINUTE);
      await db.insertConnectionAttempt!(old.account, old.request, N);
      const taken = attempt(at(0));
      await db.insertConnectionAttempt!(taken.account, taken.request, N);
      expect(await db.markConnectionRequestUsed(taken.request.id, at(1))).toBe(true);
      const made = [];
      for (let second = 1; second <= 12; second++) {
        const each = attempt(at(second));
        made.push(each);
        expect(await db.insertConnectionAttempt!(each.account, each.request, N)).toBe(second > N ? 1 : 0);
      }
      const accounts = await accountsOf(db);
      expect(accounts.get(old.account.id)!.status).toBe('INITIATED');
      expect(accounts.get(taken.account.id)!.status).toBe('INITIATED');
      expect(made.map((each) => accounts.get(each.account.id)!.status)).toEqual([
        'EXPIRED',
        'EXPIRED',
        ...Array(10).fill('INITIATED'),
      ]);
      // ended as the start that replaced it: the account changed then, its request expired then
      expect(accounts.get(made[0]!.account.id)).toMatchObject({
        statusReason: ATTEMPT_REPLACED_REASON,
        version: 2,
        updatedAt: at(11),
      });
      expect(await db.getConnectionRequest(made[0]!.request.id)).toEqual({
        ...made[0]!.request,
        expiresAt: at(11),
        replacedAt: at(11),
      });
      expect(await db.getConnectionRequest(made[1]!.request.id)).toMatchObject({
        expiresAt: at(12),
        replacedAt: at(12),
      });
      // one that expired by time, or a callback took, is not marked replaced
      expect((await db.getConnectionRequest(old.request.id))!.replacedAt ?? null).toBeNull();
      expect((await db.getConnectionRequest(taken.request.id))!.replacedAt ?? null).toBeNull();
      // a callback that read the request before it was replaced cannot take it after
      expect(await db.markConnectionRequestUsed(made[0]!.request.id, at(13))).toBe(false);
      // a start whose config is gone writes nothing
      const orphan = attempt(at(13), { authConfigId: 'ac_gone' });
      await rejection(
        db.insertConnectionAttempt!(orphan.account, orphan.request, N),
        'AUTH_CONFIG_NOT_FOUND',
      );
      expect(await db.getConnectedAccount(orphan.account.id)).toBeUndefined();
      expect(await db.getConnectionRequest(orphan.request.id)).toBeUndefined();
    });

    it('two stores starting attempts of one user and auth config at once leave exactly 10 pending, the newest', {
      timeout: 60_000,
    }, async () => {
      const first = await store();
      const second = await openStore(database.spec);
      opened.push(second);
      const base = Date.now() - 5 * MINUTE;
      // rounds: in each, both stores start one attempt at the same moment; after each, exactly the
      // attempts of the last 5 rounds are pending (none of them ended, however the two commits ran)
      const rounds: Array<Array<ReturnType<typeof attempt>>> = [];
      for (let round = 0; round < 12; round++) {
        const pair = [attempt(new Date(base + round * 1000)), attempt(new Date(base + round * 1000 + 1))];
        rounds.push(pair);
        await Promise.all([
          first.insertConnectionAttempt!(pair[0]!.account, pair[0]!.request, N),
          second.insertConnectionAttempt!(pair[1]!.account, pair[1]!.request, N),
        ]);
        const accounts = await accountsOf(first);
        const pendingNow = [...accounts.values()].filter((each) => each.status === 'INITIATED');
        const newest = rounds.slice(-N / 2).flat();
        expect(pendingNow.map((each) => each.id).sort()).toEqual(
          newest.map((each) => each.account.id).sort(),
        );
      }
      // a burst: 40 starts at once, 20 through each store, also for another user, who is not held up
      const burstAt = Date.now() - MINUTE;
      const burst = Array.from({ length: 40 }, (_, index) => attempt(new Date(burstAt + index)));
      const bystander = attempt(new Date(burstAt), { userId: 'user_2' });
      const ended = await Promise.all([
        ...burst.map((each, index) =>
          (index % 2 === 0 ? first : second).insertConnectionAttempt!(each.account, each.request, N),
        ),
        second.insertConnectionAttempt!(bystander.account, bystander.request, N),
      ]);
      const accounts = await accountsOf(first);
      const pendingNow = [...accounts.values()].filter(
        (each) => each.status === 'INITIATED' && each.userId === 'user_1',
      );
      expect(pendingNow).toHaveLength(N);
      // every other attempt ended once, as replaced, and its request expired
      expect(ended.reduce((sum, each) => sum + each, 0)).toBe(burst.length);
      const all = [...rounds.flat(), ...burst];
      for (const each of all) {
        const now = accounts.get(each.account.id)!;
        if (now.status === 'INITIATED') continue;
        expect(now).toMatchObject({ status: 'EXPIRED', statusReason: ATTEMPT_REPLACED_REASON, version: 2 });
        const request = (await first.getConnectionRequest(each.request.id))!;
        expect(request.expiresAt.getTime()).toBeLessThanOrEqual(Date.now());
      }
      expect(accounts.get(bystander.account.id)!.status).toBe('INITIATED');
    });

    it('accounts never connected beyond the newest 10 of a user and auth config go, with their requests; other users, configs and accounts that held credentials stay', async () => {
      const db = await store();
      const days = (count: number) => ago(count * 24 * 60 * MINUTE);
      const dead = (
        userId: string,
        authConfigId: string,
        updatedAt: Date,
        status: 'FAILED' | 'EXPIRED' = 'FAILED',
      ) => account({ userId, authConfigId, status, secret: null, connectedAt: null, updatedAt });
      // 14 of user_1 through ac_a, changed 1..14 hours ago, each with a request
      const mine = Array.from({ length: 14 }, (_, index) =>
        dead('user_1', 'ac_a', ago((index + 1) * 60 * MINUTE), index % 2 ? 'FAILED' : 'EXPIRED'),
      );
      const theirs = Array.from({ length: 12 }, (_, index) => dead('user_2', 'ac_a', ago(index * MINUTE)));
      const otherConfig = Array.from({ length: 3 }, () => dead('user_1', 'ac_b', days(2)));
      // older than all of them, and never deleted: they held credentials (or hold them now)
      const held = [
        account({ authConfigId: 'ac_a', status: 'EXPIRED', updatedAt: days(20) }),
        account({ authConfigId: 'ac_a', status: 'FAILED', secret: null, updatedAt: days(20) }),
        account({ authConfigId: 'ac_a', status: 'REVOKED', connectedAt: null, updatedAt: days(20) }),
        account({ authConfigId: 'ac_a', updatedAt: days(20) }),
      ];
      for (const each of [...mine, ...theirs, ...otherConfig, ...held]) await db.insertConnectedAccount(each);
      const requests = mine.map((each) =>
        connectionRequest({ connectedAccountId: each.id, authConfigId: 'ac_a', expiresAt: ago(MINUTE) }),
      );
      for (const each of requests) await db.insertConnectionRequest(each);

      // only users and configs with one changed since are looked at: none here
      expect(await db.deleteNeverConnectedAccountsBeyond!(N, ago(-MINUTE), 500)).toBe(0);
      // a batch at a time (4 of user_1's and 2 of user_2's are past the bound), then the pruner's run
      expect(await db.deleteNeverConnectedAccountsBeyond!(N, new Date(0), 3)).toBe(3);
      const logger = recordingLogger();
      expect(await connectionStatePruner(db, logger)!.run()).toBe(3);
      expect(logger.warnings).toEqual([]);
      const accounts = await accountsOf(db);
      expect(mine.map((each) => accounts.has(each.id))).toEqual([
        ...Array(10).fill(true),
        ...Array(4).fill(false),
      ]);
      for (const [index, request] of requests.entries()) {
        expect(await db.getConnectionRequest(request.id)).toEqual(index < 10 ? request : undefined);
      }
      for (const each of [...theirs.slice(0, 10), ...otherConfig, ...held]) {
        expect(accounts.get(each.id)).toEqual(each);
      }
      expect(theirs.slice(10).map((each) => accounts.has(each.id))).toEqual([false, false]);
    });

    it('25 attempts, then the pruner: 10 pending, the newest 10 replaced kept, the 5 oldest deleted', {
      timeout: 30_000,
    }, async () => {
      const db = await store();
      const base = Date.now() - 5 * MINUTE;
      const made = [];
      for (let index = 0; index < 25; index++) {
        const each = attempt(new Date(base + index * 1000));
        made.push(each);
        await db.insertConnectionAttempt!(each.account, each.request, N);
      }
      expect(await connectionStatePruner(db, recordingLogger())!.run()).toBe(5);
      const accounts = await accountsOf(db);
      expect(made.map((each) => accounts.get(each.account.id)?.status ?? 'deleted')).toEqual([
        ...Array(5).fill('deleted'),
        ...Array(10).fill('EXPIRED'),
        ...Array(10).fill('INITIATED'),
      ]);
      for (const each of made.slice(0, 5))
        expect(await db.getConnectionRequest(each.request.id)).toBeUndefined();
    });

    it('an account that ever held credentials is never deleted by the count bound, whatever its history; of the others the newest stay', async () => {
      const db = await store();
      type Step = 'connect' | 'fail' | 'expire' | 'disable' | 'enable' | 'revoke';
      const changesOf: Record<Step, Partial<ConnectedAccountRecord>> = {
        connect: { status: 'ACTIVE', secret: SEALED, connectedAt: new Date() },
        fail: { status: 'FAILED', statusReason: 'access_denied: no' },
        expire: { status: 'EXPIRED', statusReason: 'invalid_grant: gone' },
        disable: { status: 'INACTIVE' },
        enable: { status: 'ACTIVE' },
        revoke: { status: 'REVOKED' },
      };
      const history = fc.record({
        userId: fc.constantFrom('user_1', 'user_2'),
        authConfigId: fc.constantFrom('ac_a', 'ac_b'),
        start: fc.constantFrom<'attempt' | 'credentials'>('attempt', 'credentials'),
        steps: fc.array(fc.constantFrom<Step>('connect', 'fail', 'expire', 'disable', 'enable', 'revoke'), {
          maxLength: 4,
        }),
        // when it was last changed: ties included, which the id breaks
        changedMinutesAgo: fc.integer({ min: 0, max: 6 }),
        withRequest: fc.boolean(),
      });
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(history, { minLength: 1, maxLength: 14 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 5 }),
          async (histories, keep, batch) => {
            // each run its own users, so that earlier runs' accounts do not count
            round++;
            const made: Array<{
              last: ConnectedAccountRecord;
              held: boolean;
              request?: ConnectionRequestRecord;
            }> = [];
            for (const { userId, authConfigId, start, steps, changedMinutesAgo, withRequest } of histories) {
              const record = account({
                userId: `${userId}_${round}`,
                authConfigId,
                ...(start === 'attempt' ? { status: 'INITIATED', secret: null, connectedAt: null } : {}),
              });
              await db.insertConnectedAccount(record);
              let held = start === 'credentials';
              for (const step of steps) {
                held ||= step === 'connect';
                await db.updateConnectedAccount(record.id, changesOf[step]);
              }
              // its last change at a chosen time (the pruner orders by it), past the store
              const updatedAt = ago(changedMinutesAgo * MINUTE);
              const column = database.spec.startsWith('sqlite:')
                ? String(updatedAt.getTime())
                : `'${updatedAt.toISOString()}'`;
              await database.exec(
                `UPDATE toolmux_connected_accounts SET updated_at = ${column} WHERE id = '${record.id}'`,
              );
              const last = (await db.getConnectedAccount(record.id))!;
              let request: ConnectionRequestRecord | undefined;
              if (withRequest) {
                request = connectionRequest({
                  connectedAccountId: record.id,
                  authConfigId,
                  expiresAt: ago(MINUTE),
                });
                await db.insertConnectionRequest(request);
              }
              made.push({ last, held, request });
            }
            while ((await db.deleteNeverConnectedAccountsBeyond!(keep, ago(10 * MINUTE), batch)) > 0);
            // of each user and config, the accounts never connected, newest change first: `keep` stay
            const neverConnected = (each: ConnectedAccountRecord) =>
              ['EXPIRED', 'FAILED'].includes(each.status) &&
              each.secret === null &&
              each.connectedAt === null;
            const groups = new Map<string, ConnectedAccountRecord[]>();
            for (const { last } of made) {
              if (!neverConnected(last)) continue;
              const key = `${last.userId} ${last.authConfigId}`;
              groups.set(key, [...(groups.get(key) ?? []), last]);
            }
            const kept = new Set<string>();
            for (const group of groups.values()) {
              group.sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : -1));
              for (const each of group.slice(0, keep)) kept.add(each.id);
            }
            for (const { last, held, request } of made) {
              const now = await db.getConnectedAccount(last.id);
              if (held || !neverConnected(last) || kept.has(last.id)) {
                // untouched, credentials and all
                expect(now).toEqual(last);
                if (request) expect(await db.getConnectionRequest(request.id)).toEqual(request);
              } else {
                expect(now, `${last.id} ${last.status}`).toBeUndefined();
                if (request) expect(await db.getConnectionRequest(request.id)).toBeUndefined();
              }
              // the property of the bound itself: what held credentials is never in the groups
              if (held) expect(neverConnected(last)).toBe(false);
            }
          },
        ),
        { numRuns: database.spec.startsWith('sqlite:') ? 50 : 20 },
      );
      // about 2,000 statements on PostgreSQL: 8.5 s alone at load 18, past 20 s in a loaded CI
    }, 90_000);
  });
});
