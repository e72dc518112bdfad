import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { databaseBackends, databasePerTest, pastTime, quiet } from '../test/auth-fixtures.js';
import {
  type OctoCall,
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { freePort } from '../test/ports.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

const secretKey = Buffer.alloc(32, 11).toString('base64');
const appCallback = 'http://localhost:3000/connected';
const dist = resolve(import.meta.dirname, '../../dist');

let oauthServer: TestOAuthServerWithCallback;
/** A port kept free for the callback server of another process. */
let otherProcessPort: number;

beforeAll(async () => {
  otherProcessPort = await freePort();
  oauthServer = await startTestOAuthServerWithCallback({
    otherRedirectUris: [`http://127.0.0.1:${otherProcessPort}/auth/callback`],
  });
});
afterAll(() => oauthServer.close());

/** What the test saw pass through `fetch` (token requests and answers), to look for in the database. */
interface Seen {
  codeVerifiers: string[];
  accessTokens: string[];
  refreshTokens: string[];
}

function recordingFetch(seen: Seen): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const url = String(input instanceof Request ? input.url : input);
    if (url === oauthServer.tokenUrl) {
      const body = new URLSearchParams(String(init?.body ?? ''));
      const verifier = body.get('code_verifier');
      if (verifier) seen.codeVerifiers.push(verifier);
      const json = (await response.clone().json()) as { access_token?: string; refresh_token?: string };
      if (json.access_token) seen.accessTokens.push(json.access_token);
      if (json.refresh_token) seen.refreshTokens.push(json.refresh_token);
    }
    return response;
  };
}

/** A fetch whose token requests take `delayMs` longer, so that refreshes of two instances overlap. */
/** A fetch whose token requests wait `delayMs` (after `onTokenRequest`, when given) before they go out. */
function slowTokenFetch(delayMs: number, onTokenRequest?: () => Promise<void>): typeof fetch {
  return async (input, init) => {
    if (String(input instanceof Request ? input.url : input) === oauthServer.tokenUrl) {
      await onTokenRequest?.();
      await new Promise((done) => setTimeout(done, delayMs));
    }
    return fetch(input, init);
  };
}

function muxFor(
  spec: string,
  seen?: Seen,
  fetchOverride?: typeof fetch,
  options: { accountCacheTtlMs?: number } = {},
): { mux: ToolMux; calls: OctoCall[] } {
  const octo = octoToolkit(oauthServer);
  const mux = new ToolMux({
    toolkits: [octo.toolkit, ...createSampleToolkits().toolkits],
    store: spec,
    secretKey,
    logger: quiet,
    oauthRedirectUri: oauthServer.redirectUri,
    managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
    ...(seen ? { fetch: recordingFetch(seen) } : fetchOverride ? { fetch: fetchOverride } : {}),
    ...options,
  });
  return { mux, calls: octo.calls };
}

/** Signs in at the redirect URL and opens the callback it leads to; returns the callback URL and answer. */
async function completeConnection(redirectUrl: string, options: { login?: string; deny?: boolean } = {}) {
  const callbackUrl = await oauthServer.signIn(redirectUrl, options);
  const response = await fetch(callbackUrl, { redirect: 'manual' });
  return { callbackUrl, response };
}

async function rejection(promise: Promise<unknown>): Promise<ToolMuxError> {
  const error = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  expect(ToolMuxError.isInstance(error), `expected a ToolMuxError, got ${String(error)}`).toBe(true);
  return error as ToolMuxError;
}

const backends = await databaseBackends();

