import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { OAuth2Scheme } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { quiet } from '../test/auth-fixtures.js';
import {
  connectOcto,
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { ToolMux } from '../toolmux.js';

/**
 * An OAuth account (tokens from oidc-provider, through the real authorization code flow) whose API
 * echoes the access token it was sent, also after the token was refreshed: no result, error or log
 * entry shows a token the account had.
 */

let oauthServer: TestOAuthServerWithCallback;
let api: Server;
let apiUrl: string;
/** The next request to the API is refused with a 401 (the token is refreshed and the call run again). */
let refuseNext = false;

beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
  api = createServer((request, response) => {
    const authorization = String(request.headers.authorization ?? '');
    if (refuseNext) {
      refuseNext = false;
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: `token ${authorization.slice(7)} is expired` }));
      return;
    }
    const status = request.url?.startsWith('/fail') ? 500 : 200;
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ authorization, url: request.url }));
  });
  await new Promise<void>((done) => api.listen(0, '127.0.0.1', done));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await oauthServer.close();
  api.closeAllConnections();
  await new Promise<void>((done) => api.close(() => done()));
});

function echoingOcto() {
  const octo = octoToolkit(oauthServer).toolkit;
  const seen: string[] = [];
  const echo = defineTool({
    slug: 'OCTO_ECHO',
    description: 'Call the echoing API with the account.',
    inputSchema: z.object({ fail: z.boolean().optional() }),
    execute: async (input, ctx) => {
      const token = ctx.credentials?.accessToken ?? '';
      seen.push(token);
      const response = await ctx.fetch(
        `${apiUrl}/${input.fail ? 'fail' : 'echo'}?access_token=${encodeURIComponent(token)}`,
        { headers: { authorization: `Bearer ${token}` } },
      );
      const text = await response.text();
      if (response.status === 401)
        throw new ToolMuxError({ code: 'CREDENTIALS_REJECTED', message: `the API refused: ${text}` });
      if (!response.ok) throw new Error(`the API answered ${response.status}: ${text}`);
      return { answer: JSON.parse(text) as unknown, credentials: ctx.credentials };
    },
  });
  const toolkit = defineToolkit({
    slug: 'octo',
    name: 'Octo',
    description: 'The test OAuth provider, and an API that echoes its token.',
    auth: octo.auth[0] as OAuth2Scheme,
    tools: [...octo.tools, echo],
  });
  return { toolkit, seen };
}

describe('an OAuth account whose API echoes its token', () => {
  it('shows the token in no result, error or log entry, before and after a refresh', async () => {
    const { toolkit, seen } = echoingOcto();
    const mux = new ToolMux({
      toolkits: [toolkit],
      store: ':memory:',
      secretKey: Buffer.alloc(32, 12).toString('base64'),
      logger: quiet,
      oauthRedirectUri: oauthServer.redirectUri,
      managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
    });
    oauthServer.current = mux;
    try {
      const session = await mux.create('user_echo', { toolkits: ['octo'] });
      await connectOcto(session, oauthServer);

      const first = await session.execute('OCTO_ECHO', {});
      expect(first).toMatchObject({
        successful: true,
        data: {
          answer: { authorization: 'Bearer [REDACTED]', url: '/echo?access_token=[REDACTED]' },
          credentials: { accessToken: '[REDACTED]', tokenType: 'bearer' },
        },
      });
      const failed = await session.execute('OCTO_ECHO', { fail: true });
      expect(failed).toMatchObject({ successful: false, code: 'TOOL_EXECUTION_FAILED' });
      expect(failed.error).toContain('"authorization":"Bearer [REDACTED]"');

      // the API refuses the token: it is refreshed at oidc-provider and the call runs again with the new one
      refuseNext = true;
      const renewed = await session.execute('OCTO_ECHO', {});
      expect(renewed).toMatchObject({
        successful: true,
        data: { answer: { authorization: 'Bearer [REDACTED]' } },
      });
      expect(new Set(seen).size).toBe(2);
      // the userinfo answer of oidc-provider itself
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });

      const shown = JSON.stringify([first, failed, renewed, await session.logs()]);
      for (const token of seen) {
        expect(token.length).toBeGreaterThan(20);
        for (const form of [token, encodeURIComponent(token)]) expect(shown).not.toContain(form);
      }
    } finally {
      oauthServer.current = undefined;
      await mux.close();
    }
  });
});
