import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/types.js';
import { databaseBackends, databasePerTest, pastTime, quiet } from '../test/auth-fixtures.js';
import {
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { ToolMux } from '../toolmux.js';

/**
 * What happens to an OAuth connection when something else acts on its account while its callback is
 * exchanging the code for tokens (between the callback taking the request and storing the tokens):
 * the user starting another connection, the application deleting the account, or a new connection
 * claiming the attempt's alias.
 */

const secretKey = Buffer.alloc(32, 9).toString('base64');
const appCallback = 'http://localhost:3000/connected';

let oauthServer: TestOAuthServerWithCallback;

beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

const backends = await databaseBackends();

describe.each(backends)('an OAuth callback under way on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'races', () => {
    const stores: Store[] = [];
    const { database, opened } = databasePerTest(open, {
      afterClose: async () => {
        await Promise.all(stores.splice(0).map((store) => store.close()));
        oauthServer.current = undefined;
      },
    });
    /** Runs while the callback's code exchange is in flight (once), before the token request goes out. */
    let duringExchange: (() => Promise<void>) | undefined;
    /** The access tokens the token endpoint issued. */
    let issued: string[];

    beforeEach(() => {
      issued = [];
      duringExchange = undefined;
    });

    const exchangeFetch: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url === oauthServer.tokenUrl) {
        const hook = duringExchange;
        duringExchange = undefined;
        await hook?.();
      }
      const response = await fetch(input, init);
      if (url === oauthServer.tokenUrl) {
        const body = (await response.clone().json()) as { access_token?: string };
        if (body.access_token) issued.push(body.access_token);
      }
      return response;
    };

    function setup(store: string | Store = database.spec): ToolMux {
      const mux = new ToolMux({
        toolkits: [octoToolkit(oauthServer).toolkit],
        store,
        secretKey,
        logger: quiet,
        fetch: exchangeFetch,
        oauthRedirectUri: oauthServer.redirectUri,
        managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
      });
      opened.push(mux);
      oauthServer.current = mux;
      return mux;
    }

    /** Signs in at the request's link and opens the callback; the query of the application's redirect. */
    async function finish(redirectUrl: string): Promise<URLSearchParams> {
      const callback = await oauthServer.signIn(redirectUrl);
      const response = await fetch(callback, { redirect: 'manual' });
      expect(response.status).toBe(302);
      return new URL(response.headers.get('location')!).searchParams;
    }

    it('the user starting another connection as the request expires does not drop the one being completed', async () => {
      const mux = setup();
      const session = await mux.create('ada', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      // The callback took the request in its last second; while it trades the code, the request's
      // 10 minutes end and the user starts another connection, which drops abandoned attempts.
      duringExchange = async () => {
        await database.exec(
          `UPDATE toolmux_connected_accounts SET created_at = ${pastTime(database.spec, 10 * 60_000 + 1_000)} WHERE id = '${request.connectedAccountId}'`,
        );
        await session.authorize('octo', { callbackUrl: appCallback });
      };
      const back = await finish(request.redirectUrl);
      expect(Object.fromEntries(back)).toEqual({
        status: 'success',
        connected_account_id: request.connectedAccountId,
      });
      expect((await mux.connectedAccounts.get(request.connectedAccountId!)).status).toBe('ACTIVE');
    });

    it('an account deleted while its callback trades the code keeps no live tokens at the provider', async () => {
      const mux = setup();
      const session = await mux.create('ada', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      duringExchange = () => mux.connectedAccounts.delete(request.connectedAccountId!);
      const back = await finish(request.redirectUrl);
      expect(back.get('status')).toBe('failed');
      expect(back.get('error')).toBe('account_deleted');
      // the provider issued tokens for a connection toolmux no longer has: revoked (in the background,
      // which close() waits for), not left live
      await mux.close();
      expect(issued).toHaveLength(1);
      expect(await oauthServer.provider.AccessToken.find(issued[0]!)).toBeUndefined();
    });

    it('a new connection under an alias, checked just before the attempt under it connected, gets no alias of it', async () => {
      // The store, with one pause: the second authorize()'s alias check has read nobody holding the
      // alias, and waits until the first attempt's callback has connected that attempt under it.
      const real = await openStore(database.spec);
      stores.push(real);
      let connected!: () => void;
      const callbackDone = new Promise<void>((resolve) => {
        connected = resolve;
      });
      let reached!: () => void;
      const atPause = new Promise<void>((resolve) => {
        reached = resolve;
      });
      let pausing = false;
      const paused: Store = new Proxy(real, {
        get(target, property) {
          const value = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          const method = value as (...args: unknown[]) => Promise<unknown>;
          if (property === 'listConnectedAccounts') {
            return async (query: { aliases?: string[] }) => {
              const result = await method.call(target, query);
              if (pausing && query.aliases) {
                pausing = false;
                reached();
                await callbackDone;
              }
              return result;
            };
          }
          if (property === 'activateConnectedAccount') {
            return async (...args: unknown[]) => {
              const result = await method.call(target, ...args);
              connected();
              return result;
            };
          }
          return method.bind(target);
        },
      });
      const mux = setup(paused);
      const session = await mux.create('ada', { toolkits: ['octo'], multiAccount: { enable: true } });
      const first = await session.authorize('octo', { alias: 'work', callbackUrl: appCallback });
      // the first attempt holds no alias yet: the second authorize() finds it free, then the callback lands
      pausing = true;
      const second = session.authorize('octo', { alias: 'work', callbackUrl: appCallback });
      await atPause;
      expect((await finish(first.redirectUrl)).get('status')).toBe('success');
      const request = await second;
      const account = await mux.connectedAccounts.get(first.connectedAccountId!);
      expect(account).toMatchObject({ status: 'ACTIVE', alias: 'work' });
      // the connected account keeps its alias: the second connection is not kept, its tokens revoked
      const back = await finish(request.redirectUrl);
      expect(back.get('status')).toBe('failed');
      expect(back.get('error')).toBe('alias_taken');
      expect((await mux.connectedAccounts.get(first.connectedAccountId!)).alias).toBe('work');
      await mux.close(); // the revocation runs in the background, and close() waits for it
      expect(issued).toHaveLength(2);
      expect(await oauthServer.provider.AccessToken.find(issued[1]!)).toBeUndefined();
      expect(await oauthServer.provider.AccessToken.find(issued[0]!)).toBeDefined();
    });

    /** Ada's connected octo account, through `mux`. */
    async function connectedAccount(mux: ToolMux): Promise<string> {
      const session = await mux.create('ada', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      expect((await finish(request.redirectUrl)).get('status')).toBe('success');
      return request.connectedAccountId!;
    }

    it('enable() and disable() called at once on two instances both succeed', async () => {
      const mux = setup();
      const other = setup();
      oauthServer.current = mux;
      const id = await connectedAccount(mux);
      for (let round = 0; round < 3; round++) {
        const disabled = await Promise.all([
          mux.connectedAccounts.disable(id),
          other.connectedAccounts.disable(id),
        ]);
        expect(disabled.map((account) => account.status)).toEqual(['INACTIVE', 'INACTIVE']);
        const enabled = await Promise.all([
          mux.connectedAccounts.enable(id),
          other.connectedAccounts.enable(id),
        ]);
        expect(enabled.map((account) => account.status)).toEqual(['ACTIVE', 'ACTIVE']);
      }
    });
  });
});
