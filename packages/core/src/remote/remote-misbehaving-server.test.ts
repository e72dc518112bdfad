import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../catalog/define.js';
import {
  connectionRequestAnswer,
  failedCall,
  type Handler,
  jsonAnswer as json,
  misbehavingServer as misbehaving,
  rejection as rejectionOf,
  SESSION_ANSWER as SESSION,
} from '../test/misbehaving-server.js';
import { freePort } from '../test/ports.js';
import { recordingLogger } from '../test/recording-logger.js';
import { untilTestTimeout } from '../test/until-test-timeout.js';
import { ToolMux } from '../toolmux.js';

/**
 * A remote ToolMux in front of a loopback server that answers badly, one class at a time: what the
 * SDK's user gets must be a ToolMuxError (or, for a tool call, a failed result) with a stable code,
 * naming the server and never the API key, in bounded time and memory.
 */

const API_KEY = 'tmx_remote_client_secret_0123456789';

const rejection = (promise: Promise<unknown>) => rejectionOf(promise, API_KEY);

/** A custom tool: it runs in the client, which uploads its log entries to the server. */
const echo = defineTool({
  slug: 'LOCAL_ECHO',
  description: 'Echoes its text',
  inputSchema: z.object({ text: z.string() }),
  execute: ({ text }) => ({ text }),
});

let server: Awaited<ReturnType<typeof misbehaving>>;
let mux: ToolMux;
beforeAll(async () => {
  server = await misbehaving();
  // the server answers every request alike: a session's tools() must not read the session again
  // first (it does once its read is older than accountCacheTtlMs, seconds on a loaded machine)
  mux = new ToolMux({
    baseUrl: server.url,
    apiKey: API_KEY,
    requestTimeoutMs: 5_000,
    accountCacheTtlMs: 3_600_000,
  });
});
afterAll(() => server.close());

