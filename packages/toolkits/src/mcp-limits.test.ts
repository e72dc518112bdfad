import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { SessionPreset, ToolMux } from '@toolmux/core';
import { longestTick } from '@toolmux/core/test';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type McpToolkit, mcpToolkit } from './mcp.js';
import { LineReader, limitedFetch, responseIdOf } from './mcp-limits.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const LIMIT = 64 * 1024;
const TOO_LARGE = 'answered with more than 65536 bytes';
const UNANSWERED = 'closed the stream before answering';

/** A JSON-RPC message as servers write them: TypeScript SDK key order, or Python's. */
const messages = fc.oneof(
  fc.record({ result: fc.object(), jsonrpc: fc.constant('2.0'), id: fc.nat() }),
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.nat(), fc.string()), result: fc.object() }),
  fc.record({
    jsonrpc: fc.constant('2.0'),
    method: fc.constant('notifications/message'),
    params: fc.object(),
  }),
);

/** `bytes` cut into pieces at the `cuts` (positions, any order). */
function piecesOf(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const cut of [...at, bytes.length]) {
    pieces.push(bytes.subarray(start, cut));
    start = cut;
  }
  return pieces;
}

function readAll(reader: { append(chunk: Buffer): void; readMessage(): unknown }, pieces: Buffer[]) {
  const read: unknown[] = [];
  for (const piece of pieces) {
    reader.append(piece);
    for (let message = reader.readMessage(); message !== null; message = reader.readMessage())
      read.push(message);
  }
  return read;
}

