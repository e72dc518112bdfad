import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/types.js';
import { databaseBackends, databasePerTest, quiet, rejection } from '../test/auth-fixtures.js';
import {
  octoToolkit,
  signInToSuccess,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { createGmailLikeToolkit } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

/**
 * `authConfigs.delete()` deletes the config with every account and connection request made through
 * it. Accounts and requests made through it at the same moment, on this instance or another, must not
 * outlive it: such an account was listed as ACTIVE, held its alias and counted towards the account
 * limit, yet no call could use it (its config was gone), and nothing deleted it.
 */

const secretKey = Buffer.alloc(32, 7).toString('base64');
const backends = await databaseBackends();

/** A real authorization server (oidc-provider) with token revocation, and the callback server in front. */
let oauthServer: TestOAuthServerWithCallback;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

/** A fetch that records the tokens the authorization server's token endpoint answers. */
function recordingTokens(issued: { accessTokens: string[]; refreshTokens: string[] }): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (String(input instanceof Request ? input.url : input) === oauthServer.tokenUrl) {
      const json = (await response.clone().json()) as { access_token?: string; refresh_token?: string };
      if (json.access_token) issued.accessTokens.push(json.access_token);
      if (json.refresh_token) issued.refreshTokens.push(json.refresh_token);
    }
    return response;
  };
}