/** A server's refusal of a request it did not handle because its shutdown drain had run out. */
function shuttingDown(_request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify({ error: { code: 'SERVER_SHUTTING_DOWN', message: 'shutting down' } });
  response.writeHead(503, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'retry-after': '0',
    connection: 'close',
  });
  response.end(body);
}
describe('remote client: answers that are not the toolmux API', () => {
  it('a proxy error page, an empty or cut answer is SERVER_UNREACHABLE naming the server', async () => {
    const answers: Handler[] = [
      (_request, response) => {
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
      },
      (_request, response) => {
        response.writeHead(200);
        response.end();
      },
      json(200, '{"items":[{"slug":"git'),
    ];
    for (const answer of answers) {
      server.answer(answer);
      const error = await rejection(mux.toolkits.list());
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain(server.url);
    }
    server.answer(answers[0]!);
    expect((await rejection(mux.toolkits.list())).message).toContain('may be down or restarting');
  });

  it('JSON of another shape is SERVER_UNREACHABLE, not a TypeError or a broken object', async () => {
    for (const body of ['null', '[1,2]', '"ok"', { status: 'ok' }]) {
      server.answer(json(200, body));
      const calls = [
        () => mux.toolkits.list(),
        () => mux.sessions.list(),
        () => mux.logs.list(),
        () => mux.connectedAccounts.list(),
        () => mux.authConfigs.list(),
        () => mux.tools.get('user_1', { toolkits: ['github'] }),
        () => mux.create('user_1', {}),
        () => mux.use('ses_remote_client_test'),
        () => failedCall(mux.tools.execute('GITHUB_STAR', { userId: 'user_1' })),
      ];
      for (const call of calls) {
        const error = await rejection(call());
        expect(error.code, JSON.stringify(body)).toBe('SERVER_UNREACHABLE');
        expect(error.message).toContain(server.url);
      }
    }
    // a session's calls: a tool result of another shape is a failed result, not a result of undefineds
    server.answer(json(200, SESSION));
    const session = await mux.use(SESSION.session_id);
    server.answer(json(200, { hello: 'world' }));
    const result = await session.execute('GITHUB_STAR', {});
    expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE', data: null });
    expect(result.error).toContain('"successful"');
    expect((await rejection(session.toolkits())).code).toBe('SERVER_UNREACHABLE');
    expect((await rejection(session.tools())).code).toBe('SERVER_UNREACHABLE');
    expect((await rejection(session.logs())).code).toBe('SERVER_UNREACHABLE');
    expect((await rejection(session.update({ toolkits: ['github'] }))).code).toBe('SERVER_UNREACHABLE');
    expect((await rejection(session.waitForConnections(['github']))).code).toBe('SERVER_UNREACHABLE');
  });

  it('a status this SDK does not know ends a wait at once with SERVER_UNREACHABLE naming the field and the value', async () => {
    const request = connectionRequestAnswer(server.url, {
      id: 'cr_newer_status',
      expires_at: new Date(Date.now() + 600_000).toISOString(),
    });
    server.answer(json(201, request));
    const started = await mux.connectedAccounts.link('user_1', 'ac_1');
    // a newer server's status: not PENDING, nor any end the SDK knows
    server.answer(json(200, { ...request, status: 'AWAITING_ADMIN_APPROVAL' }));
    const error = await rejection(started.waitForConnection(5_000));
    expect(error.code).toBe('SERVER_UNREACHABLE');
    expect(error.message).toContain(
      'a connection request whose "status" is "AWAITING_ADMIN_APPROVAL", a value this SDK does not know (it knows "PENDING", "COMPLETED", "FAILED", "EXPIRED")',
    );
    expect(error.message).toContain(server.url);
    // one look, not a poll until the timeout
    expect(server.received.filter(({ method }) => method === 'GET')).toHaveLength(1);

    server.answer(json(200, SESSION));
    const session = await mux.use(SESSION.session_id);
    server.answer(
      json(200, { toolkits: { github: { status: 'NEEDS_APPROVAL', message: 'wait' } }, timed_out: false }),
    );
    const waited = await rejection(session.waitForConnections(['github']));
    expect(waited.code).toBe('SERVER_UNREACHABLE');
    expect(waited.message).toContain('a wait answer whose "toolkits.github.status" is "NEEDS_APPROVAL"');
    server.answer(json(200, { status: 'NEEDS_APPROVAL' }));
    const ensured = await rejection(session.ensureConnected('github'));
    expect(ensured.message).toContain(
      'an ensure-connected answer whose "status" is "NEEDS_APPROVAL", a value this SDK does not know (it knows "CONNECTED", "NEEDS_USER")',
    );
  });

  it('an answer that never ends is read up to a bound, then SERVER_UNREACHABLE', async () => {
    server.answer((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      response.write('{"items":[');
      const more = () => {
        // until the client goes away
        while (!response.destroyed && response.write(chunk)) {}
        if (!response.destroyed) response.once('drain', more);
      };
      request.socket.once('close', () => response.destroy());
      more();
    });
    // 128 MiB over loopback: a request timeout that a loaded machine cannot meet by accident
    const patient = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, requestTimeoutMs: 120_000 });
    const error = await rejection(patient.toolkits.list());
    expect(error.code).toBe('SERVER_UNREACHABLE');
    expect(error.message).toContain('more than 128 MiB');
    expect(error.message).toContain(server.url);
  }, 120_000);
});