describe("the stdio transport's reader of the server's messages", () => {
  it("reads what the SDK's ReadBuffer reads, however the output is cut into pieces", () => {
    fc.assert(
      fc.property(
        fc.array(messages, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (sent, cuts) => {
          const bytes = Buffer.from(sent.map((message) => `${JSON.stringify(message)}\n`).join(''));
          const pieces = piecesOf(bytes, cuts);
          const ours = readAll(new LineReader(LIMIT, TOO_LARGE), pieces);
          expect(ours).toEqual(readAll(new ReadBuffer(), pieces));
          expect(ours).toHaveLength(sent.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers a response past the limit with an error answer to its call (by its id, at its start or its end), and reads on', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.string({ maxLength: 40 })), fc.boolean(), (id, pythonOrder) => {
        const big = { content: [{ type: 'text', text: 'x'.repeat(LIMIT) }] };
        const response = pythonOrder
          ? { jsonrpc: '2.0', id, result: big }
          : { result: big, jsonrpc: '2.0', id };
        const next = { result: {}, jsonrpc: '2.0', id: 7 };
        const bytes = Buffer.from(`${JSON.stringify(response)}\n${JSON.stringify(next)}\n`);
        const read = readAll(new LineReader(LIMIT, TOO_LARGE), piecesOf(bytes, [1000, 70_000, 70_010]));
        expect(read).toEqual([{ jsonrpc: '2.0', id, error: { code: -32603, message: TOO_LARGE } }, next]);
      }),
      { numRuns: 100 },
    );
  });

  it('drops a notification past the limit, refuses a request of the server past it, and fails the waiting calls for an answer past it that names none', () => {
    const answered: unknown[] = [];
    const reader = new LineReader(LIMIT, TOO_LARGE, (message) => answered.push(message));
    const call = (id: number) => ({ jsonrpc: '2.0' as const, id, method: 'tools/call', params: {} });
    const line = (message: unknown) => Buffer.from(`${JSON.stringify(message)}\n`);
    const next = { result: {}, jsonrpc: '2.0', id: 9 };
    const drain = () => readAll({ append() {}, readMessage: () => reader.readMessage() }, [Buffer.alloc(0)]);
    // a log message: dropped, and the next message is read
    reader.append(line({ jsonrpc: '2.0', method: 'notifications/message', params: { data: big } }));
    reader.append(line(next));
    expect(drain()).toEqual([next]);
    // a request of the server: answered with an error, so that the server does not wait
    reader.append(line({ jsonrpc: '2.0', id: 3, method: 'sampling/createMessage', params: { text: big } }));
    expect(drain()).toEqual([]);
    expect(answered).toEqual([
      {
        jsonrpc: '2.0',
        id: 3,
        error: { code: -32600, message: expect.stringContaining(`more than ${LIMIT} bytes`) },
      },
    ]);
    // an answer whose id is inside it: each call still waiting gets the error (one of them was answered)
    for (const id of [1, 2, 4, 5]) reader.sent(call(id));
    // a call given up on (its timeout) waits no more
    reader.sent({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5 } });
    reader.append(line({ result: {}, jsonrpc: '2.0', id: 2 }));
    expect(drain()).toEqual([{ result: {}, jsonrpc: '2.0', id: 2 }]);
    reader.append(line({ result: { text: big }, id: 1, jsonrpc: '2.0' }));
    expect(drain()).toEqual([tooLargeAnswer(1), tooLargeAnswer(4)]);
    // and then no call waits: one more is dropped
    reader.append(line({ result: { text: big }, jsonrpc: '2.0' }));
    reader.append(line(next));
    expect(drain()).toEqual([next]);
  });

  it('reads a message of many pieces in time linear in its size (the SDK joined every piece to all before it)', async () => {
    // 16 MB in pieces of 4 KB: joining each piece to the rest copies ~32 GB; once, 16 MB
    const piece = Buffer.alloc(4096, 'x'.charCodeAt(0));
    const reader = new LineReader(32 * 1024 * 1024, TOO_LARGE);
    const { value: message, cpuMs } = await longestTick(() => {
      reader.append(Buffer.from('{"result":{"text":"'));
      for (let count = 0; count < 4096; count++) reader.append(piece);
      reader.append(Buffer.from('"},"jsonrpc":"2.0","id":1}\n'));
      return reader.readMessage() as unknown as { result: { text: string } };
    });
    expect(message.result.text).toHaveLength(16 * 1024 * 1024);
    expect(cpuMs).toBeLessThan(2_000);
  });

  it("finds the id of a dropped response only where it is the whole message's", () => {
    expect(
      responseIdOf('{"result":{"content":[{"type":"text","text":"xx', 'xx"}]},"jsonrpc":"2.0","id":12}'),
    ).toBe(12);
    expect(responseIdOf('{"jsonrpc":"2.0","id":"a\\"b","result":{"x', 'x"}}')).toBe('a"b');
    // an id inside the result, at its end, is not the message's
    expect(responseIdOf('{"result":{"items":[{"a', 'x","id":5}]},"jsonrpc":"2.0"}')).toBeUndefined();
    expect(responseIdOf('{"result":{"text":"\\"id\\":5}', 'x\\"id\\":5}"}')).toBeUndefined();
    expect(
      responseIdOf('{"jsonrpc":"2.0","id":4,"method":"sampling/createMessage","params":{', '}}'),
    ).toBeUndefined();
  });
});

/**
 * The tools of the HTTP test servers: `text` answers with `bytes` of text, `pid` with "one", `noisy`
 * sends a log message of `bytes` of text while it answers (on the call's stream), `polled` closes
 * the call's stream first (the client resumes it with a GET) when the server keeps events.
 */
function testServer(): McpServer {
  const mcp = new McpServer({ name: 'big-http', version: '1.0.0' }, { capabilities: { logging: {} } });
  mcp.registerTool(
    'text',
    { description: 'Text', inputSchema: { bytes: z.number() } },
    async ({ bytes }) => ({
      content: [{ type: 'text', text: 'x'.repeat(bytes) }],
    }),
  );
  mcp.registerTool('pid', { description: 'Pid' }, async () => ({ content: [{ type: 'text', text: 'one' }] }));
  for (const name of ['noisy', 'polled']) {
    mcp.registerTool(
      name,
      { description: name, inputSchema: { bytes: z.number() } },
      async ({ bytes }, extra) => {
        if (name === 'polled') extra.closeSSEStream?.();
        await setTimeout(10);
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', data: 'x'.repeat(bytes) },
        });
        // the event store orders events by the millisecond they were kept
        await setTimeout(10);
        return { content: [{ type: 'text', text: 'done' }] };
      },
    );
  }
  return mcp;
}

