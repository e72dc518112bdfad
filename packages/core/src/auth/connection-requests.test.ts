import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolMuxError } from '../errors.js';
import {
  connectionRequestAuthorizationUrl,
  connectPageCookie,
  continueConnectionRequest,
  useHostedConnectPage,
} from '../internal.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { databaseBackends, databasePerTest, pastTime, quiet, rejection } from '../test/auth-fixtures.js';
import { octoToolkit, startTestOAuthServer, type TestOAuthServer } from '../test/oauth-server.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { requestClientIdOf } from './connection-requests.js';

/**
 * `mux.connectionRequests`: both kinds of request stored and read by id, completed once, expired,
 * waited for; hosted links; the authorization URL kept encrypted (and rotated) for the connect page.
 */

const redirectUri = 'http://127.0.0.1:9/auth/callback'; // never opened: callbacks go to handleCallback directly
const baseUrl = 'https://tools.example.com';
const appCallback = 'http://localhost:3000/connected';
const keyA = Buffer.alloc(32, 1).toString('base64');
const keyB = Buffer.alloc(32, 2).toString('base64');
let oauthServer: TestOAuthServer;

beforeAll(async () => {
  oauthServer = await startTestOAuthServer({ redirectUris: [redirectUri] });
});
afterAll(() => oauthServer.close());

const backends = await databaseBackends();