describe('remote client: maxResponseBytes', () => {
  /** A toolkits page of about `bytes` bytes. */
  const pageOf = (bytes: number) => ({ items: [], next_cursor: null, total: 0, padding: 'x'.repeat(bytes) });

  it('an answer over the limit is SERVER_UNREACHABLE naming the limit, and is not read further', async () => {
    const small = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, maxResponseBytes: 100_000 });
    // chunked (no length said ahead): read up to the limit, then cut
    server.answer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write(JSON.stringify(pageOf(150_000)));
      response.end();
    });
    const cut = await rejection(small.toolkits.list());
    expect(cut.code).toBe('SERVER_UNREACHABLE');
    expect(cut.message).toContain(
      `${server.url} answered GET /api/v1/toolkits with HTTP 200 and more than 100000 bytes`,
    );
    expect(cut.message).toContain('(maxResponseBytes: 100000)');
    expect(cut.message).toContain('new ToolMux({ maxResponseBytes })');
    expect(cut.details).toMatchObject({ status: 200, maxResponseBytes: 100_000 });
    // one whose Content-Length says it is larger is not read at all
    server.answer((_request, response) => {
      const body = JSON.stringify(pageOf(150_000));
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      response.end(body);
    });
    const declared = await rejection(small.toolkits.list());
    expect(declared.message).toMatch(/HTTP 200 and 1500\d\d bytes \(its Content-Length\)/);
    // under the limit it is read; the default (128 MiB) reads the larger one
    server.answer(json(200, pageOf(90_000)));
    expect((await small.toolkits.list()).total).toBe(0);
    server.answer(json(200, pageOf(150_000)));
    expect((await mux.toolkits.list()).total).toBe(0);
  });

  it('is a whole number of bytes from 64 KiB to 256 MiB (CONFIG_INVALID naming the value), and remote only', () => {
    const make = (maxResponseBytes: unknown) =>
      new ToolMux({ baseUrl: server.url, apiKey: API_KEY, maxResponseBytes: maxResponseBytes as number });
    for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1000000', 65_535, 268_435_457]) {
      expect(() => make(value), String(value)).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: expect.stringMatching(
            new RegExp(
              `^maxResponseBytes must be a whole number of bytes from 65536 \\(64 KiB\\) to 268435456 \\(256 MiB\\).*got .*${String(value).replace('.', '\\.')}`,
            ),
          ),
        }),
      );
    }
    expect(() => make(65_536)).not.toThrow();
    expect(() => make(268_435_456)).not.toThrow();
    expect(() => new ToolMux({ toolkits: [], store: ':memory:', maxResponseBytes: 1_000_000 })).toThrow(
      /maxResponseBytes bounds the answers a remote ToolMux/,
    );
  });
});

