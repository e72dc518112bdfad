import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ServerLogger } from './request-log.js';
import { createServer } from './server.js';
import { API_KEY, api } from './test-serve.js';

/**
 * The end of a server's shutdown drain. It stopped the tool calls still running, then cut every
 * connection at once: the TOOL_ABORTED answer of a stopped call, made a moment later, reached its
 * client as a bare socket error, and so did an answer being written. Now the answers of the requests
 * still open get up to a second before the cut, a request that arrives meanwhile is refused with
 * `503 SERVER_SHUTTING_DOWN` and `Connection: close`, and an MCP progress stream the cut still ends is
 * logged as cut, not as a `200` like one whose answer was sent.
 */
const WAIT = 'TASKS_WAIT_FOR_APPROVAL';
const BIG = 'BULKY_AFTER_A_WHILE';
const opened: ToolMux[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((mux) => mux.close({ timeoutMs: 0 })));
});

/** How many answers the bulky tool has made. */
let bulkyAnswered = 0;

/** A tool that waits, then answers `bytes` characters (an answer too large to be sent at once). */
const bulky = defineToolkit({
  slug: 'bulky',
  name: 'Bulky',
  description: 'A slow tool with a large answer.',
  tools: [
    defineTool({
      slug: BIG,
      description: 'Waits ms, then answers bytes characters.',
      inputSchema: z.object({ ms: z.number(), bytes: z.number() }),
      execute: async ({ ms, bytes }) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        bulkyAnswered += 1;
        return 'x'.repeat(bytes);
      },
    }),
  ],
});

interface Line {
  level: 'info' | 'warn' | 'error' | 'debug';
  message: string;
  data?: Record<string, unknown>;
}