/** A Streamable HTTP MCP server on loopback without sessions, JSON or event-stream answers. */
async function httpServer(json: boolean): Promise<Server> {
  const server = createServer(async (request, response) => {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: json,
    });
    await testServer().connect(transport);
    await transport.handleRequest(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** A Streamable HTTP MCP server on loopback with sessions that keeps events (resumable streams). */
async function resumableServer(): Promise<Server> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const server = createServer(async (request, response) => {
    const session = request.headers['mcp-session-id'];
    let transport = typeof session === 'string' ? sessions.get(session) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        eventStore: new InMemoryEventStore(),
        retryInterval: 20,
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      await testServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** A toolkit of each server (named by `slugs`) with a limit of LIMIT bytes. */
function httpToolkits(servers: Server[], slugs: string[], timeoutMs: number): Promise<McpToolkit[]> {
  return Promise.all(
    servers.map((server, index) =>
      mcpToolkit({
        slug: slugs[index]!,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
        maxResponseBytes: LIMIT,
        timeoutMs,
      }),
    ),
  );
}

describe('mcpToolkit() maxResponseBytes: an answer past it fails its call at once, saying so, and the server goes on', () => {
  const servers: Server[] = [];
  const toolkits: McpToolkit[] = [];
  let mux: ToolMux;

  beforeAll(async () => {
    for (const json of [false, true]) servers.push(await httpServer(json));
    toolkits.push(
      await mcpToolkit({
        slug: 'stdio',
        command: process.execPath,
        args: [join(import.meta.dirname, '../test/mcp-big-server.mjs')],
        maxResponseBytes: LIMIT,
        timeoutMs: 60_000,
      }),
      ...(await httpToolkits(servers, ['events', 'json'], 60_000)),
    );
    mux = new ToolMux({ toolkits, store: ':memory:', logger: quiet });
  });
  afterAll(async () => {
    await mux?.close();
    await Promise.all(toolkits.map((toolkit) => toolkit.close()));
    for (const server of servers) server.close();
  });

  it.each(['stdio', 'events', 'json'])('%s', async (slug) => {
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const prefix = slug.toUpperCase();
    const pid = await session.execute(`${prefix}_PID`, {});
    // under the limit (the JSON-RPC envelope around the text takes a few dozen bytes)
    const under = await session.execute(`${prefix}_TEXT`, { bytes: LIMIT - 200 });
    expect(under.successful, under.error ?? '').toBe(true);
    expect(under.data).toHaveLength(LIMIT - 200);
    const started = Date.now();
    for (const bytes of [LIMIT + 1, 4 * LIMIT, 40 * LIMIT]) {
      const over = await session.execute(`${prefix}_TEXT`, { bytes });
      expect(over.successful).toBe(false);
      expect(over.error).toContain(`The MCP server "${slug}" answered with more than ${LIMIT} bytes`);
      expect(over.error).toContain('raise maxResponseBytes');
    }
    // at once, not at the call's 60 s timeout
    expect(Date.now() - started).toBeLessThan(30_000);
    // the same connection (the same process, for stdio) answers the next call
    const after = await session.execute(`${prefix}_PID`, {});
    expect(after.successful).toBe(true);
    expect(after.data).toEqual(pid.data);
  });

  it('stdio: a log message past the limit is dropped and an answer past it with its id inside fails its call at once, on the same connection', async () => {
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const pid = await session.execute('STDIO_PID', {});
    expect(await session.execute('STDIO_NOISY', { bytes: 2 * LIMIT })).toMatchObject({
      successful: true,
      data: 'done',
    });
    const started = Date.now();
    const unnamed = await session.execute('STDIO_UNNAMED', { bytes: 2 * LIMIT });
    expect(unnamed.successful).toBe(false);
    expect(unnamed.error).toContain(`The MCP server "stdio" answered with more than ${LIMIT} bytes`);
    // at once, not at the call's 60 s timeout
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await session.execute('STDIO_PID', {})).toMatchObject({ successful: true, data: pid.data });
  });
});

/** The events the SDK's parser (eventsource-parser) reads from `text`. */
function eventsOf(text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(text);
  // a CR at the end may be the start of a CRLF: the parser waits for what follows
  parser.feed('\n');
  return events;
}

/**
 * The body that `fetch`, a `limitedFetch` of LIMIT bytes, reads from a server that answers `request`
 * with `pieces` (each a chunk as it came), as `contentType`.
 */
async function readThrough(
  fetch: typeof globalThis.fetch,
  pieces: Array<string | Uint8Array>,
  request: RequestInit = {},
): Promise<string> {
  const response = await fetch('http://mcp.test/mcp', { ...request, answer: pieces } as RequestInit);
  return await response.text();
}

/** A limitedFetch of LIMIT bytes over a fetch that answers with the pieces its request names. */
function limitedOver(contentType = 'text/event-stream'): typeof globalThis.fetch {
  return limitedFetch(
    async (_input, init) => {
      const pieces = (init as { answer: Array<string | Uint8Array> }).answer;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const piece of pieces)
            controller.enqueue(typeof piece === 'string' ? Buffer.from(piece) : piece);
          controller.close();
        },
      });
      return new Response(body, { headers: { 'content-type': contentType } });
    },
    LIMIT,
    TOO_LARGE,
    UNANSWERED,
  );
}

