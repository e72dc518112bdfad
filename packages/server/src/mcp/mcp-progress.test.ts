import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { defineTool, defineToolkit, type PlainTool, type Session, ToolMux } from '@toolmux/core';
import { recordingLogger, untilTestTimeout } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ServerLogger } from '../request-log.js';
import { createServer, type RunningServer } from '../server.js';
import { TEST_API_KEY } from '../test-helpers.js';

/**
 * A tools/call that asks for progress (`params._meta.progressToken`, what the SDK client sends with
 * `onprogress`) and runs longer than the progress interval is answered with an event stream of
 * `notifications/progress`, then its response. Every answer was JSON only: the SDK client gave up
 * on a call after its timeout (60 s by default, toolmux's default tool timeout too, and a workbench
 * cell may run minutes) while it still ran, and could not tell a slow tool from a dead server.
 */

const INTERVAL_MS = 50;
/**
 * The client's timeout: well past the interval, so that a slow turn of a shared machine is no
 * timeout; the long calls run more than twice as long.
 */
const TIMEOUT_MS = 1_000;
const LONG_MS = 2_500;
const BASE_URL = 'http://localhost:8787';

/** The labels of LENGTHY_WAIT calls whose signal fired, and of those that started. */
const aborted = new Set<string>();
const started = new Set<string>();

const lengthy = defineToolkit({
  slug: 'lengthy',
  name: 'Lengthy',
  description: 'Tools that run as long as they are told, and record when they are aborted.',
  tools: [
    defineTool({
      slug: 'LENGTHY_WAIT',
      description: 'Waits ms milliseconds (or until aborted), then answers how long it waited.',
      inputSchema: z.object({ ms: z.number().int(), label: z.string() }),
      execute: ({ ms, label }, { signal }) =>
        new Promise((resolve, reject) => {
          started.add(label);
          const timer = setTimeout(() => resolve({ waited: ms, label }), ms);
          signal.addEventListener('abort', () => {
            aborted.add(label);
            clearTimeout(timer);
            reject(signal.reason);
          });
        }),
    }),
    defineTool({
      slug: 'LENGTHY_LARGE',
      description: 'Waits ms milliseconds, then returns a text of a few hundred kilobytes.',
      inputSchema: z.object({ ms: z.number().int() }),
      execute: ({ ms }) => new Promise((resolve) => setTimeout(() => resolve(largeResult()), ms)),
    }),
    defineTool({
      slug: 'LENGTHY_WRONG_SHAPE',
      description: 'Waits ms milliseconds, then returns what its output schema does not say.',
      inputSchema: z.object({ ms: z.number().int() }),
      outputSchema: z.object({ count: z.number() }),
      execute: ({ ms }) => new Promise((resolve) => setTimeout(() => resolve({ count: 'one' } as never), ms)),
    }),
  ],
});

/** A result whose JSON is written in many chunks (over 64 K characters), non-ASCII, quotes and line breaks. */
function largeResult() {
  return { label: 'é😀"\n\u2028'.repeat(40_000) };
}

/** The request lines and errors the server writes. */
const lines: Array<{ message: string; data?: Record<string, unknown> }> = [];
const errors: string[] = [];
const logger: ServerLogger = {
  debug: () => {},
  info: (message, data) => lines.push({ message, data }),
  // a fault while an answer is made: the warning of LENGTHY_WRONG_SHAPE's result cannot be written
  warn: (message) => {
    if (message.includes('LENGTHY_WRONG_SHAPE')) throw new Error('the log is not writable');
  },
  error: (message) => errors.push(message),
};
const mux = new ToolMux({
  toolkits: [lengthy],
  store: ':memory:',
  baseUrl: BASE_URL,
  logger: recordingLogger(),
});
const server = createServer({
  toolmux: mux,
  apiKey: TEST_API_KEY,
  logger,
  mcp: { progressIntervalMs: INTERVAL_MS },
});
let running: RunningServer;
let direct: Session<PlainTool[]>;
let cells: Session<PlainTool[]>;
const clients: Client[] = [];

beforeAll(async () => {
  running = await server.serve({ port: 0 });
  direct = await mux.create('user_progress', { toolkits: ['lengthy'], sessionPreset: 'DIRECT_TOOLS' });
  cells = await mux.create('user_progress', { toolkits: ['lengthy'], workbench: {} });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await running.close();
  await mux.close();
});

