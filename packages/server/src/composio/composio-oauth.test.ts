import { Composio } from '@composio/core';
import { ToolMux } from '@toolmux/core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import { continueThroughPage, freePort, startTestOAuthServer, type TestOAuthServer } from '../test-oauth.js';

/**
 * `session.authorize()` of `@composio/core` for an OAuth toolkit: the hosted connect page, the
 * provider's sign-in (a real OAuth server on loopback), toolmux's callback, and `waitForConnection()`
 * polling `GET /api/v3.1/connected_accounts/:id` until the account is ACTIVE.
 */

let oauth: TestOAuthServer;
let mux: ToolMux;
let running: RunningServer;
let baseUrl: string;

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
  const logger = recordingLogger();
  mux = new ToolMux({ toolkits: [oauth.toolkit], store: ':memory:', baseUrl, logger });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).serve({ port });
});

afterAll(async () => {
  await running.close();
  await mux.close();
  await oauth.close();
});

/** An auth config of the OAuth server's toolkit, a `@composio/core` client of the server, and a session of `userId` on it. */
async function octoSession(userId: string) {
  const config = await mux.authConfigs.create('octo', {
    type: 'oauth2',
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
  });
  const composio = new Composio({
    apiKey: TEST_API_KEY,
    baseURL: baseUrl,
    allowTracking: false,
    disableVersionCheck: true,
  });
  const session = await composio.create(userId, { toolkits: ['octo'], authConfigs: { octo: config.id } });
  return { config, composio, session };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('authorize() of @composio/core for an OAuth toolkit', () => {
  it('connects through the hosted page and the provider, then waitForConnection() resolves', async () => {
    const { config, session } = await octoSession('user_octo');
    const before = await session.execute('OCTO_WHOAMI', {});
    expect(before.error).toMatch(/octo/i);

    const request = await session.authorize('octo', { callbackUrl: 'http://localhost:3000/connected' });
    // an OAuth request has its INITIATED account from the start
    expect(request.id).toMatch(/^ca_/);
    expect(request.redirectUrl).toMatch(new RegExp(`^${baseUrl}/connect/cr_`));
    const waiting = request.waitForConnection(20_000);

    const { authorizationUrl, jar } = await continueThroughPage(request.redirectUrl!);
    const callback = await oauth.signIn(authorizationUrl);
    expect(callback.startsWith(`${baseUrl}/auth/callback?`)).toBe(true);
    const landed = await fetch(callback, { headers: { cookie: jar.header }, redirect: 'manual' });
    expect(landed.status).toBe(302);
    const back = new URL(landed.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe('http://localhost:3000/connected');

    const account = await waiting;
    expect(account).toMatchObject({
      id: request.id,
      status: 'ACTIVE',
      toolkit: { slug: 'octo' },
      authConfig: { id: config.id, authScheme: 'OAUTH2', isComposioManaged: false },
    });
    const toolkits = await session.toolkits();
    expect(toolkits.items[0]!.connection).toMatchObject({
      isActive: true,
      connectedAccount: { id: request.id },
      authConfig: { id: config.id, mode: 'OAUTH2' },
    });
    const after = await session.execute('OCTO_WHOAMI', {});
    expect(after.error).toBeNull();
    expect(JSON.stringify(after.data)).toContain('sub');
  });

  it('shows an account whose link expired unused as EXPIRED, so waitForConnection() fails with the reason', async () => {
    const { composio, session } = await octoSession('user_late');
    const request = await session.authorize('octo');
    expect(request.id).toMatch(/^ca_/);
    // still in time: INITIATED, waiting
    expect((await composio.connectedAccounts.get(request.id)).status).toBe('INITIATED');
    // eleven minutes later (the link works for ten), nobody having signed in
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 11 * 60_000 });
    const account = await composio.connectedAccounts.get(request.id);
    expect(account.status).toBe('EXPIRED');
    expect(account.statusReason).toMatch(/expired at \d{4}-\d\d-\d\dT.*before the user finished/);
    const started = performance.now();
    await expect(request.waitForConnection(30_000)).rejects.toThrow(
      /failed with status: EXPIRED, reason: The connection link expired/,
    );
    // told at the first poll, not after the client's own timeout
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