describe.each(backends)('connection requests on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'api', () => {
    const { database, opened } = databasePerTest(open);

    function setup(options: { hosted?: boolean; secretKey?: string; previousSecretKeys?: string[] } = {}) {
      const sample = createSampleToolkits();
      const mux = new ToolMux({
        toolkits: [...sample.toolkits, octoToolkit(oauthServer).toolkit],
        store: database.spec,
        secretKey: options.secretKey ?? keyA,
        previousSecretKeys: options.previousSecretKeys,
        baseUrl,
        logger: quiet,
        oauthRedirectUri: redirectUri,
        hostedConnectPage: options.hosted,
      });
      opened.push(mux);
      const mailKey = () =>
        sample.calls.filter((call) => call.slug === 'MAIL_SEND_EMAIL').at(-1)?.context.credentials?.apiKey;
      return { mux, mailKey };
    }

    async function octoConfig(mux: ToolMux) {
      return mux.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauthServer.clientId,
        clientSecret: oauthServer.clientSecret,
      });
    }

    const expire = (id: string) =>
      database.exec(
        `UPDATE toolmux_connection_requests SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${id}'`,
      );

    /** Signs in at the provider and hands the callback to the ToolMux. */
    async function finish(mux: ToolMux, authorizationUrl: string, options: { deny?: boolean } = {}) {
      const response = await mux.auth.handleCallback(
        new Request(await oauthServer.signIn(authorizationUrl, options)),
      );
      return new URL(response.headers.get('location')!);
    }

    it('a credentials request: link → get → complete → the account runs tools; waitForConnection resolves', async () => {
      const { mux, mailKey } = setup();
      const config = await mux.authConfigs.create('mail', { type: 'api_key' });
      const request = await mux.connectedAccounts.link('user_1', config.id, { callbackUrl: appCallback });
      expect(request).toMatchObject({
        kind: 'fields',
        connectedAccountId: null,
        toolkit: 'mail',
        redirectUrl: `${baseUrl}/connect/${request.id}`,
      });
      expect(request.id).toMatch(/^cr_/);
      expect(await mux.connectionRequests.get(request.id)).toEqual({
        id: request.id,
        kind: 'fields',
        userId: 'user_1',
        toolkit: 'mail',
        authConfigId: config.id,
        connectedAccountId: null,
        reconnectOf: null,
        status: 'PENDING',
        replacedByNewerRequests: false,
        callbackUrl: appCallback,
        expiresAt: request.expiresAt,
        redirectUrl: `${baseUrl}/connect/${request.id}`,
      });
      expect(request.expiresAt.getTime() - Date.now()).toBeGreaterThan(9 * 60_000);

      const waiting = request.waitForConnection(10_000);
      // wrong fields are named (never their values) and leave the request open
      const wrong = await rejection(
        mux.connectionRequests.complete(request.id, { apiKey: 'sk_ok', token: 'sk_wrong_value' }),
        'CONNECTED_ACCOUNT_INVALID',
      );
      expect(wrong.message).toContain('"token"');
      expect(wrong.message).not.toContain('sk_wrong_value');
      await rejection(mux.connectionRequests.complete(request.id, {}), 'CONNECTED_ACCOUNT_INVALID');
      expect((await mux.connectionRequests.get(request.id)).status).toBe('PENDING');

      const account = await mux.connectionRequests.complete(request.id, { apiKey: 'sk_live_mail_1' });
      expect(account).toMatchObject({
        userId: 'user_1',
        toolkit: 'mail',
        authConfigId: config.id,
        status: 'ACTIVE',
      });
      expect(JSON.stringify(account)).not.toContain('sk_live_mail_1');
      expect(await waiting).toEqual({ id: account.id, status: 'ACTIVE', toolkit: 'mail' });
      expect(await mux.connectionRequests.get(request.id)).toMatchObject({
        status: 'COMPLETED',
        connectedAccountId: account.id,
      });

      const session = await mux.create('user_1', { toolkits: ['mail'], authConfigs: { mail: config.id } });
      expect(
        (await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' })).successful,
      ).toBe(true);
      expect(mailKey()).toBe('sk_live_mail_1');

      // once: a second completion names the account it made, and stores nothing
      const again = await rejection(
        mux.connectionRequests.complete(request.id, { apiKey: 'sk_live_mail_2' }),
        'CONNECTION_REQUEST_INVALID',
      );
      expect(again.message).toContain(account.id);
      expect(again.message).toContain('used once');
      expect((await mux.connectedAccounts.list({ userIds: ['user_1'] })).items).toHaveLength(1);
    });

    it('two completions at once make one account', async () => {
      const { mux } = setup();
      const config = await mux.authConfigs.create('mail', { type: 'api_key' });
      const request = await mux.connectedAccounts.link('user_1', config.id);
      const results = await Promise.allSettled(
        ['sk_a', 'sk_b', 'sk_c'].map((apiKey) => mux.connectionRequests.complete(request.id, { apiKey })),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected')
          expect((result.reason as ToolMuxError).code).toBe('CONNECTION_REQUEST_INVALID');
      }
      expect((await mux.connectedAccounts.list({ userIds: ['user_1'] })).items).toHaveLength(1);
    });

    it('an expired request cannot be completed, and its waiter is told', async () => {
      const { mux } = setup();
      const config = await mux.authConfigs.create('mail', { type: 'api_key' });
      const request = await mux.connectedAccounts.link('user_1', config.id);
      const waiting = rejection(request.waitForConnection(10_000), 'CONNECTION_REQUEST_EXPIRED');
      await expire(request.id);
      await waiting;
      expect((await mux.connectionRequests.get(request.id)).status).toBe('EXPIRED');
      const error = await rejection(
        mux.connectionRequests.complete(request.id, { apiKey: 'sk_late' }),
        'CONNECTION_REQUEST_EXPIRED',
      );
      expect(error.message).toContain(request.id);
      expect((await mux.connectedAccounts.list({ userIds: ['user_1'] })).items).toEqual([]);
    });

    it('checks callbackUrl against the allowlist before storing anything, for credentials too', async () => {
      const { mux } = setup();
      const config = await mux.authConfigs.create('mail', { type: 'api_key' });
      const refused = await rejection(
        mux.connectedAccounts.link('user_1', config.id, { callbackUrl: 'https://evil.example.org/cb' }),
        'CALLBACK_URL_NOT_ALLOWED',
      );
      expect(refused.message).toContain('https://evil.example.org/cb');
      expect(refused.message).toContain('allowedCallbackUrls');
      expect(await database.rows('SELECT id FROM toolmux_connection_requests')).toEqual([]);
      // the default callbackUrl and the origin of baseUrl are allowed
      const request = await mux.connectedAccounts.link('user_1', config.id);
      expect((await mux.connectionRequests.get(request.id)).callbackUrl).toBe(`${baseUrl}/connect/done`);
      await mux.connectedAccounts.link('user_1', config.id, { callbackUrl: `${baseUrl}/back` });
    });

    it('session.authorize() makes a credentials request through the session auth config, else through toolmux’s own', async () => {
      const { mux } = setup();
      const config = await mux.authConfigs.create('mail', { type: 'api_key' });
      const session = await mux.create('user_1', { toolkits: ['mail'], authConfigs: { mail: config.id } });
      const request = await session.authorize('mail', { callbackUrl: appCallback });
      expect(request.kind).toBe('fields');
      expect(await mux.connectionRequests.get(request.id)).toMatchObject({
        userId: 'user_1',
        authConfigId: config.id,
        status: 'PENDING',
      });
      // a credential toolkit needs no setup: toolmux makes (once) a config of its own for it
      const bare = await mux.create('user_1', { toolkits: ['mail'] });
      const managed = await mux.connectionRequests.get((await bare.authorize('mail')).id);
      expect(managed).toMatchObject({ kind: 'fields', userId: 'user_1', status: 'PENDING' });
      expect(managed.authConfigId).not.toBe(config.id);
      expect(await mux.authConfigs.get(managed.authConfigId)).toMatchObject({
        toolkit: 'mail',
        type: 'api_key',
        createdBy: 'toolmux',
      });
    });

    it('unknown ids and the wrong kind are refused with a stable code naming the id', async () => {
      const { mux } = setup();
      for (const id of ['cr_missing', 'ca_not_a_request', '']) {
        const error = await rejection(mux.connectionRequests.get(id), 'CONNECTION_REQUEST_NOT_FOUND');
        expect(error.message).toContain(`"${id}"`);
        await rejection(mux.connectionRequests.complete(id, { apiKey: 'x' }), 'CONNECTION_REQUEST_NOT_FOUND');
      }
      const oauthRequest = await mux.connectedAccounts.link('user_1', (await octoConfig(mux)).id);
      const wrongKind = await rejection(
        mux.connectionRequests.complete(oauthRequest.id, { apiKey: 'x' }),
        'INVALID_REQUEST',
      );
      expect(wrongKind.message).toContain(oauthRequest.id);
      const fields = await mux.connectedAccounts.link(
        'user_1',
        (await mux.authConfigs.create('mail', { type: 'api_key' })).id,
      );
      await rejection(connectionRequestAuthorizationUrl(mux, fields.id), 'INVALID_REQUEST');
    });

    it('an OAuth request: PENDING, then COMPLETED or FAILED; get() never shows the authorization URL', async () => {
      const { mux } = setup();
      const config = await octoConfig(mux);
      const request = await mux.connectedAccounts.link('user_1', config.id, { callbackUrl: appCallback });
      // without a server the link is the provider's, and the request has its account from the start
      expect(request.redirectUrl.startsWith(`${oauthServer.authorizationUrl}?`)).toBe(true);
      expect(request.connectedAccountId).toMatch(/^ca_/);
      const info = await mux.connectionRequests.get(request.id);
      expect(info).toMatchObject({
        kind: 'oauth2',
        status: 'PENDING',
        connectedAccountId: request.connectedAccountId,
        redirectUrl: `${baseUrl}/connect/${request.id}`,
      });
      const state = new URL(request.redirectUrl).searchParams.get('state')!;
      for (const text of [JSON.stringify(info), inspect(info)]) {
        expect(text).not.toContain(state);
        expect(text).not.toContain(oauthServer.issuer);
      }
      const back = await finish(mux, request.redirectUrl);
      expect(back.searchParams.get('status')).toBe('success');
      expect((await mux.connectionRequests.get(request.id)).status).toBe('COMPLETED');

      const denied = await mux.connectedAccounts.link('user_1', config.id, { callbackUrl: appCallback });
      const waiting = rejection(denied.waitForConnection(10_000), 'CONNECTION_FAILED');
      await finish(mux, denied.redirectUrl, { deny: true });
      expect((await waiting).message).toContain('access_denied');
      expect((await mux.connectionRequests.get(denied.id)).status).toBe('FAILED');
    });

    it('hosted links whose callback is on the page\'s host take the code only from the browser that pressed "Continue", on any instance and key', async () => {
      const pageHost = 'http://127.0.0.1:9'; // the host of redirectUri: the page's cookies reach the callback
      const on = (secretKey: string, previousSecretKeys?: string[]) => {
        const mux = new ToolMux({
          toolkits: [octoToolkit(oauthServer).toolkit],
          store: database.spec,
          secretKey,
          previousSecretKeys,
          baseUrl: pageHost,
          logger: quiet,
          oauthRedirectUri: redirectUri,
          hostedConnectPage: true,
        });
        opened.push(mux);
        return mux;
      };
      const first = on(keyA);
      const config = await octoConfig(first);
      const request = await first.connectedAccounts.link('user_bound', config.id, {
        callbackUrl: appCallback,
      });
      const cookieOf = (setCookie: string) => setCookie.split(';')[0]!;
      const page = await connectPageCookie(first, request.id, request.expiresAt);
      expect(page).toMatch(/; Path=\/connect\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
      // "Continue" without the page's cookie, or with another request's: refused, the request open
      await rejection(continueConnectionRequest(first, request.id, null), 'CONNECTION_BROWSER_MISMATCH');
      const other = await first.connectedAccounts.link('user_other', config.id);
      const otherPage = cookieOf(await connectPageCookie(first, other.id, other.expiresAt));
      await rejection(
        continueConnectionRequest(first, request.id, otherPage.replace(other.id, request.id)),
        'CONNECTION_BROWSER_MISMATCH',
      );
      const continued = await continueConnectionRequest(first, request.id, `a=b; ${cookieOf(page)}`);
      expect(continued.setCookie).toMatch(/; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
      // another browser brings the provider's code back: refused, nothing used
      const callback = await oauthServer.signIn(continued.authorizationUrl, { login: 'victim' });
      const refused = await first.auth.handleCallback(
        new Request(callback, { headers: { accept: 'application/json' } }),
      );
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
        'CONNECTION_BROWSER_MISMATCH',
      );
      expect((await first.connectionRequests.get(request.id)).status).toBe('PENDING');
      // the browser that pressed "Continue" finishes on an instance that has rotated to a new key
      const second = on(keyB, [keyA]);
      const again = await oauthServer.signIn(continued.authorizationUrl, { login: 'rightful' });
      const landed = await second.auth.handleCallback(
        new Request(again, { headers: { cookie: cookieOf(continued.setCookie) } }),
      );
      expect(new URL(landed.headers.get('location')!).searchParams.get('status')).toBe('success');
      expect((await second.connectedAccounts.get(request.connectedAccountId!)).status).toBe('ACTIVE');

      // a page on https sets Secure cookies; a callback on another host than the page is not bound
      const { mux: elsewhere } = setup({ hosted: true });
      const unbound = await elsewhere.connectedAccounts.link(
        'user_unbound',
        (await octoConfig(elsewhere)).id,
      );
      expect(await connectPageCookie(elsewhere, unbound.id, unbound.expiresAt)).toMatch(/; Secure$/);
      const url = await connectionRequestAuthorizationUrl(elsewhere, unbound.id);
      expect((await finish(elsewhere, url)).searchParams.get('status')).toBe('success');
    });

    it('hosted links: every link opens the connect page, whose authorization URL completes the flow once', async () => {
      const { mux } = setup({ hosted: true });
      const config = await octoConfig(mux);
      const session = await mux.create('user_1', {
        toolkits: ['octo', 'mail'],
        authConfigs: { octo: config.id },
      });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      expect(request.redirectUrl).toBe(`${baseUrl}/connect/${request.id}`);
      const authorizationUrl = await connectionRequestAuthorizationUrl(mux, request.id);
      expect(authorizationUrl.startsWith(`${oauthServer.authorizationUrl}?`)).toBe(true);
      const waiting = request.waitForConnection(10_000);
      expect((await finish(mux, authorizationUrl)).searchParams.get('status')).toBe('success');
      expect(await waiting).toEqual({ id: request.connectedAccountId, status: 'ACTIVE', toolkit: 'octo' });
      // used: the page can no longer send anyone to the provider
      await rejection(connectionRequestAuthorizationUrl(mux, request.id), 'CONNECTION_REQUEST_INVALID');
      const late = await session.authorize('octo');
      await expire(late.id);
      await rejection(connectionRequestAuthorizationUrl(mux, late.id), 'CONNECTION_REQUEST_EXPIRED');

      // TOOLMUX_MANAGE_CONNECTIONS links OAuth and, with an auth config, credentials to the page
      const mail = await mux.authConfigs.create('mail', { type: 'api_key' });
      await session.update({ authConfigs: { octo: config.id, mail: mail.id } });
      const managed = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, {
        toolkits: ['octo', 'mail'],
        reinitiate: true,
      });
      const [octoEntry, mailEntry] = (managed.data as { results: Array<Record<string, string>> }).results;
      expect(octoEntry!.redirect_url).toBe(`${baseUrl}/connect/${octoEntry!.connection_request_id}`);
      expect(mailEntry!.redirect_url).toBe(`${baseUrl}/connect/${mailEntry!.connection_request_id}`);
      expect(mailEntry!.message).toContain('enter an API key for Mail');
      expect((await mux.connectionRequests.get(mailEntry!.connection_request_id!)).kind).toBe('fields');
    });

    it("a hosted link opened after the auth config's clientId changed ends the request FAILED (auth_config_changed) instead of sending the user to sign in for the earlier client", async () => {
      const { mux } = setup({ hosted: true });
      const config = await octoConfig(mux);
      const request = await mux.connectedAccounts.link('user_1', config.id, { callbackUrl: appCallback });
      const earlierUrl = await connectionRequestAuthorizationUrl(mux, request.id);
      const other = oauthServer.otherClient;
      await mux.authConfigs.update(config.id, { clientId: other.clientId, clientSecret: other.clientSecret });

      const refused = await rejection(
        connectionRequestAuthorizationUrl(mux, request.id),
        'CONNECTION_FAILED',
      );
      const reason = `auth_config_changed: ${refused.message}`;
      expect(refused.message).toMatch(
        new RegExp(
          `^Connection request ${request.id} was started with the OAuth client "${oauthServer.clientId}" of auth config ${config.id}, whose clientId is now "${other.clientId}": .* start a new connection, which signs in with the new client\\.$`,
        ),
      );
      expect(refused.details).toEqual({
        connectionRequestId: request.id,
        connectedAccountId: request.connectedAccountId,
      });
      expect((await mux.connectionRequests.get(request.id)).status).toBe('FAILED');
      expect(await mux.connectedAccounts.get(request.connectedAccountId!)).toMatchObject({
        status: 'FAILED',
        statusReason: reason,
      });
      expect((await rejection(request.waitForConnection(10_000), 'CONNECTION_FAILED')).message).toContain(
        reason,
      );
      // opened again, the page says the request is over; a sign-in made with the earlier URL changes nothing
      await rejection(connectionRequestAuthorizationUrl(mux, request.id), 'CONNECTION_REQUEST_INVALID');
      const exchanges = oauthServer.tokenRequests.authorization_code;
      const late = await mux.auth.handleCallback(new Request(await oauthServer.signIn(earlierUrl)));
      expect(late.status).toBe(400);
      expect(oauthServer.tokenRequests.authorization_code).toBe(exchanges);
      expect(await mux.connectedAccounts.get(request.connectedAccountId!)).toMatchObject({
        status: 'FAILED',
        statusReason: reason,
      });

      // a new link signs in with the new client
      const again = await mux.connectedAccounts.link('user_1', config.id, { callbackUrl: appCallback });
      const newUrl = await connectionRequestAuthorizationUrl(mux, again.id);
      expect(new URL(newUrl).searchParams.get('client_id')).toBe(other.clientId);
      expect((await finish(mux, newUrl)).searchParams.get('status')).toBe('success');
      expect((await again.waitForConnection(10_000)).status).toBe('ACTIVE');
    });

    it('without hosted links TOOLMUX_MANAGE_CONNECTIONS sends credentials toolkits to the application', async () => {
      const { mux } = setup();
      const mail = await mux.authConfigs.create('mail', { type: 'api_key' });
      const session = await mux.create('user_1', { toolkits: ['mail'], authConfigs: { mail: mail.id } });
      const managed = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['mail'] });
      const [entry] = (managed.data as { results: Array<Record<string, string>> }).results;
      expect(entry!.redirect_url).toBeUndefined();
      expect(entry!.message).toContain('in the application');
      // …until a server serves the ToolMux
      useHostedConnectPage(mux);
      const hosted = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['mail'] });
      const [linked] = (hosted.data as { results: Array<Record<string, string>> }).results;
      expect(linked!.redirect_url).toBe(`${baseUrl}/connect/${linked!.connection_request_id}`);
    });

    it('keeps the authorization URL encrypted, and vault.rotate re-encrypts pending requests', async () => {
      const { mux: before } = setup({ secretKey: keyA });
      const config = await octoConfig(before);
      const pending = await before.connectedAccounts.link('user_1', config.id, { callbackUrl: appCallback });
      const fields = await before.connectedAccounts.link(
        'user_1',
        (await before.authConfigs.create('mail', { type: 'api_key' })).id,
      );
      const state = new URL(pending.redirectUrl).searchParams.get('state')!;
      const rows = JSON.stringify(await database.rows('SELECT * FROM toolmux_connection_requests'));
      expect(rows).not.toContain(state);
      expect(rows).not.toContain(oauthServer.issuer);

      const { mux: rotated } = setup({ secretKey: keyB, previousSecretKeys: [keyA] });
      const result = await rotated.vault.rotate();
      expect(result.reencrypted).toBeGreaterThanOrEqual(2); // the OAuth config's client secret and the request
      // the old key is gone: the request still opens, and its flow completes
      const { mux: after } = setup({ secretKey: keyB });
      expect(await connectionRequestAuthorizationUrl(after, pending.id)).toBe(pending.redirectUrl);
      expect((await finish(after, pending.redirectUrl)).searchParams.get('status')).toBe('success');
      expect((await after.connectionRequests.get(pending.id)).status).toBe('COMPLETED');
      expect((await after.connectionRequests.get(fields.id)).status).toBe('PENDING');
    });
  });
});

describe('remote mode', () => {
  it('connectionRequestAuthorizationUrl and useHostedConnectPage need an embedded ToolMux', async () => {
    const remote = new ToolMux({ baseUrl, apiKey: 'tmx_remote_key_0123456789', logger: quiet });
    await rejection(connectionRequestAuthorizationUrl(remote, 'cr_x'), 'NOT_SUPPORTED');
    expect(() => useHostedConnectPage(remote)).toThrow(/embedded ToolMux/);
    await remote.close();
  });
});

describe('requestClientIdOf', () => {
  it('is the client id a request kept, else the client_id of its authorization URL (requests made before it kept one)', () => {
    const authorizationUrl =
      'https://auth.example.com/authorize?response_type=code&client_id=old-app&state=s';
    expect(requestClientIdOf({ codeVerifier: 'v', authorizationUrl, clientId: 'kept-app' })).toBe('kept-app');
    expect(requestClientIdOf({ codeVerifier: 'v', authorizationUrl })).toBe('old-app');
    // requests from before the authorization URL was kept: nothing to check against
    expect(requestClientIdOf({ codeVerifier: 'v' })).toBeUndefined();
  });
});
