import {
  defineTool,
  defineToolkit,
  type Session,
  type SessionConfig,
  ToolMux,
  ToolMuxError,
} from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

let server: TestServer;

/**
 * A toolkit that takes an API key or OAuth: toolmux makes no auth config of its own for it (it does
 * for toolkits whose auth is only credentials), so connecting it needs one of the developer's.
 */
const hybrid = defineToolkit({
  slug: 'hybrid',
  name: 'Hybrid',
  description: 'An API key or OAuth.',
  baseUrl: 'https://hybrid.example.com',
  auth: [
    { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
    {
      type: 'oauth2',
      authorizationUrl: 'https://hybrid.example.com/authorize',
      tokenUrl: 'https://hybrid.example.com/token',
    },
  ],
  tools: [
    defineTool({
      slug: 'HYBRID_PING',
      description: 'Ping.',
      inputSchema: { type: 'object', properties: {} },
      execute: () => 'pong',
    }),
  ],
});

beforeAll(async () => {
  server = await startTestServer({ toolkits: [...createSampleToolkits().toolkits, hybrid] });
});
afterAll(() => server.close());

/** A REST call as an HTTP client makes it (no SDK header). */
async function rest(method: string, path: string, body?: unknown, authorization?: string | null) {
  const headers: Record<string, string> = {};
  if (authorization !== null) headers.authorization = authorization ?? `Bearer ${server.apiKey}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, ...json.error };
}

/** A REST answer as an HTTP client reads it, error or not. */
async function send(method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as any };
}

/** The error a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<ToolMuxError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!ToolMuxError.isInstance(error)) throw new Error(`expected a ToolMuxError, got ${String(error)}`);
  return error;
}

/** SDK method syntax (`toolkits.list()`, `create(userId, config)`, `session.authorize("x")`). */
const SDK_CALL = /\b[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)*\([^)]*\)/;

describe('REST errors name REST routes and fields; the SDK of remote mode gets SDK methods', () => {
  it.each([
    {
      what: 'an unknown toolkit in a session config',
      request: ['POST', '/sessions', { user_id: 'user_lang', config: { toolkits: ['taks'] } }] as const,
      sdk: () => server.remote().create('user_lang', { toolkits: ['taks'] }),
      code: 'TOOLKIT_NOT_FOUND',
      rest: 'Known toolkits are listed by GET /api/v1/toolkits.',
      sdkText: 'Known toolkits are listed by toolkits.list().',
    },
    {
      what: 'an unknown session',
      request: ['GET', '/sessions/ses_missing000000000000'] as const,
      sdk: () => server.remote().use('ses_missing000000000000'),
      code: 'SESSION_NOT_FOUND',
      rest: 'Create one with POST /api/v1/sessions;',
      sdkText: 'Create one with create(userId, config);',
    },
    {
      what: 'an unknown auth config',
      request: ['GET', '/auth-configs/ac_missing000000000000'] as const,
      sdk: () => server.remote().authConfigs.get('ac_missing000000000000'),
      code: 'AUTH_CONFIG_NOT_FOUND',
      rest: 'Create one with POST /api/v1/auth-configs with { "toolkit": …, "type": … };',
      sdkText: 'Create one with authConfigs.create(toolkit, { type, … });',
    },
    {
      what: 'an unknown connected account',
      request: ['GET', '/connected-accounts/ca_missing000000000000'] as const,
      sdk: () => server.remote().connectedAccounts.get('ca_missing000000000000'),
      code: 'CONNECTED_ACCOUNT_NOT_FOUND',
      rest: 'List them with GET /api/v1/connected-accounts?user_ids=…;',
      sdkText: 'List them with connectedAccounts.list({ userIds: [userId] });',
    },
  ])('$what', async ({ request, sdk, code, rest: restText, sdkText }) => {
    const [method, path, body] = request;
    const answered = await rest(method, path, body);
    expect(answered.code).toBe(code);
    expect(answered.message).toContain(restText);
    expect(answered.message).not.toMatch(SDK_CALL);
    // the remote SDK reads the same error in its own words
    const error = await rejection(sdk());
    expect(error.code).toBe(code);
    expect(error.message).toContain(sdkText);
    expect(error.message).not.toContain('/api/v1');
  });

  it('a credentials connection without an auth config names the REST routes that fix it', async () => {
    const response = await fetch(`${server.url}/api/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'user_lang', config: { toolkits: ['hybrid'] } }),
    });
    const { session_id: sessionId } = (await response.json()) as { session_id: string };
    const answered = await rest('POST', `/sessions/${sessionId}/authorize`, { toolkit: 'hybrid' });
    expect(answered.code).toBe('AUTH_CONFIG_NOT_FOUND');
    expect(answered.message).toContain(
      'create one with POST /api/v1/auth-configs with { "toolkit": "hybrid", "type": "api_key" } and pass it',
    );
    expect(answered.message).toContain(
      'store credentials directly with POST /api/v1/connected-accounts with { "user_id", "auth_config_id", "credentials" }',
    );
    expect(answered.message).not.toMatch(SDK_CALL);
    const session = await server.remote().use(sessionId);
    const error = await rejection(session.authorize('hybrid'));
    expect(error.message).toContain(
      'create one with authConfigs.create("hybrid", { type: "api_key" }) and pass it',
    );
  });
});

