import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/types.js';
import { databaseBackends, databasePerTest, quiet } from '../test/auth-fixtures.js';
import {
  octoToolkit,
  serveFetchHandler,
  startTestOAuthServer,
  type TestOAuthServer,
} from '../test/oauth-server.js';
import { createGmailLikeToolkit } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

/**
 * `multiAccount.maxAccountsPerToolkit` holds when accounts are made, not only when connections start:
 * requests started while the user had room, then completed at once (credential forms submitted, OAuth
 * callbacks landing), on one ToolMux or on two sharing the database, connect at most the limit.
 */

const secretKey = Buffer.alloc(32, 5).toString('base64');
const appCallback = 'http://localhost:3000/connected';
const MAX = 2;

/** Two callback servers (one per ToolMux) in front of one real authorization server. */
let oauthServer: TestOAuthServer;
const callbackServers: Array<{ url: string; close(): Promise<void> }> = [];
const callbackTargets: Array<ToolMux | undefined> = [undefined, undefined];

beforeAll(async () => {
  for (const index of [0, 1]) {
    callbackServers.push(
      await serveFetchHandler((request) => callbackTargets[index]!.auth.handleCallback(request)),
    );
  }
  oauthServer = await startTestOAuthServer({
    redirectUris: callbackServers.map((server) => `${server.url}/auth/callback`),
  });
});
afterAll(async () => {
  await oauthServer.close();
  await Promise.all(callbackServers.map((server) => server.close()));
});

/** The access tokens the authorization server issued to the ToolMux instances. */
const issued: string[] = [];
const recordingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (String(input instanceof Request ? input.url : input) === oauthServer.tokenUrl) {
    const body = (await response.clone().json()) as { access_token?: string };
    if (body.access_token) issued.push(body.access_token);
  }
  return response;
};

/** What each settled promise ended as: the value, or the ToolMuxError's code. */
async function outcomes<T>(promises: Array<Promise<T>>): Promise<Array<T | string>> {
  const settled = await Promise.allSettled(promises);
  return settled.map((each) => {
    if (each.status === 'fulfilled') return each.value;
    const error = each.reason as unknown;
    if (ToolMuxError.isInstance(error)) return error.code;
    throw error;
  });
}

const backends = await databaseBackends();

