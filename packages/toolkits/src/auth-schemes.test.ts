import { defineToolkit, type Toolkit, ToolMux } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, startFakeApi } from '../test/api-server.js';
import { createExaToolkit } from './exa.js';
import { createFirecrawlToolkit } from './firecrawl.js';
import { createGithubToolkit } from './github.js';
import { createGmailToolkit } from './gmail.js';
import { createLinearToolkit } from './linear.js';
import { createNotionToolkit } from './notion.js';
import { createSlackToolkit } from './slack.js';

/**
 * The full session path for every toolkit that needs an account: an auth config, a connected account
 * (API key, or an OAuth code flow against a token endpoint on loopback), a session, a call. The
 * credential must arrive at the provider the way the toolkit's scheme says, and the log names the account.
 */

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const redirectUri = 'http://127.0.0.1:9/auth/callback';

let api: FakeApi;
let mux: ToolMux;
let toolkits: Record<string, Toolkit>;

/** The toolkit with its OAuth endpoints moved to the fake provider (the rest as shipped). */
function withLocalOAuth(toolkit: Toolkit): Toolkit {
  return defineToolkit({
    ...toolkit,
    tools: [...toolkit.tools],
    categories: [...toolkit.categories],
    auth: toolkit.auth.map((scheme) =>
      scheme.type === 'oauth2'
        ? {
            ...scheme,
            authorizationUrl: `${api.url}/oauth/authorize`,
            tokenUrl: `${api.url}/oauth/token`,
            ...(scheme.revocationUrl ? { revocationUrl: `${api.url}/oauth/revoke` } : {}),
            issuer: api.url,
          }
        : scheme,
    ),
  });
}

beforeAll(async () => {
  api = await startFakeApi();
  api.route('POST', '/oauth/token', (request) => {
    const code = new URLSearchParams(String(request.body)).get('code');
    return {
      body: {
        // Slack's oauth.v2.access names the type of its bot token `bot`
        ...(code?.startsWith('slack') ? { ok: true, token_type: 'bot' } : { token_type: 'Bearer' }),
        access_token: `oauth-token-for-${code}`,
        expires_in: 3600,
        refresh_token: 'refresh-1',
        scope: 'granted',
      },
    };
  });
  api.route('POST', '/oauth/revoke', { status: 200, body: {} });
  api.route('GET', '/github/user', {
    body: { login: 'octocat', id: 1, html_url: 'https://github.com/octocat' },
  });
  api.route('GET', '/gmail/users/me/profile', {
    body: { emailAddress: 'sam@example.com', messagesTotal: 1, threadsTotal: 1 },
  });
  api.route('GET', '/slack/users.list', {
    body: { ok: true, members: [], response_metadata: { next_cursor: '' } },
  });
  api.route('POST', '/exa/search', { body: { results: [] } });
  api.route('POST', '/firecrawl/v2/map', { body: { success: true, links: [] } });
  api.route('GET', '/notion/users', { body: { object: 'list', results: [], next_cursor: null } });
  api.route('POST', '/linear/graphql', { body: { data: { teams: { nodes: [] } } } });
  toolkits = {
    github: withLocalOAuth(createGithubToolkit({ baseUrl: `${api.url}/github` })),
    gmail: withLocalOAuth(createGmailToolkit({ baseUrl: `${api.url}/gmail` })),
    slack: withLocalOAuth(createSlackToolkit({ baseUrl: `${api.url}/slack` })),
    exa: createExaToolkit({ baseUrl: `${api.url}/exa` }),
    firecrawl: createFirecrawlToolkit({ baseUrl: `${api.url}/firecrawl` }),
    notion: createNotionToolkit({ baseUrl: `${api.url}/notion` }),
    linear: createLinearToolkit({ baseUrl: `${api.url}/linear/graphql` }),
  };
  mux = new ToolMux({
    toolkits: Object.values(toolkits),
    store: ':memory:',
    logger: quiet,
    oauthRedirectUri: redirectUri,
  });
});

afterAll(async () => {
  await mux.close();
  await api.close();
});

/** Connects an API key account and runs one tool through a session; returns the request the provider got. */
async function viaApiKey(toolkit: string, key: string, slug: string, args: object) {
  const config = await mux.authConfigs.create(toolkit, { type: 'api_key' });
  const account = await mux.connectedAccounts.create(`user_${toolkit}`, config.id, { apiKey: key });
  const session = await mux.create(`user_${toolkit}`, {
    toolkits: [toolkit],
    connectedAccounts: { [toolkit]: account.id },
  });
  const result = await session.execute(slug, args);
  expect(result.error).toBeNull();
  expect((await session.logs()).items[0]).toMatchObject({
    toolSlug: slug,
    connectedAccountId: account.id,
    status: 'success',
  });
  return api.requests.at(-1)!;
}