async function connect(session: Session<PlainTool[]>): Promise<Client> {
  const client = new Client({ name: 'toolmux-progress-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${running.url}/mcp/${session.sessionId}`), {
      requestInit: { headers: session.mcp.headers },
    }),
  );
  clients.push(client);
  return client;
}

function text(result: CallToolResult): string {
  const [first] = result.content;
  return first?.type === 'text' ? first.text : '';
}

/** A raw `POST /mcp/:sessionId` of one tools/call (or a batch), as a client without the SDK sends it. */
function post(
  body: unknown,
  options: { accept?: string; origin?: string; signal?: AbortSignal; version?: string } = {},
): Promise<Response> {
  return fetch(`${running.url}/mcp/${direct.sessionId}`, {
    method: 'POST',
    headers: {
      ...direct.mcp.headers,
      'content-type': 'application/json',
      accept: options.accept ?? 'application/json, text/event-stream',
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.version ? { 'mcp-protocol-version': options.version } : {}),
    },
    body: JSON.stringify(body),
    signal: options.signal,
  });
}

/** A tools/call of `name` (LENGTHY_WAIT unless told), asking for progress when given a token. */
function toolCall(
  id: number,
  args: Record<string, unknown>,
  progressToken?: string | number,
  name = 'LENGTHY_WAIT',
) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args, ...(progressToken === undefined ? {} : { _meta: { progressToken } }) },
  };
}

/** A streamed answer's request id and every event of it, the response read to its end. */
async function streamed(
  body: unknown,
): Promise<{ requestId: string; events: Array<Record<string, string>> }> {
  const response = await post(body);
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  const events: Array<Record<string, string>> = [];
  for await (const event of sseEvents(response)) events.push(event);
  return { requestId: response.headers.get('x-request-id')!, events };
}

/** The JSON-RPC message of an event. */
function messageOf(event: Record<string, string> | undefined) {
  return JSON.parse(event!.data!);
}

/** The events of an SSE body as they arrive: each one's fields (`event`, `data`, `id`…). */
async function* sseEvents(response: Response): AsyncGenerator<Record<string, string>> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    buffered += chunk.value;
    let end = buffered.indexOf('\n\n');
    while (end >= 0) {
      const fields: Record<string, string> = {};
      for (const line of buffered.slice(0, end).split('\n')) {
        const colon = line.indexOf(':');
        fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
      }
      yield fields;
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
    }
  }
  expect(buffered).toBe('');
}

describe('a tools/call that asks for progress, with the official client', () => {
  it('runs past the client timeout: progress resets it, onprogress sees it increase, the result arrives', async () => {
    const client = await connect(direct);
    await client.listTools(); // the session resumed before the timed calls
    const seen: Progress[] = [];
    const result = (await client.callTool(
      { name: 'LENGTHY_WAIT', arguments: { ms: LONG_MS, label: 'long' } },
      undefined,
      { timeout: TIMEOUT_MS, resetTimeoutOnProgress: true, onprogress: (progress) => seen.push(progress) },
    )) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(text(result))).toEqual({ waited: LONG_MS, label: 'long' });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const [index, progress] of seen.entries()) {
      expect(progress.message).toMatch(/^"LENGTHY_WAIT" is still running \(\d+ (ms|s)\)\.$/);
      if (index > 0) expect(progress.progress).toBeGreaterThan(seen[index - 1]!.progress);
    }
    // the same call without progress is given up at the client's timeout (and so aborted)
    await expect(
      client.callTool({ name: 'LENGTHY_WAIT', arguments: { ms: LONG_MS, label: 'no-progress' } }, undefined, {
        timeout: TIMEOUT_MS,
      }),
    ).rejects.toThrow(/timed out/i);
    await expect.poll(() => aborted.has('no-progress'), untilTestTimeout()).toBe(true);
  });

  it('runs a workbench cell past the client timeout, its calls made meanwhile', async () => {
    const client = await connect(cells);
    await client.listTools();
    const seen: Progress[] = [];
    const result = (await client.callTool(
      {
        name: 'TOOLMUX_WORKBENCH',
        arguments: {
          code: `const first = await toolmux.execute('LENGTHY_WAIT', { ms: ${TIMEOUT_MS}, label: 'cell-1' });
                 const second = await toolmux.execute('LENGTHY_WAIT', { ms: ${TIMEOUT_MS}, label: 'cell-2' });
                 return first.data.waited + second.data.waited;`,
        },
      },
      undefined,
      { timeout: TIMEOUT_MS, resetTimeoutOnProgress: true, onprogress: (progress) => seen.push(progress) },
    )) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(text(result))).toEqual({ result: 2 * TIMEOUT_MS, logs: [] });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    // each says how many tool calls the cell's code has made so far (before: only how long it ran),
    // first the one, then both
    const calls = seen.map(({ message }) => {
      const [, count] =
        /^"TOOLMUX_WORKBENCH" is still running \(\d+ (?:ms|s); (\d+) tool calls? so far\)\.$/.exec(
          message ?? '',
        ) ?? [];
      return count === undefined ? message : Number(count);
    });
    expect(calls[0]).toBe(1);
    expect(calls.at(-1)).toBe(2);
    expect(calls).toEqual([...calls].sort());
  });

  it('a client that aborts the call mid-stream cancels the tool; the stream ends without a response', async () => {
    const client = await connect(direct);
    const problems: Error[] = [];
    client.onerror = (error) => problems.push(error);
    const stop = new AbortController();
    let progressed = 0;
    const call = client.callTool(
      { name: 'LENGTHY_WAIT', arguments: { ms: 60_000, label: 'sdk-abort' } },
      undefined,
      {
        signal: stop.signal,
        resetTimeoutOnProgress: true,
        onprogress: () => {
          progressed++;
        },
      },
    );
    await expect.poll(() => progressed, untilTestTimeout()).toBeGreaterThanOrEqual(2);
    stop.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    await expect.poll(() => aborted.has('sdk-abort'), untilTestTimeout()).toBe(true);
    // the connection is still good, and the stream's end was no error to the client (a progress
    // notification sent before the cancellation arrived may reach it after it stopped waiting: the
    // SDK reports it, and goes on)
    await client.ping();
    expect(
      problems.filter(
        (problem) => !problem.message.startsWith('Received a progress notification for an unknown token'),
      ),
    ).toEqual([]);
  });
});

