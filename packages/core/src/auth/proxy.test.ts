import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthScheme } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { Session } from '../session.js';
import { pingToolkit, unreachableApiToolkit } from '../test/api-toolkits.js';
import { quiet } from '../test/auth-fixtures.js';
import { ToolMux } from '../toolmux.js';
import type { ProxyExecuteRequest } from './types.js';

let server: Server;
let baseUrl: string;
/** The X-API-Key of each request the API received, in order. */
const receivedKeys: string[] = [];

beforeAll(async () => {
  // echoes what it received, credentials included, like an API that reflects its input
  server = createServer((request, response) => {
    receivedKeys.push(String(request.headers['x-api-key'] ?? ''));
    if (request.url === '/api/endless') {
      // an answer that never ends: the proxy stops reading it, which closes the connection
      response.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(256 * 1024, 'a');
      const pump = () => {
        while (!response.destroyed && response.write(chunk)) {}
        if (!response.destroyed) response.once('drain', pump);
      };
      pump();
      return;
    }
    const sized = /^\/api\/sized\/(\d+)$/.exec(request.url ?? '');
    if (sized) {
      // an answer of exactly that many bytes
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end(Buffer.alloc(Number(sized[1]), 'a'));
      return;
    }
    if (request.url === '/api/deep') {
      // an API's answer may be anything: JSON nested 100,000 levels, a header named __proto__
      response.setHeader('content-type', 'application/json');
      response.setHeader('__proto__', 'a header');
      response.end(`${'['.repeat(100_000)}"key-header-123456"${']'.repeat(100_000)}`);
      return;
    }
    if (request.url === '/api/keyed-by') {
      // an answer keyed by the key it was sent (a map of keys to their quotas)
      const key = String(request.headers['x-api-key'] ?? '');
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ quotas: { [key]: 10, [`key:${key}`]: 5, other: 1 } }));
      return;
    }
    if (request.url === '/redirect') {
      response.writeHead(302, { location: 'https://elsewhere.example.com/steal' }).end();
      return;
    }
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      response.writeHead(200, {
        'content-type': 'application/json',
        'x-echo-auth': request.headers.authorization ?? '',
      });
      response.end(
        JSON.stringify({ method: request.method, url: request.url, headers: request.headers, body }),
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

function toolkit(slug: string, auth: AuthScheme) {
  return pingToolkit({ slug, baseUrl, auth });
}

async function setup(options: { proxyMaxResponseBytes?: number } = {}) {
  const mux = new ToolMux({
    ...options,
    toolkits: [
      toolkit('keyed', {
        type: 'api_key',
        fields: [{ name: 'apiKey' }],
        placement: { in: 'header', name: 'X-API-Key' },
      }),
      toolkit('queried', {
        type: 'api_key',
        fields: [{ name: 'apiKey' }],
        placement: { in: 'query', name: 'api_key' },
      }),
      toolkit('plainkey', { type: 'api_key', fields: [{ name: 'apiKey' }] }),
      toolkit('basicauth', { type: 'basic' }),
      toolkit('tokened', { type: 'bearer' }),
      toolkit('open', { type: 'none' }),
    ],
    store: ':memory:',
    logger: quiet,
  });
  const authConfigs: Record<string, string> = {};
  const connect = async (
    slug: string,
    type: 'api_key' | 'basic' | 'bearer',
    credentials: Record<string, string>,
  ) => {
    const config = await mux.authConfigs.create(slug, { type });
    authConfigs[slug] = config.id;
    await mux.connectedAccounts.create('user_1', config.id, credentials);
  };
  await connect('keyed', 'api_key', { apiKey: 'key-header-123456' });
  await connect('queried', 'api_key', { apiKey: 'key-query-123456' });
  await connect('plainkey', 'api_key', { apiKey: 'key-plain-123456' });
  await connect('basicauth', 'basic', { username: 'alice', password: 'pw-basic-123456' });
  await connect('tokened', 'bearer', { token: 'tok-bearer-123456' });
  const session = await mux.create('user_1', { authConfigs });
  return { mux, session };
}

type Echo = { method: string; url: string; headers: Record<string, string>; body: string };

/** The ToolMuxError a proxy call fails with, as its code and message (fails the test on another outcome). */
async function proxyError(
  session: Pick<Session, 'proxyExecute'>,
  request: ProxyExecuteRequest,
): Promise<{ code: string; message: string }> {
  const error = await session.proxyExecute(request).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!ToolMuxError.isInstance(error)) throw new Error(`expected a ToolMuxError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

describe('session.proxyExecute', () => {
  it('masks a key the query carried encoded, as the API quotes it back', async () => {
    const { mux } = await setup();
    const config = await mux.authConfigs.create('queried', { type: 'api_key' });
    // a base64 key: the query carries it as k%2By%2Fz%3D…, which the API quotes back
    await mux.connectedAccounts.create('user_2', config.id, { apiKey: 'k+y/z=key-query-654321' });
    const session = await mux.create('user_2', { authConfigs: { queried: config.id } });
    const queried = await session.proxyExecute({ toolkit: 'queried', endpoint: 'search' });
    expect((queried.data as Echo).url).toBe('/api/search?api_key=[REDACTED]');
    expect(JSON.stringify(queried)).not.toContain('key-query-654321');
  });

  it('masks a key in the keys of the answer, not only in its strings', async () => {
    const { session } = await setup();
    const keyed = await session.proxyExecute({ toolkit: 'keyed', endpoint: '/keyed-by' });
    expect(keyed.data).toEqual({ quotas: { '[REDACTED]': 10, 'key:[REDACTED]': 5, other: 1 } });
    expect(JSON.stringify(keyed)).not.toContain('key-header-123456');
  });

  it('applies each scheme’s credentials and masks them in what comes back', async () => {
    const { session } = await setup();
    const keyed = await session.proxyExecute({
      toolkit: 'keyed',
      endpoint: '/items?page=2',
      method: 'POST',
      body: { name: 'x' },
      parameters: [
        { in: 'header', name: 'X-Trace', value: 't-1' },
        { in: 'query', name: 'limit', value: 5 },
        { in: 'header', name: 'X-API-Key', value: 'caller-tries-to-override' },
      ],
    });
    expect(keyed.status).toBe(200);
    const echo = keyed.data as Echo;
    expect(echo.method).toBe('POST');
    expect(echo.url).toBe('/api/items?page=2&limit=5');
    expect(echo.headers['x-api-key']).toBe('[REDACTED]'); // it was sent: the server saw the real key
    expect(echo.headers['x-trace']).toBe('t-1');
    expect(echo.headers['content-type']).toBe('application/json');
    expect(JSON.parse(echo.body)).toEqual({ name: 'x' });

    const queried = await session.proxyExecute({ toolkit: 'queried', endpoint: 'search' });
    expect((queried.data as Echo).url).toBe('/api/search?api_key=[REDACTED]');

    const plain = await session.proxyExecute({ toolkit: 'plainkey', endpoint: '/' });
    expect((plain.data as Echo).headers.authorization).toBe('Bearer [REDACTED]');

    const basic = await session.proxyExecute({ toolkit: 'basicauth', endpoint: '/me' });
    expect((basic.data as Echo).headers.authorization).toBe('Basic [REDACTED]');
    expect(basic.headers['x-echo-auth']).toBe('Basic [REDACTED]');

    const bearer = await session.proxyExecute({ toolkit: 'tokened', endpoint: '/me' });
    expect((bearer.data as Echo).headers.authorization).toBe('Bearer [REDACTED]');

    for (const result of [keyed, queried, plain, basic, bearer]) {
      const text = JSON.stringify(result);
      for (const secret of [
        'key-header-123456',
        'key-query-123456',
        'key-plain-123456',
        'pw-basic-123456',
        'tok-bearer-123456',
      ]) {
        expect(text).not.toContain(secret);
      }
      expect(text).not.toContain(Buffer.from('alice:pw-basic-123456').toString('base64'));
    }
    const open = await session.proxyExecute({ toolkit: 'open', endpoint: '/x', method: 'DELETE' });
    expect(open).toMatchObject({ status: 200, data: { method: 'DELETE' } });
  });

  it('sends credentials only to the toolkit’s origin and does not follow redirects', async () => {
    const { session } = await setup();
    const origin = new URL(baseUrl).origin;
    const sameOrigin = await session.proxyExecute({ toolkit: 'keyed', endpoint: `${origin}/other/path` });
    expect((sameOrigin.data as Echo).url).toBe('/other/path');
    for (const endpoint of [
      'https://evil.example.com/api',
      '//evil.example.com/api',
      'http://127.0.0.1:1/api',
    ]) {
      const error = await session
        .proxyExecute({ toolkit: 'keyed', endpoint })
        .catch((caught: unknown) => caught);
      expect(ToolMuxError.isInstance(error) && error.code).toBe('INVALID_REQUEST');
    }
    const redirected = await session.proxyExecute({ toolkit: 'keyed', endpoint: '/../redirect' });
    expect(redirected.status).toBe(302);
    expect(redirected.headers.location).toBe('https://elsewhere.example.com/steal');
  });

  it('needs a toolkit of the session and a connected account', async () => {
    const { mux } = await setup();
    const session = await mux.create('user_2', { toolkits: ['keyed'] });
    const unknown = await session
      .proxyExecute({ toolkit: 'queried', endpoint: '/' })
      .catch((caught: unknown) => caught);
    expect((unknown as ToolMuxError).code).toBe('TOOL_NOT_IN_SESSION');
    const unconnected = await session
      .proxyExecute({ toolkit: 'keyed', endpoint: '/' })
      .catch((caught: unknown) => caught);
    expect((unconnected as ToolMuxError).code).toBe('CONNECTION_REQUIRED');
    const badMethod = await session
      .proxyExecute({ toolkit: 'keyed', endpoint: '/', method: 'TRACE' as never })
      .catch((caught: unknown) => caught);
    expect((badMethod as ToolMuxError).code).toBe('INVALID_REQUEST');
  });

  it('connectedAccountId names an account the session may use (by id or alias), as execute()’s account: no other account of the user', async () => {
    const { mux } = await setup();
    const config = (await mux.authConfigs.list({ toolkit: 'keyed' })).items[0]!;
    const work = await mux.connectedAccounts.create(
      'user_1',
      config.id,
      { apiKey: 'key-work-1234567' },
      { alias: 'work' },
    );
    const personal = await mux.connectedAccounts.create(
      'user_1',
      config.id,
      { apiKey: 'key-personal-1234567' },
      { alias: 'personal' },
    );
    const other = await mux.connectedAccounts.create('user_2', config.id, { apiKey: 'key-other-1234567' });
    // a session pinned to the work account, with the workbench, whose code calls toolmux.proxy
    const session = await mux.create('user_1', {
      toolkits: ['keyed'],
      connectedAccounts: { keyed: [work.id] },
      workbench: { enable: true },
    });
    const sentKey = async (connectedAccountId?: string) => {
      await session.proxyExecute({
        toolkit: 'keyed',
        endpoint: '/whoami',
        ...(connectedAccountId !== undefined ? { connectedAccountId } : {}),
      });
      return receivedKeys.at(-1);
    };
    // the API saw the work key, the only account of the session
    expect(await sentKey()).toBe('key-work-1234567');
    expect(await sentKey(work.id)).toBe('key-work-1234567');
    expect(await sentKey('work')).toBe('key-work-1234567');
    const seen = receivedKeys.length;
    for (const outside of [personal.id, 'personal', other.id]) {
      const refused = await session
        .proxyExecute({ toolkit: 'keyed', endpoint: '/whoami', connectedAccountId: outside })
        .catch((caught: unknown) => caught);
      expect(ToolMuxError.isInstance(refused), `${outside}: ${String(refused)}`).toBe(true);
      expect((refused as ToolMuxError).code).toBe('ACCOUNT_NOT_IN_SESSION');
      expect((refused as ToolMuxError).message).toContain('"work"');
    }
    // the agent's workbench code reaches the same proxy: the personal account stays out of reach
    const cell = await session.execute('TOOLMUX_WORKBENCH', {
      code: `return await toolmux.proxy({ toolkit: 'keyed', endpoint: '/whoami', connectedAccountId: ${JSON.stringify(personal.id)} });`,
    });
    expect(JSON.stringify(cell)).toContain('is not a Keyed (keyed) account this session may use');
    // (the old code sent the personal key, and the other user's)
    expect(receivedKeys.slice(seen)).toEqual([]);
    // a session that must choose among the user's accounts says how the proxy chooses: its own
    // field, connectedAccountId (not a tool call's account)
    const choosing = await mux.create('user_1', {
      toolkits: ['keyed'],
      authConfigs: { keyed: config.id },
      multiAccount: { enable: true, requireExplicitSelection: true },
      workbench: { enable: true },
    });
    const unchosen = (await choosing
      .proxyExecute({ toolkit: 'keyed', endpoint: '/whoami' })
      .catch((caught: unknown) => caught)) as ToolMuxError;
    expect(unchosen).toMatchObject({ code: 'ACCOUNT_SELECTION_REQUIRED' });
    expect(unchosen.message).toContain('session.proxyExecute({ …, connectedAccountId })');
    expect(unchosen.message).toContain('"personal"');
    expect(unchosen.message).not.toContain('{ account }');
    const inCell = await choosing.execute('TOOLMUX_WORKBENCH', {
      code: `try { await toolmux.proxy({ toolkit: 'keyed', endpoint: '/whoami' }) } catch (e) { return [e.code, e.message] }`,
    });
    const [code, message] = (inCell.data as { result: string[] }).result;
    expect(code).toBe('ACCOUNT_SELECTION_REQUIRED');
    expect(message).toContain('toolmux.proxy({ …, connectedAccountId })');
    expect(receivedKeys.slice(seen)).toEqual([]);
  });

  it('an API that answers without end is PROXY_RESPONSE_TOO_LARGE (a 4xx: the call, not the server, must change), one it cannot reach PROXY_FAILED naming the origin (no credentials in it)', async () => {
    const { mux, session } = await setup();
    expect(await proxyError(session, { toolkit: 'keyed', endpoint: '/endless' })).toEqual({
      code: 'PROXY_RESPONSE_TOO_LARGE',
      message:
        "keyed's API answered GET /api/endless with more than 32 MiB, more than a proxy call reads: ask for less (a filter, a smaller page or a narrower range).",
    });

    const { toolkit: goneToolkit, origin } = await unreachableApiToolkit();
    const gone = new ToolMux({ toolkits: [goneToolkit], store: ':memory:', logger: quiet });
    const goneSession = await gone.create('user_1', { toolkits: ['gone'] });
    expect(await proxyError(goneSession, { toolkit: 'gone', endpoint: '/x' })).toEqual({
      code: 'PROXY_FAILED',
      message: `Could not reach gone's API at ${origin} (ECONNREFUSED): check the toolkit's baseUrl and the network, then retry.`,
    });
    await gone.close();
    await mux.close();
  });

  it('answers JSON nested deeper than 128 levels as its text (masked), and keeps a header named __proto__', async () => {
    const { mux, session } = await setup();
    const deep = await session.proxyExecute({ toolkit: 'keyed', endpoint: '/deep' });
    expect(deep.status).toBe(200);
    expect(typeof deep.data).toBe('string');
    const text = deep.data as string;
    expect(text).toHaveLength(200_000 + '"[REDACTED]"'.length);
    expect(text).toContain('"[REDACTED]"');
    expect(text).not.toContain('key-header-123456');
    expect(Object.hasOwn(deep.headers, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(deep.headers)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(deep.headers, '__proto__')?.value).toBe('a header');
    await mux.close();
  });

  it('refuses a body without a method (GET cannot carry one) and header values HTTP cannot carry, before any account is used', async () => {
    const { session } = await setup();
    const refused = async (request: ProxyExecuteRequest) => {
      const { code, message } = await proxyError(session, request);
      expect(code, message).toBe('INVALID_REQUEST');
      return message;
    };
    expect(await refused({ toolkit: 'keyed', endpoint: '/', body: { a: 1 } })).toContain(
      'pass method "POST"',
    );
    expect(await refused({ toolkit: 'keyed', endpoint: '/', method: 'HEAD', body: 'x' })).toContain(
      'HEAD request cannot carry a body',
    );
    for (const [name, value] of [
      ['X-Test', 'a\u0000b'],
      ['X-Test', 'line\r\nInjected: 1'],
      ['X-Test', '\ud800'],
      ['X Bad', 'ok'],
    ]) {
      await refused({
        toolkit: 'keyed',
        endpoint: '/',
        parameters: [{ in: 'header', name: name!, value: value! }],
      });
    }
    // with a method, the body goes through
    const posted = await session.proxyExecute({
      toolkit: 'keyed',
      endpoint: '/',
      method: 'POST',
      body: { a: 1 },
    });
    expect((posted.data as Echo).body).toBe('{"a":1}');
  });

  describe('how much of an answer it reads', () => {
    /** The INVALID_REQUEST message of a proxy call refused before any request went out. */
    async function refusedBeforeSending(
      session: Pick<Session, 'proxyExecute'>,
      maxResponseBytes: unknown,
    ): Promise<string> {
      const seen = receivedKeys.length;
      const { code, message } = await proxyError(session, {
        toolkit: 'keyed',
        endpoint: '/sized/10',
        maxResponseBytes: maxResponseBytes as number,
      });
      expect(code, message).toBe('INVALID_REQUEST');
      expect(receivedKeys.length).toBe(seen);
      return message;
    }

    it("the ToolMux's proxyMaxResponseBytes is the most a call downloads: an answer of that size is read, one byte more fails", async () => {
      const { mux, session } = await setup({ proxyMaxResponseBytes: 1024 });
      const whole = await session.proxyExecute({ toolkit: 'keyed', endpoint: '/sized/1024' });
      expect(whole.data).toBe('a'.repeat(1024));
      expect(await proxyError(session, { toolkit: 'keyed', endpoint: '/sized/1025' })).toEqual({
        code: 'PROXY_RESPONSE_TOO_LARGE',
        message:
          "keyed's API answered GET /api/sized/1025 with more than 1 KiB, more than a proxy call reads: ask for less (a filter, a smaller page or a narrower range).",
      });
      // a call may ask for less, never for more
      expect(await refusedBeforeSending(session, 1025)).toBe(
        'maxResponseBytes 1025 is more than a proxy call of this ToolMux reads: 1024 (1 KiB, its proxyMaxResponseBytes). Ask for 1024 or less; the operator raises the limit with proxyMaxResponseBytes in the ToolMux options (a toolmux server: its config file or TOOLMUX_PROXY_MAX_RESPONSE_BYTES).',
      );
      await mux.close();
    });

    it("a call's maxResponseBytes reads less than the ToolMux's limit, and says it can ask for more", async () => {
      const { mux, session } = await setup();
      const whole = await session.proxyExecute({
        toolkit: 'keyed',
        endpoint: '/sized/100',
        maxResponseBytes: 100,
      });
      expect(whole.data).toBe('a'.repeat(100));
      expect(
        await proxyError(session, { toolkit: 'keyed', endpoint: '/sized/101', maxResponseBytes: 100 }),
      ).toEqual({
        code: 'PROXY_RESPONSE_TOO_LARGE',
        message:
          "keyed's API answered GET /api/sized/101 with more than 100 bytes, more than this proxy call reads: ask for less (a filter, a smaller page or a narrower range), or pass a larger maxResponseBytes (up to 33554432).",
      });
      await mux.close();
    });

    it('a maxResponseBytes that is not a whole number of bytes, 1 or more, is refused naming it, before any request', async () => {
      const { mux, session } = await setup();
      for (const [value, shown] of [
        [0, 'number 0'],
        [-5, 'number -5'],
        [1.5, 'number 1.5'],
        [Number.NaN, 'number NaN'],
        [Number.POSITIVE_INFINITY, 'number Infinity'],
        ['1000', '"1000"'],
        [null, 'null'],
      ] as const) {
        expect(await refusedBeforeSending(session, value)).toBe(
          `maxResponseBytes must be a whole number of bytes, 1 or more (at most the ToolMux's proxyMaxResponseBytes, 32 MiB unless its operator set it); got ${shown}. Leave it out to read up to that limit.`,
        );
      }
      await mux.close();
    });

    it('new ToolMux() refuses a proxyMaxResponseBytes that is not a whole number of bytes, 1 or more, naming it', () => {
      for (const [value, shown] of [
        [0, 'number 0'],
        [2.5, 'number 2.5'],
        [Number.NaN, 'number NaN'],
        ['32MB', '"32MB"'],
      ] as const) {
        const error = (() => {
          try {
            new ToolMux({
              toolkits: [],
              store: ':memory:',
              logger: quiet,
              proxyMaxResponseBytes: value as number,
            });
          } catch (caught) {
            return caught;
          }
          return undefined;
        })();
        expect(ToolMuxError.isInstance(error) && error.code, String(error)).toBe('CONFIG_INVALID');
        expect((error as ToolMuxError).message).toBe(
          `proxyMaxResponseBytes must be a whole number of bytes, 1 or more (the most of an API's answer one proxyExecute call downloads); got ${shown}. Leave it out for 32 MiB.`,
        );
      }
    });
  });
});
