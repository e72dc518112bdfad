import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineTool, defineToolkit, type Toolkit } from '@toolmux/core';
import Provider from 'oidc-provider';
import { z } from 'zod';

/**
 * A real OAuth 2.0 authorization server for the server's tests: `oidc-provider` on a loopback port
 * with one confidential PKCE client (the setup core's auth tests use; core does not export it because
 * it needs the oidc-provider dev dependency).
 */
export interface TestOAuthServer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** A toolkit whose OAuth scheme points here; OCTO_WHOAMI calls userinfo with the access token. */
  toolkit: Toolkit;
  /**
   * Follows `authorizationUrl` like a browser (cookies, redirects), signs in as `login` and consents,
   * and returns the URL the provider redirects back to (the callback with code and state).
   */
  signIn(authorizationUrl: string, login?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestOAuthServer(options: { redirectUris: string[] }): Promise<TestOAuthServer> {
  let handler: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  const server = createServer((request, response) => handler!(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'toolmux-server-test';
  const clientSecret = `cs_${randomBytes(24).toString('hex')}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'repo'],
    issueRefreshToken: async (_context, client) => client.grantTypeAllowed('refresh_token'),
    features: { devInteractions: { enabled: true } },
    findAccount: async (_context, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  });
  const callback = provider.callback();
  handler = (request, response) => void callback(request, response);

  const whoami = defineTool({
    slug: 'OCTO_WHOAMI',
    description: 'Who is the connected Octo user.',
    inputSchema: z.object({}),
    annotations: { readOnlyHint: true },
    execute: async (_input, context) => {
      const response = await context.fetch(`${issuer}/me`, {
        headers: { authorization: `Bearer ${context.credentials?.accessToken}` },
      });
      if (!response.ok) throw new Error(`userinfo answered ${response.status}`);
      return response.json();
    },
  });
  const toolkit = defineToolkit({
    slug: 'octo',
    name: 'Octo',
    description: 'The test OAuth provider.',
    baseUrl: issuer,
    tools: [whoami],
    auth: {
      type: 'oauth2',
      authorizationUrl: `${issuer}/auth`,
      tokenUrl: `${issuer}/token`,
      scopes: ['openid', 'repo'],
    },
  });

  async function signIn(authorizationUrl: string, login = 'user-1'): Promise<string> {
    const cookies = new Map<string, string>();
    let url = new URL(authorizationUrl);
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
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
      if (!action || !prompt) throw new Error(`no sign-in or consent form in: ${html.slice(0, 300)}`);
      const form = new URLSearchParams({ prompt });
      if (prompt === 'login') {
        form.set('login', login);
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
    clientId,
    clientSecret,
    toolkit,
    signIn,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port free right now on 127.0.0.1 (to know a server's URL before it starts). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
