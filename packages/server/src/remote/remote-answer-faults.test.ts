import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { defineTool, type Logger, ToolMux, ToolMuxError } from '@toolmux/core';
import { freePort, recordingLogger } from '@toolmux/core/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A remote ToolMux behind a loopback proxy that passes requests on to a real toolmux server and
 * breaks some of its answers: what the server stored, how often the client sent a request, and
 * that the API key shows nowhere in what the application gets.
 */

/** What the proxy does with a request: pass it on, or a fault of its own. */
type Fault = (request: IncomingMessage, response: ServerResponse, upstream: () => void) => void;

/** A custom tool: it runs in the client, which uploads its log entries to the server. */
const ping = defineTool({
  slug: 'LOCAL_PING',
  toolkit: 'local',
  description: 'Answers the number it is given',
  inputSchema: z.object({ n: z.number() }),
  execute: ({ n }) => ({ n }),
});

let server: TestServer;
const serverLog = recordingLogger();
let proxyUrl: string;
let fault: Fault | undefined;
const received: string[] = [];
let closeProxy: () => Promise<void>;
const opened: ToolMux[] = [];

/**
 * Passes `request` on to the server; `onAnswer` gets the server's answer instead of the proxy
 * piping it back whole.
 */
function passOn(
  request: IncomingMessage,
  response: ServerResponse,
  onAnswer?: (answer: IncomingMessage) => void,
): void {
  const target = new URL(server.url);
  const upstream = httpRequest(
    {
      host: target.hostname,
      port: target.port,
      method: request.method,
      path: request.url,
      headers: request.headers,
    },
    (answer) => {
      if (onAnswer) return onAnswer(answer);
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.on('error', () => response.socket?.destroy());
  request.pipe(upstream);
}

beforeAll(async () => {
  server = await startTestServer({ toolkits: [], logger: serverLog });
  const proxy = createServer((request, response) => {
    received.push(`${request.method} ${request.url}`);
    if (fault) fault(request, response, () => passOn(request, response));
    else passOn(request, response);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  closeProxy = () =>
    new Promise<void>((resolve) => {
      proxy.closeAllConnections();
      proxy.close(() => resolve());
    });
});
afterEach(async () => {
  fault = undefined;
  received.length = 0;
  serverLog.errors.length = 0;
  await Promise.all(opened.splice(0).map((mux) => mux.close()));
});
afterAll(async () => {
  await closeProxy?.();
  await server?.close();
});

function remote(logger: Logger, fetch?: typeof globalThis.fetch): ToolMux {
  const mux = new ToolMux({ baseUrl: proxyUrl, apiKey: server.apiKey, logger, ...(fetch ? { fetch } : {}) });
  opened.push(mux);
  return mux;
}

const isUpload = (request: IncomingMessage) => request.method === 'POST' && /\/logs$/.test(request.url ?? '');
const uploads = () => received.filter((line) => line.startsWith('POST ') && line.endsWith('/logs'));

/** The ids of the entries the server stored for `sessionId`, read past the proxy. */
async function storedIds(sessionId: string): Promise<string[]> {
  const direct = new ToolMux({ baseUrl: server.url, apiKey: server.apiKey, logger: recordingLogger() });
  try {
    return (await direct.logs.list({ sessionId, limit: 100 })).items.map((entry) => entry.id).sort();
  } finally {
    await direct.close();
  }
}

/** Two custom-tool calls, their entries uploaded by `close()`; the logIds of their results. */
async function twoCalls(mux: ToolMux): Promise<{ sessionId: string; logIds: string[] }> {
  const session = await mux.create('user_faults', {
    toolkits: ['local'],
    experimental: { customTools: [ping] },
  });
  const results = [
    await session.execute('LOCAL_PING', { n: 1 }),
    await session.execute('LOCAL_PING', { n: 2 }),
  ];
  for (const result of results) expect(result.successful).toBe(true);
  await mux.close();
  return { sessionId: session.sessionId, logIds: results.map((result) => result.logId).sort() };
}

describe('remote mode: a log upload whose answer breaks is not stored twice', () => {
  const brokenAnswers: Record<string, Fault> = {
    // the server stored the entries and answered 201; the proxy cuts the connection after the headers
    'cut after its headers': (request, response, upstream) => {
      if (!isUpload(request)) return upstream();
      passOn(request, response, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        response.flushHeaders();
        answer.resume();
        answer.on('end', () => setTimeout(() => response.socket?.destroy(), 10));
      });
    },
    // the server's 201 with a Content-Encoding its body is not in: the body does not decode
    'a body its Content-Encoding does not decode': (request, response, upstream) => {
      if (!isUpload(request)) return upstream();
      passOn(request, response, (answer) => {
        const { 'content-length': _length, ...headers } = answer.headers;
        response.writeHead(answer.statusCode ?? 502, { ...headers, 'content-encoding': 'gzip' });
        answer.pipe(response);
      });
    },
  };

  for (const [name, broken] of Object.entries(brokenAnswers)) {
    it(`an upload the server answered 201, whose answer was then ${name}, is sent once and its entries stored once`, async () => {
      const logger = recordingLogger();
      fault = broken;
      const { sessionId, logIds } = await twoCalls(remote(logger));
      // one upload: before, 3 (the batch, then each entry again), and 4 entries for 2 calls
      expect(uploads()).toHaveLength(1);
      expect(await storedIds(sessionId)).toEqual(logIds);
      // the server answered 201, so it stored them: none is reported lost
      expect(logger.errors).toEqual([]);
      expect(serverLog.errors).toEqual([]);
    });
  }

  it('an upload answered with an error status whose body then broke is not sent again: it may have landed', async () => {
    const logger = recordingLogger();
    fault = (request, response, upstream) => {
      if (!isUpload(request)) return upstream();
      passOn(request, response, (answer) => {
        // the server stored the entries; what the client reads is a 500 cut after its headers
        answer.resume();
        answer.on('end', () => {
          response.writeHead(500, { 'content-type': 'application/json', 'content-length': '100' });
          response.write('{"error":');
          setTimeout(() => response.socket?.destroy(), 10);
        });
      });
    };
    const { sessionId, logIds } = await twoCalls(remote(logger));
    expect(uploads()).toHaveLength(1);
    expect(await storedIds(sessionId)).toEqual(logIds);
    expect(logger.errors).toHaveLength(1);
    expect(logger.errors[0]).toContain('could not write 2 execution log entries');
    expect(logger.errors[0]).toContain('HTTP 500');
  });

  it('an upload whose connection broke before any answer is sent again whole, and the server keeps one copy of what had landed', async () => {
    const logger = recordingLogger();
    let broken = 0;
    fault = (request, response, upstream) => {
      if (!isUpload(request) || broken++ > 0) return upstream();
      // the server stores the entries, and the connection breaks before its answer reaches the client
      passOn(request, response, (answer) => {
        answer.resume();
        answer.on('end', () => response.socket?.destroy());
      });
    };
    const { sessionId, logIds } = await twoCalls(remote(logger));
    // the client cannot tell that it landed: the batch, then the batch again (before, each entry
    // again: one request per entry at once)
    expect(uploads()).toHaveLength(2);
    // the server recognises each entry sent again (same session, id and call): stored once, under
    // the id its result's logId names (before, 4 entries, the copies under new ids)
    expect(await storedIds(sessionId)).toEqual(logIds);
    expect(logger.errors).toEqual([]);
  });
});

describe('remote mode: a batch of several sessions whose upload fails for one', () => {
  it('sends again only the entries of the failed upload, never those another upload stored', async () => {
    const logger = recordingLogger();
    const mux = remote(logger);
    const [first, second] = await Promise.all(
      ['user_batch_1', 'user_batch_2'].map((userId) =>
        mux.create(userId, { toolkits: ['local'], experimental: { customTools: [ping] } }),
      ),
    );
    let broken = 0;
    fault = (request, response, upstream) => {
      if (!isUpload(request) || !request.url?.includes(second!.sessionId) || broken++ > 0) return upstream();
      // the second session's upload: refused before any answer (the connection breaks unread)
      request.resume();
      request.on('end', () => response.socket?.destroy());
    };
    // in one turn: one batch, one upload per session
    const results = await Promise.all([
      first!.execute('LOCAL_PING', { n: 1 }),
      second!.execute('LOCAL_PING', { n: 2 }),
    ]);
    await mux.close();
    const sent = (session: { sessionId: string }) =>
      uploads().filter((line) => line.includes(session.sessionId)).length;
    // before, the whole batch was sent again entry by entry: the first session's entry twice
    expect(sent(first!)).toBe(1);
    expect(sent(second!)).toBe(2);
    expect(await storedIds(first!.sessionId)).toEqual([results[0]!.logId]);
    expect(await storedIds(second!.sessionId)).toEqual([results[1]!.logId]);
    expect(logger.errors).toEqual([]);
  });
});

/**
 * Fails the test when `error` shows `secret` anywhere an application or its logger may print it:
 * its message, stack, JSON, details, its causes (message, stack, properties) as `console.error` and
 * `util.inspect` print them.
 */
function expectWithout(error: unknown, secret: string): void {
  expect(ToolMuxError.isInstance(error), String(error)).toBe(true);
  const seen: string[] = [JSON.stringify(error), inspect(error, { depth: Number.POSITIVE_INFINITY })];
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 20; depth++) {
    seen.push(cause.message, String(cause.stack), inspect(cause, { depth: Number.POSITIVE_INFINITY }));
    cause = cause.cause;
  }
  for (const text of seen) expect(text).not.toContain(secret);
}

/** The error `promise` rejects with. */
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );

describe('remote mode: a proxy that echoes the API key in what it answers', () => {
  /** Answers every request with `status` and the JSON `body(authorization)`. */
  const echoing =
    (status: number, body: (authorization: string) => unknown): Fault =>
    (request, response) => {
      request.resume();
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body(request.headers.authorization ?? '')));
    };

  const answers: Record<string, Fault> = {
    'an error code of its own that is the header, and a message that is': echoing(400, (header) => ({
      error: { code: `BAD_${header}`, message: header },
    })),
    // cut to 64 characters where it is quoted: the cut splits the key
    'an error code whose key a cut splits': echoing(400, (header) => ({
      error: { code: `${'X'.repeat(50)}${header}`, message: 'no' },
    })),
    'error details that are the header as a string': echoing(400, (header) => ({
      error: { code: 'INVALID_REQUEST', message: 'no', details: `seen ${header}` },
    })),
    'a tool result whose code is the header': echoing(200, (header) => ({
      successful: false,
      data: null,
      error: 'refused',
      code: header,
      log_id: 'log_1',
    })),
  };

  for (const [name, answer] of Object.entries(answers)) {
    it(`${name}: the key shows nowhere in the error, its stack, JSON or causes`, async () => {
      const mux = remote(recordingLogger());
      fault = answer;
      // a tool call answers a failed result (as embedded): the error the request met is its message
      const result = await mux.tools.execute('LOCAL_PING', { userId: 'user_1', arguments: { n: 1 } });
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
      expect(JSON.stringify(result)).not.toContain(server.apiKey);
      expect(result.error).toContain('[REDACTED]');
      // another write rejects with it
      const error = await rejection(mux.authConfigs.create('local', { type: 'api_key' }));
      expect((error as ToolMuxError).code).toBe('SERVER_UNREACHABLE');
      expectWithout(error, server.apiKey);
    });
  }

  it("a tool call's failed result, which the model reads, does not show it either", async () => {
    const mux = remote(recordingLogger());
    const session = await mux.create('user_echo', {
      toolkits: ['local'],
      experimental: { customTools: [ping] },
    });
    for (const answer of Object.values(answers)) {
      fault = answer;
      const result = await session.execute('TOOLMUX_SEARCH_TOOLS', { queries: [{ use_case: 'ping' }] });
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
      expect(result.error).not.toContain(server.apiKey);
      expect(result.error).toContain('[REDACTED]');
    }
  });
});

