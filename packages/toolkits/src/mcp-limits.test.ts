import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { SessionPreset, ToolMux } from '@toolmux/core';
import { longestTick } from '@toolmux/core/test';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type McpToolkit, mcpToolkit } from './mcp.js';
import { idOfDroppedResponse, LineReader } from './mcp-limits.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const LIMIT = 64 * 1024;
const TOO_LARGE = 'answered with more than 65536 bytes';

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

  it('refuses a message past the limit that answers no call it can name (a request, a notification, no id)', () => {
    for (const message of [
      { jsonrpc: '2.0', method: 'notifications/message', params: { data: 'x'.repeat(LIMIT) } },
      { jsonrpc: '2.0', id: 3, method: 'sampling/createMessage', params: { text: 'x'.repeat(LIMIT) } },
      { result: { text: 'x'.repeat(LIMIT) }, jsonrpc: '2.0' },
    ]) {
      const reader = new LineReader(LIMIT, TOO_LARGE);
      expect(() => reader.append(Buffer.from(`${JSON.stringify(message)}\n`))).toThrow(TOO_LARGE);
    }
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
      idOfDroppedResponse(
        '{"result":{"content":[{"type":"text","text":"xx',
        'xx"}]},"jsonrpc":"2.0","id":12}',
      ),
    ).toBe(12);
    expect(idOfDroppedResponse('{"jsonrpc":"2.0","id":"a\\"b","result":{"x', 'x"}}')).toBe('a"b');
    // an id inside the result, at its end, is not the message's
    expect(idOfDroppedResponse('{"result":{"items":[{"a', 'x","id":5}]},"jsonrpc":"2.0"}')).toBeUndefined();
    expect(idOfDroppedResponse('{"result":{"text":"\\"id\\":5}', 'x\\"id\\":5}"}')).toBeUndefined();
    expect(
      idOfDroppedResponse('{"jsonrpc":"2.0","id":4,"method":"sampling/createMessage","params":{', '}}'),
    ).toBeUndefined();
  });
});

/** A Streamable HTTP MCP server on loopback with the same two tools, JSON or event-stream answers. */
async function httpServer(json: boolean): Promise<Server> {
  const server = createServer(async (request, response) => {
    const mcp = new McpServer({ name: 'big-http', version: '1.0.0' });
    mcp.registerTool(
      'text',
      { description: 'Text', inputSchema: { bytes: z.number() } },
      async ({ bytes }) => ({
        content: [{ type: 'text', text: 'x'.repeat(bytes) }],
      }),
    );
    mcp.registerTool('pid', { description: 'Pid' }, async () => ({
      content: [{ type: 'text', text: 'one' }],
    }));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: json,
    });
    await mcp.connect(transport);
    await transport.handleRequest(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
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
      ...(await Promise.all(
        servers.map((server, index) =>
          mcpToolkit({
            slug: index === 0 ? 'events' : 'json',
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
            maxResponseBytes: LIMIT,
            timeoutMs: 60_000,
          }),
        ),
      )),
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
});
