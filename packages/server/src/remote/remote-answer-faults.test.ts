import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineTool, type Logger, ToolMux } from '@toolmux/core';
import { recordingLogger } from '@toolmux/core/test';
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

  it('an upload whose connection broke before any answer is sent again entry by entry, and the server keeps one copy of what had landed', async () => {
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
    // the client cannot tell that it landed: the batch, then each entry again
    expect(uploads()).toHaveLength(3);
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
