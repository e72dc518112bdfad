import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { databaseBackends, databasePerTest, pastTime } from '../test/auth-fixtures.js';
import {
  linkOcto,
  octoToolkit,
  signInToSuccess,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';

/**
 * `connectedAccounts.reconnect(id)`: the user signs in again and the new tokens go to the same
 * account id, ACTIVE, with its alias, user and auth config kept, so that a session pinned to it
 * (`connectedAccounts`) works again without `session.update()`. Against a real OAuth server
 * (oidc-provider), on SQLite and PostgreSQL.
 */

const secretKey = Buffer.alloc(32, 12).toString('base64');
const appCallback = 'http://localhost:3000/connected';

let oauthServer: TestOAuthServerWithCallback;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

const backends = await databaseBackends();

describe.each(backends)('reconnecting an OAuth account in place on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'reconnect', () => {
    const { database, opened } = databasePerTest(open, {
      afterClose: () => {
        oauthServer.current = undefined;
      },
    });

    /**
     * A ToolMux whose token requests first run `beforeTokenRequest.hook`, when set, and whose
     * revocation requests are kept in `revocations` (answered `revocationStatus` when set).
     */
    function setup(options: { revocationEndsGrant?: boolean; revocationStatus?: number } = {}) {
      const octo = octoToolkit(
        oauthServer,
        options.revocationEndsGrant === undefined ? {} : { revocationEndsGrant: options.revocationEndsGrant },
      );
      const beforeTokenRequest: { hook?: (() => Promise<void>) | undefined } = {};
      const revocations: { token: string; hint: string | null }[] = [];
      const logger = recordingLogger();
      const through: typeof fetch = async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if (url === oauthServer.tokenUrl && beforeTokenRequest.hook) {
          const hook = beforeTokenRequest.hook;
          beforeTokenRequest.hook = undefined;
          await hook();
        }
        if (url === oauthServer.revocationUrl) {
          const form = new URLSearchParams(String(init?.body ?? ''));
          revocations.push({ token: form.get('token')!, hint: form.get('token_type_hint') });
          if (options.revocationStatus)
            return new Response('unavailable', { status: options.revocationStatus });
        }
        return fetch(input, init);
      };
      /** A ToolMux on the test's database: the test's one, or another instance sharing it. */
      const instance = () =>
        new ToolMux({
          toolkits: [octo.toolkit],
          store: database.spec,
          secretKey,
          logger,
          oauthRedirectUri: oauthServer.redirectUri,
          allowedCallbackUrls: ['http://localhost:3000'],
          fetch: through,
        });
      const mux = instance();
      opened.push(mux);
      oauthServer.current = mux;
      return {
        mux,
        calls: octo.calls,
        beforeTokenRequest,
        revocations,
        logger,
        another: () => {
          const other = instance();
          opened.push(other);
          return other;
        },
      };
    }

    /** An ACTIVE linked account whose access token a call has just used (`token`). */
    async function activeAccount(options: Parameters<typeof setup>[0] = {}) {
      const made = setup(options);
      const { accountId } = await linkOcto(made.mux, oauthServer, 'u3');
      const session = await made.mux.create('u3', { connectedAccounts: { octo: accountId } });
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      return { ...made, accountId, session, token: made.calls.at(-1)!.credentials!.accessToken! };
    }

    /** A linked account with alias "work", and a session that may only use it, after its grant was revoked. */
    async function expiredPinned() {
      const made = setup();
      const { mux, calls } = made;
      const { accountId, authConfigId } = await linkOcto(mux, oauthServer, 'u1');
      await mux.connectedAccounts.update(accountId, { alias: 'work' });
      const session = await mux.create('u1', { connectedAccounts: { octo: accountId } });
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      await oauthServer.revokeGrantOf(calls.at(-1)!.credentials!.accessToken!);
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${accountId}'`,
      );
      const expired = await session.execute('OCTO_WHOAMI', {});
      expect(expired).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
      expect((await mux.connectedAccounts.get(accountId)).status).toBe('EXPIRED');
      return { ...made, accountId, authConfigId, session, expired };
    }

    it('gives the same account new tokens: ACTIVE, alias and config kept, and the pinned session works again', async () => {
      const { mux, calls, accountId, authConfigId, session, expired } = await expiredPinned();
      expect(expired.error).toContain('must reconnect that account');
      const before = (await mux.connectedAccounts.list({ userIds: ['u1'] })).items.length;
      const oldToken = calls.at(-1)!.credentials!.accessToken;

      const request = await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback });
      expect(request).toMatchObject({
        kind: 'oauth2',
        connectedAccountId: accountId,
        reconnectOf: accountId,
        toolkit: 'octo',
      });
      // the request tells it is a reconnect of that account, before and after it completes
      expect(await mux.connectionRequests.get(request.id)).toMatchObject({
        reconnectOf: accountId,
        status: 'PENDING',
      });
      const linked = await mux.connectedAccounts.link('u1', authConfigId, { callbackUrl: appCallback });
      expect(linked.reconnectOf).toBeNull();
      expect((await mux.connectionRequests.get(linked.id)).reconnectOf).toBeNull();
      // the account stays as it was until the user finishes
      expect((await mux.connectedAccounts.get(accountId)).status).toBe('EXPIRED');
      await signInToSuccess(oauthServer, request);
      expect(await request.waitForConnection(10_000)).toEqual({
        id: accountId,
        status: 'ACTIVE',
        toolkit: 'octo',
      });

      expect(await mux.connectedAccounts.get(accountId)).toMatchObject({
        id: accountId,
        userId: 'u1',
        authConfigId,
        alias: 'work',
        status: 'ACTIVE',
        statusReason: null,
      });
      expect(await mux.connectionRequests.get(request.id)).toMatchObject({
        reconnectOf: accountId,
        status: 'COMPLETED',
      });
      // the account, and the attempt link() started (never finished)
      expect((await mux.connectedAccounts.list({ userIds: ['u1'] })).items).toHaveLength(before + 1);
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      expect(calls.at(-1)!.credentials!.accessToken).not.toBe(oldToken);
    });

    it('revokes the tokens it replaced at the provider; the new ones work, refresh included', async () => {
      const { mux, calls, accountId, session, token, revocations, logger } = await activeAccount();
      expect(await oauthServer.provider.AccessToken.find(token)).toBeDefined();
      const request = await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback });
      await signInToSuccess(oauthServer, request);
      await request.waitForConnection(10_000);
      // revoked in the background once the callback answered (callback-revocation.test.ts)
      await vi.waitFor(
        async () => expect(await oauthServer.provider.AccessToken.find(token)).toBeUndefined(),
        { timeout: 10_000, interval: 20 },
      );

      // the old access token and its refresh token were sent to the revocation endpoint, and are dead
      expect(revocations.map(({ hint }) => hint).sort()).toEqual(['access_token', 'refresh_token']);
      expect(revocations.find(({ hint }) => hint === 'access_token')!.token).toBe(token);
      expect(await oauthServer.provider.AccessToken.find(token)).toBeUndefined();
      const oldRefresh = revocations.find(({ hint }) => hint === 'refresh_token')!.token;
      expect(await oauthServer.provider.RefreshToken.find(oldRefresh)).toBeUndefined();

      // the new tokens were not: a call works, and so does a refresh with the new refresh token
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      expect(calls.at(-1)!.credentials!.accessToken).not.toBe(token);
      const refreshes = oauthServer.tokenRequests.refresh_token;
      expect(await mux.connectedAccounts.refresh(accountId)).toMatchObject({ status: 'ACTIVE' });
      expect(oauthServer.tokenRequests.refresh_token).toBe(refreshes + 1);
      expect(logger.warnings).toEqual([]);
    });

    it('a revocation the provider refuses leaves the reconnect done: logged, naming the account, never a token', async () => {
      const { mux, accountId, session, token, revocations, logger } = await activeAccount({
        revocationStatus: 503,
      });
      const request = await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback });
      await signInToSuccess(oauthServer, request);
      expect(await request.waitForConnection(10_000)).toMatchObject({ id: accountId, status: 'ACTIVE' });
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      // the revocation runs in the background once the callback answered
      await vi.waitFor(() => expect(logger.warnings).toHaveLength(2), { timeout: 10_000, interval: 20 });
      expect(revocations).toHaveLength(2);
      for (const warning of logger.warnings) {
        expect(warning).toContain(accountId);
        expect(warning).toContain('the account keeps its new tokens');
        for (const { token: sent } of revocations) expect(warning).not.toContain(sent);
      }
      // the provider never took them: the old access token is still live there
      expect(await oauthServer.provider.AccessToken.find(token)).toBeDefined();
    });

    it('revokes nothing it replaced where revoking ends the whole grant (revocationEndsGrant), and a delete still revokes', async () => {
      const { mux, accountId, session, token, revocations, another } = await activeAccount({
        revocationEndsGrant: true,
      });
      const request = await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback });
      await signInToSuccess(oauthServer, request);
      await request.waitForConnection(10_000);
      // close() waits for what the callback left running in the background: nothing was revoked
      await mux.close();
      expect(revocations).toEqual([]);
      expect(await oauthServer.provider.AccessToken.find(token)).toBeDefined();
      const other = another();
      const again = await other.use(session.sessionId);
      expect(await again.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      await other.connectedAccounts.delete(accountId);
      expect(revocations.map(({ hint }) => hint).sort()).toEqual(['access_token', 'refresh_token']);
    });

    it('a user who cancels leaves the account EXPIRED, with why, and waitForConnection says it failed', async () => {
      const { mux, accountId } = await expiredPinned();
      const request = await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback });
      const callback = await fetch(await oauthServer.signIn(request.redirectUrl, { deny: true }), {
        redirect: 'manual',
      });
      expect(new URL(callback.headers.get('location')!).searchParams.get('status')).toBe('failed');
      const failed = await request.waitForConnection(10_000).then(
        () => expect.unreachable('the reconnect was denied'),
        (error: unknown) => error as Error & { code: string },
      );
      expect(failed.code).toBe('CONNECTION_FAILED');
      expect(failed.message).toContain('access_denied');
      // the way out is reconnecting that account, not a new connection it could not use
      expect(failed.message).toContain(`reconnect of account ${accountId}`);
      expect(failed.message).toContain(`connectedAccounts.reconnect("${accountId}"`);
      expect(failed.message).not.toContain('authorize()');
      expect(await mux.connectedAccounts.get(accountId)).toMatchObject({
        status: 'EXPIRED',
        alias: 'work',
        statusReason: expect.stringMatching(/^access_denied/),
      });
    });

    it('a reconnect that expired unused says to reconnect that account again, in the SDK and after a wait', async () => {
      const { mux, accountId } = await expiredPinned();
      const request = await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback });
      await expect(request.waitForConnection(0)).rejects.toMatchObject({
        code: 'CONNECTION_TIMEOUT',
        message: expect.stringContaining(`wait again or reconnect account ${accountId} again`),
      });
      await database.exec(
        `UPDATE toolmux_connection_requests SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${request.id}'`,
      );
      const expired = await request.waitForConnection(1_000).then(
        () => expect.unreachable('the request expired'),
        (error: unknown) => error as Error & { code: string },
      );
      expect(expired).toMatchObject({ code: 'CONNECTION_REQUEST_EXPIRED' });
      expect(expired.message).toContain(
        `reconnect account ${accountId} again with connectedAccounts.reconnect(`,
      );
      expect(expired.message).not.toContain('authorize()');
    });

    it('an agent whose reconnect the user denied hears that it failed and that a new link reconnects that account again', async () => {
      const { mux, accountId } = await expiredPinned();
      const session = await mux.create('u1', {
        connectedAccounts: { octo: accountId },
        manageConnections: { waitForConnections: true, callbackUrl: appCallback },
      });
      type Entry = { redirect_url?: string; connection_request_id?: string; message: string };
      const manage = async () =>
        (
          (await session.execute('TOOLMUX_MANAGE_CONNECTIONS', { toolkits: ['octo'] })).data as {
            results: Entry[];
          }
        ).results[0]!;
      const wait = async () =>
        (
          (await session.execute('TOOLMUX_WAIT_FOR_CONNECTIONS', { toolkits: ['octo'], timeout_seconds: 5 }))
            .data as {
            toolkits: Record<string, { status: string; message: string }>;
          }
        ).toolkits.octo!;
      const entry = await manage();
      expect(entry.message).toContain(`The Octo account "work" (${accountId}) this session uses has expired`);
      expect((await mux.connectionRequests.get(entry.connection_request_id!)).reconnectOf).toBe(accountId);
      await fetch(await oauthServer.signIn(entry.redirect_url!, { deny: true }), { redirect: 'manual' });

      const failed = await wait();
      expect(failed.status).toBe('FAILED');
      expect(failed.message).toContain(
        `Reconnecting the Octo account ${accountId} (the same account: no new one is made) failed (access_denied`,
      );
      expect(failed.message).toContain('TOOLMUX_MANAGE_CONNECTIONS');
      expect(failed.message).not.toContain('do not ask for one');
      // and the new link reconnects that account again, which the user finishes this time
      const again = await manage();
      expect((await mux.connectionRequests.get(again.connection_request_id!)).reconnectOf).toBe(accountId);
      const callback = await fetch(await oauthServer.signIn(again.redirect_url!), { redirect: 'manual' });
      expect(new URL(callback.headers.get('location')!).searchParams.get('status')).toBe('success');
      expect(await wait()).toMatchObject({ status: 'CONNECTED' });
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
    });

    for (const [kind, instances] of [
      ['reconnect', 'two instances sharing the database'],
      ['reconnect', 'one instance'],
      ['new connection', 'two instances sharing the database'],
    ] as const) {
      it(`two callbacks of one ${kind} at once, ${instances}: one trades the code, the other is refused clearly; one account`, async () => {
        const made = setup();
        const { mux } = made;
        const { accountId, authConfigId } = await linkOcto(mux, oauthServer, 'u4');
        const other = instances === 'one instance' ? mux : made.another();
        const request =
          kind === 'reconnect'
            ? await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback })
            : await mux.connectedAccounts.link('u4', authConfigId, { callbackUrl: appCallback });
        const accounts = (await mux.connectedAccounts.list({ userIds: ['u4'] })).items.length;
        const callbackUrl = await oauthServer.signIn(request.redirectUrl);
        const codes = oauthServer.tokenRequests.authorization_code;
        // the callback that takes the request holds its code exchange until the other has answered
        // (at most 5 s: two exchanges would both wait that long, and both be counted)
        let answered!: () => void;
        const otherAnswered = new Promise<void>((resolve) => {
          answered = resolve;
        });
        made.beforeTokenRequest.hook = () => Promise.race([otherAnswered, sleep(5_000)]);
        const answers = await Promise.all(
          [mux, other].map(async (target, index) => {
            const response = await target.auth.handleCallback(
              new Request(callbackUrl, { headers: { accept: index === 0 ? '*/*' : 'application/json' } }),
            );
            const body = await response.text();
            answered();
            return { status: response.status, location: response.headers.get('location'), body };
          }),
        );
        expect(answers.map(({ status }) => status).sort()).toEqual([302, 400]);
        const taken = answers.find(({ status }) => status === 302)!;
        expect(new URL(taken.location!).searchParams.get('status')).toBe('success');
        const refused = answers.find(({ status }) => status === 400)!;
        expect(refused.body).toContain('CONNECTION_REQUEST_INVALID');
        expect(refused.body).toContain(request.id);
        // while the first completes, the user is not told to start again (which would make a second
        // sign-in for nothing), but to see how it ended in the application
        expect(refused.body).toContain('is being completed');
        expect(refused.body).not.toContain('Start a new connection');
        expect(oauthServer.tokenRequests.authorization_code).toBe(codes + 1);
        expect(await request.waitForConnection(10_000)).toMatchObject({ status: 'ACTIVE' });
        const after = (await mux.connectedAccounts.list({ userIds: ['u4'] })).items;
        expect(after).toHaveLength(accounts);
        expect(after.filter(({ status }) => status === 'ACTIVE')).toHaveLength(kind === 'reconnect' ? 1 : 2);
      });
    }

    it('two reconnects open at once: each works, and the one the user finishes last stands', async () => {
      const { mux, calls, accountId, session } = await expiredPinned();
      const first = await mux.connectedAccounts.reconnect(accountId);
      const second = await mux.connectedAccounts.reconnect(accountId);
      await signInToSuccess(oauthServer, second);
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      const secondToken = calls.at(-1)!.credentials!.accessToken;
      await signInToSuccess(oauthServer, first);
      expect(await first.waitForConnection(10_000)).toMatchObject({ id: accountId, status: 'ACTIVE' });
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      expect(calls.at(-1)!.credentials!.accessToken).not.toBe(secondToken);
    });

    it('an account deleted while its reconnect trades the code stays deleted: the callback says account_deleted', async () => {
      const { mux, accountId, beforeTokenRequest } = await expiredPinned();
      const request = await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback });
      const callbackUrl = await oauthServer.signIn(request.redirectUrl);
      beforeTokenRequest.hook = () => mux.connectedAccounts.delete(accountId);
      const callback = await fetch(callbackUrl, { redirect: 'manual' });
      const back = new URL(callback.headers.get('location')!).searchParams;
      expect(Object.fromEntries(back)).toMatchObject({ status: 'failed', error: 'account_deleted' });
      await expect(mux.connectedAccounts.get(accountId)).rejects.toMatchObject({
        code: 'CONNECTED_ACCOUNT_NOT_FOUND',
      });
      // and a reconnect of a deleted account is refused before anything is made
      await expect(mux.connectedAccounts.reconnect(accountId)).rejects.toMatchObject({
        code: 'CONNECTED_ACCOUNT_NOT_FOUND',
      });
    });

    it('refuses an attempt never connected and a disabled account, naming the way out', async () => {
      const { mux } = setup();
      const { accountId, authConfigId } = await linkOcto(mux, oauthServer, 'u2');
      const attempt = await mux.connectedAccounts.link('u2', authConfigId);
      await expect(mux.connectedAccounts.reconnect(attempt.connectedAccountId!)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('connectedAccounts.link('),
      });
      await mux.connectedAccounts.disable(accountId);
      await expect(mux.connectedAccounts.reconnect(accountId)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('connectedAccounts.enable(id)'),
      });
      await expect(
        mux.connectedAccounts.reconnect(accountId, { callbackUrl: 'https://evil.example/steal' }),
      ).rejects.toMatchObject({ code: 'CALLBACK_URL_NOT_ALLOWED' });
    });
  });
});