describe('tool results and wait messages over REST name REST routes; the remote SDK gets SDK methods', () => {
  /** A REST request whose answer is not an error body. */
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as any;
  };
  /** A session that connects nothing itself: the application must. */
  const createSession = async (userId: string) =>
    (
      (await (
        await fetch(`${server.url}/api/v1/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            user_id: userId,
            config: { toolkits: ['mail'], manageConnections: false },
          }),
        })
      ).json()) as { session_id: string }
    ).session_id;

  it('a call without an account names POST …/authorize and redirect_url', async () => {
    const sessionId = await createSession('user_lang_result');
    const call = {
      tool_slug: 'MAIL_SEND_EMAIL',
      arguments: { to: 'a@example.com', subject: 'Hi', body: 'Hello' },
    };
    const result = await post(`/sessions/${sessionId}/execute`, call);
    expect(result.successful).toBe(false);
    expect(result.error).toContain('POST /api/v1/sessions/:sessionId/authorize with { "toolkit": "mail" }');
    expect(result.error).toContain('redirect_url');
    expect(result.error).not.toMatch(SDK_CALL);
    expect(result.error).not.toContain('redirectUrl');

    const session = await server.remote().use(sessionId);
    const sdk = await session.execute(call.tool_slug, call.arguments);
    expect(sdk.code).toBe(result.code);
    expect(sdk.error).toContain('session.authorize("mail")');
    expect(sdk.error).toContain('redirectUrl');
    expect(sdk.error).not.toContain('/api/v1');
  });

  it('a wait for a connection nobody started names POST …/authorize and the wait route', async () => {
    const sessionId = await createSession('user_lang_wait');
    const waited = await post(`/sessions/${sessionId}/wait-for-connections`, {
      toolkits: ['mail'],
      timeout_seconds: 1,
    });
    expect(waited.toolkits.mail.status).toBe('NOT_STARTED');
    expect(waited.toolkits.mail.message).toContain(
      'start one with POST /api/v1/sessions/:sessionId/authorize with { "toolkit": "mail" }, hand its redirect_url',
    );
    expect(waited.toolkits.mail.message).not.toMatch(SDK_CALL);

    const session = await server.remote().use(sessionId);
    const sdk = await session.waitForConnections(['mail'], { timeoutMs: 1_000 });
    expect(sdk.toolkits.mail!.message).toContain(
      'start one with session.authorize("mail"), hand its redirectUrl',
    );
  });
});

describe('REST body validation is as precise as the SDK', () => {
  const createSession = (config: unknown) => rest('POST', '/sessions', { user_id: 'user_lang', config });

  it('an unknown tag names the value, the allowed tags and the closest one', async () => {
    const answered = await createSession({ tags: ['destructive'] });
    expect(answered.status).toBe(400);
    expect(answered.code).toBe('INVALID_REQUEST');
    expect(answered.message).toBe(
      'Invalid request body: body.config.tags[0]: unknown value "destructive"; use one of readOnlyHint, destructiveHint, idempotentHint, openWorldHint. Did you mean "destructiveHint"?',
    );
    // the same mistake through the SDK
    const error = await rejection(server.remote().create('user_lang', { tags: ['destructive' as never] }));
    expect(error.message).toContain('Did you mean "destructiveHint"?');
  });

  it('names an index in brackets and quotes a key that holds a dot, as a tool’s argument refusals do', async () => {
    // before: 'body.config.tags.0: …' and 'body.config.authConfigs.my.kit: …', an index, a key and
    // two keys alike
    const tagged = await createSession({ tags: ['readOnlyHint', 5] });
    expect(tagged.message).toBe(
      'Invalid request body: body.config.tags[1]: unknown value 5; use one of readOnlyHint, destructiveHint, idempotentHint, openWorldHint.',
    );
    const keyed = await createSession({ authConfigs: { 'my.kit': 5 } });
    expect(keyed.message).toBe(
      'Invalid request body: body.config.authConfigs["my.kit"]: is a number: send a string.',
    );
  });

  it('a bad tag filter is refused alike in both modes, with the same code and words, before the remote SDK sends anything', async () => {
    const sent: string[] = [];
    const remote = new ToolMux({
      baseUrl: server.url,
      apiKey: server.apiKey,
      fetch: (input, init) => {
        sent.push(`${init?.method ?? 'GET'} ${String(input)}`);
        return fetch(input, init);
      },
    });
    try {
      const embeddedSession = await server.embedded.create('user_lang', { toolkits: ['tasks'] });
      const remoteSession = await remote.create('user_lang', { toolkits: ['tasks'] });
      const bad: [string, Record<string, unknown>][] = [
        ['an unknown tag', { tags: ['destructive'] }],
        ['an unknown tag to disable', { tags: { disable: ['readOnly'] } }],
        ["an unknown tag of a toolkit's tools", { tools: { tasks: { tags: ['readonly'] } } }],
        ['a tag enabled and disabled', { tags: { enable: ['readOnlyHint'], disable: ['readOnlyHint'] } }],
      ];
      for (const [what, config] of bad) {
        const calls: [string, (mux: ToolMux, session: Session) => Promise<unknown>][] = [
          ['create', (mux) => mux.create('user_lang', config as SessionConfig)],
          ['update', (_mux, session) => session.update(config as SessionConfig)],
          ['tools.get', (mux) => mux.tools.get('user_lang', config as SessionConfig)],
        ];
        for (const [method, call] of calls) {
          const embedded = await rejection(call(server.embedded, embeddedSession));
          sent.length = 0;
          const remoteError = await rejection(call(remote, remoteSession));
          expect({ code: remoteError.code, message: remoteError.message }, `${what}, ${method}()`).toEqual({
            code: embedded.code,
            message: embedded.message,
          });
          expect(embedded.code, `${what}, ${method}()`).toMatch(/^CONFIG_(INVALID|CONFLICT)$/);
          expect(sent, `${what}, ${method}(): nothing sent`).toEqual([]);
        }
      }
    } finally {
      await remote.close();
    }
  });

  it('inside { disable } the path goes down to the bad entry, not "Invalid input" at the union', async () => {
    const answered = await createSession({ tags: { disable: ['readOnly'] } });
    expect(answered.message).toContain('body.config.tags.disable[0]: unknown value "readOnly";');
    expect(answered.message).toContain('Did you mean "readOnlyHint"?');
    expect(answered.message).not.toContain('Invalid input');
  });

  it('an unknown key suggests the known key and lists them', async () => {
    const answered = await createSession({ tagz: ['readOnlyHint'] });
    expect(answered.message).toContain(
      'body.config: unknown key "tagz". Did you mean "tags"? Known keys: toolkits, tools, tags,',
    );
  });

  it("thousands of unknown keys: the first ten and how many more, on /api/v1 and Composio's routes", async () => {
    const keys = Object.fromEntries(Array.from({ length: 20_000 }, (_, n) => [`k${n}`, 1]));
    const answered = await createSession(keys);
    expect(answered.status).toBe(400);
    expect(answered.message).toContain('body.config: unknown keys "k0", "k1",');
    expect(answered.message).toContain('"k9" and 19,990 more. Known keys: toolkits,');
    expect(answered.message.length).toBeLessThan(1_000);
    const response = await fetch(`${server.url}/api/v3/tool_router/session`, {
      method: 'POST',
      headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'user_lang', ...keys }),
    });
    expect(response.status).toBe(400);
    const text = await response.text();
    expect((JSON.parse(text) as { message: string }).message).toContain('"k9" and 19,990 more.');
    expect(text.length).toBeLessThan(3_000);
  });

  it('a value of the wrong type says what each accepted form is', async () => {
    const answered = await createSession({ toolkits: 'tasks' });
    expect(answered.message).toContain('body.config.toolkits: is a string: send an array or an object');
  });

  it('an unknown enum value elsewhere (an auth config type) gets the same treatment', async () => {
    const answered = await rest('POST', '/auth-configs', { toolkit: 'mail', type: 'apikey' });
    expect(answered.message).toContain(
      'body.type: unknown value "apikey"; use one of oauth2, api_key, bearer, basic. Did you mean "api_key"?',
    );
  });

  it('a required field left out says it is required and what to give, whatever its type', async () => {
    // before: "body.toolkit: Invalid input: expected string, received undefined" beside "body.type: is required: …"
    const authConfig = await rest('POST', '/auth-configs', {});
    expect([authConfig.status, authConfig.code, authConfig.message]).toEqual([
      400,
      'INVALID_REQUEST',
      'Invalid request body: body.toolkit: is required: a string; body.type: is required: one of oauth2, api_key, bearer, basic.',
    ]);
    const account = await rest('POST', '/connected-accounts', {
      user_id: 'user_lang',
      auth_config_id: 'ac_x',
    });
    expect(account.message).toBe('Invalid request body: body.credentials: is required: an object.');
    const logs = await rest('POST', '/sessions/ses_x/logs', {});
    expect(logs.message).toBe('Invalid request body: body.items: is required: an array.');
    const execute = await rest('POST', '/tools/execute', { user_id: 'user_lang' });
    expect(execute.message).toBe('Invalid request body: body.tool_slug: is required: a string.');
  });

  it('never echoes a value that is not an enum value or a key (credentials stay out)', async () => {
    const answered = await rest('POST', '/connected-accounts', {
      user_id: 'user_lang',
      auth_config_id: 'ac_x',
      credentials: { apiKey: 12345678901234 },
    });
    expect(answered.status).toBe(400);
    expect(answered.message).toContain('body.credentials.apiKey');
    expect(answered.message).not.toContain('12345678901234');
  });
});

describe('the API key message says where the key is and that it goes after "Bearer "', () => {
  // the test server is given its key as the apiKey option: the answer names that, no key file
  const WHERE = 'The key is the apiKey this server was created with (createServer({ apiKey })).';

  it.each([
    [
      'no Authorization header',
      null,
      'Send the project API key in the Authorization header, after "Bearer ": Authorization: Bearer <key>.',
    ],
    [
      'the key without "Bearer "',
      'KEY',
      'The Authorization header must be "Bearer " followed by the project API key; this one does not start with "Bearer ".',
    ],
    [
      'a wrong key',
      'Bearer wrong-key-0123456789abcdef',
      'The API key after "Bearer " is not this server\'s project API key.',
    ],
  ])('%s', async (_, header, start) => {
    const authorization = header === 'KEY' ? server.apiKey : header;
    const answered = await rest('GET', '/toolkits', undefined, authorization);
    expect(answered.status).toBe(401);
    expect(answered.code).toBe('UNAUTHORIZED');
    expect(answered.message).toBe(`${start} ${WHERE}`);
    expect(answered.message).not.toContain(server.apiKey);
    expect(answered.message).not.toContain('wrong-key');
  });
});

describe('the project API key sent in x-api-key, as the MCP endpoint and the Composio routes take it', () => {
  // it was answered as if no key had been sent, so the reader looked for a missing header
  it.each([
    ['the key', () => server.apiKey],
    ['a wrong key', () => 'wrong-key-0123456789abcdef'],
  ])(
    '%s in x-api-key alone is told that the REST API reads Authorization: Bearer, not whether it is right',
    async (_, key) => {
      for (const path of ['/toolkits', '/sessions/ses_0000000000000000000000000000/tools']) {
        const response = await fetch(`${server.url}/api/v1${path}`, { headers: { 'x-api-key': key() } });
        const { error } = (await response.json()) as { error: { code: string; message: string } };
        expect(response.status).toBe(401);
        expect(error.code).toBe('UNAUTHORIZED');
        expect(error.message).toContain(
          'This request sent an x-api-key header, which this route does not read (the MCP endpoint and the Composio-compatible routes do): send the same key as Authorization: Bearer <key>.',
        );
        expect(error.message).not.toContain(key());
        expect(error.message).not.toMatch(/not this server's project API key/);
      }
    },
  );

  it('with Authorization beside it, the Authorization header decides as before', async () => {
    const right = await fetch(`${server.url}/api/v1/toolkits`, {
      headers: { authorization: `Bearer ${server.apiKey}`, 'x-api-key': 'anything-0123456789' },
    });
    expect(right.status).toBe(200);
    const wrong = await rest('GET', '/toolkits', undefined, 'Bearer wrong-key-0123456789abcdef');
    expect(wrong.message).not.toContain('x-api-key');
  });
});

describe('errors over REST name no SDK method or field on the routes they are answered on', () => {
  /** The SDK's names of what the REST API spells otherwise (a field of a body, a query, an answer). */
  const SDK_FIELD =
    /\b(nextCursor|clientId|clientSecret|connectedAccountId|callbackUrl|userIds?|authConfigId|redirectUrl|expectedVersion|configVersion|maxResponseBytes|proxyExecute)\b/;

  /** Every text of an answer: an error's message and details, a failed result's error. */
  function texts(json: any): string[] {
    const found: string[] = [];
    if (typeof json?.error === 'string') found.push(json.error);
    if (json?.error?.message !== undefined) found.push(json.error.message);
    for (const value of Object.values(json?.error?.details ?? {}))
      if (typeof value === 'string') found.push(value);
    return found;
  }

  it('walks the routes whose messages used SDK words and finds none', async () => {
    const user = 'user_rest_words';
    const oauth = await send('POST', '/auth-configs', {
      toolkit: 'hybrid',
      type: 'oauth2',
      client_id: 'client',
      client_secret: 'secret',
    });
    expect(oauth.status).toBe(201);
    const apiKey = await send('POST', '/auth-configs', { toolkit: 'hybrid', type: 'api_key' });
    expect(apiKey.status).toBe(201);
    const session = await send('POST', '/sessions', {
      user_id: user,
      config: { toolkits: ['mail', 'hybrid'] },
    });
    const mail = { to: 'a@example.com', subject: 'Hi', body: 'Hello' };

    const answers: [string, { status: number; json: any }][] = [
      [
        'tools/execute without an account',
        await send('POST', '/tools/execute', {
          tool_slug: 'MAIL_SEND_EMAIL',
          user_id: user,
          arguments: mail,
        }),
      ],
      [
        'tools/execute with an unknown account',
        await send('POST', '/tools/execute', {
          tool_slug: 'MAIL_SEND_EMAIL',
          user_id: user,
          arguments: mail,
          connected_account_id: 'ca_missing000000000000',
        }),
      ],
      ['a session list with a bad cursor', await send('GET', '/sessions?cursor=zz')],
      ['a toolkit list with a bad cursor', await send('GET', '/toolkits?cursor=zz')],
      ['an auth config list with a bad cursor', await send('GET', '/auth-configs?cursor=zz')],
      ['an account list with a bad cursor', await send('GET', '/connected-accounts?cursor=zz')],
      ['an account list of a blank user', await send('GET', '/connected-accounts?user_ids=%20')],
      [
        'an oauth2 auth config without client_id',
        await send('POST', '/auth-configs', { toolkit: 'hybrid', type: 'oauth2' }),
      ],
      [
        'an api_key auth config with client_id',
        await send('POST', '/auth-configs', { toolkit: 'hybrid', type: 'api_key', client_id: 'x' }),
      ],
      [
        'an oauth2 auth config with a client_secret of a control character',
        await send('POST', '/auth-configs', {
          toolkit: 'hybrid',
          type: 'oauth2',
          client_id: 'x',
          client_secret: 'a\u0007b',
        }),
      ],
      [
        'an oauth2 auth config with a client_id of a control character',
        await send('POST', '/auth-configs', { toolkit: 'hybrid', type: 'oauth2', client_id: 'a\u0007b' }),
      ],
      [
        'PATCH client_secret on an api_key config',
        await send('PATCH', `/auth-configs/${apiKey.json.id}`, { client_secret: 'x' }),
      ],
      [
        'PATCH an empty client_secret',
        await send('PATCH', `/auth-configs/${oauth.json.id}`, { client_secret: '' }),
      ],
      ['PATCH nothing', await send('PATCH', `/auth-configs/${oauth.json.id}`, {})],
      [
        'a link to a callback_url not allowed',
        await send('POST', '/connected-accounts/link', {
          user_id: user,
          auth_config_id: oauth.json.id,
          callback_url: 'https://evil.example/cb',
        }),
      ],
      [
        'a link to a callback_url that is no URL',
        await send('POST', '/connected-accounts/link', {
          user_id: user,
          auth_config_id: oauth.json.id,
          callback_url: 'x',
        }),
      ],
      [
        'a PATCH with an expected_version ahead',
        await send('PATCH', `/sessions/${session.json.session_id}`, { config: {}, expected_version: 99 }),
      ],
      [
        'a proxy call off the API',
        await send('POST', `/sessions/${session.json.session_id}/proxy`, {
          toolkit: 'hybrid',
          endpoint: 'https://evil.example.com/x',
        }),
      ],
      [
        'a proxy call of a toolkit without an API',
        await send('POST', `/sessions/${session.json.session_id}/proxy`, { toolkit: 'mail', endpoint: '/x' }),
      ],
    ];
    for (const [what, answer] of answers) {
      const found = texts(answer.json);
      // each is refused or failed, with words to read
      expect(found.length, `${what}: ${JSON.stringify(answer.json)}`).toBeGreaterThan(0);
      for (const text of found) {
        // "http(s)" is no call
        expect(text.replaceAll('http(s)', 'http'), what).not.toMatch(SDK_CALL);
        expect(text, what).not.toMatch(SDK_FIELD);
      }
    }
    // the fields by their REST names, in the message and in details.field
    const patched = answers.find(([what]) => what === 'PATCH client_secret on an api_key config')![1];
    expect(patched.json.error).toMatchObject({
      message: expect.stringContaining('"client_secret" cannot be updated'),
      details: { field: 'client_secret' },
    });

    // the remote SDK reads the same errors in its own words
    const remote = server.remote();
    const refused = await rejection(remote.authConfigs.update(apiKey.json.id, { clientSecret: 'x' }));
    expect(refused.message).toContain('"clientSecret" cannot be updated');
    expect(refused.details).toMatchObject({ field: 'clientSecret' });
    expect((await rejection(remote.sessions.list({ cursor: 'zz' }))).message).toContain('nextCursor');
    const result = await remote.tools.execute('MAIL_SEND_EMAIL', { userId: user, arguments: mail });
    expect(result.error).toContain('connectedAccounts.link(');
    expect(result.error).toContain('connectedAccountId');
  });
});

describe('the log filters and the account of a call without a session are named as the REST API spells them', () => {
  it.each([
    ['GET', '/logs?session_id=nope', 'session_id "nope" is no toolmux id, not a session id', 'session_id'],
    ['GET', '/logs?session_id=ca_nope', 'session_id "ca_nope" is a connected account\'s id', 'session_id'],
    ['GET', '/logs?parent_id=nope', 'parent_id "nope" is no toolmux id, not a log entry id', 'parent_id'],
    ['GET', '/logs?parent_id=ses_x', `parent_id "ses_x" is a session's id`, 'parent_id'],
  ])('%s %s names its query parameter, never sessionId or parentId', async (method, path, text, field) => {
    const answered = await send(method, path);
    expect(answered.status).toBe(400);
    expect(answered.json.error.code).toBe('INVALID_REQUEST');
    expect(answered.json.error.message).toContain(text);
    expect(answered.json.error.message).not.toMatch(/\b(sessionId|parentId|logId)\b/);
    expect(answered.json.error.details).toEqual({ field });
  });

  it("a session's log filtered by a parent that is no log entry names parent_id and a result's log_id", async () => {
    const created = await send('POST', '/sessions', { user_id: 'user_lang_filters' });
    const answered = await send('GET', `/sessions/${created.json.session_id}/logs?parent_id=ses_x`);
    expect(answered.status).toBe(400);
    expect(answered.json.error.message).toBe(
      `parent_id "ses_x" is a session's id, not a log entry id: log entry ids start with "log_" (a result's log_id).`,
    );
    expect(answered.json.error.details).toEqual({ field: 'parent_id' });
  });

  it('an account named for a tool that needs none: run it again without connected_account_id', async () => {
    const answered = await send('POST', '/tools/execute', {
      tool_slug: 'TASKS_LIST_TASKS',
      user_id: 'user_lang_filters',
      connected_account_id: 'ca_other',
    });
    expect(answered.status).toBe(200);
    expect(answered.json).toMatchObject({ successful: false, code: 'CONNECTED_ACCOUNT_MISMATCH' });
    expect(answered.json.error).toContain('Run the call again without connected_account_id.');
    expect(answered.json.error).not.toContain('connectedAccountId');
  });

  it('the SDK reads the same refusals in its own words', async () => {
    const remote = server.remote();
    for (const [query, text] of [
      [{ sessionId: 'nope' }, 'sessionId "nope" is no toolmux id'],
      [
        { parentId: 'ses_x' },
        `parentId "ses_x" is a session's id, not a log entry id: log entry ids start with "log_" (a result's logId).`,
      ],
    ] as const) {
      const error = await rejection(remote.logs.list(query));
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.message).toContain(text);
      expect(error.details).toEqual({ field: Object.keys(query)[0] });
    }
    const result = await remote.tools.execute('TASKS_LIST_TASKS', {
      userId: 'user_lang_filters',
      connectedAccountId: 'ca_other',
    });
    expect(result.code).toBe('CONNECTED_ACCOUNT_MISMATCH');
    expect(result.error).toContain('Run the call again without connectedAccountId.');
  });
});

