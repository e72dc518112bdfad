import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseBackends, pastTime } from '../test/auth-fixtures.js';
import {
  connectOcto,
  databasePerOAuthTest,
  type OctoCall,
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { ToolMux } from '../toolmux.js';
import { REFRESH_BACKOFF_FIRST_MS } from './credentials.js';

/**
 * A call whose token is within its refresh window but still valid refreshes it first; when that
 * refresh failed (a provider answering 500, or refusing the client), the call went on with the
 * current token and the next call tried again: a provider failing at once got one token request per
 * call, and the log one warning per call, for the whole last minute of every token. After a failed
 * refresh the calls of this process now go on with their valid token without trying again until a
 * delay has passed (doubling from REFRESH_BACKOFF_FIRST_MS, never past half of the token's time left,
 * so a refresh is tried again before the token ends). A call whose token has ended still tries.
 */

const secretKey = Buffer.alloc(32, 13).toString('base64');

let oauthServer: TestOAuthServerWithCallback;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

/** Token requests counted (and when each came), and answered 500 at once while `failing`. */
function failingTokenEndpoint() {
  const state = { failing: false, requests: 0, times: [] as number[] };
  const fetchThrough: typeof fetch = async (input, init) => {
    if (String(input instanceof Request ? input.url : input) === oauthServer.tokenUrl) {
      state.requests++;
      state.times.push(Date.now());
      if (state.failing) return new Response('upstream down', { status: 500 });
    }
    return fetch(input, init);
  };
  return { state, fetch: fetchThrough };
}

const backends = await databaseBackends();

describe.each(backends)('token refresh backoff on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'backoff', () => {
    const { database, opened } = databasePerOAuthTest(open, () => oauthServer);

    async function connectedWith(endsInMs: number) {
      const endpoint = failingTokenEndpoint();
      const octo = octoToolkit(oauthServer);
      const warnings: string[] = [];
      const mux = new ToolMux({
        toolkits: [octo.toolkit],
        store: database.spec,
        secretKey,
        logger: { debug() {}, warn: (message: string) => void warnings.push(message), error() {} },
        oauthRedirectUri: oauthServer.redirectUri,
        managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
        fetch: endpoint.fetch,
        accountCacheTtlMs: 0,
      });
      opened.push(mux);
      oauthServer.current ??= mux;
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const accountId = await connectOcto(session, oauthServer);
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, -endsInMs)} WHERE id = '${accountId}'`,
      );
      return { mux, session, accountId, endpoint: endpoint.state, warnings, calls: octo.calls as OctoCall[] };
    }

    it('calls with a valid token after a failed refresh do not try again until the delay passed, then one does and the next success ends it', async () => {
      const { session, endpoint, warnings, calls, mux, accountId } = await connectedWith(45_000);
      endpoint.failing = true;
      const before = endpoint.requests;
      const started = Date.now();
      for (let i = 0; i < 30; i++) {
        const result = await session.execute('OCTO_WHOAMI', {});
        expect(result.successful, result.error ?? '').toBe(true);
      }
      // the code before made 30 token requests and logged 30 warnings; now one, or on a machine so
      // slow that the calls took longer than delays, one more per delay (1, 2, 4… of the first)
      const delays = (Date.now() - started) / REFRESH_BACKOFF_FIRST_MS;
      const allowed = 1 + Math.floor(Math.log2(delays + 1));
      expect(endpoint.requests - before).toBeGreaterThanOrEqual(1);
      expect(endpoint.requests - before).toBeLessThanOrEqual(allowed);
      expect(warnings).toHaveLength(endpoint.requests - before);
      expect(warnings[0]).toMatch(/current token/);
      const oldToken = calls[0]!.credentials!.accessToken;
      expect(calls.every((call) => call.credentials!.accessToken === oldToken)).toBe(true);
      // the provider is well again: after the delay, the next call refreshes and uses the new token
      endpoint.failing = false;
      // each failed attempt doubled the delay: on a machine slow enough to try twice above, it is 2 s
      const failedAttempts = endpoint.requests - before;
      await new Promise((resolve) =>
        setTimeout(resolve, REFRESH_BACKOFF_FIRST_MS * 2 ** (failedAttempts - 1) + 100),
      );
      const tried = endpoint.requests;
      const after = await session.execute('OCTO_WHOAMI', {});
      expect(after.successful, after.error ?? '').toBe(true);
      expect(endpoint.requests - tried).toBe(1);
      expect(calls.at(-1)!.credentials!.accessToken).not.toBe(oldToken);
      expect((await mux.connectedAccounts.get(accountId)).expiresAt!.getTime()).toBeGreaterThan(
        Date.now() + 120_000,
      );
    }, 30_000);

    it('the delay doubles while the refreshes go on failing', async () => {
      const { session, endpoint } = await connectedWith(45_000);
      endpoint.failing = true;
      const before = endpoint.requests;
      const started = Date.now();
      // 4.5 delays of the first length: tries at 0, 1 and 3 delays (1 + 2), not at each call; the
      // next would be at 7
      while (Date.now() - started < REFRESH_BACKOFF_FIRST_MS * 4.5) {
        const result = await session.execute('OCTO_WHOAMI', {});
        expect(result.successful, result.error ?? '').toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(endpoint.requests - before).toBe(3);
      // when the token requests came, as the endpoint saw them: each delay starts once the request
      // before was refused (answered at once). Timed at the end of the call that made them, a call
      // that ended late under load shortened the next gap (1,992 ms for 2,000)
      const [first, second, third] = endpoint.times.slice(before);
      expect(second! - first!).toBeGreaterThanOrEqual(REFRESH_BACKOFF_FIRST_MS - 5);
      expect(third! - second!).toBeGreaterThanOrEqual(2 * REFRESH_BACKOFF_FIRST_MS - 5);
    }, 30_000);

    it('a token close to its end is tried again before it ends: the delay is at most half of its time left', async () => {
      // 1.2 s left: a delay of the full first length would outlast the token
      const { session, endpoint } = await connectedWith(REFRESH_BACKOFF_FIRST_MS * 1.2);
      endpoint.failing = true;
      const before = endpoint.requests;
      const first = await session.execute('OCTO_WHOAMI', {});
      expect(first.successful, first.error ?? '').toBe(true);
      expect(endpoint.requests - before).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, REFRESH_BACKOFF_FIRST_MS * 0.6 + 50));
      endpoint.failing = false;
      const second = await session.execute('OCTO_WHOAMI', {});
      expect(second.successful, second.error ?? '').toBe(true);
      expect(endpoint.requests - before).toBe(2);
    }, 30_000);

    it('a call whose token has ended still tries the refresh, and fails readable while the provider fails', async () => {
      const { session, endpoint } = await connectedWith(45_000);
      endpoint.failing = true;
      expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, 5_000)}`,
      );
      const before = endpoint.requests;
      const result = await session.execute('OCTO_WHOAMI', {});
      expect(result.successful).toBe(false);
      expect(result.code).toBe('OAUTH_ERROR');
      expect(endpoint.requests - before).toBe(1);
    }, 30_000);
  });
});