describe("remote mode: a fetch of the application's own whose error names the key", () => {
  const throwing: Record<string, (authorization: string) => unknown> = {
    'its message': (header) => new Error(`cannot send with ${header}`),
    'the cause of its error': (header) =>
      new TypeError('fetch failed', { cause: new Error(`socket for ${header}`) }),
    "one of an AggregateError's errors": (header) =>
      new TypeError('fetch failed', { cause: new AggregateError([new Error(`to ${header}`)], 'all failed') }),
    'a property of its error (the request it made)': (header) =>
      Object.assign(new Error('request failed'), { config: { headers: { authorization: header } } }),
    'its code': (header) => Object.assign(new Error('request failed'), { code: header }),
    'a string it throws': (header) => `cannot send with ${header}`,
  };

  for (const [name, thrown] of Object.entries(throwing)) {
    it(`${name}: the key shows nowhere in the error, its stack, JSON or causes`, async () => {
      const fetch: typeof globalThis.fetch = async (_url, init) => {
        throw thrown(new Headers(init?.headers).get('authorization') ?? '');
      };
      const mux = remote(recordingLogger(), fetch);
      // a read (sent twice: its connection failed) and a write
      for (const call of [
        () => mux.toolkits.list(),
        () => mux.authConfigs.create('local', { type: 'api_key' }),
      ]) {
        const error = await rejection(call());
        expect((error as ToolMuxError).code).toBe('SERVER_UNREACHABLE');
        expectWithout(error, server.apiKey);
      }
      // a tool call answers a failed result (as embedded), whose message is the error's
      const result = await mux.tools.execute('LOCAL_PING', { userId: 'user_1' });
      expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE' });
      expect(JSON.stringify(result)).not.toContain(server.apiKey);
    });
  }

  it("keeps a cause that does not hold the key as it is: the network's own error", async () => {
    const refused = new ToolMux({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: server.apiKey });
    opened.push(refused);
    const error = (await rejection(refused.toolkits.list())) as ToolMuxError;
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(((error.cause as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');
  });
});

describe('remote mode: a large multi-execute result run in the client whose offload to the server fails', () => {
  /** A custom tool (it runs in the client) whose result is about 1 MB of JSON. */
  const exportRows = defineTool({
    slug: 'LOCAL_EXPORT',
    toolkit: 'local',
    description: 'Exports every row',
    inputSchema: z.object({}),
    execute: () => ({ rows: Array.from({ length: 1024 }, (_, id) => ({ id, note: 'x'.repeat(1000) })) }),
  });
  const isOffload = (request: IncomingMessage) =>
    request.method === 'POST' && /\/workbench\/offload$/.test(request.url ?? '');
  const faults: Record<string, Fault> = {
    'its connection broke before any answer': (request, response, upstream) => {
      if (!isOffload(request)) return upstream();
      request.resume();
      request.on('end', () => response.socket?.destroy());
    },
    'the server answered 503': (request, response, upstream) => {
      if (!isOffload(request)) return upstream();
      request.resume();
      request.on('end', () => {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { code: 'SERVER_UNAVAILABLE', message: 'try later' } }));
      });
    },
  };

  it('a result the server refused as too large (413) reaches the model as its start, with the files quota as the reason', async () => {
    const logger = recordingLogger();
    const mux = remote(logger);
    const session = await mux.create('user_offload_fault', {
      toolkits: ['local'],
      experimental: { customTools: [exportRows] },
    });
    // what the server answers a body over its limit (its files quota, for this route): a result of
    // 64 MB and more, as the proxy says of this one
    fault = (request, response, upstream) => {
      if (!isOffload(request)) return upstream();
      request.resume();
      request.on('end', () => {
        response.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
        response.end(
          JSON.stringify({
            error: { code: 'REQUEST_TOO_LARGE', message: 'The request body is over 67108864 bytes.' },
          }),
        );
      });
    };
    const result = await session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'LOCAL_EXPORT', arguments: {} }],
    });
    expect(JSON.stringify(result.data).length).toBeLessThan(3_000);
    const { notOffloaded } = result.data as { notOffloaded: { reason: string; hint: string } };
    expect(notOffloaded.reason).toContain('WORKBENCH_FILES_QUOTA');
    expect(notOffloaded.hint).toContain('ask for less per call');
    expect(logger.warnings.join('\n')).toContain('over 67108864 bytes');
  });

  for (const [name, broken] of Object.entries(faults)) {
    it(`${name}: the model gets the start of the result and a readable reason, never the whole result`, async () => {
      const logger = recordingLogger();
      const mux = remote(logger);
      const session = await mux.create('user_offload_fault', {
        toolkits: ['local'],
        experimental: { customTools: [exportRows] },
      });
      fault = broken;
      const result = await session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
        tools: [{ tool_slug: 'LOCAL_EXPORT', arguments: {} }],
      });
      expect(received.filter((line) => line.endsWith('/workbench/offload')).length).toBeGreaterThan(0);
      expect(result.successful).toBe(true);
      // before, the whole result (1 MB here, 10 MB or more as easily) went to the model inline
      expect(JSON.stringify(result.data).length).toBeLessThan(3_000);
      const { notOffloaded } = result.data as {
        notOffloaded: { size: number; preview: string; reason: string; hint: string };
      };
      expect(notOffloaded.size).toBeGreaterThan(1_000_000);
      expect(notOffloaded.preview).toMatch(/^\{".*"rows":\[\{"id":0,"note":"x+$/);
      expect(notOffloaded.preview.length).toBeLessThanOrEqual(1_000);
      expect(notOffloaded.reason).toContain('could not be written');
      expect(notOffloaded.hint).toContain('ask for less per call');
      // the application's logger still hears why
      expect(logger.warnings.join('\n')).toContain('/workbench/offload');
    });
  }
});
