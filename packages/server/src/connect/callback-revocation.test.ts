import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolMux } from '@toolmux/core';
import { closeAfterDrain } from '@toolmux/core/internal';
import { holdingRevocations } from '@toolmux/core/test/oauth-server';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import { continueThroughPage, freePort, startTestOAuthServer, type TestOAuthServer } from '../test-oauth.js';

/**
 * `GET /auth/callback` of a reconnect sends the user back to the application while the provider's
 * revocation endpoint still holds the revocation of the tokens the reconnect replaced, and the
 * server's shutdown (the drain, then the ToolMux's close, as `toolmux serve` does on SIGTERM) waits for
 * it: the replaced tokens end revoked. Against a real OAuth server (oidc-provider) whose revocation
 * requests the ToolMux's fetch holds back until the test lets them go.
 */

let oauth: TestOAuthServer;
let mux: ToolMux;
let running: RunningServer;
let baseUrl: string;
let directory: string;
/** Set once the test has shut the server down itself. */
let shutDown = false;
const logger = recordingLogger();
/** The ToolMux's fetch: a revocation request waits for `release()` (or toolmux's timeout) first. */
let revocations: ReturnType<typeof holdingRevocations>;

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  directory = mkdtempSync(join(tmpdir(), 'toolmux-callback-revocation-'));
  oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
  revocations = holdingRevocations(oauth);
  mux = new ToolMux({
    toolkits: [oauth.toolkit],
    store: `sqlite:${join(directory, 'toolmux.db')}`,
    secretKey: randomBytes(32).toString('base64'),
    baseUrl,
    logger,
    // far past what the test takes: a callback that waited for the held revocation would answer
    // only once this timeout ended it
    oauthRequestTimeoutMs: 10_000,
    fetch: revocations.fetch,
  });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).serve({ port });
});

afterAll(async () => {
  revocations?.release();
  if (!shutDown) await running.close();
  await mux.close();
  await oauth.close();
  rmSync(directory, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** Goes through a hosted connect page, signs in and lands on the callback: its answer. */
async function connectThroughPage(redirectUrl: string): Promise<Response> {
  const { authorizationUrl, jar } = await continueThroughPage(redirectUrl);
  return fetch(await oauth.signIn(authorizationUrl), {
    headers: { cookie: jar.header },
    redirect: 'manual',
  });
}

it('a reconnect answers while the replaced tokens are being revoked; the shutdown waits for the revocation', async () => {
  const { sent, ended, release } = revocations;
  const config = await api('POST', '/auth-configs', {
    toolkit: 'octo',
    type: 'oauth2',
    client_id: oauth.clientId,
    client_secret: oauth.clientSecret,
  });
  const linked = await api('POST', '/connected-accounts/link', {
    user_id: 'user_1',
    auth_config_id: config.json.id,
  });
  expect((await connectThroughPage(linked.json.redirect_url)).status).toBe(302);
  const accountId = linked.json.connected_account_id as string;

  const started = await api('POST', `/connected-accounts/${accountId}/reconnect`);
  expect(started.status).toBe(201);
  const answer = await connectThroughPage(started.json.redirect_url);
  // the user is back before any revocation request ended
  expect(ended).toEqual([]);
  expect(answer.status).toBe(302);
  const back = new URL(answer.headers.get('location')!);
  expect(back.searchParams.get('status')).toBe('success');
  expect(back.searchParams.get('connected_account_id')).toBe(accountId);
  // and the connection is complete, for a remote waitForConnection() too
  expect((await api('GET', `/connection-requests/${started.json.id}`)).json).toMatchObject({
    status: 'COMPLETED',
    reconnect_of: accountId,
  });
  expect((await api('GET', `/connected-accounts/${accountId}`)).json).toMatchObject({ status: 'ACTIVE' });
  await vi.waitFor(() => expect(sent).toHaveLength(2), { timeout: 10_000, interval: 10 });
  const oldAccess = sent.find(({ hint }) => hint === 'access_token')!.token;
  expect(await oauth.provider.AccessToken.find(oldAccess)).toBeDefined();
  expect(ended).toEqual([]);

  // the shutdown of `toolmux serve`: the drain, then the ToolMux's close
  await running.close();
  shutDown = true;
  let endedAtClose: string[] | undefined;
  const closing = closeAfterDrain(mux, { setting: 'shutdownTimeoutMs', ms: 10_000 }).then(() => {
    endedAtClose = [...ended];
  });
  release();
  await closing;
  expect(endedAtClose?.sort()).toEqual(['access_token', 'refresh_token']);
  expect(await oauth.provider.AccessToken.find(oldAccess)).toBeUndefined();
  const oldRefresh = sent.find(({ hint }) => hint === 'refresh_token')!.token;
  expect(await oauth.provider.RefreshToken.find(oldRefresh)).toBeUndefined();
  expect(logger.warnings).toEqual([]);
});