async function serving() {
  const lines: Line[] = [];
  const logger: ServerLogger = {
    debug: (message, data) => lines.push({ level: 'debug', message, data }),
    info: (message, data) => lines.push({ level: 'info', message, data }),
    warn: (message, data) => lines.push({ level: 'warn', message, data }),
    error: (message, data) => lines.push({ level: 'error', message, data }),
  };
  const sample = createSampleToolkits();
  const toolmux = new ToolMux({
    toolkits: [...sample.toolkits, bulky],
    store: ':memory:',
    secretKey: randomBytes(32).toString('base64'),
    baseUrl: 'http://127.0.0.1',
    logger: { debug() {}, warn() {}, error() {} },
  });
  opened.push(toolmux);
  const running = await createServer({
    toolmux,
    apiKey: API_KEY,
    logger,
    mcp: { progressIntervalMs: 20 },
  }).serve({ port: 0 });
  const created = await api(running.url, 'POST', '/sessions', {
    user_id: 'drain_end_user',
    config: { toolkits: ['tasks', 'bulky'] },
  });
  expect(created.status).toBe(201);
  const sessionId = created.json.session_id as string;
  const mcpPath = new URL(created.json.mcp.url).pathname;
  const mcpHeaders = created.json.mcp.headers as Record<string, string>;
  const waiting = async (count: number) => {
    while (sample.calls.filter((call) => call.slug === WAIT).length < count) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return { running, sessionId, mcpPath, mcpHeaders, waiting, lines };
}

/** A raw HTTP/1.1 connection to `url`'s port, and what it has received so far. */
async function rawConnection(
  url: string,
): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    if (received.length < 4096) received += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => received, closed };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a server's drain that ends with requests open", () => {
  it('sends the TOOL_ABORTED answers of the calls it stopped (REST, MCP with progress, Composio), not socket errors', async () => {
    const { running, sessionId, mcpPath, mcpHeaders, waiting, lines } = await serving();
    const client = new Client({ name: 'drain-end', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${running.url}${mcpPath}`), {
        requestInit: { headers: mcpHeaders },
      }),
    );
    const answers = Promise.all([
      api(running.url, 'POST', `/sessions/${sessionId}/execute`, {
        tool_slug: WAIT,
        arguments: { taskId: 'rest' },
      }).catch((error: unknown) => error),
      client
        .callTool({ name: WAIT, arguments: { taskId: 'mcp-progress' } }, undefined, {
          onprogress: () => {},
          timeout: 10_000,
        })
        .catch((error: unknown) => error),
      fetch(`${running.url}/api/v3.1/tool_router/session/${sessionId}/execute`, {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ tool_slug: WAIT, arguments: { taskId: 'composio' } }),
      }).then(
        async (response) => ({ status: response.status, json: await response.json() }),
        (error: unknown) => error,
      ),
    ]);
    await waiting(3);
    await running.close({ timeoutMs: 100 });
    const [rest, mcp, composio] = (await answers) as [any, any, any];
    await client.close();
    expect(rest).not.toBeInstanceOf(Error);
    expect(rest.json.error?.code ?? rest.json.data?.error?.code ?? JSON.stringify(rest.json)).toContain(
      'TOOL_ABORTED',
    );
    expect(mcp).not.toBeInstanceOf(Error);
    expect(mcp.isError).toBe(true);
    expect(JSON.stringify(mcp.content)).toContain('was stopped because the server was shutting down');
    expect(composio).not.toBeInstanceOf(Error);
    expect(JSON.stringify(composio.json)).toContain('was stopped because the server was shutting down');
    // answered, so no request was cut
    expect(lines.filter((line) => line.data?.cut === true)).toEqual([]);
  });

  it('refuses a request that arrives after it ended with 503 SERVER_SHUTTING_DOWN and Connection: close', async () => {
    const { running, sessionId, waiting, lines } = await serving();
    // a connection opened before the close, whose request arrives after the drain ended
    const late = await rawConnection(running.url);
    late.socket.write(`GET /api/v1/toolkits HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    const held = api(running.url, 'POST', `/sessions/${sessionId}/execute`, {
      tool_slug: WAIT,
      arguments: { taskId: 'held' },
    }).catch((error: unknown) => error);
    await waiting(1);
    const closing = running.close({ timeoutMs: 100 });
    await sleep(300);
    late.socket.write(`authorization: Bearer ${API_KEY}\r\n\r\n`);
    await late.closed;
    await closing;
    await held;
    const answer = late.received();
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(answer).toContain('"code":"SERVER_SHUTTING_DOWN"');
    expect(answer).toContain(
      'The server is shutting down and its drain time (running.close({ timeoutMs }): 100 ms) has run out: this request was not handled.',
    );
    // logged as what it is, a warning saying why, not an error line without a cause
    const refused = lines.filter((line) => line.data?.status === 503);
    expect(refused.map((line) => line.level)).toEqual(['warn']);
    expect(refused[0]!.message).toContain('the server is shutting down (its drain time ran out)');
  });

  it('logs an MCP progress stream it cut as cut, not as a 200', async () => {
    const { running, mcpPath, mcpHeaders, lines } = await serving();
    const stream = await rawConnection(running.url);
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: BIG, arguments: { ms: 150, bytes: 64 * 1024 * 1024 }, _meta: { progressToken: 'p' } },
    });
    const headers = Object.entries(mcpHeaders)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    stream.socket.write(
      `POST ${mcpPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-request-id: cut-stream\r\n${headers}content-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    for (let tries = 0; !stream.received().includes('notifications/progress'); tries++) {
      if (tries === 200) throw new Error(`no progress: ${stream.received()}`);
      await sleep(10);
    }
    // the client stops reading: the answer's 64 MB cannot all be sent
    stream.socket.pause();
    // its answer is being written when the drain begins
    while (bulkyAnswered === 0) await sleep(10);
    await sleep(100);
    const started = Date.now();
    await running.close({ timeoutMs: 100 });
    const closedAfter = Date.now() - started;
    // the client's socket, paused with data unread, learns of the close only when it reads: let go of it
    stream.socket.destroy();
    const deadline = Date.now() + 5000;
    while (!lines.some((line) => line.data?.req_id === 'cut-stream') && Date.now() < deadline)
      await sleep(10);
    const logged = lines.filter((line) => line.data?.req_id === 'cut-stream');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 'warn',
      data: { route: '/mcp/:sessionId', status: 200, cut: true },
    });
    expect(logged[0]!.message).toContain('event stream cut after');
    expect(logged[0]!.message).toContain(
      "the server shut down, and its drain (running.close({ timeoutMs }): 100 ms) ended before the stream's answer was sent",
    );
    // cut after the drain (100 ms) and the second its answers had
    expect(closedAfter).toBeGreaterThanOrEqual(1000);
  });
});