describe('remote client: a server that stalls', () => {
  const stalls: Record<string, Handler> = {
    'sends nothing': () => {},
    'sends its headers, then nothing': (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"items":');
    },
  };

  for (const [name, handler] of Object.entries(stalls)) {
    it(`that ${name} is SERVER_UNREACHABLE after requestTimeoutMs, and a failed result for a tool call`, async () => {
      const quick = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, requestTimeoutMs: 300 });
      server.answer(json(200, SESSION));
      const session = await quick.use(SESSION.session_id);
      server.answer(handler);
      const error = await rejection(quick.toolkits.list());
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain('within 300 ms');
      expect(error.message).toContain('requestTimeoutMs');
      const result = await session.execute('GITHUB_STAR', {});
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
      expect(result.error).toContain('within 300 ms');
    });
  }

  it('requestTimeoutMs is a whole number of milliseconds a timer can wait, else refused naming it and the fix', () => {
    const cases: Array<[unknown, string]> = [
      [Number.NaN, 'number NaN'],
      [Number.POSITIVE_INFINITY, 'number Infinity'],
      [1.5, 'number 1.5'],
      [-1, 'number -1'],
      [0, 'number 0'],
      ['1000', '"1000"'], // a string, shown quoted
      // past what a Node.js timer waits: it was a timer of 1 ms, which stopped every request at once
      [2 ** 31, 'number 2147483648'],
    ];
    for (const [requestTimeoutMs, shown] of cases) {
      let refusal: unknown;
      try {
        new ToolMux({ baseUrl: server.url, apiKey: API_KEY, requestTimeoutMs: requestTimeoutMs as number });
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toMatchObject({
        code: 'CONFIG_INVALID',
        message: `requestTimeoutMs must be a whole number of milliseconds from 1 to 2147483647 (about 24.8 days) (how long one request to the server may take, its answer read included); got ${shown}. Leave it out for 600000 (10 minutes).`,
        details: { min: 1, max: 2_147_483_647 },
      });
    }
    for (const requestTimeoutMs of [1, 600_000, 2_147_483_647]) {
      expect(new ToolMux({ baseUrl: server.url, apiKey: API_KEY, requestTimeoutMs })).toBeInstanceOf(ToolMux);
    }
    expect(() => new ToolMux({ toolkits: [], store: ':memory:', requestTimeoutMs: 1000 })).toThrow(
      /requestTimeoutMs bounds the requests of a remote ToolMux/,
    );
  });

  it('close() lets requests in flight answer up to its timeoutMs, then stops them', async () => {
    const closing = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, logger: recordingLogger() });
    server.answer(json(200, SESSION));
    const session = await closing.use(SESSION.session_id);
    server.answer(stalls['sends nothing']!);
    const call = session.execute('GITHUB_STAR', {});
    const read = rejection(closing.toolkits.list());
    const direct = closing.tools.execute('GITHUB_STAR', { userId: 'user_1' });
    await expect.poll(() => server.received.length, untilTestTimeout()).toBe(3);
    await closing.close({ timeoutMs: 100 });
    expect(await call).toMatchObject({ successful: false, code: 'TOOL_ABORTED', data: null });
    expect((await call).error).toContain('its ToolMux was closed');
    expect((await read).code).toBe('TOOLMUX_CLOSED');
    // a tool call without a session too: a result, as an embedded one's (it rejected TOOLMUX_CLOSED)
    expect(await direct).toMatchObject({ successful: false, code: 'TOOL_ABORTED', data: null });
    // the ToolMux stays usable
    server.answer(json(200, { items: [], next_cursor: null, total: 0 }));
    expect((await closing.toolkits.list()).total).toBe(0);
  });

  it('a log upload the server does not take is given up after requestTimeoutMs and reported lost', async () => {
    const logger = recordingLogger();
    const uploading = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, logger, requestTimeoutMs: 300 });
    server.answer(json(200, { ...SESSION, config: { customTools: ['LOCAL_ECHO'], customToolkits: [] } }));
    const session = await uploading.use(SESSION.session_id, { customTools: [echo] });
    server.answer(stalls['sends nothing']!);
    const result = await session.execute('LOCAL_ECHO', { text: 'hi' });
    // nothing waits for it: the upload ends on its own (before, it waited for ever, and so did the
    // process's exit, which flushes uploads)
    await expect.poll(() => logger.errors.join('\n'), untilTestTimeout()).toContain(result.logId);
    expect(logger.errors.join('\n')).toContain('within 300 ms');
  });

  it('an upload the server did not answer, or answered as a proxy, is not sent again entry by entry', async () => {
    for (const handler of [
      stalls['sends nothing']!,
      (_request: IncomingMessage, response: ServerResponse) => {
        response.writeHead(503, { 'content-type': 'text/html' });
        response.end('<h1>overloaded</h1>');
      },
    ]) {
      const logger = recordingLogger();
      const uploading = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, logger, requestTimeoutMs: 300 });
      server.answer(json(200, { ...SESSION, config: { customTools: ['LOCAL_ECHO'], customToolkits: [] } }));
      const session = await uploading.use(SESSION.session_id, { customTools: [echo] });
      server.answer(handler);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) => session.execute('LOCAL_ECHO', { text: `t${index}` })),
      );
      await uploading.close();
      // one upload of the 20 entries; before, 20 more of one entry each to a server in trouble (and
      // an upload that timed out may have landed: sent again, its entries would be stored twice)
      expect(server.received.filter((request) => request.url.endsWith('/logs'))).toHaveLength(1);
      expect(logger.errors).toHaveLength(1);
      expect(logger.errors[0]).toContain('could not write 20 execution log entries');
      expect(logger.errors[0]).toContain(results[0]!.logId);
    }
  });

  it('an upload the server turned away unhandled while shutting down is sent again whole after a pause, not entry by entry', async () => {
    const logger = recordingLogger();
    const uploading = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, logger });
    server.answer(json(200, { ...SESSION, config: { customTools: ['LOCAL_ECHO'], customToolkits: [] } }));
    const session = await uploading.use(SESSION.session_id, { customTools: [echo] });
    let refusals = 0;
    server.answer((request, response) => {
      // the first upload and the request's own resend: both turned away by a server shutting down
      if (request.url?.endsWith('/logs') && refusals++ < 2) return shuttingDown(request, response);
      json(200, { items: [] })(request, response);
    });
    await Promise.all(
      Array.from({ length: 20 }, (_, index) => session.execute('LOCAL_ECHO', { text: `t${index}` })),
    );
    await uploading.close();
    // (the upload was then sent again entry by entry, a few at a time, to a server shutting down)
    const uploads = server.received.filter((request) => request.url.endsWith('/logs'));
    expect(uploads).toHaveLength(3);
    expect(logger.errors).toEqual([]);
  });

  it('close() does not wait for ever on log uploads the server does not take: they are reported lost', async () => {
    const logger = recordingLogger();
    const uploading = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, logger });
    server.answer(json(200, { ...SESSION, config: { customTools: ['LOCAL_ECHO'], customToolkits: [] } }));
    const session = await uploading.use(SESSION.session_id, { customTools: [echo] });
    server.answer(stalls['sends nothing']!);
    const result = await session.execute('LOCAL_ECHO', { text: 'hi' });
    expect(result.successful).toBe(true);
    await uploading.close({ timeoutMs: 100 });
    expect(server.received.some((request) => request.url.endsWith('/logs'))).toBe(true);
    expect(logger.errors.join('\n')).toContain(result.logId);
    expect(logger.errors.join('\n')).toContain('did not take them within close({ timeoutMs: 100 })');
    expect(logger.errors.join('\n')).not.toContain(API_KEY);
    // later uploads go on as before
    server.answer(json(200, { items: [] }));
    await session.execute('LOCAL_ECHO', { text: 'again' });
    await uploading.close();
    expect(server.received.filter((request) => request.url.endsWith('/logs'))).toHaveLength(1);
  });
});

