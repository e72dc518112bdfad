import { randomBytes } from 'node:crypto';
import { ToolMux } from '@toolmux/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCliLogger, serverLoggerOf } from '../cli/log.js';
import { createServer, type RunningServer } from '../server.js';
import { TEST_API_KEY } from '../test-helpers.js';
import { continueThroughPage, freePort, startTestOAuthServer, type TestOAuthServer } from '../test-oauth.js';

/**
 * What the served CLI's pino logger writes (debug level, JSON lines) while OAuth accounts connect,
 * refresh, are refused and are deleted with a revocation that fails, against oidc-provider: no
 * secret of the exchange in any line. The provider's refusals quote every secret they can.
 */

let oauth: TestOAuthServer;
let mux: ToolMux;
let running: RunningServer;
let baseUrl: string;
const lines: string[] = [];
/** Secrets that went over the wire: tokens issued, codes, verifiers, states, the client's. */
const secrets = new Set<string>();
/** How the token and revocation endpoints answer: as the provider does, or refusing with quotes. */
let refusing: 'no' | 'refresh' | 'revocation' = 'no';

function quotingRefusal(request: { authorization: string | null; form: URLSearchParams }, extra: string) {
  const quoted = [request.authorization, ...request.form.values(), extra].join(' | ');
  return Response.json(
    { error: 'invalid_request', error_description: `refused: ${quoted}` },
    { status: 400 },
  );
}

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
  secrets.add(oauth.clientSecret);
  const log = createCliLogger({ level: 'debug', format: 'json', write: (text) => void lines.push(text) });
  const logger = serverLoggerOf(log);
  let lastAccessToken = '';
  mux = new ToolMux({
    toolkits: [oauth.toolkit], // its scheme names oidc-provider's revocation endpoint
    store: ':memory:',
    secretKey: randomBytes(32).toString('base64'),
    baseUrl,
    logger,
    fetch: async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const form = new URLSearchParams(String(init?.body ?? ''));
      const authorization = new Headers(init?.headers).get('authorization');
      for (const name of ['code', 'code_verifier', 'refresh_token', 'token']) {
        const value = form.get(name);
        if (value) secrets.add(value);
      }
      if (authorization) secrets.add(authorization.replace(/^\S+ /, ''));
      if (url === oauth.tokenUrl && refusing === 'refresh' && form.get('grant_type') === 'refresh_token') {
        return quotingRefusal({ authorization, form }, lastAccessToken);
      }
      if (url === oauth.revocationUrl && refusing === 'revocation') {
        return quotingRefusal({ authorization, form }, lastAccessToken);
      }
      const response = await fetch(input, init);
      if (url === oauth.tokenUrl && response.ok) {
        const tokens = (await response.clone().json()) as Record<string, string>;
        for (const name of ['access_token', 'refresh_token', 'id_token']) {
          if (tokens[name]) secrets.add(tokens[name]);
        }
        lastAccessToken = tokens.access_token ?? lastAccessToken;
      }
      return response;
    },
  });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).serve({ port });
});

afterAll(async () => {
  await running.close();
  await mux.close();
  await oauth.close();
});

function api(method: string, path: string, body?: unknown) {
  return fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

it('no line of the pino log holds a secret of the OAuth exchanges, whatever the provider quotes', async () => {
  const config = (await (
    await api('POST', '/auth-configs', {
      toolkit: 'octo',
      type: 'oauth2',
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
    })
  ).json()) as { id: string };
  const answers: string[] = [];
  const connect = async (userId: string) => {
    const link = await (
      await api('POST', '/connected-accounts/link', { user_id: userId, auth_config_id: config.id })
    ).json();
    const { authorizationUrl: continueTo, jar } = await continueThroughPage(link.redirect_url);
    secrets.add(new URL(continueTo).searchParams.get('state')!);
    const landed = await fetch(await oauth.signIn(continueTo), {
      headers: { cookie: jar.header },
      redirect: 'manual',
    });
    expect(new URL(landed.headers.get('location')!).searchParams.get('status')).toBe('success');
    return link.connected_account_id as string;
  };
  const first = await connect('user_log_1');
  // a refresh that works, then one the provider refuses quoting what it was sent and the access token
  answers.push(await (await api('POST', `/connected-accounts/${first}/refresh`)).text());
  refusing = 'refresh';
  const refused = await api('POST', `/connected-accounts/${first}/refresh`);
  expect(refused.status).toBeGreaterThanOrEqual(400);
  answers.push(await refused.text());
  // a deletion whose revocations the provider refuses the same way
  refusing = 'revocation';
  expect((await api('DELETE', `/connected-accounts/${first}`)).status).toBeLessThan(300);
  refusing = 'no';
  // another connection after all that
  const second = await connect('user_log_2');
  answers.push(await (await api('GET', `/connected-accounts/${second}`)).text());

  const log = lines.join('');
  expect(log).toContain('could not revoke');
  expect(log).toContain('[REDACTED]');
  for (const secret of secrets) {
    expect(log, 'a secret in the log').not.toContain(secret);
    for (const answer of answers) expect(answer, 'a secret in an API answer').not.toContain(secret);
  }
  expect(secrets.size).toBeGreaterThan(8);
});