/**
 * Connects `userId` through the OAuth code flow (the provider's sign-in answered with the code
 * `code`), with an auth config of its own; returns the authorization URL and the account.
 */
async function connectViaOAuth(toolkit: string, userId: string, code: string) {
  const config = await mux.authConfigs.create(toolkit, {
    type: 'oauth2',
    clientId: `${toolkit}-client`,
    clientSecret: 'shh',
  });
  const request = await mux.connectedAccounts.link(userId, config.id);
  const authorize = new URL(request.redirectUrl);
  expect(authorize.origin + authorize.pathname).toBe(`${api.url}/oauth/authorize`);
  const callback = new URL(redirectUri);
  callback.searchParams.set('code', code);
  callback.searchParams.set('state', authorize.searchParams.get('state')!);
  const response = await mux.auth.handleCallback(new Request(callback));
  expect(response.status).toBe(302);
  const account = await request.waitForConnection(5_000);
  return { authorize, account, config };
}

/** Connects through the OAuth code flow and runs one tool. */
async function viaOAuth(toolkit: string, slug: string, args: object) {
  const { authorize, account } = await connectViaOAuth(toolkit, `user_${toolkit}`, `${toolkit}-code`);
  const session = await mux.create(`user_${toolkit}`, {
    toolkits: [toolkit],
    connectedAccounts: { [toolkit]: account.id },
  });
  const result = await session.execute(slug, args);
  expect(result.error).toBeNull();
  return { authorize, call: api.requests.at(-1)! };
}

describe('every auth toolkit through a session with a connected account', () => {
  it('github: a personal access token is sent as a Bearer token', async () => {
    const call = await viaApiKey('github', 'ghp_personal', 'GITHUB_GET_AUTHENTICATED_USER', {});
    expect(call.headers.authorization).toBe('Bearer ghp_personal');
  });

  it('exa: the API key goes in x-api-key', async () => {
    const call = await viaApiKey('exa', 'exa-key', 'EXA_SEARCH', { query: 'x' });
    expect(call.headers['x-api-key']).toBe('exa-key');
  });

  it('firecrawl: the API key is a Bearer token', async () => {
    const call = await viaApiKey('firecrawl', 'fc-key', 'FIRECRAWL_MAP', { url: 'https://a.dev' });
    expect(call.headers.authorization).toBe('Bearer fc-key');
  });

  it('notion: an internal integration secret is a Bearer token', async () => {
    const call = await viaApiKey('notion', 'secret_abc', 'NOTION_LIST_USERS', {});
    expect(call.headers.authorization).toBe('Bearer secret_abc');
  });

  it('linear: a personal API key goes in Authorization as it is', async () => {
    const call = await viaApiKey('linear', 'lin_api_key', 'LINEAR_LIST_TEAMS', {});
    expect(call.headers.authorization).toBe('lin_api_key');
  });

  it('gmail: OAuth with offline access; the access token is a Bearer token', async () => {
    const { authorize, call } = await viaOAuth('gmail', 'GMAIL_GET_PROFILE', {});
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      access_type: 'offline',
      prompt: 'consent',
      scope: 'https://www.googleapis.com/auth/gmail.modify',
      code_challenge_method: 'S256',
    });
    expect(call.headers.authorization).toBe('Bearer oauth-token-for-gmail-code');
  });

  it('slack: OAuth with comma-separated scopes', async () => {
    const { authorize, call } = await viaOAuth('slack', 'SLACK_LIST_USERS', {});
    expect(authorize.searchParams.get('scope')).toContain('channels:read,groups:read');
    expect(call.headers.authorization).toBe('Bearer oauth-token-for-slack-code');
  });
});