describe.each(backends)('the account limit at completion on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'races', () => {
    const { database, opened } = databasePerTest(open, {
      afterClose: () => {
        callbackTargets.fill(undefined);
      },
    });

    /** A ToolMux on the test database; `index` picks its OAuth callback server. */
    function instance(index: 0 | 1, store: string | Store = database.spec): ToolMux {
      const mux = new ToolMux({
        toolkits: [createGmailLikeToolkit({}).toolkit, octoToolkit(oauthServer).toolkit],
        store,
        logger: quiet,
        secretKey,
        oauthRedirectUri: `${callbackServers[index]!.url}/auth/callback`,
        managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
        fetch: recordingFetch,
      });
      opened.push(mux);
      callbackTargets[index] = mux;
      return mux;
    }

    async function activeAccounts(mux: ToolMux, toolkit: string) {
      const { items } = await mux.connectedAccounts.list({
        userIds: ['ada'],
        toolkits: [toolkit],
        statuses: ['ACTIVE', 'INACTIVE'],
      });
      return items;
    }

    it.each([
      ['one ToolMux', 1],
      ['two ToolMux instances', 2],
    ])('credential requests completed at once connect at most the limit (%s)', async (_name, count) => {
      const muxes = count === 1 ? [instance(0)] : [instance(0), instance(1)];
      const config = await muxes[0]!.authConfigs.create('gmail', { type: 'api_key' });
      const sessions = await Promise.all(
        muxes.map((mux) =>
          mux.create('ada', {
            authConfigs: { gmail: config.id },
            multiAccount: { enable: true, maxAccountsPerToolkit: MAX },
          }),
        ),
      );
      // six requests, started while Ada had no account (each one passes the check at its start)
      const requests = [];
      for (let index = 0; index < 6; index++) {
        requests.push(await sessions[index % sessions.length]!.authorize('gmail', { alias: `box-${index}` }));
      }
      const results = await outcomes(
        requests.map((request, index) =>
          muxes[index % muxes.length]!.connectionRequests.complete(request.id, { apiKey: `key-${index}` }),
        ),
      );
      const connected = results.filter((result) => typeof result !== 'string');
      expect(connected).toHaveLength(MAX);
      expect(results.filter((result) => result === 'ACCOUNT_LIMIT_REACHED')).toHaveLength(6 - MAX);
      expect(await activeAccounts(muxes[0]!, 'gmail')).toHaveLength(MAX);

      // a refused request stays open: once an account is deleted, it connects
      const refused = requests[results.indexOf('ACCOUNT_LIMIT_REACHED')]!;
      const error = await muxes[0]!.connectionRequests.complete(refused.id, { apiKey: 'k' }).catch((e) => e);
      expect(ToolMuxError.isInstance(error) && error.message).toContain('maxAccountsPerToolkit (2)');
      expect((await muxes[0]!.connectionRequests.get(refused.id)).status).toBe('PENDING');
      await muxes[0]!.connectedAccounts.delete((connected[0] as { id: string }).id);
      expect(await muxes[0]!.connectionRequests.complete(refused.id, { apiKey: 'k' })).toMatchObject({
        status: 'ACTIVE',
      });
      expect(await activeAccounts(muxes[0]!, 'gmail')).toHaveLength(MAX);

      // a request started outside any session (connectedAccounts.link) has no limit
      const unlimited = await muxes[0]!.connectedAccounts.link('ada', config.id);
      await muxes[0]!.connectionRequests.complete(unlimited.id, { apiKey: 'k2' });
      expect(await activeAccounts(muxes[0]!, 'gmail')).toHaveLength(MAX + 1);
    });

    it.each([
      ['one ToolMux', 1],
      ['two ToolMux instances', 2],
    ])(
      'OAuth callbacks landing at once connect at most the limit; the others fail (%s)',
      async (_name, count) => {
        const muxes = count === 1 ? [instance(0)] : [instance(0), instance(1)];
        const sessions = await Promise.all(
          muxes.map((mux) =>
            mux.create('ada', {
              toolkits: ['octo'],
              multiAccount: { enable: true, maxAccountsPerToolkit: MAX },
            }),
          ),
        );
        const requests = [];
        for (let index = 0; index < 6; index++) {
          requests.push(
            await sessions[index % sessions.length]!.authorize('octo', { callbackUrl: appCallback }),
          );
        }
        // the user signs in for each (the callbacks are not opened yet) …
        const callbacks = [];
        for (const [index, request] of requests.entries()) {
          callbacks.push(await oauthServer.signIn(request.redirectUrl, { login: `ada-${index}` }));
        }
        // … and they all land at once
        issued.length = 0;
        const responses = await Promise.all(callbacks.map((url) => fetch(url, { redirect: 'manual' })));
        const backs = responses.map((response) => new URL(response.headers.get('location')!).searchParams);
        expect(backs.filter((back) => back.get('status') === 'success')).toHaveLength(MAX);
        const failed = backs.filter((back) => back.get('status') === 'failed');
        expect(failed.map((back) => back.get('error'))).toEqual(
          Array.from({ length: 6 - MAX }, () => 'account_limit_reached'),
        );
        expect(await activeAccounts(muxes[0]!, 'octo')).toHaveLength(MAX);
        for (const back of failed) {
          const account = await muxes[0]!.connectedAccounts.get(back.get('connected_account_id')!);
          expect(account.status).toBe('FAILED');
          expect(account.statusReason).toContain('maxAccountsPerToolkit (2)');
        }
        // the refused connections keep no credentials, and their tokens were revoked at the provider
        const kept = await database.rows(
          "SELECT id FROM toolmux_connected_accounts WHERE secret IS NOT NULL AND status <> 'ACTIVE'",
        );
        expect(kept).toEqual([]);
        // the waits of the refused requests end, naming the reason
        const waits = await outcomes(requests.map((request) => request.waitForConnection(5_000)));
        expect(waits.filter((wait) => wait === 'CONNECTION_FAILED')).toHaveLength(6 - MAX);
        // the revocations run in the background, after the callbacks answered: close() waits for them
        await Promise.all(muxes.map((mux) => mux.close()));
        expect(issued).toHaveLength(6);
        const live = await Promise.all(issued.map((token) => oauthServer.provider.AccessToken.find(token)));
        expect(live.filter(Boolean)).toHaveLength(MAX);
      },
    );

    it('a store of your own without activateConnectedAccount: the callback counts just before', async () => {
      const real = await openStore(database.spec);
      const own = new Proxy(real, {
        get: (target, property) =>
          property === 'activateConnectedAccount' ? undefined : Reflect.get(target, property, target),
      });
      const mux = instance(0, own);
      const session = await mux.create('ada', {
        toolkits: ['octo'],
        multiAccount: { enable: true, maxAccountsPerToolkit: MAX },
      });
      const requests = [];
      for (let index = 0; index < 3; index++) {
        requests.push(await session.authorize('octo', { callbackUrl: appCallback }));
      }
      const statuses = [];
      for (const [index, request] of requests.entries()) {
        const callback = await oauthServer.signIn(request.redirectUrl, { login: `ada-${index}` });
        const response = await fetch(callback, { redirect: 'manual' });
        statuses.push(new URL(response.headers.get('location')!).searchParams.get('status'));
      }
      expect(statuses).toEqual(['success', 'success', 'failed']);
      await real.close();
    });
  });
});
