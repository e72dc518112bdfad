import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { databaseBackends } from '../test/auth-fixtures.js';
import {
  databasePerOAuthTest,
  holdingRevocations,
  linkOcto,
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';

/**
 * The tokens an OAuth callback revokes (those a reconnect replaced, those just issued to an account
 * deleted meanwhile) are revoked in the background: the user is sent back to the application, and
 * `waitForConnection()` resolves, while the provider's revocation endpoint still holds the request;
 * `mux.close()` waits for it, bounded by `oauthRequestTimeoutMs`. Against a real OAuth server
 * (oidc-provider) whose revocation requests the ToolMux's fetch holds back.
 */

const secretKey = Buffer.alloc(32, 21).toString('base64');
const appCallback = 'http://localhost:3000/connected';

let oauthServer: TestOAuthServerWithCallback;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

// the behaviour is the callback's, not the store's: SQLite only
const [sqlite] = await databaseBackends();

describe('revocations of an OAuth callback', () => {
  const { database, opened } = databasePerOAuthTest(sqlite!.open, () => oauthServer);

  /**
   * A ToolMux whose revocation requests wait before they reach the provider (see
   * `holdingRevocations`). `beforeTokenRequest.hook`, when set, runs (once) before the next token
   * request goes out.
   */
  function setup(options: {
    oauthRequestTimeoutMs: number;
    until?: 'release' | 'never';
    ignoreSignal?: boolean;
  }) {
    const octo = octoToolkit(oauthServer);
    const logger = recordingLogger();
    const beforeTokenRequest: { hook?: () => Promise<void> } = {};
    const revocations = holdingRevocations(oauthServer, {
      ...options,
      next: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        const hook = url === oauthServer.tokenUrl ? beforeTokenRequest.hook : undefined;
        if (hook) beforeTokenRequest.hook = undefined;
        await hook?.();
        return fetch(input, init);
      },
    });
    const mux = new ToolMux({
      toolkits: [octo.toolkit],
      store: database.spec,
      secretKey,
      logger,
      oauthRedirectUri: oauthServer.redirectUri,
      allowedCallbackUrls: ['http://localhost:3000'],
      oauthRequestTimeoutMs: options.oauthRequestTimeoutMs,
      fetch: revocations.fetch,
    });
    opened.push(mux);
    oauthServer.current = mux;
    return { mux, calls: octo.calls, logger, ...revocations, beforeTokenRequest };
  }

  /** Reconnects a linked account whose access token a call has used; the callback's answer and the token. */
  async function reconnected(made: ReturnType<typeof setup>) {
    const { mux, calls } = made;
    const { accountId } = await linkOcto(mux, oauthServer, 'u1');
    const session = await mux.create('u1', { connectedAccounts: { octo: accountId } });
    expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
    const token = calls.at(-1)!.credentials!.accessToken!;
    const request = await mux.connectedAccounts.reconnect(accountId, { callbackUrl: appCallback });
    const answer = await fetch(await oauthServer.signIn(request.redirectUrl), { redirect: 'manual' });
    return { accountId, session, token, request, answer };
  }

  /** The query of the redirect back to the application. */
  function backOf(answer: Response): Record<string, string> {
    expect(answer.status).toBe(302);
    return Object.fromEntries(new URL(answer.headers.get('location')!).searchParams);
  }

  it('a reconnect answers and completes while the revocation of the replaced tokens is held; close() waits for it, and they end revoked', async () => {
    // a timeout far past what the test takes: on a callback that waited for the revocation, the
    // answer would come only once toolmux's timeout ended the held requests
    const made = setup({ oauthRequestTimeoutMs: 10_000, until: 'release' });
    const { mux, logger, sent, ended, release } = made;
    const { accountId, session, token, request, answer } = await reconnected(made);
    expect(ended).toEqual([]);
    expect(backOf(answer)).toMatchObject({ status: 'success', connected_account_id: accountId });
    expect(await request.waitForConnection(10_000)).toMatchObject({ id: accountId, status: 'ACTIVE' });
    // the new tokens work at once; the replaced ones are on their way to the revocation endpoint
    expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
    await vi.waitFor(() => expect(sent).toHaveLength(2), { timeout: 10_000, interval: 10 });
    expect(ended).toEqual([]);
    expect(await oauthServer.provider.AccessToken.find(token)).toBeDefined();

    let endedAtClose: string[] | undefined;
    const closing = mux.close().then(() => {
      endedAtClose = [...ended];
    });
    release();
    await closing;
    expect(endedAtClose?.sort()).toEqual(['access_token', 'refresh_token']);
    expect(sent.find(({ hint }) => hint === 'access_token')!.token).toBe(token);
    expect(await oauthServer.provider.AccessToken.find(token)).toBeUndefined();
    const oldRefresh = sent.find(({ hint }) => hint === 'refresh_token')!.token;
    expect(await oauthServer.provider.RefreshToken.find(oldRefresh)).toBeUndefined();
    expect(logger.warnings).toEqual([]);
  });

  it('an account deleted while its callback traded the code: the failure answers while the new tokens are being revoked', async () => {
    const made = setup({ oauthRequestTimeoutMs: 10_000, until: 'release' });
    const { mux, sent, ended, release, beforeTokenRequest } = made;
    const { authConfigId } = await linkOcto(mux, oauthServer, 'u2');
    const request = await mux.connectedAccounts.link('u2', authConfigId, { callbackUrl: appCallback });
    const callbackUrl = await oauthServer.signIn(request.redirectUrl);
    beforeTokenRequest.hook = () => mux.connectedAccounts.delete(request.connectedAccountId!);
    const answer = await fetch(callbackUrl, { redirect: 'manual' });
    expect(ended).toEqual([]);
    expect(backOf(answer)).toMatchObject({ status: 'failed', error: 'account_deleted' });
    await vi.waitFor(() => expect(sent).toHaveLength(2), { timeout: 10_000, interval: 10 });
    const issued = sent.find(({ hint }) => hint === 'access_token')!.token;
    expect(await oauthServer.provider.AccessToken.find(issued)).toBeDefined();
    const closing = mux.close();
    release();
    await closing;
    expect(ended).toHaveLength(2);
    expect(await oauthServer.provider.AccessToken.find(issued)).toBeUndefined();
  });

  it('close() waits no longer than the revocation requests may take: one the endpoint never answers is logged, without its tokens', async () => {
    const made = setup({ oauthRequestTimeoutMs: 1_000, until: 'never' });
    const { mux, logger, sent, ended } = made;
    const { accountId, answer } = await reconnected(made);
    expect(backOf(answer)).toMatchObject({ status: 'success' });
    await mux.close();
    // toolmux's timeout ended both requests, and close() waited for that
    expect(ended.sort()).toEqual(['access_token', 'refresh_token']);
    expect(logger.warnings).toHaveLength(2);
    for (const warning of logger.warnings) {
      expect(warning).toContain(accountId);
      expect(warning).toContain('oauthRequestTimeoutMs');
      expect(warning).toContain('the account keeps its new tokens');
      for (const { token } of sent) expect(warning).not.toContain(token);
    }
  });

  it("close() ends even when the ToolMux's fetch ignores toolmux's timeout: it names the account it stopped waiting for", async () => {
    const made = setup({ oauthRequestTimeoutMs: 1_000, until: 'never', ignoreSignal: true });
    const { mux, logger, sent, ended } = made;
    const { accountId, answer } = await reconnected(made);
    expect(backOf(answer)).toMatchObject({ status: 'success' });
    await vi.waitFor(() => expect(sent).toHaveLength(2), { timeout: 10_000, interval: 10 });
    await mux.close();
    expect(ended).toEqual([]);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain('mux.close() stopped waiting');
    expect(logger.warnings[0]).toContain(accountId);
    for (const { token } of sent) expect(logger.warnings[0]).not.toContain(token);
  });
});