describe.each(backends)(
  'an auth config deleted while accounts are made through it, on $name',
  ({ skipReason, open }) => {
    describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'races', () => {
      const { database, opened } = databasePerTest(open, {
        afterClose: () => {
          oauthServer.current = undefined;
        },
      });

      function setup(store: string | Store = database.spec, options: { fetch?: typeof fetch } = {}): ToolMux {
        const mux = new ToolMux({
          toolkits: [
            createGmailLikeToolkit({ 'key-1': 'ada@example.com' }).toolkit,
            octoToolkit(oauthServer).toolkit,
          ],
          store,
          logger: quiet,
          secretKey,
          oauthRedirectUri: oauthServer.redirectUri,
          ...options,
        });
        opened.push(mux);
        return mux;
      }

      /** The accounts and connection requests of the database whose auth config is gone. */
      async function orphans(): Promise<number> {
        const [row] = await database.rows(
          `SELECT (SELECT count(*) FROM toolmux_connected_accounts AS account WHERE NOT EXISTS
           (SELECT 1 FROM toolmux_auth_configs AS config WHERE config.id = account.auth_config_id))
         + (SELECT count(*) FROM toolmux_connection_requests AS request WHERE NOT EXISTS
           (SELECT 1 FROM toolmux_auth_configs AS config WHERE config.id = request.auth_config_id)) AS n`,
        );
        return Number(row!.n);
      }

      /**
       * A store of `spec` whose `method` runs `before` (once) and then the real write: the moment after
       * toolmux read the auth config and before it wrote what it made from it.
       */
      async function pausingStore(
        method: 'insertConnectedAccount' | 'insertFieldsRequest' | 'deleteAuthConfig',
        before: () => Promise<void>,
      ): Promise<Store> {
        const store = await openStore(database.spec);
        const write = store[method]!.bind(store) as (...args: never[]) => Promise<unknown>;
        let pending: (() => Promise<void>) | undefined = before;
        store[method] = (async (...args: never[]) => {
          const hook = pending;
          pending = undefined;
          await hook?.();
          return write(...args);
        }) as never;
        return store;
      }

      it('connectedAccounts.create() that read the config before it was deleted is AUTH_CONFIG_NOT_FOUND and keeps nothing', async () => {
        const other = setup();
        const config = await other.authConfigs.create('gmail', { type: 'api_key' });
        const mux = setup(
          await pausingStore('insertConnectedAccount', () => other.authConfigs.delete(config.id)),
        );
        const error = await rejection(
          mux.connectedAccounts.create('ada', config.id, { apiKey: 'key-1' }, { alias: 'work' }),
          'AUTH_CONFIG_NOT_FOUND',
        );
        expect(error.message).toContain(config.id);
        expect(await orphans()).toBe(0);
        expect((await other.connectedAccounts.list({ userIds: ['ada'] })).items).toEqual([]);
      });

      it("connectedAccounts.create() refused as its config is deleted leaves an expired account's alias with it", async () => {
        const other = setup();
        const kept = await other.authConfigs.create('gmail', { type: 'api_key' });
        const expired = await other.connectedAccounts.create(
          'ada',
          kept.id,
          { apiKey: 'key-1' },
          { alias: 'work' },
        );
        await database.exec(
          `UPDATE toolmux_connected_accounts SET status = 'EXPIRED' WHERE id = '${expired.id}'`,
        );
        const config = await other.authConfigs.create('gmail', { type: 'api_key' });
        const mux = setup(
          await pausingStore('insertConnectedAccount', () => other.authConfigs.delete(config.id)),
        );
        await rejection(
          mux.connectedAccounts.create('ada', config.id, { apiKey: 'key-1' }, { alias: 'work' }),
          'AUTH_CONFIG_NOT_FOUND',
        );
        // on the code before: alias null, taken before the insert that was then refused
        expect(await other.connectedAccounts.get(expired.id)).toMatchObject({
          status: 'EXPIRED',
          alias: 'work',
        });
        // a create that is made takes it
        const made = await mux.connectedAccounts.create(
          'ada',
          kept.id,
          { apiKey: 'key-1' },
          { alias: 'work' },
        );
        expect(made.alias).toBe('work');
        expect(await other.connectedAccounts.get(expired.id)).toMatchObject({
          status: 'EXPIRED',
          alias: null,
        });
      });

      it('an OAuth connection completed after the deletion took its accounts and before the config went has its tokens revoked', async () => {
        const issued = { accessTokens: [] as string[], refreshTokens: [] as string[] };
        const connecting = setup(database.spec, { fetch: recordingTokens(issued) });
        oauthServer.current = connecting;
        const config = await connecting.authConfigs.create('octo', {
          type: 'oauth2',
          clientId: oauthServer.clientId,
          clientSecret: oauthServer.clientSecret,
        });
        let connected: string | undefined;
        // the deleting instance deleted every account of the config (none yet); the user connects now,
        // through the other instance: the code is traded and the tokens stored before the config goes
        const deleting = setup(
          await pausingStore('deleteAuthConfig', async () => {
            const request = await connecting.connectedAccounts.link('ada', config.id, {
              callbackUrl: 'http://localhost:3000/connected',
            });
            connected = await signInToSuccess(oauthServer, request);
          }),
        );
        await deleting.authConfigs.delete(config.id);
        await rejection(connecting.connectedAccounts.get(connected!), 'CONNECTED_ACCOUNT_NOT_FOUND');
        expect(await orphans()).toBe(0);
        expect(issued.accessTokens).toHaveLength(1);
        expect(issued.refreshTokens).toHaveLength(1);
        // revoked at the provider (RFC 7009); on the code before, both were deleted here and stayed live
        expect(await oauthServer.provider.AccessToken.find(issued.accessTokens[0]!)).toBeUndefined();
        expect(await oauthServer.provider.RefreshToken.find(issued.refreshTokens[0]!)).toBeUndefined();
        const userinfo = await fetch(oauthServer.userinfoUrl, {
          headers: { authorization: `Bearer ${issued.accessTokens[0]}` },
        });
        expect(userinfo.status).toBe(401);
      });

      // `authConfigs.delete()` revokes the tokens of an account given credentials through the config
      // after it listed its accounts (an OAuth callback landing just then). It used to delete that
      // account with the config and revoke after the commit: a process that died between the two
      // left the tokens live at the provider, and neither the account's sealed tokens nor the config's
      // client secret to revoke them with, or to retry. The store now answers such accounts without
      // deleting anything; they are revoked and deleted one by one first. Simulated deaths: the
      // store's call answers, then nothing after it runs.
      it.each(['after the store answered the accounts held', 'after the config was deleted'] as const)(
        'a process that dies %s leaves no token live without a row to revoke it with',
        async (when) => {
          const issued = { accessTokens: [] as string[], refreshTokens: [] as string[] };
          const connecting = setup(database.spec, { fetch: recordingTokens(issued) });
          oauthServer.current = connecting;
          const config = await connecting.authConfigs.create('octo', {
            type: 'oauth2',
            clientId: oauthServer.clientId,
            clientSecret: oauthServer.clientSecret,
          });
          const store = await openStore(database.spec);
          const write = store.deleteAuthConfig.bind(store);
          let connected = false;
          store.deleteAuthConfig = async (id, options) => {
            if (!connected) {
              connected = true;
              const request = await connecting.connectedAccounts.link('ada', config.id, {
                callbackUrl: 'http://localhost:3000/connected',
              });
              const callback = await oauthServer.signIn(request.redirectUrl);
              await fetch(callback, { redirect: 'manual' });
            }
            const answer = await write(id, options);
            const held = typeof answer === 'object' && !Array.isArray(answer);
            if (held === (when === 'after the store answered the accounts held')) throw new Error('killed');
            return answer;
          };
          const deleting = setup(store);
          await expect(deleting.authConfigs.delete(config.id)).rejects.toThrow('killed');
          expect(issued.refreshTokens).toHaveLength(1);
          const live = async () =>
            (await oauthServer.provider.RefreshToken.find(issued.refreshTokens[0]!)) !== undefined ||
            (await oauthServer.provider.AccessToken.find(issued.accessTokens[0]!)) !== undefined;
          const rows = async () => {
            const [row] = await database.rows(
              'SELECT (SELECT count(*) FROM toolmux_connected_accounts) + (SELECT count(*) FROM toolmux_auth_configs) AS n',
            );
            return Number(row!.n);
          };
          if (when === 'after the config was deleted') {
            // on the code before: both deleted, the tokens live
            expect(await rows()).toBe(0);
            expect(await live()).toBe(false);
          } else {
            // nothing deleted yet: the tokens are live, with the rows to revoke them with
            expect(await live()).toBe(true);
            expect(await rows()).toBe(2);
            // deleting again (the process restarted) revokes them
            await connecting.authConfigs.delete(config.id);
            expect(await live()).toBe(false);
            expect(await rows()).toBe(0);
          }
        },
      );

      it('a connection request started as its config is deleted is AUTH_CONFIG_NOT_FOUND and keeps nothing', async () => {
        const other = setup();
        const config = await other.authConfigs.create('gmail', { type: 'api_key' });
        const mux = setup(
          // the store's write of a credential-form request (with the count bound's, in one transaction)
          await pausingStore('insertFieldsRequest', () => other.authConfigs.delete(config.id)),
        );
        await rejection(mux.connectedAccounts.link('ada', config.id), 'AUTH_CONFIG_NOT_FOUND');
        expect(await orphans()).toBe(0);
      });

      it('accounts created and requests completed on two instances while the config is deleted do not outlive it', async () => {
        const muxes = [setup(), setup()];
        let acknowledged = 0;
        for (let round = 0; round < 10; round++) {
          const config = await muxes[0]!.authConfigs.create('gmail', { type: 'api_key' });
          const requests = await Promise.all(
            Array.from({ length: 6 }, (_, index) =>
              muxes[index % 2]!.connectedAccounts.link(`u${index}`, config.id),
            ),
          );
          const made = [
            ...Array.from({ length: 10 }, (_, index) =>
              muxes[index % 2]!.connectedAccounts.create(`user${index}`, config.id, { apiKey: 'key-1' }),
            ),
            ...requests.map((request, index) =>
              muxes[index % 2]!.connectionRequests.complete(request.id, { apiKey: 'key-1' }),
            ),
          ].map((making) =>
            making.then(
              () => {
                acknowledged++;
              },
              (error: unknown) => {
                // made after the deletion: refused, as an unknown config or a request that is gone
                const code = (error as { code?: string }).code;
                if (code !== 'AUTH_CONFIG_NOT_FOUND' && code !== 'CONNECTION_REQUEST_NOT_FOUND') throw error;
              },
            ),
          );
          // the deletion starts while the writes above are on their way, at a different point each round
          for (let turn = 0; turn < round; turn++) await new Promise((resolve) => setImmediate(resolve));
          await muxes[round % 2]!.authConfigs.delete(config.id);
          await Promise.all(made);
          expect(await orphans(), `round ${round}`).toBe(0);
        }
        // some made it before the deletion, and went with it
        expect(acknowledged).toBeGreaterThan(0);
      });
    });
  },
);