describe('the event stream on the wire', () => {
  it('a stream its client closes before the response is logged as closed by the client, not as an answered 200', async () => {
    const stop = new AbortController();
    const response = await post(toolCall(8, { ms: 60_000, label: 'closed-by-client' }, 'token-2'), {
      origin: BASE_URL,
      signal: stop.signal,
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const requestId = response.headers.get('x-request-id')!;
    for await (const _event of sseEvents(response)) break; // the first progress notification
    stop.abort();
    await expect.poll(() => aborted.has('closed-by-client'), untilTestTimeout()).toBe(true);
    await expect
      .poll(() => lines.find((line) => line.data?.req_id === requestId)?.data, untilTestTimeout())
      .toMatchObject({ status: 200, closed_by_client: true });
    const logged = lines.find((line) => line.data?.req_id === requestId)!;
    expect(logged.message).toContain('event stream closed by the client');
  });

  it('progress notifications with the token, then the response as the last event; no event ids', async () => {
    const response = await post(toolCall(7, { ms: 300, label: 'wire' }, 'token-1'), { origin: BASE_URL });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    // the headers every answer of the endpoint gets
    expect(response.headers.get('access-control-allow-origin')).toBe(BASE_URL);
    expect(response.headers.get('x-request-id')).toMatch(/\S/);
    const requestId = response.headers.get('x-request-id')!;
    const events: Array<Record<string, string>> = [];
    for await (const event of sseEvents(response)) {
      events.push(event);
      // the request's line is written when the response is, not when the stream starts
      if (events.length === 1) {
        expect(lines.some((line) => line.data?.req_id === requestId)).toBe(false);
      }
    }
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const event of events) {
      expect(Object.keys(event).sort()).toEqual(['data', 'event']);
      expect(event.event).toBe('message');
    }
    const messages = events.map((event) => JSON.parse(event.data!));
    const last = messages.pop();
    expect(last).toEqual({
      jsonrpc: '2.0',
      id: 7,
      result: { content: [{ type: 'text', text: JSON.stringify({ waited: 300, label: 'wire' }) }] },
    });
    expect(messages.map((message) => message.params.progress)).toEqual(messages.map((_, index) => index + 1));
    for (const message of messages) {
      expect(message).toMatchObject({
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { progressToken: 'token-1' },
      });
      expect(message.id).toBeUndefined();
    }
    await expect
      .poll(() => lines.find((line) => line.data?.req_id === requestId)?.data, untilTestTimeout())
      .toMatchObject({ method: 'POST', route: '/mcp/:sessionId', status: 200 });
    const logged = lines.find((line) => line.data?.req_id === requestId)!;
    expect(logged.data!.duration_ms as number).toBeGreaterThanOrEqual(300);
  });

  it('a large response is written as a JSON answer is, in chunks, and read back byte for byte', async () => {
    const { events } = await streamed(toolCall(16, { ms: 150 }, 'large', 'LENGTHY_LARGE'));
    const last = messageOf(events.at(-1));
    expect(last.id).toBe(16);
    expect(last.result.content[0].text).toBe(JSON.stringify(largeResult()));
  });

  it('a number token is echoed as a number', async () => {
    const { events } = await streamed(toolCall(8, { ms: 150, label: 'number-token' }, 42));
    expect(messageOf(events[0]).params.progressToken).toBe(42);
    expect(messageOf(events.at(-1)).id).toBe(8);
  });

  it('a fault while the response is made is a JSON-RPC internal error as the last event, logged on the request line', async () => {
    const { requestId, events } = await streamed(toolCall(9, { ms: 150 }, 'fault', 'LENGTHY_WRONG_SHAPE'));
    expect(messageOf(events.at(-1))).toMatchObject({ jsonrpc: '2.0', id: 9, error: { code: -32603 } });
    await expect
      .poll(() => errors.find((message) => message.includes(`(request ${requestId})`)), untilTestTimeout())
      .toMatch(/^POST \/mcp\/:sessionId 200 \d+(\.\d+)?ms \(request [^)]+\): .*the log is not writable/);
  });

  it('a client that disconnects mid-stream aborts the tool (its signal fires), as a dropped JSON request does', async () => {
    const stop = new AbortController();
    const response = await post(toolCall(10, { ms: 60_000, label: 'disconnect' }, 'gone'), {
      signal: stop.signal,
    });
    const events = sseEvents(response);
    const first = await events.next();
    expect(messageOf(first.value).method).toBe('notifications/progress');
    expect(aborted.has('disconnect')).toBe(false);
    stop.abort();
    await expect.poll(() => aborted.has('disconnect'), untilTestTimeout()).toBe(true);
  });

  it('a stream its reader cancels aborts the tool, in a runtime that aborts no request signal (server.fetch)', async () => {
    const response = await server.fetch(
      new Request(`${BASE_URL}/mcp/${direct.sessionId}`, {
        method: 'POST',
        headers: {
          ...direct.mcp.headers,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify(toolCall(17, { ms: 60_000, label: 'unread' }, 'unread')),
      }),
    );
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('notifications/progress');
    expect(aborted.has('unread')).toBe(false);
    await reader.cancel();
    await expect.poll(() => aborted.has('unread'), untilTestTimeout()).toBe(true);
  });
});

describe('what stays JSON', () => {
  it('a call without a progress token is answered with JSON, as before, however long it runs', async () => {
    const response = await post(toolCall(11, { ms: 200, label: 'plain' }));
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.text()).toBe(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 11,
        result: { content: [{ type: 'text', text: JSON.stringify({ waited: 200, label: 'plain' }) }] },
      }),
    );
  });

  it('a call with a token answered within the interval, one whose client takes no event stream, and a batch', async () => {
    const quick = await post(toolCall(12, { ms: 0, label: 'quick' }, 'quick'));
    expect(quick.headers.get('content-type')).toBe('application/json');
    expect((await quick.json()).id).toBe(12);
    for (const accept of ['application/json', 'application/json, text/event-stream;q=0']) {
      const json = await post(toolCall(13, { ms: 200, label: 'json-only' }, 'json-only'), { accept });
      expect(json.headers.get('content-type')).toBe('application/json');
      expect((await json.json()).result.content[0].text).toContain('"waited":200');
    }
    // a batch (protocol versions up to 2025-03-26) is answered as a whole
    const batch = await post([toolCall(14, { ms: 200, label: 'batch' }, 'batch')], { version: '2025-03-26' });
    expect(batch.headers.get('content-type')).toBe('application/json');
    expect((await batch.json())[0].id).toBe(14);
  });

  it('a token that is not a string or an integer is refused as an invalid message (-32600), as before', async () => {
    const response = await post(toolCall(15, { ms: 0, label: 'bad-token' }, 1.5));
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toMatchObject({ id: 15, error: { code: -32600 } });
    expect(started.has('bad-token')).toBe(false);
  });
});