describe('remote client: an answer broken while it is read', () => {
  const broken: Record<string, Handler> = {
    'a reset after part of its Content-Length': (request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      response.write('{"items":[');
      setTimeout(() => request.socket.destroy(), 20);
    },
    'a reset in the middle of a chunked body': (request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"items":[');
      setTimeout(() => request.socket.destroy(), 20);
    },
    'a gzip Content-Encoding on a body that is not gzip': (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      response.end('{"items":[]}');
    },
  };

  for (const [name, handler] of Object.entries(broken)) {
    it(`${name} is SERVER_UNREACHABLE naming the server, and a failed result for a tool call`, async () => {
      server.answer(json(200, SESSION));
      const session = await mux.use(SESSION.session_id);
      server.answer(handler);
      const error = await rejection(mux.toolkits.list());
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain(`${server.url} answered GET /api/v1/toolkits with HTTP 200`);
      expect(error.message).toContain('could not be read to the end');
      const result = await session.execute('GITHUB_STAR', {});
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
    });
  }
});

describe('remote client: JSON nested past any stack', () => {
  // as text: JSON.stringify of such a value overflows the stack, which is the point
  const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  const result = (data: string) => `{"successful":true,"data":${data},"error":null,"log_id":"log_1"}`;
  const tools = (schema: string) =>
    `{"items":[{"slug":"GITHUB_STAR","name":"Star","description":"Star a repository","toolkit":"github","input_schema":${schema},"annotations":{}}],"next_cursor":null}`;

  it('a tool result or a schema nested 200,000 levels is SERVER_UNREACHABLE, not a RangeError later', async () => {
    server.answer(json(200, SESSION));
    const session = await mux.use(SESSION.session_id);
    // 1,024 levels pass: more than a server sends, less than a stack holds
    server.answer(json(200, result(deep(1024))));
    const passed = await session.execute('GITHUB_STAR', {});
    expect(passed.successful).toBe(true);
    expect(() => JSON.stringify(passed.data)).not.toThrow();

    server.answer(json(200, result(deep(200_000))));
    const failed = await session.execute('GITHUB_STAR', {});
    expect(failed).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
    expect(failed.error).toContain('"data" nests objects and arrays more than 1024 levels');
    const direct = await rejection(failedCall(mux.tools.execute('GITHUB_STAR', { userId: 'user_1' })));
    expect(direct.message).toContain('"data" nests');

    server.answer(json(200, tools(`{"type":"object","properties":{"a":${deep(200_000)}}}`)));
    const listed = await rejection(session.tools());
    expect(listed.code).toBe('SERVER_UNREACHABLE');
    expect(listed.message).toContain('"input_schema" nests');
  });
});

describe('remote client: a server that echoes the API key', () => {
  it('an error it answers, its details and a redirect it names do not show the key', async () => {
    const echoes: Handler[] = [
      (request, response) => {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            error: {
              code: 'INVALID_REQUEST',
              message: `bad header ${request.headers.authorization}`,
              details: { header: request.headers.authorization, nested: [{ key: API_KEY }] },
            },
          }),
        );
      },
      json(401, { error: { code: 'UNAUTHORIZED', message: `the key ${API_KEY} is wrong` } }),
      (_request, response) => {
        response.writeHead(302, { location: `http://localhost:1/steal/${API_KEY}` });
        response.end();
      },
    ];
    for (const handler of echoes) {
      server.answer(handler);
      // rejection() fails the test when the message or the details show the key
      const error = await rejection(mux.toolkits.list());
      expect(`${error.message} ${JSON.stringify(error.details ?? {})}`).toContain('[REDACTED]');
    }
  });
});

