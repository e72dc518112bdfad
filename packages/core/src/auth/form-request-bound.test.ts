import { describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.js';
import type { ConnectionRequestRecord, Store } from '../store/types.js';
import { databaseBackends, databasePerTest, quiet, rejection } from '../test/auth-fixtures.js';
import { account, authConfig, connectionRequest } from '../test/auth-store-records.js';
import { createGmailLikeToolkit } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { ATTEMPTS_PER_USER_AND_CONFIG, CONNECTION_REQUEST_TTL_MS } from './connection-requests.js';

/**
 * The count bound of credential-form requests (api_key, bearer, basic): at most 10 open per user and
 * auth config, a new one ends the oldest at once in its insert's transaction (they have no account,
 * so until now 10,000 `link()` calls kept 10,000 open links). Both stores, SQLite on a file and
 * PostgreSQL, with two stores on one database racing.
 */

const secretKey = Buffer.alloc(32, 17).toString('base64');
const appCallback = 'http://localhost:3000/connected';
const MINUTE = 60_000;
const N = ATTEMPTS_PER_USER_AND_CONFIG;

/** A form request as `#startFields` makes it, of `at`. */
function formRequest(
  at: Date,
  overrides: { userId?: string; authConfigId?: string } = {},
): ConnectionRequestRecord {
  return connectionRequest({
    kind: 'fields',
    connectedAccountId: null,
    userId: overrides.userId ?? 'user_1',
    authConfigId: overrides.authConfigId ?? 'ac_a',
    stateHash: null,
    secret: null,
    redirectUri: null,
    createdAt: at,
    expiresAt: new Date(at.getTime() + CONNECTION_REQUEST_TTL_MS),
  });
}

const backends = await databaseBackends();

describe.each(backends)('the count bound of credential-form requests on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'bound', () => {
    const { database, opened } = databasePerTest(open);

    /** A store on the test database with auth configs `ac_a` and `ac_b`. */
    async function store(): Promise<Store> {
      const made = await openStore(database.spec);
      opened.push(made);
      for (const id of ['ac_a', 'ac_b']) {
        if (!(await made.getAuthConfig(id))) {
          await made.insertAuthConfig(authConfig({ id, toolkit: 'gmail', type: 'api_key', secret: null }));
        }
      }
      return made;
    }

    function muxOn(store: string | Store = database.spec): ToolMux {
      const mux = new ToolMux({
        toolkits: [createGmailLikeToolkit({}).toolkit],
        store,
        secretKey,
        logger: quiet,
      });
      opened.push(mux);
      return mux;
    }

    it('25 form requests of one user and auth config leave the newest 10 pending; the 15 oldest expire as replaced, their waiters hear it at once, and a completion of one stores nothing', {
      timeout: 60_000,
    }, async () => {
      const mux = muxOn();
      const config = await mux.authConfigs.create('gmail', { type: 'api_key' });
      const otherConfig = await mux.authConfigs.create('gmail', { type: 'api_key' });
      // another user's requests, and the same user's through another auth config
      const others = [
        ...(await Promise.all([1, 2, 3].map(() => mux.connectedAccounts.link('user_2', config.id)))),
        ...(await Promise.all([1, 2, 3].map(() => mux.connectedAccounts.link('user_1', otherConfig.id)))),
      ];
      const session = await mux.create('user_1', { authConfigs: { gmail: config.id } });
      const requests = [];
      const waiters: Array<Promise<unknown>> = [];
      for (let index = 0; index < 25; index++) {
        // both ways of starting one: link() and authorize()
        const request =
          index % 2 === 0
            ? await mux.connectedAccounts.link('user_1', config.id, { callbackUrl: appCallback })
            : await session.authorize('gmail', { callbackUrl: appCallback });
        expect(request.redirectUrl).toContain(`/connect/${request.id}`);
        requests.push(request);
        waiters.push(
          request.waitForConnection(60_000).then(
            () => undefined,
            (error: unknown) => error,
          ),
        );
      }
      const started = performance.now();
      const replaced = requests.slice(0, 15);
      const pending = requests.slice(15);
      for (const request of replaced) {
        expect(await mux.connectionRequests.get(request.id)).toMatchObject({
          status: 'EXPIRED',
          replacedByNewerRequests: true,
        });
      }
      for (const request of pending) {
        expect(await mux.connectionRequests.get(request.id)).toMatchObject({
          status: 'PENDING',
          replacedByNewerRequests: false,
        });
      }
      // the waiters of the replaced ones heard it at their next look, not at their timeout
      const heard = await Promise.all(waiters.slice(0, 15));
      expect(performance.now() - started).toBeLessThan(5_000);
      for (const error of heard) {
        expect(error).toMatchObject({ code: 'CONNECTION_REQUEST_EXPIRED' });
        expect((error as Error).message).toContain('replaced by newer connection attempts');
      }
      // the form of a replaced one, submitted: refused as replaced, and nothing stored
      const refused = await rejection(
        mux.connectionRequests.complete(replaced[3]!.id, { apiKey: 'sk-replaced' }),
        'CONNECTION_REQUEST_EXPIRED',
      );
      expect(refused.message).toContain('replaced it');
      expect(refused.details).toMatchObject({ replaced: true });
      const accounts = await mux.connectedAccounts.list({ userIds: ['user_1'] });
      expect(accounts.items).toEqual([]);
      // the other user's requests and the other config's: untouched
      for (const request of others) {
        expect((await mux.connectionRequests.get(request.id)).status).toBe('PENDING');
      }
      // a pending one still completes, and its waiter hears it
      const account = await mux.connectionRequests.complete(pending[0]!.id, { apiKey: 'sk-pending' });
      expect(await waiters[15]).toBeUndefined();
      expect(
        (await mux.connectedAccounts.list({ userIds: ['user_1'] })).items.map((each) => each.id),
      ).toEqual([account.id]);
    });

    it('an insert ends the oldest open form requests past the bound, never its own, nor a completed one, nor one expired by time', async () => {
      const db = await store();
      const base = Date.now() - 5 * MINUTE;
      const at = (second: number) => new Date(base + second * 1000);
      // one expired by time, one completed, then 12 more
      const old = formRequest(new Date(base - 16 * MINUTE));
      old.expiresAt = new Date(base - 6 * MINUTE);
      expect(await db.insertFieldsRequest!(old, N)).toBe(0);
      const done = formRequest(at(0));
      await db.insertFieldsRequest!(done, N);
      expect(
        await db.completeConnectionRequest(
          done.id,
          account({ userId: 'user_1', authConfigId: 'ac_a', toolkit: 'gmail' }),
          at(0.5),
        ),
      ).toBe(true);
      const made = [];
      for (let second = 1; second <= 12; second++) {
        const each = formRequest(at(second));
        made.push(each);
        expect(await db.insertFieldsRequest!(each, N)).toBe(second > N ? 1 : 0);
      }
      expect(await db.getConnectionRequest(old.id)).toEqual(old);
      expect((await db.getConnectionRequest(done.id))!.status).toBe('COMPLETED');
      // ended as the insert that replaced it: it expired then, and says it was replaced
      expect(await db.getConnectionRequest(made[0]!.id)).toEqual({
        ...made[0]!,
        expiresAt: at(11),
        replacedAt: at(11),
      });
      expect(await db.getConnectionRequest(made[1]!.id)).toMatchObject({
        expiresAt: at(12),
        replacedAt: at(12),
      });
      for (const each of made.slice(2)) expect(await db.getConnectionRequest(each.id)).toEqual(each);
      // a completion that read it before it was replaced cannot take it after
      expect(
        await db.completeConnectionRequest(
          made[0]!.id,
          account({ userId: 'user_1', authConfigId: 'ac_a', toolkit: 'gmail' }),
          at(13),
        ),
      ).toBe(false);
      // an insert whose config is gone writes nothing
      const orphan = formRequest(at(13), { authConfigId: 'ac_gone' });
      await rejection(db.insertFieldsRequest!(orphan, N), 'AUTH_CONFIG_NOT_FOUND');
      expect(await db.getConnectionRequest(orphan.id)).toBeUndefined();
    });

    it('two stores inserting form requests of one user and auth config at once leave exactly 10 open, the newest', {
      timeout: 60_000,
    }, async () => {
      const first = await store();
      const second = await openStore(database.spec);
      opened.push(second);
      const base = Date.now() - 5 * MINUTE;
      const all: ConnectionRequestRecord[] = [];
      const openOf = async (userId: string) => {
        const now = new Date();
        const states = await Promise.all(all.map((each) => first.getConnectionRequest(each.id)));
        return states.filter(
          (each) => each!.userId === userId && each!.expiresAt > now && each!.status === 'PENDING',
        );
      };
      // rounds: in each, both stores insert one at the same moment; after each, exactly the requests
      // of the last 5 rounds are open
      const rounds: ConnectionRequestRecord[][] = [];
      for (let round = 0; round < 12; round++) {
        const pair = [
          formRequest(new Date(base + round * 1000)),
          formRequest(new Date(base + round * 1000 + 1)),
        ];
        rounds.push(pair);
        all.push(...pair);
        await Promise.all([
          first.insertFieldsRequest!(pair[0]!, N),
          second.insertFieldsRequest!(pair[1]!, N),
        ]);
        const newest = rounds.slice(-N / 2).flat();
        expect((await openOf('user_1')).map((each) => each!.id).sort()).toEqual(
          newest.map((each) => each.id).sort(),
        );
      }
      // a burst: 40 inserts at once, 20 through each store, and another user's, who is not held up
      const burstAt = Date.now() - MINUTE;
      const burst = Array.from({ length: 40 }, (_, index) => formRequest(new Date(burstAt + index)));
      const bystander = formRequest(new Date(burstAt), { userId: 'user_2' });
      all.push(...burst, bystander);
      const ended = await Promise.all([
        ...burst.map((each, index) => (index % 2 === 0 ? first : second).insertFieldsRequest!(each, N)),
        second.insertFieldsRequest!(bystander, N),
      ]);
      expect(await openOf('user_1')).toHaveLength(N);
      // every other one ended once, as replaced
      expect(ended.reduce((sum, each) => sum + each, 0)).toBe(burst.length);
      for (const each of [...rounds.flat(), ...burst]) {
        const now = (await first.getConnectionRequest(each.id))!;
        if (now.expiresAt > new Date()) continue;
        expect(now.replacedAt).toEqual(now.expiresAt);
      }
      expect((await openOf('user_2')).map((each) => each!.id)).toEqual([bystander.id]);
    });

    it('a store of your own without insertFieldsRequest still starts form requests, bounded by time only', async () => {
      const store = await openStore(database.spec);
      opened.push(store);
      const without = new Proxy(store, {
        get: (target, key) => (key === 'insertFieldsRequest' ? undefined : Reflect.get(target, key, target)),
      }) as Store;
      const mux = muxOn(without);
      const config = await mux.authConfigs.create('gmail', { type: 'api_key' });
      const requests = [];
      for (let index = 0; index < 12; index++) {
        requests.push(await mux.connectedAccounts.link('user_1', config.id));
      }
      for (const request of requests) {
        expect((await mux.connectionRequests.get(request.id)).status).toBe('PENDING');
      }
      expect(await mux.connectionRequests.complete(requests[0]!.id, { apiKey: 'sk-1' })).toMatchObject({
        status: 'ACTIVE',
      });
    });
  });
});
