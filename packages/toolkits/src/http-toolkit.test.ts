import { createServer, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { type Session, ToolMux } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createApi } from './http.js';
import { createHttpToolkit, http } from './http-toolkit.js';

let api: FakeApi;
let mux: ToolMux;
let session: Session;

beforeAll(async () => {
  api = await startFakeApi();
  api.route('GET', '/v1/items', { body: { items: [{ id: 1, name: 'first' }], total: 1 } });
  api.route('POST', '/v1/items', (request) => ({
    status: 201,
    body: { id: 2, ...(request.body as object) },
    headers: { location: '/v1/items/2' },
  }));
  api.route('PUT', '/v1/items/:id', (request) => ({ body: request.body }));
  api.route('PATCH', '/v1/items/:id', (request) => ({ body: { id: 1, ...(request.body as object) } }));
  api.route('DELETE', '/v1/items/:id', { status: 204 });
  api.route('GET', '/page', {
    body: '<html><body>hello</body></html>',
    headers: { 'content-type': 'text/html' },
  });
  api.route('GET', '/moved', {
    status: 302,
    headers: { location: 'http://169.254.169.254/latest/meta-data/' },
  });
  api.route('POST', '/echo', (request) => ({
    body: { contentType: request.headers['content-type'], received: request.body },
  }));
  // The no-auth toolkit may reach loopback only when told to (the fake API lives there).
  mux = new ToolMux({ toolkits: [createHttpToolkit({ allowPrivateNetwork: true })], store: ':memory:' });
  session = await mux.create('user_http', { toolkits: ['http'] });
});

afterAll(async () => {
  await mux.close();
  await api.close();
});