describe('remote client: redirects, refused and reset connections', () => {
  let elsewhere: Awaited<ReturnType<typeof misbehaving>>;
  beforeAll(async () => {
    elsewhere = await misbehaving('localhost');
    elsewhere.answer(json(200, { id: 'ca_1' }));
  });
  afterAll(() => elsewhere.close());
  afterEach(() => elsewhere.answer(json(200, { id: 'ca_1' })));

  it('a redirect is not followed: neither the API key nor the request body go to another address', async () => {
    for (const status of [301, 302, 307, 308]) {
      server.answer((request, response) => {
        response.writeHead(status, { location: `${elsewhere.url}${request.url}` });
        response.end();
      });
      const error = await rejection(
        mux.connectedAccounts.create('user_1', 'ac_1', { api_key: 'sk-user-third-party-secret' }),
      );
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(error.message).toContain(`redirect to ${elsewhere.url}/api/v1/connected-accounts`);
      expect(error.message).toContain('Set baseUrl');
      const read = await rejection(mux.toolkits.list());
      expect(read.code).toBe('SERVER_UNREACHABLE');
      expect(elsewhere.received).toEqual([]);
    }
  });

  it('a refused, reset or unresolvable connection names its cause and the server', async () => {
    const refused = `http://127.0.0.1:${await freePort()}`;
    const error = await rejection(new ToolMux({ baseUrl: refused, apiKey: API_KEY }).toolkits.list());
    expect(error.code).toBe('SERVER_UNREACHABLE');
    expect(error.message).toContain(refused);
    expect(error.message).toContain('ECONNREFUSED');

    server.answer((request) => request.socket.destroy());
    const reset = await rejection(mux.toolkits.list());
    expect(reset.message).toMatch(/\((UND_ERR_SOCKET|ECONNRESET)\)/);
    // a read met a dropped connection and was sent once more; a write is sent once (it may have run)
    expect(server.received.filter((request) => request.method === 'GET')).toHaveLength(2);
    server.answer((request) => request.socket.destroy());
    await rejection(failedCall(mux.tools.execute('GITHUB_STAR', { userId: 'user_1' })));
    await expect.poll(() => server.received.length, untilTestTimeout()).toBe(1);

    const unknown = await rejection(
      new ToolMux({ baseUrl: 'http://toolmux-test.invalid', apiKey: API_KEY }).toolkits.list(),
    );
    expect(unknown.message).toContain('http://toolmux-test.invalid');
    expect(unknown.message).toMatch(/\((ENOTFOUND|EAI_AGAIN)\)/);
  });

  it('an https:// baseUrl in front of a server that speaks plain HTTP says to use http://, for a read and a write', async () => {
    server.answer(json(200, { items: [], next_cursor: null }));
    for (const path of ['', '/toolmux']) {
      const https = `${server.url.replace('http://', 'https://')}${path}`;
      const client = new ToolMux({ baseUrl: https, apiKey: API_KEY });
      for (const call of [() => client.toolkits.list(), () => client.create('user_1', {})]) {
        const error = await rejection(call());
        expect(error.code).toBe('SERVER_UNREACHABLE');
        expect(error.message).toContain('does not speak TLS');
        expect(error.message).toContain(`use baseUrl "${server.url}${path}"`);
        expect(error.message).not.toContain(API_KEY);
      }
    }
    // any other failure keeps the general advice
    const refused = await rejection(
      new ToolMux({ baseUrl: `https://127.0.0.1:${await freePort()}`, apiKey: API_KEY }).toolkits.list(),
    );
    expect(refused.message).toContain('Check baseUrl and that the server runs');
    expect(refused.message).not.toContain('does not speak TLS');
  });

  it('a tool call answered 502 or 503 by a proxy is sent once: it may have run', async () => {
    for (const status of [502, 503, 429]) {
      server.answer((_request, response) => {
        response.writeHead(status, { 'retry-after': '0', 'content-type': 'text/html' });
        response.end('<h1>unavailable</h1>');
      });
      const error = await rejection(failedCall(mux.tools.execute('GITHUB_STAR', { userId: 'user_1' })));
      expect(error.code).toBe('SERVER_UNREACHABLE');
      expect(server.received.filter((request) => request.url.endsWith('/tools/execute'))).toHaveLength(1);
    }
  });

  it('a read answered busy or unavailable is sent once more after its Retry-After, when that is soon', async () => {
    for (const [status, retryAfter] of [
      [503, '0'],
      [429, new Date(Date.now() - 1000).toUTCString()],
      [502, undefined],
    ] as const) {
      let first = true;
      server.answer((_request, response) => {
        if (first) {
          first = false;
          response.writeHead(status, {
            'content-type': 'text/html',
            ...(retryAfter ? { 'retry-after': retryAfter } : {}),
          });
          response.end('<h1>try again</h1>');
          return;
        }
        json(200, { items: [], next_cursor: null, total: 0 })(_request, response);
      });
      expect((await mux.toolkits.list()).total).toBe(0);
      expect(server.received).toHaveLength(2);
    }
    // one that asks for longer is not waited for: the caller is told
    server.answer((_request, response) => {
      response.writeHead(429, { 'retry-after': '3600' });
      response.end();
    });
    const busy = await rejection(mux.toolkits.list());
    expect(busy.code).toBe('SERVER_UNREACHABLE');
    expect(busy.message).toContain('HTTP 429 (Retry-After: 3600)');
    expect(server.received).toHaveLength(1);
  });

  it('a tool call the server turned away unhandled while it shut down (503 SERVER_SHUTTING_DOWN) is sent again after its Retry-After, once', async () => {
    let refused = 0;
    server.answer((request, response) => {
      if (refused++ === 0) return shuttingDown(request, response);
      json(200, { successful: true, data: { starred: true }, error: null, log_id: 'log_1' })(
        request,
        response,
      );
    });
    // (it was SERVER_UNREACHABLE: a write answered 503 is not sent again, unless the server says it was not handled)
    expect(await mux.tools.execute('GITHUB_STAR', { userId: 'user_1' })).toMatchObject({
      successful: true,
      data: { starred: true },
    });
    expect(server.received.filter((request) => request.url.endsWith('/tools/execute'))).toHaveLength(2);
    // refused again when sent again: the caller is told the server's refusal, and it is sent no more
    server.answer(shuttingDown);
    const error = await rejection(failedCall(mux.tools.execute('GITHUB_STAR', { userId: 'user_1' })));
    expect(error.code).toBe('SERVER_SHUTTING_DOWN');
    expect(server.received.filter((request) => request.url.endsWith('/tools/execute'))).toHaveLength(2);
  });

  it("an abort while a refused write waits for its Retry-After rejects with the caller's reason, as any abort", async () => {
    const controller = new AbortController();
    const reason = new Error('the user closed the page');
    server.answer((_request, response) => {
      const body = JSON.stringify({ error: { code: 'TOO_MANY_CONNECTIONS', message: 'too many' } });
      response.writeHead(503, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'retry-after': '5',
      });
      // aborted while the client waits the 5 s it was asked to before it sends the request again
      response.end(body, () => setTimeout(() => controller.abort(reason), 200));
    });
    const error = await mux.connectedAccounts.refresh('ca_1', { signal: controller.signal }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBe(reason);
    expect(server.received).toHaveLength(1);
  });

  it('a baseUrl with a user name or password is refused without showing them', () => {
    const attempt = () =>
      new ToolMux({ baseUrl: 'https://admin:hunter2-password@tools.example.com', apiKey: API_KEY });
    expect(attempt).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    try {
      attempt();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('hunter2');
    }
  });
});