const tooLargeAnswer = (id: string | number) => ({
  jsonrpc: '2.0',
  id,
  error: { code: -32603, message: TOO_LARGE },
});
const unansweredEvent = (id: number) =>
  `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32603, message: UNANSWERED } })}\n\n`;
const post = (...ids: number[]) => {
  const requests = ids.map((id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: {} }));
  return { method: 'POST', body: JSON.stringify(requests.length === 1 ? requests[0] : requests) };
};
const big = 'x'.repeat(LIMIT);

describe('the limit of an event stream (Streamable HTTP)', () => {
  const lineEnd = fc.constantFrom('\n', '\r\n', '\r');
  /** Lines of an event (a field, with or without a space after its colon, or a name alone), each with its end. */
  const eventLines = fc.array(
    fc.tuple(
      fc.constantFrom('data', 'id', 'event', 'retry', '', 'other'),
      fc.constantFrom(': ', ':', ''),
      fc.oneof(fc.string({ unit: 'grapheme' }), fc.json()),
      lineEnd,
    ),
    { minLength: 1, maxLength: 5 },
  );
  /** An event stream: each event's lines, the end of the blank line after them, and whether it is past the limit. */
  const streams = fc.array(fc.tuple(eventLines, lineEnd, fc.boolean()), { maxLength: 6 });
  const textOf = (stream: Array<[Array<[string, string, string, string]>, string, boolean]>) =>
    stream
      .map(([lines, blank, huge]) => {
        // a comment has its colon (else an empty name and value make a blank line)
        const text = lines
          .map(([name, colon, value, end]) => {
            const separator = name === '' ? ':' : colon;
            return `${name}${separator}${separator ? value.replace(/[\r\n]/g, ' ') : ''}${end}`;
          })
          .join('');
        const last = huge ? `data: ${big}\n` : '';
        // CR then LF is one line end, not two
        return `${text}${last}${!huge && text.endsWith('\r') && blank === '\n' ? '\r' : blank}`;
      })
      .join('');

  it('passes an event stream within the limit on byte for byte, however it is cut and whatever its line ends', async () => {
    await fc.assert(
      fc.asyncProperty(streams, fc.array(fc.nat(), { maxLength: 12 }), async (stream, cuts) => {
        const text = textOf(stream.map(([lines, blank]) => [lines, blank, false]));
        const read = await readThrough(limitedOver(), piecesOf(Buffer.from(text), cuts), post(1));
        expect(read.slice(0, text.length)).toBe(text);
        // then, for a stream that neither answers the call nor names an event id to resume it by, the
        // error answer that stands for it
        expect(['', unansweredEvent(1)]).toContain(read.slice(text.length));
      }),
      { numRuns: 200 },
    );
  });

  it("reads events as the SDK's parser does: one past the limit, on a stream that answers no call, is dropped but for its id", async () => {
    await fc.assert(
      fc.asyncProperty(streams, fc.array(fc.nat(), { maxLength: 12 }), async (stream, cuts) => {
        const expected = stream.flatMap(([lines, blank, huge]) => {
          const [event] = eventsOf(textOf([[lines, blank, huge]]));
          if (!event || !huge) return event ? [event] : [];
          return event.id ? [{ id: event.id, event: undefined, data: '' }] : [];
        });
        const read = await readThrough(limitedOver(), piecesOf(Buffer.from(textOf(stream)), cuts));
        expect(eventsOf(read)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the id of an event past the limit also when the id is longer than the bytes kept to find an answer', async () => {
    // (a 600-byte id, as fast-check's JSON made one, was lost: ids past 512 bytes were not kept)
    for (const id of ['i'.repeat(600), JSON.stringify({ key: 'v'.repeat(20_000) })]) {
      const read = await readThrough(limitedOver(), [`id: ${id}\ndata: ${big}\n\n`]);
      expect(eventsOf(read)).toEqual([{ id, event: undefined, data: '' }]);
    }
  });

  it('ends an event at its blank line (LF, CR or CRLF) wherever the pieces are cut, also between the CR and LF of one', async () => {
    const fetch = limitedOver();
    for (const end of ['\n', '\r\n', '\r']) {
      for (const blank of ['\n', '\r\n', '\r']) {
        // CR then LF would be one line end
        if (end === '\r' && blank === '\n') continue;
        const small = `id: s${end}data: {}${end}${blank}`;
        const bytes = Buffer.from(`${small}id: h${end}data: ${big}${end}${end}`);
        for (let cut = 0; cut <= small.length + 8; cut++) {
          // an empty piece too, as a stream may give
          const pieces = [bytes.subarray(0, cut), new Uint8Array(0), bytes.subarray(cut)];
          expect(eventsOf(await readThrough(fetch, pieces)), JSON.stringify({ end, blank, cut })).toEqual([
            { id: 's', event: undefined, data: '{}' },
            { id: 'h', event: undefined, data: '' },
          ]);
        }
      }
    }
  });

  it('answers the call of a response past the limit whose id is in neither its first nor its last bytes, read as the POST asked', async () => {
    // the id among the members in the middle, the data in lines (LF, CRLF or CR), the event in pieces
    for (const end of ['\n', '\r\n', '\r']) {
      const json = JSON.stringify({ result: { text: big }, id: 7, jsonrpc: '2.0' }, null, 1);
      const event = `event: message${end}id: e1${end}${json
        .split('\n')
        .map((line) => `data: ${line}`)
        .join(end)}${end}${end}`;
      const next = `data: ${JSON.stringify({ result: {}, jsonrpc: '2.0', id: 8 })}${end}${end}`;
      const read = await readThrough(
        limitedOver(),
        piecesOf(Buffer.from(event + next), [3, 40, 1000, 70_000]),
        post(7),
      );
      const parsed = eventsOf(read);
      expect(parsed.map(({ data }) => JSON.parse(data))).toEqual([
        tooLargeAnswer(7),
        { result: {}, jsonrpc: '2.0', id: 8 },
      ]);
      // the event id goes on, for a resumption to start after the dropped event
      expect(parsed[0]!.id).toBe('e1');
    }
  });

  it("answers the POST's requests not yet answered when a message past the limit names none (a notification, a request of the server)", async () => {
    const answer = `data: ${JSON.stringify({ result: {}, jsonrpc: '2.0', id: 1 })}\n\n`;
    for (const message of [
      { method: 'notifications/message', params: { data: big }, jsonrpc: '2.0' },
      { method: 'sampling/createMessage', params: { text: big }, jsonrpc: '2.0', id: 0 },
    ]) {
      const read = await readThrough(
        limitedOver(),
        [answer, `data: ${JSON.stringify(message)}\n\n`],
        post(1, 2),
      );
      expect(eventsOf(read).map(({ data }) => JSON.parse(data))).toEqual([
        { result: {}, jsonrpc: '2.0', id: 1 },
        tooLargeAnswer(2),
      ]);
    }
  });

  it('drops a message past the limit on a stream that answers no call (the GET stream), and reads on', async () => {
    const small = { method: 'notifications/message', params: { data: 'after' }, jsonrpc: '2.0' };
    const read = await readThrough(limitedOver(), [
      `id: g1\ndata: ${JSON.stringify({ method: 'notifications/message', params: { data: big } })}\n\n`,
      `event: other\nid: g2\ndata: ${big}\n\n`,
      `data: ${JSON.stringify(small)}\n\n`,
    ]);
    // the dropped events' ids stay, without data the SDK reads
    expect(eventsOf(read)).toEqual([
      { id: 'g1', event: undefined, data: '' },
      { id: 'g2', event: undefined, data: '' },
      { id: undefined, event: undefined, data: JSON.stringify(small) },
    ]);
  });

  it('answers the calls of a POST stream the SDK resumes (GET with Last-Event-ID), in the same session only', async () => {
    const fetch = limitedOver();
    const session = { 'mcp-session-id': 's1' };
    // the POST's stream: a priming event, then it ends before the answer
    await readThrough(fetch, ['id: p1\ndata: \n\n'], { ...post(3), headers: session });
    const huge = `id: p2\ndata: ${JSON.stringify({ method: 'notifications/message', params: { data: big } })}\n\n`;
    const elsewhere = await readThrough(fetch, [huge], {
      headers: { 'mcp-session-id': 's2', 'last-event-id': 'p1' },
    });
    expect(eventsOf(elsewhere)).toEqual([{ id: 'p2', event: undefined, data: '' }]);
    const resumed = await readThrough(fetch, [huge], { headers: { ...session, 'last-event-id': 'p1' } });
    expect(eventsOf(resumed).map(({ data }) => JSON.parse(data))).toEqual([tooLargeAnswer(3)]);
  });

  it("answers a POST's open calls when its stream ends or breaks without an event id (the SDK's client resumes none: they waited for their timeout), not when it names one", async () => {
    const notice = `data: ${JSON.stringify({ method: 'notifications/message', params: { data: 'working' }, jsonrpc: '2.0' })}\n\n`;
    const answer = `data: ${JSON.stringify({ result: {}, jsonrpc: '2.0', id: 1 })}\n\n`;
    const ended = await readThrough(limitedOver(), [notice, answer, 'data: {"jsonr'], post(1, 2));
    expect(ended).toBe(`${notice}${answer}${unansweredEvent(2)}`);
    // broken off (the connection closed): the stream ends with the answers instead of failing
    let pulls = 0;
    const broken = limitedFetch(
      async () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              if (pulls++ === 0) controller.enqueue(Buffer.from(notice));
              else controller.error(new TypeError('terminated'));
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
      LIMIT,
      TOO_LARGE,
      UNANSWERED,
    );
    expect(await readThrough(broken, [], post(5))).toBe(`${notice}${unansweredEvent(5)}`);
    // resumable (an event id, also on an event without data), or answered: nothing is added
    for (const pieces of [['id: p1\ndata:\n\n', notice], [answer]]) {
      expect(await readThrough(limitedOver(), pieces, post(1))).toBe(pieces.join(''));
    }
  });

  it('answers the POST when a JSON answer past the limit does not show its id', async () => {
    const answer = JSON.stringify({ result: { text: big }, id: 4, jsonrpc: '2.0' });
    const read = await readThrough(limitedOver('application/json'), [answer], post(4));
    expect(JSON.parse(read)).toEqual(tooLargeAnswer(4));
  });
});

describe("limitedFetch()'s response", () => {
  it("keeps the fetched response's url, redirected, type, status text and headers", async () => {
    const server = createServer((request, response) => {
      if (request.url === '/old') {
        response.writeHead(307, { location: '/mcp' }).end();
        return;
      }
      response.writeHead(200, 'Fine', { 'content-type': 'application/json', 'x-kept': 'yes' }).end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      let fetched: Response | undefined;
      const fetch = limitedFetch(
        async (input, init) => {
          fetched = await globalThis.fetch(input, init);
          return fetched;
        },
        LIMIT,
        TOO_LARGE,
      );
      const response = await fetch(`${origin}/old`);
      expect(response).not.toBe(fetched);
      expect(response.url).toBe(`${origin}/mcp`);
      expect(response.redirected).toBe(true);
      expect(response.type).toBe('basic');
      expect(response.statusText).toBe('Fine');
      expect(response.headers).toBe(fetched!.headers);
      expect(response.headers.get('x-kept')).toBe('yes');
      // and so does a clone (of a clone), each with the body through the limit
      const clone = response.clone().clone();
      expect([clone.url, clone.redirected, clone.type, clone.statusText]).toEqual([
        `${origin}/mcp`,
        true,
        'basic',
        'Fine',
      ]);
      expect(clone.headers.get('x-kept')).toBe('yes');
      expect(await clone.json()).toEqual({});
      expect(await response.json()).toEqual({});
    } finally {
      server.close();
    }
  });
});

describe('mcpToolkit() over Streamable HTTP: a message past maxResponseBytes that names no call fails the call whose stream it came on, at once', () => {
  const servers: Server[] = [];
  const toolkits: McpToolkit[] = [];
  let mux: ToolMux;
  /** Short, so that a call left waiting fails the test without holding it for long. */
  const timeoutMs = 15_000;

  beforeAll(async () => {
    servers.push(await httpServer(false), await resumableServer());
    toolkits.push(...(await httpToolkits(servers, ['stateless', 'resumable'], timeoutMs)));
    mux = new ToolMux({ toolkits, store: ':memory:', logger: quiet });
  });
  afterAll(async () => {
    await mux?.close();
    await Promise.all(toolkits.map((toolkit) => toolkit.close()));
    for (const server of servers) server.close();
  });

  // stateless: a log message of the call past the limit on the POST's stream; resumable: the same
  // after the server closed that stream, on the GET the client resumes it with
  it.each([
    ['stateless', 'NOISY'],
    ['resumable', 'NOISY'],
    ['resumable', 'POLLED'],
  ])('%s %s', async (slug, tool) => {
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const prefix = slug.toUpperCase();
    const within = await session.execute(`${prefix}_${tool}`, { bytes: 1000 });
    expect(within.successful, within.error ?? '').toBe(true);
    const started = Date.now();
    // a call on the same connection at the same time is not touched
    const [over, beside] = await Promise.all([
      session.execute(`${prefix}_${tool}`, { bytes: 2 * LIMIT }),
      session.execute(`${prefix}_${tool}`, { bytes: 1000 }),
    ]);
    expect(beside.successful, beside.error ?? '').toBe(true);
    expect(over.successful).toBe(false);
    expect(over.error).toContain(`The MCP server "${slug}" answered with more than ${LIMIT} bytes`);
    expect(Date.now() - started).toBeLessThan(timeoutMs / 2);
    const after = await session.execute(`${prefix}_PID`, {});
    expect(after.successful, after.error ?? '').toBe(true);
  });
});