describe.each(backends)('OAuth on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'flow', () => {
    const { database, opened } = databasePerTest(open, {
      afterClose: () => {
        oauthServer.current = undefined;
      },
    });

    function setup(seen?: Seen, fetchOverride?: typeof fetch, options?: { accountCacheTtlMs?: number }) {
      const made = muxFor(database.spec, seen, fetchOverride, options);
      opened.push(made.mux);
      oauthServer.current ??= made.mux;
      return made;
    }

    /** A session of `userId` with a connected octo account (through the managed auth config). */
    async function connected(
      userId = 'user_1',
      seen?: Seen,
      fetchOverride?: typeof fetch,
      options?: { accountCacheTtlMs?: number },
    ) {
      const made = setup(seen, fetchOverride, options);
      const session = await made.mux.create(userId, { toolkits: ['octo', 'mail'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const { response } = await completeConnection(request.redirectUrl, { login: `${userId}-login` });
      expect(response.status).toBe(302);
      await request.waitForConnection(10_000);
      return { ...made, session, request };
    }

    it('connects through authorize → sign-in → callback, and the handler gets the issued token', async () => {
      const { mux, calls } = setup();
      const config = await mux.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauthServer.clientId,
        clientSecret: oauthServer.clientSecret,
      });
      const session = await mux.create('user_1', { toolkits: ['octo'], authConfigs: { octo: config.id } });
      expect((await session.execute('OCTO_WHOAMI', {})).code).toBe('CONNECTION_REQUIRED');

      const request = await session.authorize('octo', { callbackUrl: appCallback });
      expect(request.id).toMatch(/^cr_/);
      expect(request.connectedAccountId).toMatch(/^ca_/);
      const redirect = new URL(request.redirectUrl);
      expect(`${redirect.origin}${redirect.pathname}`).toBe(oauthServer.authorizationUrl);
      expect(redirect.searchParams.get('code_challenge_method')).toBe('S256');
      expect(redirect.searchParams.get('client_id')).toBe(oauthServer.clientId);
      expect(redirect.searchParams.get('redirect_uri')).toBe(oauthServer.redirectUri);
      expect(redirect.searchParams.get('scope')).toBe('openid repo');
      expect((await mux.connectedAccounts.get(request.connectedAccountId!)).status).toBe('INITIATED');

      const waiting = request.waitForConnection(10_000);
      const { response } = await completeConnection(request.redirectUrl);
      expect(response.status).toBe(302);
      const back = new URL(response.headers.get('location')!);
      expect(`${back.origin}${back.pathname}`).toBe(appCallback);
      expect(Object.fromEntries(back.searchParams)).toEqual({
        status: 'success',
        connected_account_id: request.connectedAccountId,
      });
      expect(await waiting).toEqual({ id: request.connectedAccountId, status: 'ACTIVE', toolkit: 'octo' });

      const result = await session.execute('OCTO_WHOAMI', {});
      expect(result).toMatchObject({ successful: true, data: { sub: 'user-1' } });
      const credentials = calls[0]!.credentials!;
      expect(Object.keys(credentials).sort()).toEqual(['accessToken', 'expiresAt', 'scope', 'tokenType']);
      expect(credentials.tokenType).toBe('bearer');
      const issued = await oauthServer.provider.AccessToken.find(credentials.accessToken!);
      expect(issued).toMatchObject({ clientId: oauthServer.clientId, accountId: 'user-1' });

      const account = await mux.connectedAccounts.get(request.connectedAccountId!);
      expect(account).toMatchObject({
        status: 'ACTIVE',
        userId: 'user_1',
        toolkit: 'octo',
        authConfigId: config.id,
      });
      expect(account.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
      expect((await session.toolkits()).items[0]!.connection).toEqual({
        isActive: true,
        connectedAccount: { id: account.id, status: 'ACTIVE' },
        authConfig: { id: config.id, type: 'oauth2', managed: false },
      });
      const [log] = (await session.logs()).items;
      expect(log).toMatchObject({ connectedAccountId: account.id, status: 'success' });
      expect(JSON.stringify(log)).not.toContain(credentials.accessToken);

      const proxied = await session.proxyExecute({ toolkit: 'octo', endpoint: '/me' });
      expect(proxied).toMatchObject({ status: 200, data: { sub: 'user-1' } });
    });

    it('refreshes an expired access token (and a rotated refresh token) before the call', async () => {
      // The test moves the token's expiry in the database, behind the back of this instance's
      // account cache (real expiry is seen by the cache: a token near its expiry is read again).
      const { mux, session, calls, request } = await connected('user_1', undefined, undefined, {
        accountCacheTtlMs: 0,
      });
      await session.execute('OCTO_WHOAMI', {});
      const first = calls[0]!.credentials!.accessToken!;
      const before = oauthServer.tokenRequests.refresh_token;
      for (const round of [1, 2]) {
        await database.exec(
          `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${request.connectedAccountId}'`,
        );
        const result = await session.execute('OCTO_WHOAMI', {});
        expect(result.successful, result.error ?? '').toBe(true);
        expect(oauthServer.tokenRequests.refresh_token).toBe(before + round);
      }
      const tokens = calls.map((call) => call.credentials!.accessToken);
      expect(new Set(tokens).size).toBe(3);
      expect(tokens[0]).toBe(first);
      expect(
        (await mux.connectedAccounts.get(request.connectedAccountId!)).expiresAt!.getTime(),
      ).toBeGreaterThan(Date.now() + 3_000_000);
      // a token that is still fresh is not refreshed again
      await session.execute('OCTO_WHOAMI', {});
      expect(oauthServer.tokenRequests.refresh_token).toBe(before + 2);
      const refreshed = await mux.connectedAccounts.refresh(request.connectedAccountId!);
      expect(refreshed.status).toBe('ACTIVE');
      expect(oauthServer.tokenRequests.refresh_token).toBe(before + 3);
    });

    it('a provider that refuses the access token gets a refreshed one, and the call runs again with it', async () => {
      const { mux, session, calls, request } = await connected();
      await session.execute('OCTO_WHOAMI', {});
      const first = calls[0]!.credentials!.accessToken!;
      await oauthServer.revokeAccessToken(first); // the refresh token still works
      const refreshes = oauthServer.tokenRequests.refresh_token;

      const result = await session.execute('OCTO_WHOAMI', {}, { callId: 'call_after_revoke' });
      expect(result, result.error ?? '').toMatchObject({ successful: true, data: { sub: 'user_1-login' } });
      expect(oauthServer.tokenRequests.refresh_token).toBe(refreshes + 1);
      // refused once with the old token, then answered with the new one
      expect(calls.slice(1).map((call) => [call.credentials!.accessToken === first, call.userinfo])).toEqual([
        [true, { status: 401 }],
        [false, { sub: 'user_1-login' }],
      ]);
      expect((await mux.connectedAccounts.get(request.connectedAccountId!)).status).toBe('ACTIVE');
      const [log] = (await session.logs()).items;
      expect(log).toMatchObject({ callId: 'call_after_revoke', status: 'success' });
      expect(JSON.stringify(log)).not.toContain(calls.at(-1)!.credentials!.accessToken!);

      // concurrent refusals of one token refresh it once
      await oauthServer.revokeAccessToken(calls.at(-1)!.credentials!.accessToken!);
      const before = oauthServer.tokenRequests.refresh_token;
      const results = await Promise.all(Array.from({ length: 4 }, () => session.execute('OCTO_WHOAMI', {})));
      expect(results.map((each) => each.successful)).toEqual([true, true, true, true]);
      expect(oauthServer.tokenRequests.refresh_token).toBe(before + 1);
    });

    it('a refused token whose grant is revoked too ends EXPIRED, and the call says to reconnect', async () => {
      const { mux, session, calls, request } = await connected();
      await session.execute('OCTO_WHOAMI', {});
      await oauthServer.revokeGrantOf(calls[0]!.credentials!.accessToken!);
      const result = await session.execute('OCTO_WHOAMI', {});
      expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
      expect(result.error).toMatch(/reconnect/);
      const account = await mux.connectedAccounts.get(request.connectedAccountId!);
      expect(account).toMatchObject({
        status: 'EXPIRED',
        statusReason: expect.stringMatching(/^invalid_grant/),
      });
      expect((await session.toolkits()).items.find((item) => item.slug === 'octo')!.connection).toEqual({
        isActive: false,
        connectedAccount: { id: account.id, status: 'EXPIRED' },
        // the session has no authConfigs entry: the config toolmux made from managedAuth
        authConfig: { id: account.authConfigId, type: 'oauth2', managed: true },
      });
    });

    it('deleting an account revokes its tokens at the provider (RFC 7009) before the row goes', async () => {
      const seen: Seen = { codeVerifiers: [], accessTokens: [], refreshTokens: [] };
      const { mux, session, calls, request } = await connected('user_1', seen);
      await session.execute('OCTO_WHOAMI', {});
      const accessToken = calls[0]!.credentials!.accessToken!;
      const refreshToken = seen.refreshTokens.at(-1)!;
      expect(await oauthServer.provider.AccessToken.find(accessToken)).toBeDefined();
      expect(await oauthServer.provider.RefreshToken.find(refreshToken)).toBeDefined();

      await mux.connectedAccounts.delete(request.connectedAccountId!);
      expect(await oauthServer.provider.AccessToken.find(accessToken)).toBeUndefined();
      expect(await oauthServer.provider.RefreshToken.find(refreshToken)).toBeUndefined();
      const userinfo = await fetch(oauthServer.userinfoUrl, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      expect(userinfo.status).toBe(401);
      expect((await rejection(mux.connectedAccounts.get(request.connectedAccountId!))).code).toBe(
        'CONNECTED_ACCOUNT_NOT_FOUND',
      );
    });

    it('deleting an auth config revokes the tokens of every account connected through it', async () => {
      const first = await connected('user_1');
      await first.session.execute('OCTO_WHOAMI', {});
      const second = await connected('user_2');
      await second.session.execute('OCTO_WHOAMI', {});
      const tokens = [first.calls[0]!, second.calls[0]!].map((call) => call.credentials!.accessToken!);
      const account = await first.mux.connectedAccounts.get(first.request.connectedAccountId!);
      await first.mux.authConfigs.delete(account.authConfigId);
      for (const token of tokens) expect(await oauthServer.provider.AccessToken.find(token)).toBeUndefined();
      expect((await first.mux.connectedAccounts.list({ userIds: ['user_1', 'user_2'] })).items).toEqual([]);
    });

    it('an attempt the user abandoned (INITIATED past its request) is dropped when they start again', async () => {
      const { mux } = setup();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const abandoned = await session.authorize('octo');
      const recent = await session.authorize('octo');
      await database.exec(
        `UPDATE toolmux_connected_accounts SET created_at = ${pastTime(database.spec, 16 * 60_000)} WHERE id = '${abandoned.connectedAccountId}'`,
      );
      const next = await session.authorize('octo');
      const initiated = await mux.connectedAccounts.list({ userIds: ['user_1'], statuses: ['INITIATED'] });
      expect(initiated.items.map((item) => item.id).sort()).toEqual(
        [recent.connectedAccountId, next.connectedAccountId].sort(),
      );
      expect((await rejection(mux.connectionRequests.get(abandoned.id))).code).toBe(
        'CONNECTION_REQUEST_NOT_FOUND',
      );
      // the attempt still in its 10 minutes completes as usual
      const { response } = await completeConnection(recent.redirectUrl);
      expect(response.status).toBe(302);
      expect((await recent.waitForConnection(5_000)).status).toBe('ACTIVE');
    });

    it('an account is deleted even when the provider cannot revoke its tokens', async () => {
      const failingRevocation: typeof fetch = async (input, init) =>
        String(input instanceof Request ? input.url : input) === oauthServer.revocationUrl
          ? Promise.reject(new TypeError('fetch failed'))
          : fetch(input, init);
      const { mux, session, calls, request } = await connected('user_1', undefined, failingRevocation);
      await session.execute('OCTO_WHOAMI', {});
      await mux.connectedAccounts.delete(request.connectedAccountId!);
      expect((await rejection(mux.connectedAccounts.get(request.connectedAccountId!))).code).toBe(
        'CONNECTED_ACCOUNT_NOT_FOUND',
      );
      // the token could not be revoked: it still works at the provider, and toolmux no longer holds it
      expect(await oauthServer.provider.AccessToken.find(calls[0]!.credentials!.accessToken!)).toBeDefined();
    });

    it('a revoked refresh token marks the account EXPIRED and the result tells the agent to reconnect', async () => {
      const { mux, session, calls, request } = await connected();
      await session.execute('OCTO_WHOAMI', {});
      await oauthServer.revokeGrantOf(calls[0]!.credentials!.accessToken!);
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${request.connectedAccountId}'`,
      );
      const result = await session.execute('OCTO_WHOAMI', {});
      expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
      expect(result.error).toContain('Octo (octo)');
      expect(result.error).toMatch(/reconnect/);
      const account = await mux.connectedAccounts.get(request.connectedAccountId!);
      expect(account.status).toBe('EXPIRED');
      expect(account.statusReason).toMatch(/^invalid_grant/);
      // later calls say the same without asking the provider again
      const refreshes = oauthServer.tokenRequests.refresh_token;
      expect((await session.execute('OCTO_WHOAMI', {})).code).toBe('CONNECTION_EXPIRED');
      expect(oauthServer.tokenRequests.refresh_token).toBe(refreshes);
      const manage = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['octo'] });
      const [entry] = (manage.data as { results: Array<Record<string, unknown>> }).results;
      expect(entry).toMatchObject({ toolkit: 'octo', connected: false, connected_account_id: account.id });
      expect(entry!.message).toContain('expired');
      expect(String(entry!.redirect_url)).toContain(oauthServer.authorizationUrl);
    });

    it('concurrent calls on an expiring token, in two instances, make exactly one refresh request', async () => {
      // token requests take 300 ms: the second instance finds the first one's lease and waits for it.
      // Whenever a token request goes out, the lease must already be in the store (read right then,
      // not sampled by a timer, so a loaded machine cannot make the check miss it).
      const leases: unknown[] = [];
      const readLease = async () => {
        const rows = await database.rows(
          `SELECT refresh_lease_until FROM toolmux_connected_accounts WHERE id = '${accountId}'`,
        );
        leases.push(rows[0]?.refresh_lease_until ?? null);
      };
      let accountId = '';
      const { session, calls, request } = await connected(
        'user_1',
        undefined,
        slowTokenFetch(300, readLease),
      );
      accountId = request.connectedAccountId!;
      const other = setup(undefined, slowTokenFetch(300, readLease));
      const otherSession = await other.mux.use(session.sessionId);
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, -30_000)} WHERE id = '${accountId}'`,
      );
      leases.length = 0; // the sign-in's own token request held no lease
      const before = oauthServer.tokenRequests.refresh_token;
      const results = await Promise.all([
        ...Array.from({ length: 8 }, () => session.execute('OCTO_WHOAMI', {})),
        ...Array.from({ length: 8 }, () => otherSession.execute('OCTO_WHOAMI', {})),
      ]);
      expect(leases).toHaveLength(1); // one token request, made while its lease was held
      expect(leases[0]).not.toBeNull();
      for (const result of results) expect(result.successful, result.error ?? '').toBe(true);
      expect(oauthServer.tokenRequests.refresh_token - before).toBe(1);
      const tokens = new Set([...calls, ...other.calls].map((call) => call.credentials!.accessToken));
      expect(tokens.size).toBe(1);
    });

    it('rejects a tampered state, a reused state and an expired request, storing nothing', async () => {
      const { mux } = setup();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const snapshot = () =>
        database.rows(
          'SELECT id, status, secret, key_id, version, connected_at FROM toolmux_connected_accounts ORDER BY id',
        );
      const requests = () => database.rows('SELECT id, used_at FROM toolmux_connection_requests ORDER BY id');
      const asJson = { accept: 'application/json' };

      // tampered: the state of a real callback, altered
      const tampered = await session.authorize('octo', { callbackUrl: appCallback });
      const callbackUrl = new URL(await oauthServer.signIn(tampered.redirectUrl));
      const state = callbackUrl.searchParams.get('state')!;
      const altered = new URL(callbackUrl);
      altered.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
      const [accountsBefore, requestsBefore] = [await snapshot(), await requests()];
      const answer = await fetch(altered, { redirect: 'manual', headers: asJson });
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ error: { code: 'CONNECTION_REQUEST_INVALID' } });
      const page = await fetch(altered, { redirect: 'manual' });
      expect(page.status).toBe(400);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('CONNECTION_REQUEST_INVALID');
      const missing = await fetch(`${oauthServer.redirectUri}?code=abc`, { headers: asJson });
      expect(missing.status).toBe(400);
      expect(await snapshot()).toEqual(accountsBefore);
      expect(await requests()).toEqual(requestsBefore);

      // the genuine callback still works once…
      expect((await fetch(callbackUrl, { redirect: 'manual' })).status).toBe(302);
      await tampered.waitForConnection(5_000);
      // …and not twice
      const afterUse = [await snapshot(), await requests()];
      const reused = await fetch(callbackUrl, { redirect: 'manual', headers: asJson });
      expect(reused.status).toBe(400);
      const reusedBody = (await reused.json()) as { error: { code: string; message: string } };
      expect(reusedBody.error.code).toBe('CONNECTION_REQUEST_INVALID');
      expect(reusedBody.error.message).toContain('already used');
      expect([await snapshot(), await requests()]).toEqual(afterUse);

      // expired: older than its 10 minutes when the callback arrives
      const late = await session.authorize('octo', { callbackUrl: appCallback });
      const lateCallback = await oauthServer.signIn(late.redirectUrl);
      await database.exec(
        `UPDATE toolmux_connection_requests SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${late.id}'`,
      );
      const beforeLate = [await snapshot(), await requests()];
      const expired = await fetch(lateCallback, { redirect: 'manual', headers: asJson });
      expect(expired.status).toBe(400);
      expect(await expired.json()).toMatchObject({ error: { code: 'CONNECTION_REQUEST_EXPIRED' } });
      expect([await snapshot(), await requests()]).toEqual(beforeLate);
      expect((await mux.connectedAccounts.get(late.connectedAccountId!)).status).toBe('INITIATED');
    });

    it('rejects a callbackUrl off the allowlist before storing anything', async () => {
      const { mux } = setup();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      for (const callbackUrl of [
        'https://evil.example.com/cb',
        'javascript:alert(1)',
        'http://localhost.evil.com/',
      ]) {
        const error = await rejection(session.authorize('octo', { callbackUrl }));
        expect(error.code).toBe('CALLBACK_URL_NOT_ALLOWED');
        // a URL that is no http(s) URL has no origin to allow: it is told what a callback URL is
        expect(error.message).toContain(
          callbackUrl.startsWith('javascript:') ? 'is not an absolute http(s) URL' : 'allowedCallbackUrls',
        );
      }
      expect((await mux.authConfigs.list({ toolkit: 'octo' })).items).toEqual([]);
      const config = await mux.authConfigs.create('octo', { type: 'oauth2', clientId: oauthServer.clientId });
      expect(
        (await rejection(mux.connectedAccounts.link('user_1', config.id, { callbackUrl: 'https://x.test/' })))
          .code,
      ).toBe('CALLBACK_URL_NOT_ALLOWED');
      expect(await database.rows('SELECT id FROM toolmux_connected_accounts')).toEqual([]);
      expect(await database.rows('SELECT id FROM toolmux_connection_requests')).toEqual([]);
      // the default callbackUrl is `${baseUrl}/connect/done`
      const request = await session.authorize('octo');
      const { response } = await completeConnection(request.redirectUrl);
      expect(response.headers.get('location')).toMatch(
        /^http:\/\/localhost:8787\/connect\/done\?status=success/,
      );
    });

    it('a user who cancels ends FAILED, and waitForConnection rejects', async () => {
      const { mux } = setup();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const waiting = rejection(request.waitForConnection(10_000));
      const { response } = await completeConnection(request.redirectUrl, { deny: true });
      const back = new URL(response.headers.get('location')!);
      expect(back.searchParams.get('status')).toBe('failed');
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect((await waiting).code).toBe('CONNECTION_FAILED');
      expect((await mux.connectedAccounts.get(request.connectedAccountId!)).statusReason).toMatch(
        /^access_denied/,
      );
    });

    it.each([
      ['past any date (1e300 s)', 1e300],
      ['past what a date holds (1e13 s)', 1e13],
    ])(
      'a provider whose expires_in lies %s: the connection completes, without an expiry, and calls run',
      async (_, expiresIn) => {
        // the provider's real answer with expires_in replaced, as a provider that said so would send it
        const farExpiry: typeof fetch = async (input, init) => {
          const response = await fetch(input, init);
          if (String(input instanceof Request ? input.url : input) !== oauthServer.tokenUrl) return response;
          const body = { ...((await response.json()) as object), expires_in: expiresIn };
          return new Response(JSON.stringify(body), {
            status: response.status,
            headers: { 'content-type': 'application/json' },
          });
        };
        const { mux, session, request } = await connected('user_1', undefined, farExpiry);
        const account = await mux.connectedAccounts.get(request.connectedAccountId!);
        expect(account).toMatchObject({ status: 'ACTIVE', expiresAt: null });
        expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      },
    );

    it("stores a provider's error description with NUL and control characters as storable text", async () => {
      const { mux } = setup();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const callback = new URL(await oauthServer.signIn(request.redirectUrl, { deny: true }));
      callback.searchParams.set('error_description', 'no\u0000pe\u001b[31m\nline');
      const response = await fetch(callback, { redirect: 'manual' });
      expect(response.status).toBe(302);
      expect(new URL(response.headers.get('location')!).searchParams.get('status')).toBe('failed');
      expect((await mux.connectedAccounts.get(request.connectedAccountId!)).statusReason).toBe(
        'access_denied: no\ufffdpe\ufffd[31m\nline',
      );
    });

    it('waitForConnection times out with CONNECTION_TIMEOUT', async () => {
      const { mux } = setup();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const started = Date.now();
      expect((await rejection(request.waitForConnection(300))).code).toBe('CONNECTION_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('keeps every secret out of the database rows, JSON and inspect()', async () => {
      const seen: Seen = { codeVerifiers: [], accessTokens: [], refreshTokens: [] };
      const { mux, session, request } = await connected('user_1', seen);
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${request.connectedAccountId}'`,
      );
      expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      const mailConfig = await mux.authConfigs.create('mail', { type: 'api_key' });
      const apiKey = 'sk_live_mail_key_0123456789';
      const mailAccount = await mux.connectedAccounts.create('user_1', mailConfig.id, { apiKey });
      await session.update({ authConfigs: { mail: mailConfig.id } });
      const pending = await session.authorize('octo', { callbackUrl: appCallback });
      const pendingCallback = await oauthServer.signIn(pending.redirectUrl);
      expect(
        (await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: apiKey, body: 'x' })).successful,
      ).toBe(true);
      await fetch(pendingCallback, { redirect: 'manual' });

      const secrets = [
        oauthServer.clientSecret,
        apiKey,
        ...seen.codeVerifiers,
        ...seen.accessTokens,
        ...seen.refreshTokens,
      ];
      expect(seen.codeVerifiers).toHaveLength(2);
      expect(seen.accessTokens.length).toBeGreaterThanOrEqual(3);
      expect(seen.refreshTokens.length).toBeGreaterThanOrEqual(3);
      const tables = [
        'toolmux_auth_configs',
        'toolmux_connected_accounts',
        'toolmux_connection_requests',
        'toolmux_sessions',
        'toolmux_execution_logs',
      ];
      let dump = '';
      for (const table of tables) dump += JSON.stringify(await database.rows(`SELECT * FROM ${table}`));
      expect(dump).toContain(request.connectedAccountId);
      for (const secret of secrets) expect(dump).not.toContain(secret);
      // nor any state: only its hash is stored
      expect(dump).not.toContain(new URL(pending.redirectUrl).searchParams.get('state'));

      const shown = [
        mux,
        session,
        pending,
        await mux.authConfigs.list(),
        await mux.connectedAccounts.list({ userIds: ['user_1'] }),
        await mux.connectedAccounts.get(mailAccount.id),
        await session.toolkits(),
      ];
      for (const value of shown) {
        const text = `${JSON.stringify(value)}\n${inspect(value, { depth: 20, showHidden: true })}`;
        for (const secret of [...secrets, secretKey]) expect(text).not.toContain(secret);
      }
      const configs = (await mux.authConfigs.list({ toolkit: 'octo' })).items;
      expect(configs[0]).toMatchObject({
        createdBy: 'toolmux',
        clientId: oauthServer.clientId,
        hasClientSecret: true,
      });
      expect((configs[0] as unknown as Record<string, unknown>).clientSecret).toBeUndefined();
    });

    it('waitForConnection resolves when the callback lands in another process', async () => {
      const { mux } = setup();
      const serverScript = `
        import { createServer } from 'node:http';
        import { ToolMux, defineTool, defineToolkit } from ${JSON.stringify(join(dist, 'index.js'))};
        import { z } from 'zod';
        const octo = defineToolkit({ slug: 'octo', name: 'Octo', description: 'x',
          tools: [defineTool({ slug: 'OCTO_WHOAMI', description: 'x', inputSchema: z.object({}), execute: () => null })],
          auth: { type: 'oauth2', authorizationUrl: process.env.AUTH_URL, tokenUrl: process.env.TOKEN_URL } });
        const mux = new ToolMux({ toolkits: [octo], store: process.env.STORE, secretKey: process.env.KEY,
          logger: { debug() {}, warn() {}, error() {} } });
        createServer(async (incoming, outgoing) => {
          const response = await mux.auth.handleCallback(new Request('http://127.0.0.1' + incoming.url));
          outgoing.writeHead(response.status, Object.fromEntries(response.headers));
          outgoing.end(await response.text());
        }).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', serverScript], {
        cwd: resolve(import.meta.dirname, '../..'),
        env: {
          ...process.env,
          STORE: database.spec,
          KEY: secretKey,
          PORT: String(otherProcessPort),
          AUTH_URL: oauthServer.authorizationUrl,
          TOKEN_URL: oauthServer.tokenUrl,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        await new Promise<void>((ready, failed) => {
          child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && ready());
          child.once('exit', (code) => failed(new Error(`the callback process exited with ${code}`)));
        });
        const elsewhere = new ToolMux({
          toolkits: [octoToolkit(oauthServer).toolkit],
          store: database.spec,
          secretKey,
          logger: quiet,
          oauthRedirectUri: `http://127.0.0.1:${otherProcessPort}/auth/callback`,
        });
        opened.push(elsewhere);
        const config = await mux.authConfigs.create('octo', {
          type: 'oauth2',
          clientId: oauthServer.clientId,
          clientSecret: oauthServer.clientSecret,
        });
        const request = await elsewhere.connectedAccounts.link('user_9', config.id, {
          callbackUrl: appCallback,
        });
        const waiting = request.waitForConnection(40_000);
        // settled also if the flow below throws (the test then fails on that error, not a stray rejection)
        waiting.catch(() => {});
        const { response } = await completeConnection(request.redirectUrl);
        expect(response.status).toBe(302);
        expect(await waiting).toEqual({ id: request.connectedAccountId, status: 'ACTIVE', toolkit: 'octo' });
        const session = await mux.create('user_9', { toolkits: ['octo'], authConfigs: { octo: config.id } });
        expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      } finally {
        child.kill();
      }
      // a child process that imports the engine and migrates: seconds on a loaded machine
    }, 60_000);
  });
});
