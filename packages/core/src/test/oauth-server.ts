import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { Credentials, OAuth2Scheme, Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { Session } from '../session.js';
import type { ToolMux } from '../toolmux.js';
import { databasePerTest, type OpenedDatabase } from './auth-fixtures.js';

/**
 * A real OAuth 2.0 / OpenID Connect authorization server for tests: `oidc-provider` on a loopback
 * port, with one confidential client that must use PKCE and gets refresh tokens. Users sign in and
 * consent through oidc-provider's development forms, which {@link TestOAuthServer.signIn} fills in
 * with plain HTTP requests, as a browser would.
 *
 * Exported as `@toolmux/core/test/oauth-server`, apart from `@toolmux/core/test`, because it needs
 * `oidc-provider`, which only the packages that run these tests install (as a dev dependency).
 */
export interface TestOAuthServer {
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
  /** RFC 7009 token revocation endpoint. */
  revocationUrl: string;
  clientId: string;
  clientSecret: string;
  /**
   * A second OAuth app registered at the same provider, with the same redirect URIs and grants: the
   * app an auth config is moved to (`authConfigs.update(id, { clientId, clientSecret })`). A code the
   * provider issued to one client is `invalid_grant` for the other.
   */
  otherClient: { clientId: string; clientSecret: string };
  /** The oidc-provider instance (to look up or revoke what it issued). */
  provider: Provider;
  /** POST requests that reached the token endpoint, by `grant_type`. */
  tokenRequests: { authorization_code: number; refresh_token: number };
  /**
   * Opens `redirectUrl` like a browser (cookies, manual redirects), signs in as `login` and consents
   * (or cancels with `deny`), and returns the URL the provider finally redirects to (the callback with
   * `code` and `state`), without opening it.
   */
  signIn(redirectUrl: string, options?: { login?: string; deny?: boolean }): Promise<string>;
  /**
   * Gives the client a new secret, as a provider's console does when the app's secret is rotated:
   * from now on the token endpoint accepts only this one (`invalid_client` for the old one), while the
   * tokens it issued stay valid. Returns the new secret (`to`, else a random one); `clientSecret`
   * keeps the first one.
   */
  rotateClientSecret(to?: string): Promise<string>;
  /** Revokes every grant (and so every refresh token) of `accessToken`'s sign-in. */
  revokeGrantOf(accessToken: string): Promise<void>;
  /** Revokes one access token only (its refresh token still works), as a provider's "sign out" might. */
  revokeAccessToken(accessToken: string): Promise<void>;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export interface TestOAuthServerOptions {
  /** redirect_uris the client may use. */
  redirectUris: string[];
  /** Access token lifetime in seconds. @default 3600 */
  accessTokenTtl?: number;
  /** Whether the client gets refresh tokens. @default true */
  refreshTokens?: boolean;
  /**
   * What revoking a token (RFC 7009) revokes: `grant`, every token of its sign-in (oidc-provider's
   * way); `token`, that token only, so that tokens issued from it (a rotated refresh token, a new
   * access token) stay live, as some providers do. @default 'grant'
   */
  revokes?: 'grant' | 'token';
}

export async function startTestOAuthServer(options: TestOAuthServerOptions): Promise<TestOAuthServer> {
  let handler: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  const tokenRequests = { authorization_code: 0, refresh_token: 0 };
  const server = createServer((request, response) => handler!(request, response));
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'toolmux-test-client';
  const clientSecret = `cs_${randomBytes(24).toString('hex')}`;
  const otherClient = {
    clientId: 'toolmux-test-other-client',
    clientSecret: `cs_${randomBytes(24).toString('hex')}`,
  };
  const provider = new Provider(issuer, {
    clients: [
      { id: clientId, secret: clientSecret },
      { id: otherClient.clientId, secret: otherClient.clientSecret },
    ].map(({ id, secret }) => ({
      client_id: id,
      client_secret: secret,
      redirect_uris: options.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic' as const,
    })),
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'repo'],
    issueRefreshToken: async (_context, client) =>
      options.refreshTokens !== false && client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: { AccessToken: options.accessTokenTtl ?? 3600 },
    features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
    findAccount: async (_context, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  });
  if (options.revokes === 'token') {
    // oidc-provider revokes a token's grant through the models' adapters (each one drops every token
    // of the grant): here that does nothing, so a revocation destroys the one token it names
    for (const model of [provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode]) {
      Object.assign(model.adapter, { revokeByGrantId: async () => undefined });
    }
  }
  const callback = provider.callback();
  provider.on('grant.success', (context) => count(context.oidc.params?.grant_type));
  provider.on('grant.error', (context) => count(context.oidc.params?.grant_type));
  function count(grantType: unknown) {
    if (grantType === 'authorization_code' || grantType === 'refresh_token') tokenRequests[grantType]++;
  }
  handler = (request, response) => void callback(request, response);

  async function signIn(
    redirectUrl: string,
    signInOptions: { login?: string; deny?: boolean } = {},
  ): Promise<string> {
    const cookies = new Map<string, string>();
    let url = new URL(redirectUrl);
    let init: RequestInit = { method: 'GET' };
    for (let step = 0; step < 20; step++) {
      const response = await fetch(url, {
        ...init,
        redirect: 'manual',
        headers: {
          ...(init.headers as Record<string, string> | undefined),
          cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        },
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const index = pair!.indexOf('=');
        cookies.set(pair!.slice(0, index).trim(), pair!.slice(index + 1));
      }
      if (response.status >= 300 && response.status < 400) {
        await response.arrayBuffer();
        const next = new URL(response.headers.get('location')!, url);
        if (next.origin !== issuer) return next.toString();
        url = next;
        init = { method: 'GET' };
        continue;
      }
      const html = await response.text();
      if (response.status !== 200)
        throw new Error(`the authorization server answered ${response.status}: ${html.slice(0, 500)}`);
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
      if (!action || !prompt) throw new Error(`no sign-in or consent form in: ${html.slice(0, 500)}`);
      if (signInOptions.deny && prompt === 'consent') {
        const abort = /<a href="([^"]+\/abort)"/.exec(html)?.[1];
        url = new URL(abort!.replaceAll('&amp;', '&'), url);
        init = { method: 'GET' };
        continue;
      }
      const form = new URLSearchParams({ prompt });
      if (prompt === 'login') {
        form.set('login', signInOptions.login ?? 'user-1');
        form.set('password', 'any');
      }
      url = new URL(action.replaceAll('&amp;', '&'), url);
      init = {
        method: 'POST',
        body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      };
    }
    throw new Error('the sign-in did not end in a redirect to the client within 20 steps');
  }

  return {
    issuer,
    authorizationUrl: `${issuer}/auth`,
    tokenUrl: `${issuer}/token`,
    userinfoUrl: `${issuer}/me`,
    revocationUrl: `${issuer}/token/revocation`,
    clientId,
    clientSecret,
    otherClient,
    provider,
    tokenRequests,
    signIn,
    async rotateClientSecret(to) {
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error('the test client is gone');
      // oidc-provider keeps a static client as one object and compares secrets with its clientSecret
      // (typed read-only, a plain property at run time)
      const rotated = to ?? `cs_${randomBytes(24).toString('hex')}`;
      Object.assign(client, { clientSecret: rotated });
      return rotated;
    },
    async revokeGrantOf(accessToken) {
      const token = await provider.AccessToken.find(accessToken);
      if (!token?.grantId) throw new Error('unknown access token');
      const grant = await provider.Grant.find(token.grantId);
      await grant?.destroy();
    },
    async revokeAccessToken(accessToken) {
      const token = await provider.AccessToken.find(accessToken);
      if (!token) throw new Error('unknown access token');
      await token.destroy();
    },
    close: () => closeServer(server),
  };
}

/** What an OAuth callback can land on: a ToolMux (structurally, so that this file needs no import of it). */
export interface OAuthCallbackTarget {
  auth: { handleCallback(request: Request): Promise<Response> };
}

/**
 * The test authorization server with a loopback callback server in front of toolmux, as an
 * application's callback route would be: every request to {@link redirectUri} goes to
 * `handleCallback` of the ToolMux in {@link current}, which the test sets.
 */
export interface TestOAuthServerWithCallback extends TestOAuthServer {
  /** `…/auth/callback` of the callback server, for `oauthRedirectUri` (a redirect URI of the client). */
  redirectUri: string;
  /** The ToolMux the callback server hands requests to; set it before a callback lands. */
  current: OAuthCallbackTarget | undefined;
  /** Closes the callback server and the authorization server. */
  close(): Promise<void>;
}

export async function startTestOAuthServerWithCallback(
  options: Omit<TestOAuthServerOptions, 'redirectUris'> & {
    /** More redirect_uris the client may use (the callback server's is always one). */
    otherRedirectUris?: string[];
  } = {},
): Promise<TestOAuthServerWithCallback> {
  const callbackServer = await serveFetchHandler((request) => {
    if (!fixture.current) throw new Error('an OAuth callback landed before the test set `current`');
    return fixture.current.auth.handleCallback(request);
  });
  const redirectUri = `${callbackServer.url}/auth/callback`;
  const { otherRedirectUris = [], ...serverOptions } = options;
  const server = await startTestOAuthServer({
    ...serverOptions,
    redirectUris: [redirectUri, ...otherRedirectUris],
  });
  const fixture: TestOAuthServerWithCallback = {
    ...server,
    redirectUri,
    current: undefined,
    async close() {
      await server.close();
      await callbackServer.close();
    },
  };
  return fixture;
}

/** Serves a fetch handler (`Request` → `Response`) on a loopback port, as a web framework would. */
export async function serveFetchHandler(
  handle: (request: Request) => Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (incoming, outgoing) => {
    const request = new Request(`http://${incoming.headers.host}${incoming.url}`, {
      method: incoming.method,
      headers: Object.entries(incoming.headers).flatMap(([name, value]) =>
        value === undefined
          ? []
          : (Array.isArray(value) ? value : [value]).map((each) => [name, each] as [string, string]),
      ),
    });
    const response = await handle(request);
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(Buffer.from(await response.arrayBuffer()));
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/** A revocation request {@link holdingRevocations} held: the token it revokes and its `token_type_hint`. */
export interface HeldRevocation {
  token: string;
  hint: string;
}

/**
 * A `fetch` for a ToolMux (its `fetch` option) whose revocation requests to `server` wait before
 * they reach it, as a revocation endpoint that stalls: until `release()`, or with `until: 'never'`
 * for ever, so that only toolmux's `oauthRequestTimeoutMs` (the request's signal) ends them, or, with
 * `ignoreSignal`, nothing. `sent` holds each request as it starts, `ended` the hint of each once it
 * answered or failed. Every other request goes to `next` (the global fetch by default).
 */
export function holdingRevocations(
  server: { revocationUrl: string },
  options: { until?: 'release' | 'never'; ignoreSignal?: boolean; next?: typeof fetch } = {},
): { fetch: typeof fetch; sent: HeldRevocation[]; ended: string[]; release: () => void } {
  const next = options.next ?? fetch;
  const sent: HeldRevocation[] = [];
  const ended: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const held = options.until === 'never' ? new Promise<void>(() => {}) : released;
  const holding: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url !== server.revocationUrl) return next(input, init);
    const form = new URLSearchParams(String(init?.body ?? ''));
    const hint = form.get('token_type_hint') ?? '';
    sent.push({ token: form.get('token') ?? '', hint });
    try {
      const signal = init?.signal;
      await (options.ignoreSignal || !signal
        ? held
        : Promise.race([
            held,
            new Promise<never>((_, reject) => {
              if (signal.aborted) reject(signal.reason);
              signal.addEventListener('abort', () => reject(signal.reason), { once: true });
            }),
          ]));
      return await next(input, init);
    } finally {
      ended.push(hint);
    }
  };
  return { fetch: holding, sent, ended, release };
}

/** What the `octo` toolkit's handler saw. */
export interface OctoCall {
  credentials: Credentials | undefined;
  userinfo: unknown;
}

/**
 * `octo`: an OAuth toolkit against the test authorization server. OCTO_WHOAMI calls the userinfo
 * endpoint with the access token it was given (proving the token works) and records the credentials.
 */
export function octoToolkit(
  server: {
    issuer: string;
    authorizationUrl: string;
    tokenUrl: string;
    userinfoUrl: string;
    revocationUrl?: string;
  },
  /** More of the oauth2 scheme's settings (`revocationEndsGrant`, say). */
  scheme: Partial<Omit<OAuth2Scheme, 'type'>> = {},
): {
  toolkit: Toolkit;
  calls: OctoCall[];
} {
  const calls: OctoCall[] = [];
  const whoami = defineTool({
    slug: 'OCTO_WHOAMI',
    description: 'Who is the connected Octo user.',
    inputSchema: z.object({}),
    execute: async (_input, context) => {
      const response = await context.fetch(server.userinfoUrl, {
        headers: { authorization: `Bearer ${context.credentials?.accessToken}` },
      });
      const userinfo = response.ok ? await response.json() : { status: response.status };
      calls.push({ credentials: context.credentials, userinfo });
      if (response.status === 401) {
        throw new ToolMuxError({
          code: 'CREDENTIALS_REJECTED',
          message: 'Octo refused the access token (401).',
        });
      }
      if (!response.ok) throw new Error(`userinfo answered ${response.status}`);
      return userinfo;
    },
  });
  return {
    calls,
    toolkit: defineToolkit({
      slug: 'octo',
      name: 'Octo',
      description: 'The test OAuth provider.',
      baseUrl: server.issuer,
      tools: [whoami],
      auth: {
        type: 'oauth2',
        authorizationUrl: server.authorizationUrl,
        tokenUrl: server.tokenUrl,
        ...(server.revocationUrl ? { revocationUrl: server.revocationUrl } : {}),
        scopes: ['openid', 'repo'],
        ...scheme,
      },
    }),
  };
}

/**
 * The options of a ToolMux whose `octo` toolkit connects through `server` with the client as its
 * managed OAuth app, and whose callbacks the server's callback route reaches.
 */
export function octoOptions(server: TestOAuthServerWithCallback): {
  toolkits: Toolkit[];
  oauthRedirectUri: string;
  managedAuth: Record<string, { clientId: string; clientSecret: string }>;
} {
  return {
    toolkits: [octoToolkit(server).toolkit],
    oauthRedirectUri: server.redirectUri,
    managedAuth: { octo: { clientId: server.clientId, clientSecret: server.clientSecret } },
  };
}

/**
 * Connects the octo account of the session's user through `server` (sign-in, consent, the callback,
 * as a user does) and resolves with its id once it is ACTIVE.
 */
export async function connectOcto(session: Session, server: TestOAuthServerWithCallback): Promise<string> {
  const request = await session.authorize('octo');
  const callbackUrl = await server.signIn(request.redirectUrl);
  const callback = await fetch(callbackUrl, { redirect: 'manual' });
  if (callback.status >= 400) throw new Error(`the OAuth callback answered ${callback.status}`);
  await request.waitForConnection(10_000);
  return request.connectedAccountId!;
}

/**
 * Signs the user of a connection request in at `server` (sign-in and consent, as a browser does),
 * delivers the callback and resolves with the connected account's id; throws unless the callback sent
 * the user back with `status=success`.
 */
export async function signInToSuccess(
  server: TestOAuthServer,
  request: { redirectUrl: string; connectedAccountId?: string | null },
): Promise<string> {
  const callback = await fetch(await server.signIn(request.redirectUrl), { redirect: 'manual' });
  const back = callback.headers.get('location');
  const status = back === null ? null : new URL(back).searchParams.get('status');
  if (status !== 'success') {
    throw new Error(`the OAuth callback answered ${callback.status}, status=${status} (${back})`);
  }
  if (!request.connectedAccountId) throw new Error('the connection request names no account');
  return request.connectedAccountId;
}

/**
 * Creates an auth config for the `octo` toolkit with `server`'s client, links an account of `userId`
 * through it and signs in; resolves with the ACTIVE account's id and the config's.
 */
export async function linkOcto(
  mux: Pick<ToolMux, 'authConfigs' | 'connectedAccounts'>,
  server: TestOAuthServer,
  userId: string,
): Promise<{ accountId: string; authConfigId: string }> {
  const config = await mux.authConfigs.create('octo', {
    type: 'oauth2',
    clientId: server.clientId,
    clientSecret: server.clientSecret,
  });
  const accountId = await signInToSuccess(server, await mux.connectedAccounts.link(userId, config.id));
  return { accountId, authConfigId: config.id };
}

/**
 * {@link databasePerTest} for tests whose callbacks land on the server `server()` answers (started
 * later, in `beforeAll`): it forgets its ToolMux after each test.
 */
export function databasePerOAuthTest(
  open: () => Promise<OpenedDatabase>,
  server: () => TestOAuthServerWithCallback,
): ReturnType<typeof databasePerTest> {
  return databasePerTest(open, {
    afterClose: () => {
      server().current = undefined;
    },
  });
}