describe('http toolkit without an account, through a session', () => {
  it('GETs JSON and text, POSTs JSON or raw text, PUTs, PATCHes and DELETEs', async () => {
    const got = await session.execute('HTTP_GET', { url: `${api.url}/v1/items`, query: { page: '2' } });
    expect(got.data).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: { items: [{ id: 1, name: 'first' }], total: 1 },
      truncated: false,
    });
    expect(api.requests.at(-1)!.query).toEqual({ page: '2' });
    expect(api.requests.at(-1)!.headers.authorization).toBeUndefined();

    const page = await session.execute('HTTP_GET', { url: `${api.url}/page` });
    expect((page.data as { body: string }).body).toBe('<html><body>hello</body></html>');

    const created = await session.execute('HTTP_POST', {
      url: `${api.url}/v1/items`,
      body: { name: 'second' },
    });
    expect(created.data).toMatchObject({
      status: 201,
      headers: { location: '/v1/items/2' },
      body: { id: 2, name: 'second' },
    });
    const raw = await session.execute('HTTP_POST', {
      url: `${api.url}/echo`,
      text: 'a=1&b=2',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect((raw.data as { body: unknown }).body).toEqual({
      contentType: 'application/x-www-form-urlencoded',
      received: 'a=1&b=2',
    });

    expect(
      (await session.execute('HTTP_PUT', { url: `${api.url}/v1/items/1`, body: { name: 'renamed' } })).data,
    ).toMatchObject({ status: 200 });
    expect(
      (await session.execute('HTTP_PATCH', { url: `${api.url}/v1/items/1`, body: { name: 'patched' } })).data,
    ).toMatchObject({
      body: { id: 1, name: 'patched' },
    });
    expect((await session.execute('HTTP_DELETE', { url: `${api.url}/v1/items/1` })).data).toMatchObject({
      status: 204,
      body: null,
    });
  });

  it('returns redirects instead of following them (each hop is checked again)', async () => {
    const moved = await session.execute('HTTP_GET', { url: `${api.url}/moved` });
    expect(moved.data).toMatchObject({
      status: 302,
      headers: { location: 'http://169.254.169.254/latest/meta-data/' },
    });
  });

  it('gives search its keywords, API, REST, endpoint, URL and webhook unless it is given its own', async () => {
    expect(http.keywords).toEqual(['API', 'REST', 'endpoint', 'URL', 'webhook']);
    const payments = createHttpToolkit({
      slug: 'payments',
      name: 'Payments',
      keywords: ['invoice', 'refund'],
    });
    expect(payments.keywords).toEqual(['invoice', 'refund']);
    const both = new ToolMux({ toolkits: [http, payments], store: ':memory:' });
    try {
      const session = await both.create('user_keywords', {});
      const first = async (query: string) => (await session.search({ query })).results[0]!.tools[0]?.toolkit;
      expect(await first('call a webhook')).toBe('http');
      expect(await first('list the invoices of a customer')).toBe('payments');
    } finally {
      await both.close();
    }
  });

  it('annotates GET read-only and DELETE destructive', () => {
    const [get, , , , remove] = http.tools;
    expect(get!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(remove!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  });

  it('refuses relative URLs and, by default, loopback / private / metadata addresses', async () => {
    expect((await session.execute('HTTP_GET', { url: '/v1/items' })).error).toMatch(
      /not an absolute http\(s\) URL/,
    );
    const guarded = new ToolMux({ toolkits: [http], store: ':memory:' });
    const guardedSession = await guarded.create('user_http', { toolkits: ['http'] });
    for (const url of [
      `${api.url}/v1/items`,
      'http://localhost:1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:1/',
      'http://10.0.0.8/',
      // IPv6 forms that carry a loopback / link-local IPv4 address
      'http://[64:ff9b::a9fe:a9fe]/latest/meta-data/',
      'http://[2002:a9fe:a9fe::]/',
      'http://[::127.0.0.1]:1/',
      'http://[::ffff:127.0.0.1]:1/',
      'http://100.64.0.1/',
    ]) {
      const result = await guardedSession.execute('HTTP_GET', { url });
      expect(result.error, url).toMatch(/Refused to call .*private, loopback or link-local/);
    }
    await guarded.close();
  });
});

describe('http toolkit errors', () => {
  it('a header the model wrote that HTTP cannot carry is TOOL_ARGUMENTS_INVALID naming it (its value not shown), not "Could not reach … check the network"', async () => {
    const before = api.requests.length;
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ 'X-Token': 'sk-model-123\r\nX-Evil: 1' }, /the value of X-Token has U\+000D at index 12/],
      [{ 'X-Name': 'Zoë Ādams' }, /the value of X-Name has U\+0100 at index 4/],
      [{ 'Bad Name': 'x' }, /"Bad Name" is no HTTP header name/],
      [{ 'X-Nul': 'a\u0000b' }, /the value of X-Nul has U\+0000 at index 1/],
    ];
    for (const [headers, message] of cases) {
      const result = await session.execute('HTTP_GET', { url: `${api.url}/v1/items`, headers });
      expect(result, JSON.stringify(headers)).toMatchObject({
        successful: false,
        code: 'TOOL_ARGUMENTS_INVALID',
      });
      expect(result.error).toMatch(message);
      expect(result.error).not.toContain('sk-model-123');
    }
    expect(api.requests.length).toBe(before);
    // Latin-1 and tabs are what a header can carry: sent as they are
    const latin = await session.execute('HTTP_GET', {
      url: `${api.url}/v1/items`,
      headers: { 'X-Name': 'Zoë\tA' },
    });
    expect(latin.successful).toBe(true);
  });

  it('401 says the resource needs an account (none is sent)', async () => {
    api.failNext({
      status: 401,
      body: { message: 'Authentication required' },
      headers: { 'www-authenticate': 'Bearer' },
    });
    const result = await session.execute('HTTP_GET', { url: `${api.url}/v1/items` });
    expect(result.error).toMatch(/asked for authentication .*\(401 Unauthorized: Authentication required\)/);
  });

  it('404 names the URL', async () => {
    const result = await session.execute('HTTP_GET', { url: `${api.url}/nothing/here` });
    expect(result.error).toMatch(/HTTP found no http:\/\/127\.0\.0\.1:\d+\/nothing\/here \(404 Not Found/);
  });

  it('429 is retried after a short Retry-After, else reported', async () => {
    api.failNext({ status: 429, headers: { 'retry-after': '1' }, body: 'slow down' });
    expect((await session.execute('HTTP_GET', { url: `${api.url}/v1/items` })).successful).toBe(true);
    api.failNext({
      status: 429,
      headers: { 'retry-after': new Date(Date.now() + 3 * 3600_000).toUTCString() },
      body: 'slow down',
    });
    expect((await session.execute('HTTP_GET', { url: `${api.url}/v1/items` })).error).toMatch(
      /rate limit reached \(429 Too Many Requests: slow down\)\. Retry after 3 hours/,
    );
  });
});