describe('a provider that answers 401 through a session', () => {
  it('OAuth (gmail): the token is refreshed and the call runs again with the new one', async () => {
    const { account, config } = await connectViaOAuth('gmail', 'user_gmail_401', 'gmail-401-code');
    const session = await mux.create('user_gmail_401', {
      toolkits: ['gmail'],
      authConfigs: { gmail: config.id },
    });

    const before = api.requests.length;
    api.failNext({ status: 401, body: { error: { code: 401, message: 'Invalid Credentials' } } });
    const result = await session.execute('GMAIL_GET_PROFILE', {});
    expect(result).toMatchObject({
      successful: true,
      error: null,
      data: { emailAddress: 'sam@example.com' },
    });
    const sent = api.requests.slice(before);
    expect(sent.map((each) => `${each.method} ${each.path}`)).toEqual([
      'GET /gmail/users/me/profile',
      'POST /oauth/token',
      'GET /gmail/users/me/profile',
    ]);
    expect(new URLSearchParams(String(sent[1]!.body)).get('grant_type')).toBe('refresh_token');
    expect(sent[0]!.headers.authorization).toBe('Bearer oauth-token-for-gmail-401-code');
    expect(sent[2]!.headers.authorization).not.toBe(sent[0]!.headers.authorization);
    expect((await mux.connectedAccounts.get(account.id)).status).toBe('ACTIVE');

    // deleting the account ends the grant at Google (RFC 7009): both tokens, revoked at once
    const beforeDelete = api.requests.length;
    await mux.connectedAccounts.delete(account.id);
    const revoked = api.requests.slice(beforeDelete);
    expect(revoked.map((each) => `${each.method} ${each.path}`)).toEqual([
      'POST /oauth/revoke',
      'POST /oauth/revoke',
    ]);
    const hinted = new Map(
      revoked.map((each) => {
        const body = new URLSearchParams(String(each.body));
        return [body.get('token_type_hint'), body.get('token')];
      }),
    );
    expect([...hinted.keys()].sort()).toEqual(['access_token', 'refresh_token']);
    expect(hinted.get('access_token')).toBe(sent[2]!.headers.authorization!.slice(7));
  });

  it('an API key (github PAT): the account becomes EXPIRED and the agent is told to reconnect', async () => {
    const config = await mux.authConfigs.create('github', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('user_github_401', config.id, {
      apiKey: 'ghp_revoked',
    });
    const session = await mux.create('user_github_401', {
      toolkits: ['github'],
      authConfigs: { github: config.id },
    });
    api.failNext({ status: 401, body: { message: 'Bad credentials' } });
    const result = await session.execute('GITHUB_GET_AUTHENTICATED_USER', {});
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
    expect(result.error).toMatch(/GitHub \(github\) connection .* reconnect/i);
    expect(result.error).not.toContain('ghp_revoked');
    expect(await mux.connectedAccounts.get(account.id)).toMatchObject({
      status: 'EXPIRED',
      statusReason: 'GitHub (github) refused the credentials',
    });
  });
});

describe("a token refresh refused with the provider's own error code (answered with HTTP 200)", () => {
  it.each([
    ['github', 'bad_refresh_token', 'The refresh token passed is incorrect or expired.'],
    ['slack', 'invalid_refresh_token', undefined],
  ])(
    '%s: %s is a dead refresh token, so the account is EXPIRED and the user asked to reconnect',
    async (toolkit, error, description) => {
      const { account } = await connectViaOAuth(toolkit, `user_${toolkit}_dead`, `${toolkit}-dead-code`);
      api.failNext({
        status: 200,
        body: { ok: false, error, ...(description ? { error_description: description } : {}) },
      });
      await expect(mux.connectedAccounts.refresh(account.id)).rejects.toMatchObject({
        code: 'CONNECTION_EXPIRED',
      });
      expect(await mux.connectedAccounts.get(account.id)).toMatchObject({
        status: 'EXPIRED',
        statusReason: `${error}: ${description ?? 'no description given'}`,
      });
    },
  );

  it.each([
    ['github', 'incorrect_client_credentials'],
    ['slack', 'invalid_client_id'],
    ['slack', 'bad_client_secret'],
  ])(
    '%s: %s is a refused client, so the auth config is named to be fixed and the account stays ACTIVE',
    async (toolkit, error) => {
      const { account, config } = await connectViaOAuth(
        toolkit,
        `user_${toolkit}_${error}`,
        `${toolkit}-${error}`,
      );
      api.failNext({ status: 200, body: { ok: false, error } });
      await expect(mux.connectedAccounts.refresh(account.id)).rejects.toMatchObject({
        code: 'AUTH_CONFIG_INVALID',
        message: expect.stringContaining(`refused the client id/secret of auth config ${config.id}`),
      });
      expect((await mux.connectedAccounts.get(account.id)).status).toBe('ACTIVE');
    },
  );
});
