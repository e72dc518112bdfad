import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineToolkit } from '../catalog/define.js';
import type { OAuth2Scheme } from '../catalog/types.js';
import { quiet, rejection } from '../test/auth-fixtures.js';
import { octoToolkit, startTestOAuthServer, type TestOAuthServer } from '../test/oauth-server.js';
import { ToolMux } from '../toolmux.js';

/**
 * RFC 9207: the authorization server names itself as `iss` in the redirect back, so that a code from
 * another server (a mix-up attack) is not traded. oidc-provider sends `iss` always; the tests land its
 * real callback as it is, without `iss` and with another issuer, on a toolkit whose scheme says
 * (`issuerInCallback`) or does not say that its server always sends one.
 */

const redirectUri = 'http://127.0.0.1:9/auth/callback';
let server: TestOAuthServer;
const opened: ToolMux[] = [];

beforeAll(async () => {
  server = await startTestOAuthServer({ redirectUris: [redirectUri] });
});
afterAll(() => server.close());
afterEach(async () => {
  await Promise.all(opened.splice(0).map((mux) => mux.close()));
});

function setup(issuerInCallback: boolean | undefined) {
  const octo = octoToolkit(server).toolkit;
  const scheme = octo.auth[0] as OAuth2Scheme;
  const toolkit = defineToolkit({
    ...octo,
    tools: [...octo.tools],
    categories: [...octo.categories],
    auth: [{ ...scheme, ...(issuerInCallback === undefined ? {} : { issuerInCallback }) }],
  });
  const mux = new ToolMux({
    toolkits: [toolkit],
    store: ':memory:',
    logger: quiet,
    oauthRedirectUri: redirectUri,
    managedAuth: { octo: { clientId: server.clientId, clientSecret: server.clientSecret } },
  });
  opened.push(mux);
  return mux;
}

/**
 * Signs in at oidc-provider and lands its callback on `mux`, changed by `change` first; returns the
 * account as the callback left it, where the callback redirected to and how many codes were traded.
 */
async function connect(mux: ToolMux, change: (callback: URL) => void = () => undefined) {
  const session = await mux.create('user_1', { toolkits: ['octo'] });
  const request = await session.authorize('octo');
  const callback = new URL(await server.signIn(request.redirectUrl));
  expect(callback.searchParams.get('iss')).toBe(server.issuer);
  change(callback);
  const before = server.tokenRequests.authorization_code;
  const response = await mux.auth.handleCallback(new Request(callback));
  const account = await mux.connectedAccounts.get(request.connectedAccountId!);
  return {
    request,
    account,
    error: new URL(response.headers.get('location')!).searchParams.get('error'),
    codesTraded: server.tokenRequests.authorization_code - before,
  };
}

const dropIss = (callback: URL) => callback.searchParams.delete('iss');

describe('the iss of the authorization response (RFC 9207)', () => {
  it('with issuerInCallback, a callback with the right iss connects', async () => {
    const { account, codesTraded } = await connect(setup(true));
    expect(account.status).toBe('ACTIVE');
    expect(codesTraded).toBe(1);
  });

  it('with issuerInCallback, a callback without iss is refused naming the issuer expected, its code not traded', async () => {
    const { request, account, error, codesTraded } = await connect(setup(true), dropIss);
    expect(error).toBe('invalid_response');
    expect(codesTraded).toBe(0);
    const reason = `invalid_response: the authorization response has no "iss" parameter, which the toolkit's scheme says its authorization server always sends (issuerInCallback), naming "${server.issuer}": it may come from another authorization server (a mix-up attack, RFC 9207), so its code was not used`;
    expect(account).toMatchObject({ status: 'FAILED', statusReason: reason });
    const failed = await rejection(request.waitForConnection(5_000), 'CONNECTION_FAILED');
    expect(failed.message).toContain(server.issuer);
  });

  it.each([true, undefined])(
    'a callback naming another issuer is refused, naming both (issuerInCallback %s)',
    async (issuerInCallback) => {
      const { account, error, codesTraded } = await connect(setup(issuerInCallback), (callback) =>
        callback.searchParams.set('iss', 'https://as.attacker.example'),
      );
      expect(error).toBe('invalid_response');
      expect(codesTraded).toBe(0);
      expect(account).toMatchObject({
        status: 'FAILED',
        statusReason: `invalid_response: the authorization response names the issuer "https://as.attacker.example", not "${server.issuer}", the toolkit scheme's issuer: it may come from another authorization server (a mix-up attack, RFC 9207), so its code was not used`,
      });
    },
  );

  it('without issuerInCallback, a callback without iss connects (providers that send none)', async () => {
    const { account, codesTraded } = await connect(setup(undefined), dropIss);
    expect(account.status).toBe('ACTIVE');
    expect(codesTraded).toBe(1);
  });
});