describe('http toolkit with an account', () => {
  // the accounts of these tests give their own base URL on loopback, where the fake API lives
  const bearer = createHttpToolkit({ slug: 'acme_api', auth: 'bearer', allowPrivateNetwork: true });

  it("refuses an account's own base URL on a loopback, link-local or private address (the connecting user chose it), not the toolkit's own baseUrl", async () => {
    const guarded = createHttpToolkit({ slug: 'acme_api', auth: 'bearer' });
    const before = api.requests.length;
    for (const baseUrl of [`${api.url}/v1`, 'http://169.254.169.254/latest', 'http://[::ffff:10.0.0.1]/v1']) {
      await expect(
        run(guarded, 'ACME_API_GET', { url: '/meta-data/iam' }, toolContext({ token: 't', baseUrl })),
        baseUrl,
      ).rejects.toThrow(
        /Refused to call .*a (loopback|linkLocal|private) address.*The connected account's base URL must be a public address/,
      );
    }
    // a name is judged by the address it resolves to, at connect time
    const metadata: LookupFunction = (_hostname, options, callback) =>
      options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);
    const resolving = createHttpToolkit({ slug: 'acme_api', auth: 'bearer', lookup: metadata });
    const port = new URL(api.url).port;
    await expect(
      run(
        resolving,
        'ACME_API_GET',
        { url: '/items' },
        toolContext({ token: 't', baseUrl: `http://metadata.test:${port}/v1` }),
      ),
    ).rejects.toThrow(/metadata\.test resolves to 127\.0\.0\.1, a loopback address/);
    expect(api.requests.length).toBe(before);

    // the operator's baseUrl is trusted, also when an account names its origin
    const operator = createHttpToolkit({ slug: 'acme_api', auth: 'bearer', baseUrl: `${api.url}/v1` });
    await run(operator, 'ACME_API_GET', { url: '/items' }, toolContext({ token: 't' }));
    await run(
      operator,
      'ACME_API_GET',
      { url: '/items' },
      toolContext({ token: 't', baseUrl: `${api.url}/v1` }),
    );
    expect(api.requests.length).toBe(before + 2);
  });

  it('sends the credentials to the account’s base URL, and nowhere else', async () => {
    const context = toolContext({ token: 'tok_123', baseUrl: `${api.url}/v1` });
    const result = await run(
      bearer,
      'ACME_API_GET',
      { url: '/items', headers: { authorization: 'Bearer forged' } },
      context,
    );
    expect(result.body).toEqual({ items: [{ id: 1, name: 'first' }], total: 1 });
    expect(api.requests.at(-1)!.path).toBe('/v1/items');
    expect(api.requests.at(-1)!.headers.authorization).toBe('Bearer tok_123');

    await expect(run(bearer, 'ACME_API_GET', { url: 'https://example.com/steal' }, context)).rejects.toThrow(
      /outside http:\/\/127\.0\.0\.1:\d+\/v1, and the account's credentials are only sent there/,
    );
    await expect(run(bearer, 'ACME_API_GET', { url: `${api.url}/v10/items` }, context)).rejects.toThrow(
      /outside/,
    );
  });

  it('sends API keys in their header and basic credentials encoded', async () => {
    const keyed = createHttpToolkit({
      slug: 'keyed',
      auth: 'api_key',
      apiKeyHeader: 'X-Api-Token',
      baseUrl: `${api.url}/v1`,
    });
    await run(keyed, 'KEYED_GET', { url: '/items' }, toolContext({ apiKey: 'key_1' }));
    expect(api.requests.at(-1)!.headers['x-api-token']).toBe('key_1');
    const basic = createHttpToolkit({ slug: 'basic', auth: 'basic', baseUrl: `${api.url}/v1` });
    await run(basic, 'BASIC_GET', { url: 'items' }, toolContext({ username: 'ada', password: 'pw' }));
    expect(api.requests.at(-1)!.headers.authorization).toBe(
      `Basic ${Buffer.from('ada:pw').toString('base64')}`,
    );
    expect(basic.auth[0]).toMatchObject({ type: 'basic' });
  });

  it('an API that quotes the basic credentials as sent (base64) has them masked in the result, the log and an error', async () => {
    api.route('GET', '/v1/whoami', (request) => ({ body: { sent: request.headers.authorization } }));
    const basic = createHttpToolkit({
      slug: 'basic',
      auth: 'basic',
      baseUrl: `${api.url}/v1`,
      allowPrivateNetwork: true,
    });
    const accounts = new ToolMux({
      toolkits: [basic],
      store: ':memory:',
      secretKey: Buffer.alloc(32, 5).toString('base64'),
    });
    try {
      const config = await accounts.authConfigs.create('basic', { type: 'basic' });
      await accounts.connectedAccounts.create('user_basic', config.id, {
        username: 'ada',
        password: 'pw_s3cret/+=',
      });
      const basicSession = await accounts.create('user_basic', {
        toolkits: ['basic'],
        authConfigs: { basic: config.id },
      });
      const sent = `Basic ${Buffer.from('ada:pw_s3cret/+=').toString('base64')}`;
      // the tool's data is the API's answer, with the account's credentials masked in it
      const answered = await basicSession.execute('BASIC_GET', { url: '/whoami' });
      expect(answered).toMatchObject({ successful: true, data: { body: { sent: 'Basic [REDACTED]' } } });
      api.failNext({ status: 500, body: { error: `could not check ${sent}` } });
      const failed = await basicSession.execute('BASIC_GET', { url: '/whoami' });
      expect(failed).toMatchObject({ successful: false });
      expect(failed.error).toContain('could not check Basic [REDACTED]');
      const logs = JSON.stringify(await basicSession.logs());
      expect(logs).toContain('Basic [REDACTED]');
      expect(JSON.stringify([answered, failed, logs])).not.toContain(sent.slice('Basic '.length));
    } finally {
      await accounts.close();
    }
  });

  it("an API that echoes the account's key or token (body, headers, a redirect's URL, an error) hands neither the model nor the log any of it; the account's base URL stays", async () => {
    const token = 'tok_echo_"quoted"/+=&key';
    api.route('GET', '/v2/echo', (request) => ({
      body: {
        authorization: request.headers.authorization,
        headerKey: request.headers['x-api-token'],
        [`seen:${request.headers['x-api-token'] ?? request.headers.authorization}`]: true,
        url: `${api.url}/v2/echo?key=${encodeURIComponent(token)}`,
        // the answer as text, JSON inside (the token's quotes escaped)
        text: JSON.stringify({ token }),
      },
      headers: {
        location: `${api.url}/v2/next?access_token=${encodeURIComponent(token)}`,
        link: `<${api.url}/v2/echo?page=2&key=${new URLSearchParams({ k: token }).toString().slice(2)}>; rel="next"`,
      },
    }));
    api.route('GET', '/v2/fail', (request) => ({
      status: 400,
      body: { error: `bad request ${request.headers.authorization ?? request.headers['x-api-token']}` },
    }));
    const bearerEcho = createHttpToolkit({ slug: 'echo_bearer', auth: 'bearer', allowPrivateNetwork: true });
    const keyEcho = createHttpToolkit({
      slug: 'echo_key',
      auth: 'api_key',
      apiKeyHeader: 'X-Api-Token',
      allowPrivateNetwork: true,
    });
    const accounts = new ToolMux({
      toolkits: [bearerEcho, keyEcho],
      store: ':memory:',
      secretKey: Buffer.alloc(32, 6).toString('base64'),
    });
    try {
      const bearerConfig = await accounts.authConfigs.create('echo_bearer', { type: 'bearer' });
      const keyConfig = await accounts.authConfigs.create('echo_key', { type: 'api_key' });
      const baseUrl = `${api.url}/v2`;
      await accounts.connectedAccounts.create('user_echo', bearerConfig.id, { token, baseUrl });
      await accounts.connectedAccounts.create('user_echo', keyConfig.id, { apiKey: token, baseUrl });
      const echoSession = await accounts.create('user_echo', {
        toolkits: ['echo_bearer', 'echo_key'],
        authConfigs: { echo_bearer: bearerConfig.id, echo_key: keyConfig.id },
      });
      for (const slug of ['ECHO_BEARER_GET', 'ECHO_KEY_GET']) {
        const answered = await echoSession.execute(slug, { url: '/echo' });
        expect(answered.successful, slug).toBe(true);
        const { body, headers } = answered.data as {
          body: Record<string, unknown>;
          headers: Record<string, string>;
        };
        // the request reached the API with the real token
        const sent = api.requests.at(-1)!.headers;
        expect(sent.authorization ?? sent['x-api-token']).toContain(token);
        expect(body).toMatchObject({
          url: `${baseUrl}/echo?key=[REDACTED]`,
          text: '{"token":"[REDACTED]"}',
        });
        expect(Object.keys(body)).toContain(
          slug === 'ECHO_BEARER_GET' ? 'seen:Bearer [REDACTED]' : 'seen:[REDACTED]',
        );
        expect(headers.location).toBe(`${baseUrl}/next?access_token=[REDACTED]`);
        expect(headers.link).toBe(`<${baseUrl}/echo?page=2&key=[REDACTED]>; rel="next"`);
        const failed = await echoSession.execute(slug, { url: '/fail' });
        expect(failed).toMatchObject({ successful: false });
        expect(failed.error).toContain('bad request');
        const shown = JSON.stringify([answered, failed, await echoSession.logs()]);
        for (const form of [token, encodeURIComponent(token), JSON.stringify(token).slice(1, -1)])
          expect(shown, `${slug} ${form}`).not.toContain(form);
      }
    } finally {
      await accounts.close();
    }
  });

  it('an echo of the token that the toolkit cuts at maxResponseCharacters shows none of the part before the cut', async () => {
    const token = 'tok_cut_0123456789abcdefghij';
    api.route('GET', '/v3/echo', (request) => ({
      body: `${'x'.repeat(80)}${request.headers.authorization ?? ''} and more`,
      headers: { 'content-type': 'text/plain' },
    }));
    const cutting = createHttpToolkit({
      slug: 'cutting',
      auth: 'bearer',
      allowPrivateNetwork: true,
      maxResponseCharacters: 80 + 'Bearer '.length + 20,
    });
    const accounts = new ToolMux({
      toolkits: [cutting],
      store: ':memory:',
      secretKey: Buffer.alloc(32, 8).toString('base64'),
    });
    try {
      const config = await accounts.authConfigs.create('cutting', { type: 'bearer' });
      await accounts.connectedAccounts.create('user_cut', config.id, { token, baseUrl: `${api.url}/v3` });
      const cutSession = await accounts.create('user_cut', {
        toolkits: ['cutting'],
        authConfigs: { cutting: config.id },
      });
      const answered = await cutSession.execute('CUTTING_GET', { url: '/echo' });
      expect(answered.data).toMatchObject({ body: `${'x'.repeat(80)}Bearer [REDACTED]…`, truncated: true });
      const shown = JSON.stringify([answered, await cutSession.logs()]);
      expect(shown).not.toContain(token.slice(0, 12));
    } finally {
      await accounts.close();
    }
  });

  it('401 with an account asks for a reconnect', async () => {
    api.failNext({ status: 401, body: { error: 'token expired' } });
    await expect(
      run(bearer, 'ACME_API_GET', { url: '/items' }, toolContext({ token: 't', baseUrl: `${api.url}/v1` })),
    ).rejects.toThrow(/rejected the credentials .*reconnect/);
  });
});