describe('a session the application made with custom tools, served by an embedded server', () => {
  it('is refused over REST and MCP saying why the server cannot serve it, not to pass them again to use()', async () => {
    const lookup = defineTool({
      slug: 'LOOKUP_CUSTOMER',
      description: 'Look up a customer.',
      inputSchema: { type: 'object', properties: {} },
      execute: () => ({}),
    });
    const session = await server.embedded.create('user_1', {
      toolkits: ['tasks'],
      experimental: { customTools: [lookup] },
    });
    // the application resumes it with them, in its words
    await expect(server.embedded.use(session.sessionId)).rejects.toThrow(
      'pass them again: use(sessionId, { customTools, customToolkits })',
    );
    const read = await rest('GET', `/sessions/${session.sessionId}`);
    expect(read).toMatchObject({ status: 400, code: 'SESSION_CUSTOM_TOOLS_MISSING' });
    expect(read.message).toContain('LOOKUP_CUSTOMER');
    expect(read.message).toContain('this server cannot serve the session (REST, MCP)');
    expect(read.message).not.toContain('use(sessionId');
    const mcp = await fetch(session.mcp.url, {
      method: 'POST',
      headers: {
        ...session.mcp.headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    const text = await mcp.text();
    expect(text).toContain('this server cannot serve the session');
    expect(text).not.toContain('use(sessionId');
  });
});

describe('a custom tool whose schema is not valid JSON Schema', () => {
  const declared = (schemas: { inputSchema: unknown; outputSchema?: unknown }) => ({
    slug: 'MY_LOOKUP',
    name: 'Lookup',
    description: 'Looks a customer up.',
    toolkit: '',
    ...schemas,
    annotations: {},
    tags: [],
  });

  it('is refused when the session is made, naming the tool, the place in its schema and what to write there', async () => {
    // before: 201, the session stored with a tool every call of which was refused in Ajv's words
    // (`schema is invalid: data/properties/x/type must be equal to one of the allowed values, …`)
    const typo = await rest('POST', '/sessions', {
      user_id: 'schema_author',
      config: {
        experimental: {
          customTools: [
            declared({
              inputSchema: { type: 'object', properties: { id: { type: 'strng' }, n: { minimum: '5' } } },
            }),
          ],
        },
      },
    });
    expect(typo).toEqual({
      status: 400,
      code: 'TOOL_DEFINITION_INVALID',
      message:
        'Tool MY_LOOKUP: its input schema is not valid JSON Schema (inputSchema.properties.id.type: unknown value "strng"; use one of array, boolean, integer, null, number, object, string. Did you mean "string"?; inputSchema.properties.n.minimum: is a string: write a number). Fix the schema or define it with zod.',
    });
    // an output schema, and a tool of a custom toolkit, alike
    const output = await rest('POST', '/sessions', {
      user_id: 'schema_author',
      config: {
        experimental: {
          customToolkits: [
            {
              slug: 'crm',
              name: 'CRM',
              description: 'The CRM.',
              categories: [],
              tools: [
                {
                  ...declared({
                    inputSchema: { type: 'object' },
                    outputSchema: { type: 'object', required: 'id' },
                  }),
                  slug: 'CRM_LOOKUP',
                },
              ],
            },
          ],
        },
      },
    });
    expect(output).toEqual({
      status: 400,
      code: 'TOOL_DEFINITION_INVALID',
      message:
        'Tool CRM_LOOKUP: its output schema is not valid JSON Schema (outputSchema.required: is a string: write an array). Fix the schema or define it with zod.',
    });
  });
});