describe('answers larger than a tool reads', () => {
  /** An answer that never ends (64 KiB chunks as fast as the reader takes them) and one of 200 KB of JSON. */
  let endless: Server;
  let endlessUrl: string;
  /** Bytes the endless answer had written when its connection closed, one entry per request. */
  const closedAfter: number[] = [];
  let closed: Promise<void>;

  beforeAll(async () => {
    let markClosed!: () => void;
    closed = new Promise((resolve) => {
      markClosed = resolve;
    });
    endless = createServer((request, response) => {
      if (request.url === '/big.json') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ items: 'é'.repeat(100_000) }));
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      const pump = () => {
        while (!response.destroyed && response.write(chunk)) sent += chunk.length;
        if (!response.destroyed) response.once('drain', pump);
      };
      response.on('close', () => {
        closedAfter.push(sent);
        markClosed();
      });
      response.write('[');
      pump();
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    endlessUrl = `http://127.0.0.1:${(endless.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => endless.close(() => resolve())));

  it('the http toolkit stops downloading at maxResponseBytes and hands the model the cut text', async () => {
    const small = createHttpToolkit({
      slug: 'small_http',
      allowPrivateNetwork: true,
      maxResponseBytes: 256 * 1024,
    });
    const result = await run(small, 'SMALL_HTTP_GET', { url: `${endlessUrl}/stream` }, toolContext());
    expect(result).toMatchObject({ status: 200, truncated: true });
    const body = (result as { body: string }).body;
    expect(body).toBe(`[${'a'.repeat(49_999)}…`);
    // the connection was closed, a few socket buffers past the limit, not left to stream on
    await closed;
    expect(closedAfter[0]).toBeLessThan(16 * 1024 * 1024);

    // an answer under the limit is read and parsed whole, multi-byte characters included
    const big = await run(small, 'SMALL_HTTP_GET', { url: `${endlessUrl}/big.json` }, toolContext());
    expect(big).toMatchObject({ status: 200, truncated: false, body: { items: 'é'.repeat(100_000) } });
  });

  it('an API client fails with a message that asks for less, unless it asked for the cut text', async () => {
    const acme = createApi({
      service: 'Acme',
      baseUrl: endlessUrl,
      hasAccount: false,
      maxResponseBytes: 1000,
    });
    await expect(
      acme.request(toolContext(), { path: '/big.json', resource: 'the big list' }),
    ).rejects.toThrow(
      'Acme answered more than 1000 bytes for the big list, more than a tool reads: ask for less (a filter, a smaller page or a narrower range) and retry.',
    );
    // the limit counts bytes: 'é' is two, and a character the cut splits is left out
    const cut = await acme.send(toolContext(), {
      path: '/big.json',
      maxResponseBytes: 14,
      tooLarge: 'truncate',
    });
    expect(cut).toMatchObject({ status: 200, truncated: true, body: '{"items":"éé' });
  });
});
