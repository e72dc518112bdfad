import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { JSONRPCMessageSchema, LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import {
  defineTool,
  defineToolkit,
  type PlainTool,
  type Session,
  type Toolkit,
  ToolMux,
} from '@toolmux/core';
import { untilTestTimeout } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createServer, type RunningServer } from '../server.js';
import { createTestServer, recordingLogger, TEST_API_KEY } from '../test-helpers.js';

const { mux, server, sample } = createTestServer();
let running: RunningServer;
let meta: Session<PlainTool[]>;
let direct: Session<PlainTool[]>;
const clients: Client[] = [];

beforeAll(async () => {
  running = await server.serve({ port: 0 });
  meta = await mux.create('user_mcp', {
    toolkits: ['tasks', 'notes'],
    preload: { tools: ['TASKS_LIST_TASKS'] },
    workbench: {},
  });
  direct = await mux.create('user_mcp', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await running.close();
  await mux.close();
});

function endpoint(sessionId: string): URL {
  return new URL(`${running.url}/mcp/${sessionId}`);
}

async function connect(sessionId: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'toolmux-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(endpoint(sessionId), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

/**
 * A server of its own over `toolkit` for one describe block, on an in-memory store and a recording
 * logger, with a DIRECT_TOOLS session of `userId` whose MCP URL the official client is connected to
 * (in beforeAll; closed with the server in afterAll).
 */
function ownServerClient(
  toolkit: Toolkit,
  userId: string,
  options: { sessionCacheTtlMs?: number } = {},
): { logger: ReturnType<typeof recordingLogger>; client: Client } {
  const logger = recordingLogger();
  const mux = new ToolMux({ toolkits: [toolkit], store: ':memory:', logger });
  const server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger, ...options });
  const own = { logger, client: undefined as unknown as Client };
  let live: RunningServer;
  beforeAll(async () => {
    live = await server.serve({ port: 0 });
    const session = await mux.create(userId, { toolkits: [toolkit.slug], sessionPreset: 'DIRECT_TOOLS' });
    own.client = new Client({ name: `${toolkit.slug}-test`, version: '1.0.0' });
    await own.client.connect(
      new StreamableHTTPClientTransport(new URL(`${live.url}/mcp/${session.sessionId}`), {
        requestInit: { headers: session.mcp.headers },
      }),
    );
    clients.push(own.client);
  });
  afterAll(async () => {
    await live.close();
    await mux.close();
  });
  return own;
}

function text(result: CallToolResult): string {
  const [first] = result.content;
  return first?.type === 'text' ? first.text : '';
}

describe('MCP over Streamable HTTP with the official client', () => {
  it('initializes: the session URL is where baseUrl says', async () => {
    expect(meta.mcp.url).toBe(`http://localhost:8787/mcp/${meta.sessionId}`);
    const client = await connect(meta.sessionId, meta.mcp.headers);
    expect(client.getServerVersion()).toMatchObject({ name: 'toolmux' });
    expect(client.getServerCapabilities()).toMatchObject({ tools: {} });
    await expect(client.ping()).resolves.toEqual({});
  });

  it('lists exactly what session.tools() shows', async () => {
    for (const session of [meta, direct]) {
      const client = await connect(session.sessionId, session.mcp.headers);
      const { tools } = await client.listTools();
      const expected = await session.tools();
      expect(tools.map((tool) => tool.name)).toEqual(expected.map((tool) => tool.name));
      expect(tools.map((tool) => tool.description)).toEqual(expected.map((tool) => tool.description));
      expect(tools.map((tool) => tool.inputSchema)).toEqual(expected.map((tool) => tool.inputSchema));
    }
  });

  it('passes annotations and object output schemas through', async () => {
    const client = await connect(direct.sessionId, direct.mcp.headers);
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get('TASKS_LIST_TASKS')!.annotations).toEqual({ readOnlyHint: true, idempotentHint: true });
    expect(byName.get('TASKS_DELETE_TASK')!.annotations).toEqual({ destructiveHint: true });
    expect(byName.get('TASKS_CREATE_TASK')!.outputSchema).toMatchObject({
      type: 'object',
      properties: { id: { type: 'string' }, title: { type: 'string' } },
    });
    expect(byName.get('TASKS_SYNC_CALENDAR')!.annotations).toBeUndefined();
  });

  it('calls a tool through session.execute, with structured content when it declares an output schema', async () => {
    const client = await connect(direct.sessionId, direct.mcp.headers);
    const result = (await client.callTool({
      name: 'TASKS_CREATE_TASK',
      arguments: { title: 'Water the plants', priority: 'high' },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ id: expect.any(String), title: 'Water the plants' });
    expect(JSON.parse(text(result))).toEqual(result.structuredContent);
    expect(sample.calls.at(-1)).toMatchObject({
      slug: 'TASKS_CREATE_TASK',
      input: { title: 'Water the plants', priority: 'high' },
      context: { userId: 'user_mcp', sessionId: direct.sessionId },
    });
    const logs = await direct.logs({ limit: 1 });
    expect(logs.items[0]).toMatchObject({ toolSlug: 'TASKS_CREATE_TASK', status: 'success' });
  });

  it('searches, then executes what it found (TOOLMUX_SEARCH_TOOLS + TOOLMUX_MULTI_EXECUTE_TOOL)', async () => {
    const client = await connect(meta.sessionId, meta.mcp.headers);
    const search = (await client.callTool({
      name: 'TOOLMUX_SEARCH_TOOLS',
      arguments: { queries: [{ use_case: 'write a note' }] },
    })) as CallToolResult;
    expect(search.isError).toBeFalsy();
    const found = JSON.parse(text(search)) as { results: Array<{ tools: Array<{ tool_slug: string }> }> };
    const slug = found.results[0]!.tools[0]!.tool_slug;
    expect(slug).toBe('NOTES_CREATE_NOTE');
    const executed = (await client.callTool({
      name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
      arguments: {
        tools: [{ tool_slug: slug, arguments: { text: 'Call mom', tags: [{ name: 'family' }] } }],
      },
    })) as CallToolResult;
    expect(executed.isError).toBeFalsy();
    expect(JSON.parse(text(executed))).toMatchObject({
      results: [{ tool_slug: 'NOTES_CREATE_NOTE', successful: true, data: { id: 'note_2' } }],
      successful_count: 1,
    });
  });

  it('runs TOOLMUX_WORKBENCH code that calls the session tools, keeping globalThis between calls', async () => {
    const client = await connect(meta.sessionId, meta.mcp.headers);
    const listed = await client.listTools();
    const workbench = listed.tools.find((tool) => tool.name === 'TOOLMUX_WORKBENCH');
    expect(workbench?.description).toContain('await toolmux.execute(slug, args)');
    const first = (await client.callTool({
      name: 'TOOLMUX_WORKBENCH',
      arguments: {
        code: `const made = await toolmux.execute('TASKS_CREATE_TASK', { title: 'from MCP code' });
               globalThis.made = made.data.id;
               const tasks = (await toolmux.execute('TASKS_LIST_TASKS', {})).data.tasks;
               return tasks.filter((task) => task.title === 'from MCP code').length;`,
      },
    })) as CallToolResult;
    expect(first.isError).toBeFalsy();
    expect(JSON.parse(text(first))).toEqual({ result: 1, logs: [] });
    const second = (await client.callTool({
      name: 'TOOLMUX_WORKBENCH',
      arguments: { code: 'return globalThis.made' },
    })) as CallToolResult;
    expect(JSON.parse(text(second)).result).toMatch(/^task_/);
  });

  it('answers a TOOLMUX_WORKBENCH call whose cell failed (threw, reached a limit) with isError, its result, logs and error still the text', async () => {
    const client = await connect(meta.sessionId, meta.mcp.headers);
    const cell = async (code: string) =>
      (await client.callTool({ name: 'TOOLMUX_WORKBENCH', arguments: { code } })) as CallToolResult;
    // it answered isError: false, and a client that looks at isError read the failure as a success
    const thrown = await cell("console.log('before'); throw new TypeError('bad input')");
    expect(thrown.isError).toBe(true);
    expect(JSON.parse(text(thrown))).toMatchObject({
      result: null,
      logs: ['before'],
      error: { code: 'WORKBENCH_CODE_ERROR', message: expect.stringContaining('TypeError: bad input') },
    });
    const uncaughtCall = await cell("await toolmux.files.read('nowhere')");
    expect(uncaughtCall.isError).toBe(true);
    expect(JSON.parse(text(uncaughtCall)).error.message).toContain('WORKBENCH_FILE_NOT_FOUND');
    const tooLong = await cell("console.log('made it'); return 'x'.repeat(200_000)");
    expect(tooLong.isError).toBe(true);
    expect(JSON.parse(text(tooLong))).toMatchObject({
      logs: ['made it'],
      error: { code: 'WORKBENCH_OUTPUT_LIMIT' },
    });
    // a cell that caught the failure itself succeeded
    const caught = await cell(
      "try { await toolmux.files.read('nowhere') } catch (error) { return error.code }",
    );
    expect(caught.isError).toBeFalsy();
    expect(JSON.parse(text(caught))).toEqual({ result: 'WORKBENCH_FILE_NOT_FOUND', logs: [] });
  });

  it('turns a failing tool into isError with the readable message', async () => {
    const client = await connect(direct.sessionId, direct.mcp.headers);
    const failed = (await client.callTool({
      name: 'TASKS_SYNC_CALENDAR',
      arguments: { calendarId: 'work' },
    })) as CallToolResult;
    expect(failed.isError).toBe(true);
    expect(text(failed)).toContain('calendar work is unreachable');
    const invalid = (await client.callTool({ name: 'TASKS_CREATE_TASK', arguments: {} })) as CallToolResult;
    expect(invalid.isError).toBe(true);
    expect(text(invalid)).toContain('TOOL_ARGUMENTS_INVALID');
    const unknown = (await client.callTool({ name: 'NOTES_CREATE_NOTE', arguments: {} })) as CallToolResult;
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toContain('TOOL_NOT_IN_SESSION');
  });

  it("words a failed call as the REST API answers it, not in the SDK's words (an MCP client is no SDK caller)", async () => {
    const session = await mux.create('user_mcp_words', {
      toolkits: ['mail', 'tasks'],
      sessionPreset: 'DIRECT_TOOLS',
    });
    const client = await connect(session.sessionId, session.mcp.headers);
    const mail = { to: 'a@example.com', subject: 'Hi', body: 'Hello' };
    for (const [name, args] of [
      ['MAIL_SEND_EMAIL', mail], // no account connected: what the application does about it
      ['TASKS_CREATE_TASK', {}],
      ['NOTES_CREATE_NOTE', {}],
    ] as const) {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      const rest = (await (
        await server.fetch(
          new Request(`http://localhost/api/v1/sessions/${session.sessionId}/execute`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ tool_slug: name, arguments: args }),
          }),
        )
      ).json()) as { code: string; error: string };
      expect(result.isError).toBe(true);
      expect(text(result)).toBe(`Error (${rest.code}): ${rest.error}`);
    }
    const unconnected = (await client.callTool({
      name: 'MAIL_SEND_EMAIL',
      arguments: mail,
    })) as CallToolResult;
    expect(text(unconnected)).toContain(
      'POST /api/v1/sessions/:sessionId/authorize with { "toolkit": "mail" }',
    );
    expect(text(unconnected)).not.toContain('session.authorize(');
    expect(text(unconnected)).not.toContain('redirectUrl');
  });

  it('aborts the running tool when the client goes away (the request signal reaches session.execute)', async () => {
    const controller = new AbortController();
    const request = fetch(endpoint(direct.sessionId), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...direct.mcp.headers },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 't1' } },
      }),
      signal: controller.signal,
    });
    await expect
      .poll(() => sample.calls.some((entry) => entry.slug === 'TASKS_WAIT_FOR_APPROVAL'), untilTestTimeout())
      .toBe(true);
    controller.abort();
    await expect(request).rejects.toThrow();
    await expect
      .poll(
        async () =>
          (await direct.logs({ limit: 5 })).items.find((log) => log.toolSlug === 'TASKS_WAIT_FOR_APPROVAL'),
        untilTestTimeout(),
      )
      .toMatchObject({ status: 'error', errorCode: 'TOOL_ABORTED' });
  });

  /** How many TASKS_WAIT_FOR_APPROVAL calls of the session ended aborted. */
  async function abortedWaits(session: Session<PlainTool[]>): Promise<number> {
    const { items } = await session.logs({ limit: 50 });
    return items.filter(
      (log) => log.toolSlug === 'TASKS_WAIT_FOR_APPROVAL' && log.errorCode === 'TOOL_ABORTED',
    ).length;
  }

  it('aborts the running tool on notifications/cancelled (what the SDK sends on abort and on its timeout)', async () => {
    const session = await mux.create('user_mcp_cancel', {
      toolkits: ['tasks'],
      sessionPreset: 'DIRECT_TOOLS',
    });
    const client = await connect(session.sessionId, session.mcp.headers);
    const errors: Error[] = [];
    client.onerror = (error) => errors.push(error);
    const controller = new AbortController();
    const call = client.callTool(
      { name: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 't-signal' } },
      undefined,
      { signal: controller.signal },
    );
    await expect
      .poll(
        () => sample.calls.some((entry) => (entry.input as { taskId?: string }).taskId === 't-signal'),
        untilTestTimeout(),
      )
      .toBe(true);
    controller.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    await expect.poll(() => abortedWaits(session), untilTestTimeout()).toBe(1);

    // the SDK's request timeout sends the same notification
    const timedOut = client.callTool(
      { name: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 't-timeout' } },
      undefined,
      { timeout: 300 },
    );
    await expect(timedOut).rejects.toThrow(/timed out/i);
    await expect.poll(() => abortedWaits(session), untilTestTimeout()).toBe(2);
    // the cancelled call's HTTP answer is 202 without a response, which the client takes quietly
    await client.ping();
    expect(errors).toEqual([]);
  });

  it("a cancellation aborts only its own client's call, though two clients of a session use the same request ids", async () => {
    const session = await mux.create('user_mcp_cancel2', {
      toolkits: ['tasks'],
      sessionPreset: 'DIRECT_TOOLS',
    });
    const first = await connect(session.sessionId, session.mcp.headers);
    const second = await connect(session.sessionId, session.mcp.headers);
    const stopFirst = new AbortController();
    const stopSecond = new AbortController();
    // fresh clients number their requests alike: both calls have the same JSON-RPC id
    const firstCall = first.callTool(
      { name: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 'a' } },
      undefined,
      {
        signal: stopFirst.signal,
      },
    );
    const secondCall = second.callTool(
      { name: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 'b' } },
      undefined,
      {
        signal: stopSecond.signal,
      },
    );
    firstCall.catch(() => {});
    secondCall.catch(() => {});
    await expect
      .poll(
        () => sample.calls.filter((entry) => entry.context.sessionId === session.sessionId).length,
        untilTestTimeout(),
      )
      .toBe(2);
    stopFirst.abort();
    await expect.poll(() => abortedWaits(session), untilTestTimeout()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await abortedWaits(session)).toBe(1);
    stopSecond.abort();
    await expect.poll(() => abortedWaits(session), untilTestTimeout()).toBe(2);
  });
});

describe('MCP calls running when their session is deleted', () => {
  it('go on as an embedded session.execute() does (to their end or their timeout); a workbench cell ends, as embedded', async () => {
    const session = await mux.create('user_mcp_deleted', { toolkits: ['tasks'], workbench: {} });
    const client = await connect(session.sessionId, session.mcp.headers);
    const embedded = await mux.use(session.sessionId);
    const started = (taskId: string) =>
      sample.calls.find((entry) => (entry.input as { taskId?: string }).taskId === taskId);
    const stopMcp = new AbortController();
    const mcpCall = client.callTool(
      { name: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 'deleted-mcp' } },
      undefined,
      { signal: stopMcp.signal },
    );
    let mcpEnded = false;
    mcpCall.then(
      () => (mcpEnded = true),
      () => (mcpEnded = true),
    );
    const stopEmbedded = new AbortController();
    const embeddedCall = embedded.execute(
      'TASKS_WAIT_FOR_APPROVAL',
      { taskId: 'deleted-embedded' },
      { signal: stopEmbedded.signal },
    );
    let embeddedEnded = false;
    embeddedCall.then(() => (embeddedEnded = true));
    const cell = client.callTool({
      name: 'TOOLMUX_WORKBENCH',
      arguments: {
        code: "return await toolmux.execute('TASKS_WAIT_FOR_APPROVAL', { taskId: 'deleted-cell' });",
      },
    }) as Promise<CallToolResult>;
    await expect
      .poll(
        () => ['deleted-mcp', 'deleted-embedded', 'deleted-cell'].every((id) => started(id)),
        untilTestTimeout(),
      )
      .toBe(true);
    const deleted = await fetch(`${running.url}/api/v1/sessions/${session.sessionId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(deleted.status).toBe(200);
    // the cell ends at once, over MCP as embedded
    const cellResult = await cell;
    expect(text(cellResult)).toContain('WORKBENCH_CONTEXT_DROPPED');
    // a plain tool call is not stopped by the deletion, over MCP as embedded (nor logged as ended)
    expect({ mcpEnded, embeddedEnded }).toEqual({ mcpEnded: false, embeddedEnded: false });
    const waits = async () =>
      (
        await mux.logs.list({ sessionId: session.sessionId, toolSlug: 'TASKS_WAIT_FOR_APPROVAL' })
      ).items.filter((entry) => !entry.parentId); // the cell's own call ended with the cell
    expect(await waits()).toEqual([]);
    // a new call of the deleted session does not run (the endpoint answers 404)
    await expect(client.callTool({ name: 'TASKS_LIST_TASKS', arguments: {} })).rejects.toThrow(
      /SESSION_NOT_FOUND/,
    );
    // the embedded caller still stops its call with its signal; an MCP client's notifications/cancelled
    // is refused with the deleted session (404), so its call goes on until the client closes the
    // connection (or the tool's timeout)
    stopEmbedded.abort();
    expect(await embeddedCall).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
    const refusedCancel: Error[] = [];
    client.onerror = (error) => refusedCancel.push(error);
    stopMcp.abort();
    await expect(mcpCall).rejects.toThrow();
    await expect
      .poll(
        () => refusedCancel.some((error) => error.message.includes('SESSION_NOT_FOUND')),
        untilTestTimeout(),
      )
      .toBe(true);
    expect(await waits()).toHaveLength(1);
    await client.close();
    await expect.poll(async () => (await waits()).length, untilTestTimeout()).toBe(2);
    expect((await waits()).every((entry) => entry.errorCode === 'TOOL_ABORTED')).toBe(true);
  });
});

describe('MCP cancellation that arrives before its call', () => {
  async function post(session: Session<PlainTool[]>, message: unknown, connection?: string) {
    const response = await fetch(endpoint(session.sessionId), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...session.mcp.headers,
        ...(connection ? { 'mcp-session-id': connection } : {}),
      },
      body: JSON.stringify(message),
    });
    return { status: response.status, text: await response.text() };
  }
  const cancel = (id: number) => ({
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { requestId: id },
  });
  const list = (id: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'TASKS_LIST_TASKS', arguments: {} },
  });

  /** A new MCP connection of `session`: the Mcp-Session-Id its initialize gave out. */
  async function initialize(
    session: Session<PlainTool[]>,
    protocolVersion = LATEST_PROTOCOL_VERSION,
  ): Promise<string> {
    const response = await fetch(endpoint(session.sessionId), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...session.mcp.headers },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion,
          capabilities: {},
          clientInfo: { name: 'raw', version: '0' },
        },
      }),
    });
    return response.headers.get('mcp-session-id')!;
  }

  it('a call whose cancellation came first (the two requests raced) is not run, on a connection with an Mcp-Session-Id', async () => {
    const session = await mux.create('user_mcp_race', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const connection = await initialize(session);
    const calls = () => sample.calls.filter((entry) => entry.context.sessionId === session.sessionId).length;
    expect(await post(session, cancel(7), connection)).toEqual({ status: 202, text: '' });
    expect(await post(session, list(7), connection)).toEqual({ status: 202, text: '' });
    expect(calls()).toBe(0);
    // logged as a call aborted before it started, as session.execute() logs one
    const logged = (await session.logs()).items;
    expect(logged).toEqual([
      expect.objectContaining({ toolSlug: 'TASKS_LIST_TASKS', status: 'error', errorCode: 'TOOL_ABORTED' }),
    ]);
    expect(logged[0]!.errorMessage).toContain('before it started');
    // only that id of that connection: another id, and the same id on another connection, run
    expect((await post(session, list(8), connection)).status).toBe(200);
    expect((await post(session, list(7), 'another-connection')).status).toBe(200);
    expect(calls()).toBe(2);
  });

  it('the calls of a batch that its client left before they started are not run, and logged as session.execute() logs them', async () => {
    const session = await mux.create('user_mcp_left', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const calls = () => sample.calls.filter((entry) => entry.context.sessionId === session.sessionId);
    const wait = {
      jsonrpc: '2.0',
      id: 0,
      method: 'tools/call',
      params: { name: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 'left' } },
    };
    const controller = new AbortController();
    const request = fetch(endpoint(session.sessionId), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...session.mcp.headers },
      body: JSON.stringify([wait, ...Array.from({ length: 20 }, (_, index) => list(index + 1))]),
      signal: controller.signal,
    });
    request.catch(() => undefined);
    await expect.poll(() => calls().length, untilTestTimeout()).toBe(1);
    controller.abort();
    const entries = async () => (await session.logs({ limit: 50 })).items;
    await expect.poll(async () => (await entries()).length, untilTestTimeout()).toBe(21);
    // the running call was aborted; the others never ran, and each has its entry, as an embedded
    // session.execute() with a signal that aborted already
    expect(calls().map((entry) => entry.slug)).toEqual(['TASKS_WAIT_FOR_APPROVAL']);
    const items = await entries();
    expect(items.every((item) => item.status === 'error' && item.errorCode === 'TOOL_ABORTED')).toBe(true);
    expect(items.filter((item) => item.errorMessage?.includes('before it started'))).toHaveLength(20);
    const embedded = await session.execute('TASKS_LIST_TASKS', {}, { signal: AbortSignal.abort() });
    expect(embedded).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
    expect((await entries())[0]).toMatchObject({
      toolSlug: 'TASKS_LIST_TASKS',
      errorCode: 'TOOL_ABORTED',
      errorMessage: items.find((item) => item.toolSlug === 'TASKS_LIST_TASKS')!.errorMessage,
    });
  });

  /** Cancellations of `count` calls from id `from` on that were never sent, in batches of 100. */
  async function flood(session: Session<PlainTool[]>, connection: string, from: number, count: number) {
    for (let start = from; start < from + count; start += 100) {
      const batch = Array.from({ length: Math.min(100, from + count - start) }, (_, index) =>
        cancel(start + index),
      );
      expect(await post(session, batch, connection)).toEqual({ status: 202, text: '' });
    }
  }

  /** The last protocol version with JSON-RPC batches, which the floods are sent in. */
  const BATCHES = '2025-03-26';

  it("a client's flood of early cancellations pushes out only its own, not another session's or connection's", async () => {
    const victim = await mux.create('user_mcp_race3', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const flooder = await mux.create('user_mcp_flood', {
      toolkits: ['tasks'],
      sessionPreset: 'DIRECT_TOOLS',
    });
    const calls = (session: Session<PlainTool[]>) =>
      sample.calls.filter((entry) => entry.context.sessionId === session.sessionId).length;
    const mine = await initialize(victim);
    expect(await post(victim, cancel(7), mine)).toEqual({ status: 202, text: '' });
    // more cancellations than the endpoint keeps in all, from a client of another session, then from
    // another client of the same session
    const floodConnection = await initialize(flooder, BATCHES);
    await flood(flooder, floodConnection, 1000, 10_100);
    const neighbour = await initialize(victim, BATCHES);
    await flood(victim, neighbour, 1000, 10_100);
    expect(await post(victim, list(7), mine)).toEqual({ status: 202, text: '' });
    expect(calls(victim)).toBe(0);
    // the flooders' oldest cancellations were forgotten (those calls run), their newest stand
    expect((await post(flooder, list(1000), floodConnection)).status).toBe(200);
    expect(await post(flooder, list(1000 + 10_099), floodConnection)).toEqual({ status: 202, text: '' });
    expect((await post(victim, list(1000), neighbour)).status).toBe(200);
    expect(await post(victim, list(1000 + 10_099), neighbour)).toEqual({ status: 202, text: '' });
    expect(calls(flooder)).toBe(1);
    expect(calls(victim)).toBe(1);
  });

  it('without an Mcp-Session-Id (a client that may reuse ids) an early cancellation is forgotten', async () => {
    const session = await mux.create('user_mcp_race2', {
      toolkits: ['tasks'],
      sessionPreset: 'DIRECT_TOOLS',
    });
    expect((await post(session, cancel(1))).status).toBe(202);
    const answer = await post(session, list(1));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text).result.isError).toBeFalsy();
  });
});

describe('MCP authentication', () => {
  async function post(sessionId: string, headers: Record<string, string>) {
    const response = await fetch(endpoint(sessionId), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  it('refuses a missing token with 401 and WWW-Authenticate', async () => {
    const result = await post(meta.sessionId, {});
    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    expect(result.body.error.data).toEqual({ code: 'UNAUTHORIZED' });
    await expect(connect(meta.sessionId, {})).rejects.toMatchObject({ code: 401 });
  });

  it('takes the token after the scheme in any case and one or more spaces (RFC 9110, 11.4), as /api/v1 does', async () => {
    const token = meta.mcp.headers.Authorization.slice('Bearer '.length);
    for (const authorization of [`bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`]) {
      expect((await post(meta.sessionId, { authorization })).status, authorization).toBe(200);
    }
    await expect(connect(meta.sessionId, { Authorization: `Bearer  ${token}` })).resolves.toBeDefined();
    // no Bearer credentials at all: says how to send them (not that the token is wrong)
    for (const authorization of [`Bearer\t${token}`, `Basic ${token}`, 'Bearer ', token]) {
      const refused = await post(meta.sessionId, { authorization });
      expect(refused.status, authorization).toBe(401);
      expect(refused.headers.get('www-authenticate'), authorization).toBe('Bearer realm="toolmux-mcp"');
      expect(refused.body.error.message).toContain('Authorization: Bearer <token>');
    }
    // a token with more after it is a wrong token
    const extra = await post(meta.sessionId, { authorization: `Bearer ${token} x` });
    expect(extra.status).toBe(401);
    expect(extra.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses a wrong token', async () => {
    const result = await post(meta.sessionId, { authorization: `${meta.mcp.headers.Authorization}x` });
    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await expect(connect(meta.sessionId, { Authorization: 'Bearer tmx_st_forged' })).rejects.toMatchObject({
      code: 401,
    });
  });

  it("refuses another session's token", async () => {
    const result = await post(meta.sessionId, direct.mcp.headers);
    expect(result.status).toBe(401);
    await expect(connect(meta.sessionId, direct.mcp.headers)).rejects.toMatchObject({ code: 401 });
  });

  it('refuses the project API key', async () => {
    expect((await post(meta.sessionId, { authorization: `Bearer ${TEST_API_KEY}` })).status).toBe(401);
  });

  it('answers 404 for an unknown session to its own token and the API key, 401 to any other token', async () => {
    const gone = await mux.create('user_mcp', { toolkits: ['tasks'] });
    await gone.delete();
    const result = await post(gone.sessionId, gone.mcp.headers);
    expect(result.status).toBe(404);
    expect(result.body.error.data).toEqual({ code: 'SESSION_NOT_FOUND' });
    await expect(connect(gone.sessionId, gone.mcp.headers)).rejects.toMatchObject({ code: 404 });
    expect((await post('ses_doesnotexist', { 'x-api-key': TEST_API_KEY })).status).toBe(404);
    // another session's token says nothing about whether this one exists
    expect((await post('ses_doesnotexist', meta.mcp.headers)).status).toBe(401);
    await expect(connect('ses_doesnotexist', meta.mcp.headers)).rejects.toMatchObject({ code: 401 });
  });
});

describe('MCP token rotation', () => {
  async function status(sessionId: string, headers: Record<string, string>, target = server) {
    const response = await target.fetch(
      new Request(`http://localhost/mcp/${sessionId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      }),
    );
    return response.status;
  }

  it('POST /api/v1/sessions/:id/mcp-token/rotate: the old token is refused at once, the new one works', async () => {
    const session = await mux.create('user_rotate', { toolkits: ['tasks'] });
    expect(await status(session.sessionId, session.mcp.headers)).toBe(200); // cached now
    const response = await server.fetch(
      new Request(`http://localhost/api/v1/sessions/${session.sessionId}/mcp-token/rotate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      }),
    );
    expect(response.status).toBe(200);
    const rotated = (await response.json()) as { url: string; headers: { Authorization: string } };
    expect(rotated.url).toBe(session.mcp.url);
    expect(rotated.headers.Authorization).toMatch(/^Bearer tmx_st_/);
    expect(rotated.headers.Authorization).not.toBe(session.mcp.headers.Authorization);
    expect(await status(session.sessionId, session.mcp.headers)).toBe(401);
    expect(await status(session.sessionId, rotated.headers)).toBe(200);
    const client = await connect(session.sessionId, rotated.headers);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await expect(connect(session.sessionId, session.mcp.headers)).rejects.toMatchObject({ code: 401 });
  });

  it('a rotation elsewhere (another instance on the store): the new token works at once, then the old one is refused', async () => {
    const session = await mux.create('user_rotate', { toolkits: ['tasks'] });
    expect(await status(session.sessionId, session.mcp.headers)).toBe(200); // cached now, for 2 s
    // The engine itself rotates: this server's cache is not told, as with another instance.
    const rotated = await (await mux.use(session.sessionId)).rotateMcpToken();
    // A token the cached entry does not know makes the endpoint read the session again ...
    expect(await status(session.sessionId, rotated.headers)).toBe(200);
    // ... which replaces the entry: the old token is refused from then on.
    expect(await status(session.sessionId, session.mcp.headers)).toBe(401);
    expect(await status(session.sessionId, { Authorization: 'Bearer tmx_st_not-a-token' })).toBe(401);
    expect(await status(session.sessionId, rotated.headers)).toBe(200);
  });

  it('after the secret key is rotated, the token use() hands out opens the endpoint; a token of the old key works until that key is dropped', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'toolmux-key-rotation-'));
    const store = `sqlite:${join(directory, 'toolmux.db')}`;
    const [oldKey, newKey] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
    const before = new ToolMux({
      toolkits: sample.toolkits,
      store,
      secretKey: oldKey,
      logger: recordingLogger(),
    });
    const created = await before.create('user_key_rotation', { toolkits: ['tasks'] });
    await before.close();
    const after = new ToolMux({
      toolkits: sample.toolkits,
      store,
      secretKey: newKey,
      previousSecretKeys: [oldKey],
      logger: recordingLogger(),
    });
    const rotatedServer = createServer({ toolmux: after, apiKey: TEST_API_KEY, logger: recordingLogger() });
    const dropped = new ToolMux({
      toolkits: sample.toolkits,
      store,
      secretKey: newKey,
      logger: recordingLogger(),
    });
    const droppedServer = createServer({ toolmux: dropped, apiKey: TEST_API_KEY, logger: recordingLogger() });
    try {
      await after.vault.rotate();
      const resumed = await after.use(created.sessionId);
      expect(resumed.mcp.headers.Authorization).not.toBe(created.mcp.headers.Authorization);
      expect(await status(created.sessionId, resumed.mcp.headers, rotatedServer)).toBe(200);
      // A client configured before the change still holds the old key's token: the old key is still
      // configured (previousSecretKeys), so the token is still the session's.
      expect(await status(created.sessionId, created.mcp.headers, rotatedServer)).toBe(200);
      // Once the old key is dropped (step 3 of the rotation), its tokens are refused everywhere.
      expect(await status(created.sessionId, resumed.mcp.headers, droppedServer)).toBe(200);
      expect(await status(created.sessionId, created.mcp.headers, droppedServer)).toBe(401);
    } finally {
      await after.close();
      await dropped.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('a rolling secret-key change over two instances sharing a store: every MCP token handed out on either keeps working on both, in both phases of the change', async () => {
    // docs/security.md: on several instances the new key is first added beside the old one
    // (previousSecretKeys) everywhere, then made the current key everywhere. During each phase some
    // instances have the new configuration and some the old, and a client's MCP URL, issued by one,
    // reaches any of them through the load balancer.
    const directory = await mkdtemp(join(tmpdir(), 'toolmux-rolling-key-'));
    const store = `sqlite:${join(directory, 'toolmux.db')}`;
    const [oldKey, newKey] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
    const instance = (secretKey: string, previousSecretKeys: string[]) => {
      const toolmux = new ToolMux({
        toolkits: sample.toolkits,
        store,
        secretKey,
        previousSecretKeys,
        logger: recordingLogger(),
      });
      return { toolmux, server: createServer({ toolmux, apiKey: TEST_API_KEY, logger: recordingLogger() }) };
    };
    const untouched = instance(oldKey, []);
    const phaseOne = instance(oldKey, [newKey]); // the new key added, not yet used
    const phaseTwo = instance(newKey, [oldKey]); // the new key current, the old one kept
    const done = instance(newKey, []); // after vault.rotate(), the old key dropped
    try {
      const created = await untouched.toolmux.create('user_rolling_key', { toolkits: ['tasks'] });
      const oldToken = created.mcp.headers;
      const newToken = (await phaseTwo.toolmux.use(created.sessionId)).mcp.headers;
      expect(newToken.Authorization).not.toBe(oldToken.Authorization);
      // phase one: untouched and phaseOne instances side by side, both sign with the old key
      expect(await status(created.sessionId, oldToken, untouched.server)).toBe(200);
      expect(await status(created.sessionId, oldToken, phaseOne.server)).toBe(200);
      // phase two: phaseOne and phaseTwo instances side by side; each accepts the other's tokens
      expect(await status(created.sessionId, oldToken, phaseTwo.server)).toBe(200);
      expect(await status(created.sessionId, newToken, phaseTwo.server)).toBe(200);
      expect(await status(created.sessionId, newToken, phaseOne.server)).toBe(200);
      // a token rotation on either instance still retires the token before it on both
      const rotated = await (await phaseOne.toolmux.use(created.sessionId)).rotateMcpToken();
      for (const target of [phaseOne.server, phaseTwo.server]) {
        expect(await status(created.sessionId, rotated.headers, target)).toBe(200);
        expect(await status(created.sessionId, oldToken, target)).toBe(401);
        expect(await status(created.sessionId, newToken, target)).toBe(401);
      }
      // the old key dropped: only the new key's token opens the endpoint
      const current = (await done.toolmux.use(created.sessionId)).mcp.headers;
      expect(await status(created.sessionId, current, done.server)).toBe(200);
      expect(await status(created.sessionId, rotated.headers, done.server)).toBe(401);
      expect(await status(created.sessionId, current, phaseTwo.server)).toBe(200);
    } finally {
      for (const { toolmux } of [untouched, phaseOne, phaseTwo, done]) await toolmux.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('the rotate route needs the API key and an existing session', async () => {
    const rotate = (sessionId: string, headers: Record<string, string>) =>
      server.fetch(
        new Request(`http://localhost/api/v1/sessions/${sessionId}/mcp-token/rotate`, {
          method: 'POST',
          headers,
        }),
      );
    expect((await rotate(meta.sessionId, meta.mcp.headers)).status).toBe(401);
    const missing = await rotate('ses_doesnotexist', { authorization: `Bearer ${TEST_API_KEY}` });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('SESSION_NOT_FOUND');
    expect(await status(meta.sessionId, meta.mcp.headers)).toBe(200);
  });
});

describe('MCP protocol edges', () => {
  async function rpc(body: string, headers: Record<string, string> = {}) {
    const response = await fetch(endpoint(meta.sessionId), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...meta.mcp.headers,
        ...headers,
      },
      body,
    });
    const raw = await response.text();
    return { status: response.status, headers: response.headers, body: raw ? JSON.parse(raw) : undefined };
  }

  it('GET, DELETE and every other method are 405, whose Allow lists what the endpoint takes (as OPTIONS does)', async () => {
    // GET: no SSE stream; DELETE: no session to end; the others: nothing
    for (const method of ['GET', 'DELETE', 'HEAD', 'PUT', 'PATCH']) {
      const response = await fetch(endpoint(meta.sessionId), { method, headers: meta.mcp.headers });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow'), method).toBe('OPTIONS, POST');
      if (method === 'HEAD') continue;
      expect(await response.json(), method).toMatchObject({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32000, data: { code: 'METHOD_NOT_ALLOWED' } },
      });
    }
    const options = await fetch(endpoint(meta.sessionId), { method: 'OPTIONS' });
    expect(options.headers.get('allow')).toBe('OPTIONS, POST');
  });

  it("the SDK client keeps initialize's Mcp-Session-Id, and terminateSession() takes the DELETE's 405", async () => {
    const transport = new StreamableHTTPClientTransport(endpoint(meta.sessionId), {
      requestInit: { headers: meta.mcp.headers },
    });
    const client = new Client({ name: 'toolmux-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(client.listTools()).resolves.toMatchObject({ tools: expect.any(Array) });
    await expect(transport.terminateSession()).resolves.toBeUndefined();
  });

  it('answers initialize with the protocol version the client asked for, if supported', async () => {
    const init = (protocolVersion: string) =>
      rpc(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 'init',
          method: 'initialize',
          params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
        }),
      );
    expect((await init('2025-03-26')).body.result.protocolVersion).toBe('2025-03-26');
    expect((await init('1999-01-01')).body.result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    // an MCP connection id (it scopes the request ids of notifications/cancelled), never required
    const first = (await init('2025-03-26')).headers.get('mcp-session-id');
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect((await init('2025-03-26')).headers.get('mcp-session-id')).not.toBe(first);
    expect((await rpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }))).body).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: {},
    });
  });

  it('accepts notifications with 202 and no body', async () => {
    const result = await rpc(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    expect(result.status).toBe(202);
    expect(result.body).toBeUndefined();
  });

  it('answers a batch with a batch', async () => {
    const result = await rpc(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'resources/list' },
      ]),
    );
    expect(result.status).toBe(200);
    expect(result.body).toEqual([
      { jsonrpc: '2.0', id: 1, result: {} },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'Method not found: "resources/list".' } },
    ]);
  });

  it('rejects broken JSON, invalid messages, bad params and unknown protocol versions', async () => {
    const parse = await rpc('{"jsonrpc":');
    expect(parse.status).toBe(400);
    expect(parse.body.error.code).toBe(-32700);
    const invalid = await rpc(JSON.stringify({ id: 3, method: 'ping' }));
    expect(invalid.body).toMatchObject({ id: 3, error: { code: -32600 } });
    const params = await rpc(
      JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 5 } }),
    );
    expect(params.body).toMatchObject({ id: 4, error: { code: -32602 } });
    const version = await rpc(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }), {
      'mcp-protocol-version': '1999-01-01',
    });
    expect(version.status).toBe(400);
    const media = await rpc(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'ping' }), {
      'content-type': 'text/plain',
    });
    expect(media.status).toBe(415);
  });

  it('answers a message refused for its id with id null, and echoes only ids a client can match', async () => {
    const refused = (id: string) => `{"jsonrpc":"2.0","id":${id},"method":"ping"}`;
    // not a RequestId of MCP (a string or a safe integer): no client can have sent it, or match it
    for (const id of ['1.5', '12345678901234567890', '9007199254740992', '1e400', 'true', '{}', '[1]']) {
      const single = await rpc(refused(id));
      expect(single.body, id).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32600, message: 'Invalid JSON-RPC message.' },
      });
      const batch = await rpc(`[${refused(id)},{"jsonrpc":"2.0","id":2,"method":"ping"}]`);
      expect(batch.body, id).toEqual([
        { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid JSON-RPC message.' } },
        { jsonrpc: '2.0', id: 2, result: {} },
      ]);
    }
    // a message refused for something else keeps its id, which the SDK's schema takes
    for (const id of [3, -3, 9007199254740991, 'a', '']) {
      const answer = await rpc(JSON.stringify({ jsonrpc: '1.0', id, method: 'ping' }));
      expect(answer.body, String(id)).toEqual({
        jsonrpc: '2.0',
        id,
        error: { code: -32600, message: 'Invalid JSON-RPC message.' },
      });
      expect(JSONRPCMessageSchema.safeParse(answer.body).success).toBe(true);
    }
  });

  it('answers 406 to an Accept that does not take application/json, parsed as HTTP has it', async () => {
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    for (const accept of [
      'application/json;q=0',
      'application/jsonlines',
      'application/json-seq, text/event-stream',
      '*/*;q=0',
      'application/json;q=0, */*',
      'text/event-stream',
    ]) {
      const refused = await rpc(ping, { accept });
      expect(refused.status, accept).toBe(406);
      expect(refused.body.error.message, accept).toContain(`Accept ${JSON.stringify(accept)}`);
      expect(refused.body.error.message, accept).toContain('application/json, text/event-stream');
    }
    for (const accept of [
      'application/json, text/event-stream',
      'Application/JSON;q=0.5',
      'application/*',
      '*/*',
    ]) {
      expect((await rpc(ping, { accept })).body, accept).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    }
    // without an Accept header (fetch sends */*; a raw client may send none): no preference
    const none = await new Promise<number>((resolve, reject) => {
      const url = endpoint(meta.sessionId);
      const request = httpRequest(
        url,
        { method: 'POST', headers: { 'content-type': 'application/json', ...meta.mcp.headers } },
        (response) => {
          response.resume();
          resolve(response.statusCode!);
        },
      );
      request.on('error', reject);
      request.end(ping);
    });
    expect(none).toBe(200);
  });

  it('tools/call: arguments null is no arguments; arguments of another type get an error that names them', async () => {
    const call = async (params: unknown) =>
      (await rpc(JSON.stringify({ jsonrpc: '2.0', id: 'c', method: 'tools/call', params }))).body;
    const empty = await call({ name: 'TASKS_LIST_TASKS', arguments: null });
    expect(empty.result.isError).toBeFalsy();
    expect(JSON.parse(empty.result.content[0].text)).toEqual({ tasks: expect.any(Array) });
    for (const [args, shown] of [
      [[1], 'an array'],
      ['{"a":1}', 'a string'],
      [5, 'a number'],
    ] as const) {
      const refused = await call({ name: 'TASKS_LIST_TASKS', arguments: args });
      expect(refused.error.code).toBe(-32602);
      expect(refused.error.message).toContain(`params.arguments is ${shown}`);
      expect(refused.error.message).toContain('an object');
    }
    const unnamed = await call({ arguments: {} });
    expect(unnamed.error).toMatchObject({ code: -32602, message: expect.stringContaining('params.name') });
    expect(unnamed.error.message).toContain('it is missing');
    const task = await call({ name: 'TASKS_LIST_TASKS', task: { ttl: 'soon' } });
    expect(task.error).toMatchObject({ code: -32602, message: expect.stringContaining('params.task.ttl') });
    // in a refused argument's words and paths, not zod's ("Invalid input: expected number")
    expect(task.error.message).toBe(
      'tools/call params.task.ttl: is a string: send a number (see the tools/call request of the MCP specification).',
    );
    const listed = await call({ name: 'TASKS_LIST_TASKS', task: [1] });
    expect(listed.error).toEqual({
      code: -32602,
      message:
        'tools/call params.task: is an array: send an object (see the tools/call request of the MCP specification).',
    });
  });

  it('repeats a value of the request in an error quoted and cut to 200 characters, whichever it is', async () => {
    const long = (start: string) => `${start}${'x'.repeat(10_000)}`;
    /** The error names the value by its first 200 characters, `…` after them, and no more of it. */
    const expectCut = (message: string, value: string) => {
      expect(message).toContain(JSON.stringify(`${value.slice(0, 200)}…`));
      expect(message).not.toContain(value.slice(0, 201));
    };
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const version = long('2025-');
    const refusedVersion = await rpc(ping, { 'mcp-protocol-version': version });
    expect(refusedVersion.status).toBe(400);
    expectCut(refusedVersion.body.error.message, version);
    const method = long('tools/');
    const unknownMethod = await rpc(JSON.stringify({ jsonrpc: '2.0', id: 2, method }));
    expect(unknownMethod.body.error.code).toBe(-32601);
    expectCut(unknownMethod.body.error.message, method);
    const origin = long('http://evil.example/');
    const refusedOrigin = await rawPost(endpoint(meta.sessionId).href, ping, { ...meta.mcp.headers, origin });
    expect(refusedOrigin.status).toBe(403);
    expectCut(refusedOrigin.body.error.message, origin);
    // the longest session id there may be (256 characters) that names no session
    const sessionId = `ses_${'x'.repeat(252)}`;
    const unknownSession = await rawPost(endpoint(sessionId).href, ping, { 'x-api-key': TEST_API_KEY });
    expect(unknownSession.status).toBe(404);
    expectCut(unknownSession.body.error.message, sessionId);
  });

  it('refuses a body over the limit with 413', async () => {
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'TASKS_LIST_TASKS', arguments: { blob: 'x'.repeat(1100 * 1024) } },
    });
    expect((await rpc(big)).status).toBe(413);
  });
});

describe('session cache', () => {
  it("sees another instance's update after the TTL, and an update made in this process at once, tools/list as tools/call", async () => {
    // the cache's clock is Date: frozen here and moved past the TTL by hand, so that a slow machine
    // cannot let the TTL pass between two reads (timers and I/O stay real)
    vi.useFakeTimers({ toFake: ['Date'] });
    const directory = await mkdtemp(join(tmpdir(), 'toolmux-session-cache-'));
    const store = `sqlite:${join(directory, 'toolmux.db')}`;
    const served = new ToolMux({ toolkits: sample.toolkits, store, logger: recordingLogger() });
    const cached = createServer({
      toolmux: served,
      apiKey: TEST_API_KEY,
      logger: recordingLogger(),
      sessionCacheTtlMs: 60_000,
    });
    // another instance on the same database (its key file is the one beside it)
    const elsewhere = new ToolMux({ toolkits: sample.toolkits, store, logger: recordingLogger() });
    const live = await cached.serve({ port: 0 });
    try {
      const session = await served.create('user_cache', {
        toolkits: ['tasks'],
        sessionPreset: 'DIRECT_TOOLS',
      });
      const client = new Client({ name: 'cache-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${live.url}/mcp/${session.sessionId}`), {
          requestInit: { headers: session.mcp.headers },
        }),
      );
      const names = async () => (await client.listTools()).tools.map((tool) => tool.name);
      const calls = async (name: string) =>
        ((await client.callTool({ name, arguments: {} })) as CallToolResult).isError === true;
      expect(await names()).toContain('TASKS_CREATE_TASK');

      // Another instance changes the config: visible after the TTL.
      await (await elsewhere.use(session.sessionId)).update({ toolkits: ['notes'] });
      expect(await names()).toContain('TASKS_CREATE_TASK');
      vi.setSystemTime(Date.now() + 59_000);
      expect(await names()).toContain('TASKS_CREATE_TASK');
      vi.setSystemTime(Date.now() + 2_000);
      expect(await names()).toEqual(['NOTES_SEARCH_NOTES', 'NOTES_CREATE_NOTE']);

      // This instance's own REST update invalidates the entry at once.
      const patched = await cached.fetch(
        new Request(`http://localhost/api/v1/sessions/${session.sessionId}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ config: { toolkits: ['tasks'], tools: { tasks: ['TASKS_LIST_TASKS'] } } }),
        }),
      );
      expect(patched.status).toBe(200);
      expect(await names()).toEqual(['TASKS_LIST_TASKS']);

      // So does the application's own session.update() of the ToolMux served, from any of its session
      // objects (before: tools/list showed the old tools for the TTL while tools/call ran the new ones)
      const application = await served.use(session.sessionId);
      await application.update({ toolkits: ['notes'], tools: {} });
      expect(await names()).toEqual(['NOTES_SEARCH_NOTES', 'NOTES_CREATE_NOTE']);
      expect(await calls('TASKS_LIST_TASKS')).toBe(true);
      await application.update({
        toolkits: ['tasks'],
        tools: { tasks: ['TASKS_LIST_TASKS', 'TASKS_CREATE_TASK'] },
      });
      expect(await names()).toEqual(['TASKS_CREATE_TASK', 'TASKS_LIST_TASKS']);
      expect(await calls('TASKS_LIST_TASKS')).toBe(false);
      await client.close();
    } finally {
      vi.useRealTimers();
      await live.close();
      await Promise.all([served.close(), elsewhere.close()]);
      await rm(directory, { recursive: true, force: true });
    }
  });
});

/** A raw MCP POST (fetch), for what the SDK client never sends. */
async function rawPost(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; text: string; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? JSON.parse(text) : undefined };
}

describe('MCP batches', () => {
  const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list' });
  const call = (id: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'TASKS_LIST_TASKS', arguments: {} },
  });

  it('refuses batches under protocol versions that removed them (2025-06-18 and later)', async () => {
    for (const version of ['2025-06-18', LATEST_PROTOCOL_VERSION]) {
      const before = sample.calls.length;
      const result = await rawPost(endpoint(direct.sessionId).href, [call(1), call(2)], {
        ...direct.mcp.headers,
        'mcp-protocol-version': version,
      });
      expect(result.status).toBe(400);
      expect(result.body).toMatchObject({ id: null, error: { code: -32600 } });
      expect(result.body.error.message).toContain('one message per request');
      expect(sample.calls.length).toBe(before);
      // The same message alone is answered.
      const single = await rawPost(endpoint(direct.sessionId).href, list(3), {
        ...direct.mcp.headers,
        'mcp-protocol-version': version,
      });
      expect(single.body).toMatchObject({ id: 3, result: { tools: expect.any(Array) } });
    }
  });

  it('answers batches of 2025-03-26 (also assumed without the header), up to the batch size limit', async () => {
    for (const headers of [{ 'mcp-protocol-version': '2025-03-26' }, {}] as Record<string, string>[]) {
      const result = await rawPost(endpoint(direct.sessionId).href, [list(1), list(2)], {
        ...direct.mcp.headers,
        ...headers,
      });
      expect(result.status).toBe(200);
      expect(result.body.map((response: { id: number }) => response.id)).toEqual([1, 2]);
    }
    const before = sample.calls.length;
    const big = Array.from({ length: 101 }, (_, index) => call(index));
    const refused = await rawPost(endpoint(direct.sessionId).href, big, direct.mcp.headers);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: -32600, data: { code: 'INVALID_REQUEST' } });
    expect(refused.body.error.message).toContain('101 messages is over the limit of 100');
    expect(sample.calls.length).toBe(before);
  });

  it('answers the 20,000-message batch of the report with one small error', async () => {
    const batch = JSON.stringify(Array.from({ length: 20_000 }, (_, index) => list(index)));
    expect(batch.length).toBeLessThan(1024 * 1024);
    const result = await rawPost(endpoint(direct.sessionId).href, batch, direct.mcp.headers);
    expect(result.status).toBe(400);
    expect(result.text.length).toBeLessThan(500);
  });

  it('refuses initialize inside a batch', async () => {
    const result = await rawPost(
      endpoint(direct.sessionId).href,
      [
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-03-26',
            capabilities: {},
            clientInfo: { name: 'raw', version: '0' },
          },
        },
        list(2),
      ],
      direct.mcp.headers,
    );
    expect(result.status).toBe(400);
    expect(result.body.error.message).toContain('initialize must not be part of a JSON-RPC batch');
  });

  it('caps the size of a batch answer: later requests get an error and do not run', async () => {
    const limited = createTestServer({ mcp: { maxBatchResponseBytes: 4000 } });
    const live = await limited.server.serve({ port: 0 });
    try {
      const session = await limited.mux.create('user_batch', {
        toolkits: ['tasks'],
        sessionPreset: 'DIRECT_TOOLS',
      });
      const one = await rawPost(`${live.url}/mcp/${session.sessionId}`, list(1), session.mcp.headers);
      const size = one.text.length;
      expect(size).toBeGreaterThan(1000);
      expect(size).toBeLessThan(4000);
      const fits = Math.floor(4000 / (size + 1));
      const result = await rawPost(
        `${live.url}/mcp/${session.sessionId}`,
        [...Array.from({ length: 6 }, (_, index) => list(index)), call(100), call(101)],
        session.mcp.headers,
      );
      expect(result.status).toBe(200);
      expect(result.body).toHaveLength(8);
      const answered = result.body.filter((response: { result?: unknown }) => response.result);
      expect(answered).toHaveLength(fits);
      expect(result.body.slice(0, fits).every((response: { result?: unknown }) => response.result)).toBe(
        true,
      );
      for (const response of result.body.slice(fits)) {
        expect(response.error).toMatchObject({ code: -32600, data: { code: 'RESPONSE_TOO_LARGE' } });
      }
      expect(result.body[fits].error.message).toContain('this request ran');
      expect(result.body[7]).toMatchObject({ id: 101, error: { code: -32600 } });
      expect(result.body[7].error.message).toContain('was not run');
      // The tools/call requests after the limit never ran.
      expect(limited.sample.calls.filter((entry) => entry.slug === 'TASKS_LIST_TASKS')).toHaveLength(0);
      expect(result.text.length).toBeLessThan(4000 + 8 * 400);
    } finally {
      await live.close();
      await limited.mux.close();
    }
  });
});

describe('MCP Origin check', () => {
  const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

  it("refuses a browser request from another origin with 403, before anything else; allows baseUrl's origin", async () => {
    for (const origin of ['http://evil.example', 'null', 'http://localhost:8788', 'https://localhost:8787']) {
      for (const headers of [meta.mcp.headers, {}]) {
        const result = await rawPost(endpoint(meta.sessionId).href, ping, { ...headers, origin });
        expect(result.status).toBe(403);
        expect(result.body).toMatchObject({
          id: null,
          error: { code: -32000, data: { code: 'ORIGIN_NOT_ALLOWED' } },
        });
        expect(result.body.error.message).toContain('allowedOrigins');
      }
      const get = await fetch(endpoint(meta.sessionId), { headers: { ...meta.mcp.headers, origin } });
      expect(get.status).toBe(403);
    }
    const own = await rawPost(endpoint(meta.sessionId).href, ping, {
      ...meta.mcp.headers,
      origin: 'http://localhost:8787',
    });
    expect(own).toMatchObject({ status: 200, body: { id: 1, result: {} } });
    const get = await fetch(endpoint(meta.sessionId), {
      headers: { ...meta.mcp.headers, origin: 'http://localhost:8787' },
    });
    expect(get.status).toBe(405);
  });

  it('allows the configured origins (normalized), or any with "*"', async () => {
    const configured = createTestServer({ mcp: { allowedOrigins: ['https://App.example.com:443/'] } });
    const any = createTestServer({ mcp: { allowedOrigins: ['*'] } });
    try {
      const session = await configured.mux.create('user_origin', { toolkits: ['tasks'] });
      const post = (origin: string) =>
        configured.server.fetch(
          new Request(`http://localhost:8787/mcp/${session.sessionId}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', origin, ...session.mcp.headers },
            body: JSON.stringify(ping),
          }),
        );
      expect((await post('https://app.example.com')).status).toBe(200);
      expect((await post('http://app.example.com')).status).toBe(403);
      const anySession = await any.mux.create('user_origin', { toolkits: ['tasks'] });
      const anyResponse = await any.server.fetch(
        new Request(`http://localhost:8787/mcp/${anySession.sessionId}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            origin: 'http://evil.example',
            ...anySession.mcp.headers,
          },
          body: JSON.stringify(ping),
        }),
      );
      expect(anyResponse.status).toBe(200);
    } finally {
      await configured.mux.close();
      await any.mux.close();
    }
  });

  it('refuses unusable options when the server is created', () => {
    expect(() =>
      createTestServer({ mcp: { allowedOrigins: ['https://ok.example.com', 'app.example.com'] } }),
    ).toThrow(/mcp\.allowedOrigins\[1\]: "app\.example\.com" is not an origin/);
    expect(() => createTestServer({ mcp: { toolsPageSize: 0 } })).toThrow(
      /^mcp\.toolsPageSize must be a whole number of tools, 1 or more \(.*\); got number 0\. Leave it out for 100\.$/,
    );
    expect(() => createTestServer({ mcp: { maxBatchSize: 1.5 } })).toThrow(/mcp\.maxBatchSize/);
  });
});

describe('MCP CORS for pages of allowed origins', () => {
  const OWN = 'http://localhost:8787'; // the origin of baseUrl: always allowed
  const preflight = (path: string, origin?: string) =>
    fetch(`${running.url}${path}`, {
      method: 'OPTIONS',
      headers: {
        ...(origin ? { origin } : {}),
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,mcp-protocol-version',
      },
    });
  const corsHeaders = (response: Response) =>
    [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));

  it('answers the preflight of an allowed origin with 204 and what the page may send', async () => {
    const response = await preflight(`/mcp/${meta.sessionId}`, OWN);
    expect(response.status).toBe(204);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'access-control-allow-origin': OWN,
      'access-control-allow-methods': 'POST, DELETE',
      'access-control-allow-headers':
        'authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id, x-api-key',
      'access-control-max-age': '7200',
      vary: 'Origin',
    });
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('refuses the preflight of another origin with 403 and no CORS headers; OPTIONS elsewhere stays 405', async () => {
    const refused = await preflight(`/mcp/${meta.sessionId}`, 'http://evil.example');
    expect(refused.status).toBe(403);
    expect(corsHeaders(refused)).toEqual([]);
    expect(await refused.json()).toMatchObject({ error: { data: { code: 'ORIGIN_NOT_ALLOWED' } } });

    for (const path of ['/api/v1/sessions', '/healthz', `/connect/cr_x`]) {
      const other = await preflight(path, OWN);
      expect(other.status, path).toBe(405);
      expect(corsHeaders(other), path).toEqual([]);
    }
    // without Origin it is no preflight: what the endpoint accepts
    const plain = await preflight(`/mcp/${meta.sessionId}`);
    expect(plain.status).toBe(204);
    expect(plain.headers.get('allow')).toBe('OPTIONS, POST');
    expect(corsHeaders(plain)).toEqual([]);
  });

  it('lets an allowed page read every answer, errors included; others and non-browser calls get no CORS headers', async () => {
    const expectCors = (response: Response, what: string) => {
      expect(response.headers.get('access-control-allow-origin'), what).toBe(OWN);
      expect(response.headers.get('access-control-expose-headers'), what).toBe(
        'mcp-session-id, www-authenticate, x-request-id',
      );
      expect(response.headers.get('vary'), what).toContain('Origin');
    };
    const post = (sessionId: string, headers: Record<string, string>) =>
      fetch(endpoint(sessionId), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    const ok = await post(meta.sessionId, { ...meta.mcp.headers, origin: OWN });
    expect(ok.status).toBe(200);
    expectCors(ok, 'tools/list');
    expect(ok.headers.get('x-request-id')).toBeTruthy();
    expect((await ok.json()).result.tools.length).toBeGreaterThan(0);

    const unauthorized = await post(meta.sessionId, { origin: OWN });
    expect(unauthorized.status).toBe(401);
    expectCors(unauthorized, '401');
    expect(unauthorized.headers.get('www-authenticate')).toContain('Bearer');
    const unknown = await post('ses_nope', { 'x-api-key': TEST_API_KEY, origin: OWN });
    expect(unknown.status).toBe(404);
    expectCors(unknown, '404');
    const get = await fetch(endpoint(meta.sessionId), {
      headers: { ...meta.mcp.headers, origin: OWN, accept: 'text/event-stream' },
    });
    expect(get.status).toBe(405);
    expectCors(get, 'GET 405');

    const noOrigin = await post(meta.sessionId, meta.mcp.headers);
    expect(noOrigin.status).toBe(200);
    expect(corsHeaders(noOrigin)).toEqual([]);
    const evil = await post(meta.sessionId, { ...meta.mcp.headers, origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect(corsHeaders(evil)).toEqual([]);
  });

  it('answers the listed origins of mcp.allowedOrigins (and any with "*") with their own origin', async () => {
    const configured = createTestServer({ mcp: { allowedOrigins: ['https://app.example.com'] } });
    const any = createTestServer({ mcp: { allowedOrigins: ['*'] } });
    try {
      for (const [server, origin] of [
        [configured.server, 'https://app.example.com'],
        [any.server, 'http://anything.example:3000'],
      ] as const) {
        const response = await server.fetch(
          new Request('http://localhost:8787/mcp/ses_x', {
            method: 'OPTIONS',
            headers: { origin, 'access-control-request-method': 'POST' },
          }),
        );
        expect(response.status).toBe(204);
        expect(response.headers.get('access-control-allow-origin')).toBe(origin);
      }
      const refused = await configured.server.fetch(
        new Request('http://localhost:8787/mcp/ses_x', {
          method: 'OPTIONS',
          headers: { origin: 'http://app.example.com', 'access-control-request-method': 'POST' },
        }),
      );
      expect(refused.status).toBe(403);
    } finally {
      await configured.mux.close();
      await any.mux.close();
    }
  });
});

describe('MCP tools/list pages', () => {
  it('pages with an opaque cursor; the SDK client reads every page', async () => {
    const paged = createTestServer({ mcp: { toolsPageSize: 2 } });
    const live = await paged.server.serve({ port: 0 });
    try {
      const session = await paged.mux.create('user_pages', {
        toolkits: ['tasks'],
        sessionPreset: 'DIRECT_TOOLS',
      });
      const expected = (await session.tools()).map((tool) => tool.name);
      expect(expected.length).toBeGreaterThan(4);
      const client = new Client({ name: 'pages-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${live.url}/mcp/${session.sessionId}`), {
          requestInit: { headers: session.mcp.headers },
        }),
      );
      clients.push(client);
      const names: string[] = [];
      const cursors: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor });
        expect(page.tools.length).toBeLessThanOrEqual(2);
        names.push(...page.tools.map((tool) => tool.name));
        cursor = page.nextCursor;
        if (cursor !== undefined) cursors.push(cursor);
      } while (cursor !== undefined);
      expect(names).toEqual(expected);
      expect(cursors).toHaveLength(Math.ceil(expected.length / 2) - 1);

      // Anything that is not a cursor this endpoint gave out is -32602.
      const forged = Buffer.from(`tools:${expected.length}`).toString('base64url');
      for (const bad of ['nope', '', forged, `${cursors[0]}x`, 'dG9vbHM6MDA']) {
        await expect(client.listTools({ cursor: bad })).rejects.toMatchObject({ code: -32602 });
      }
      const wrongType = await rawPost(
        `${live.url}/mcp/${session.sessionId}`,
        { jsonrpc: '2.0', id: 9, method: 'tools/list', params: { cursor: 5 } },
        session.mcp.headers,
      );
      expect(wrongType.body).toMatchObject({ id: 9, error: { code: -32602 } });
      expect(wrongType.body.error.message).toContain('Invalid cursor');
      const nullCursor = await rawPost(
        `${live.url}/mcp/${session.sessionId}`,
        { jsonrpc: '2.0', id: 10, method: 'tools/list', params: { cursor: null } },
        session.mcp.headers,
      );
      expect(nullCursor.body.result.tools.map((tool: { name: string }) => tool.name)).toEqual(
        expected.slice(0, 2),
      );
    } finally {
      await live.close();
      await paged.mux.close();
    }
  });

  it("refuses a cursor of a list that changed since (it would skip tools), or of another session's list", async () => {
    const paged = createTestServer({ mcp: { toolsPageSize: 3 } });
    const live = await paged.server.serve({ port: 0 });
    try {
      const session = await paged.mux.create('user_pages', {
        toolkits: ['tasks', 'notes'],
        sessionPreset: 'DIRECT_TOOLS',
      });
      const url = `${live.url}/mcp/${session.sessionId}`;
      const client = new Client({ name: 'pages-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: session.mcp.headers } }),
      );
      clients.push(client);
      const first = await client.listTools();
      expect(first.tools.map((tool) => tool.name)).toContain('TASKS_DELETE_TASK');
      expect(first.nextCursor).toBeDefined();
      // the list changes between two pages: a tool of the first page goes
      const updated = await paged.server.fetch(
        new Request(`http://localhost/api/v1/sessions/${session.sessionId}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ config: { tags: { disable: ['destructiveHint'] } } }),
        }),
      );
      expect(updated.status).toBe(200);
      const now = (await session.tools()).map((tool) => tool.name);
      expect(now).not.toContain('TASKS_DELETE_TASK');
      // read as an offset, the old cursor skipped the tool that moved into the first page
      await expect(client.listTools({ cursor: first.nextCursor })).rejects.toMatchObject({
        code: -32602,
        message: expect.stringContaining("stops working when the session's tools change"),
      });
      // from the first page again, every tool once
      const names: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor });
        names.push(...page.tools.map((tool) => tool.name));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(names).toEqual(now);

      // another session's list (of other tools) gives no cursor for this one
      const other = await paged.mux.create('user_pages', {
        toolkits: ['tasks', 'notes', 'mail'],
        sessionPreset: 'DIRECT_TOOLS',
      });
      const otherPage = await rawPost(
        `${live.url}/mcp/${other.sessionId}`,
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        other.mcp.headers,
      );
      const otherCursor = otherPage.body.result.nextCursor as string;
      expect(otherCursor).toBeDefined();
      await expect(client.listTools({ cursor: otherCursor })).rejects.toMatchObject({ code: -32602 });
    } finally {
      await live.close();
      await paged.mux.close();
    }
  });
});

describe('MCP results and output schemas (official client)', () => {
  const counted = z.object({ count: z.number(), label: z.string() });
  /** A result whose JSON text is written in many pieces (over 64 K characters, non-ASCII, quotes). */
  const largeShape = (wrong: boolean) => ({
    count: wrong ? 'many' : 20_000,
    label: 'é😀"\n'.repeat(50_000),
  });
  const shapes = defineToolkit({
    slug: 'shapes',
    name: 'Shapes',
    description: 'Tools whose results match, or break, their output schema.',
    tools: [
      defineTool({
        slug: 'SHAPES_GOOD',
        description: 'Returns what its output schema says.',
        inputSchema: z.object({}),
        outputSchema: counted,
        execute: () => ({ count: 1, label: 'one' }),
      }),
      defineTool({
        slug: 'SHAPES_WRONG_SHAPE',
        description: 'Returns an object of the wrong shape.',
        inputSchema: z.object({}),
        outputSchema: counted,
        execute: () => ({ count: 'one' }) as never,
      }),
      defineTool({
        slug: 'SHAPES_NOT_OBJECT',
        description: 'Returns a string, an array or null despite its object output schema.',
        inputSchema: z.object({ kind: z.enum(['string', 'array', 'null']) }),
        outputSchema: counted,
        execute: ({ kind }) => (kind === 'string' ? 'seven' : kind === 'array' ? [7] : null) as never,
      }),
      defineTool({
        slug: 'SHAPES_LARGE',
        description: 'Returns a result of a few hundred kilobytes, of the right shape or not.',
        inputSchema: z.object({ wrong: z.boolean() }),
        outputSchema: counted,
        execute: ({ wrong }) => largeShape(wrong) as never,
      }),
      defineTool({
        slug: 'SHAPES_FAILS',
        description: 'Always fails.',
        inputSchema: z.object({}),
        outputSchema: counted,
        execute: () => {
          throw new Error('the shape service is down');
        },
      }),
      defineTool({
        slug: 'SHAPES_BROKEN_SCHEMA',
        description: 'Declares an output schema that cannot be compiled.',
        inputSchema: z.object({}),
        outputSchema: { type: 'object', properties: { x: { $ref: '#/$defs/missing' } } },
        execute: () => ({ x: 1 }),
      }),
      defineTool({
        slug: 'SHAPES_BROKEN_WIDE_SCHEMA',
        description:
          'Declares a large output schema (compiled in the validation thread) that cannot be compiled.',
        inputSchema: z.object({}),
        outputSchema: {
          type: 'object',
          properties: {
            ...Object.fromEntries(
              Array.from({ length: 60 }, (_, index) => [`f${index}`, { type: 'string' }]),
            ),
            x: { $ref: '#/$defs/missing' },
          },
        },
        execute: () => ({ x: 1 }),
      }),
    ],
  });
  const own = ownServerClient(shapes, 'user_shapes');
  const { logger } = own;

  const callTool = async (name: string, args: Record<string, unknown> = {}) => {
    await own.client.listTools(); // the client validates results against the schemas it listed
    return (await own.client.callTool({ name, arguments: args })) as CallToolResult;
  };

  it('sends a matching result as structuredContent', async () => {
    const result = await callTool('SHAPES_GOOD');
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ count: 1, label: 'one' });
  });

  it('sends a result of the wrong shape as readable text with isError, and logs a warning', async () => {
    const result = await callTool('SHAPES_WRONG_SHAPE');
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined();
    expect(text(result)).toContain("does not match the tool's declared output schema");
    // the tool returned the value: told what the output schema asks for, not what to send
    expect(text(result)).toContain(
      '(label: is missing where the output schema requires a string; count: is a string where the output schema asks for a number)',
    );
    expect(text(result)).not.toMatch(/\bsend\b|is required/);
    expect(text(result)).toContain('"count":"one"');
    expect(logger.warnings).toContainEqual(
      expect.stringContaining('SHAPES_WRONG_SHAPE returned a result that does not match'),
    );
  });

  it('sends a large result as text byte for byte its JSON, beside structuredContent or with isError', async () => {
    const good = await callTool('SHAPES_LARGE', { wrong: false });
    expect(good.isError).toBeFalsy();
    expect(text(good)).toBe(JSON.stringify(largeShape(false)));
    expect(good.structuredContent).toEqual(largeShape(false));
    const wrong = await callTool('SHAPES_LARGE', { wrong: true });
    expect(wrong.isError).toBe(true);
    expect(wrong.structuredContent).toBeUndefined();
    expect(text(wrong)).toMatch(
      /^SHAPES_LARGE ran, but its result does not match .*count: is a string where the output schema asks for a number/,
    );
    expect(text(wrong).endsWith(`The result:\n${JSON.stringify(largeShape(true))}`)).toBe(true);
  });

  it('sends a result that is not an object the same way', async () => {
    for (const [kind, shown, problem] of [
      ['string', 'seven', '(root): is a string where the output schema asks for an object'],
      ['array', '[7]', '(root): is an array where the output schema asks for an object'],
      ['null', 'null', '(root): is null where the output schema asks for an object'],
    ] as const) {
      const result = await callTool('SHAPES_NOT_OBJECT', { kind });
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(text(result)).toContain(problem);
      expect(text(result)).toContain(shown);
    }
  });

  it('sends failures of a tool with an output schema as isError, which the client accepts', async () => {
    const failed = await callTool('SHAPES_FAILS');
    expect(failed.isError).toBe(true);
    expect(text(failed)).toContain('the shape service is down');
    const invalid = await callTool('SHAPES_NOT_OBJECT', { kind: 'number' });
    expect(invalid.isError).toBe(true);
    expect(text(invalid)).toContain('TOOL_ARGUMENTS_INVALID');
  });

  it('lists a tool whose output schema cannot be compiled without it, and returns its result as text', async () => {
    const { tools } = await own.client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get('SHAPES_GOOD')!.outputSchema).toBeDefined();
    expect(byName.get('SHAPES_BROKEN_SCHEMA')!.outputSchema).toBeUndefined();
    expect(byName.get('SHAPES_BROKEN_WIDE_SCHEMA')!.outputSchema).toBeUndefined();
    expect(logger.warnings).toContainEqual(
      expect.stringContaining('SHAPES_BROKEN_SCHEMA is listed over MCP without its output schema'),
    );
    // the reason names the schema that failed: the output schema, not the input one
    expect(logger.warnings).toContainEqual(
      expect.stringContaining('Tool SHAPES_BROKEN_SCHEMA: its output schema is not valid JSON Schema'),
    );
    const result = await callTool('SHAPES_BROKEN_SCHEMA');
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toBeUndefined();
    expect(JSON.parse(text(result))).toEqual({ x: 1 });
  });

  it('compiles the output schema of a remote SDK’s custom tool once, though each resume makes it anew', async () => {
    const fresh = createTestServer({ sessionCacheTtlMs: 0 });
    try {
      const created = await fresh.server.fetch(
        new Request('http://localhost/api/v1/sessions', {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            user_id: 'user_declared',
            config: {
              sessionPreset: 'DIRECT_TOOLS',
              experimental: {
                customTools: [
                  {
                    slug: 'CRM_BROKEN_OUTPUT',
                    name: 'Broken output',
                    description: 'A declared tool whose output schema cannot be compiled.',
                    toolkit: '',
                    inputSchema: { type: 'object', properties: {} },
                    outputSchema: { type: 'object', properties: { x: { $ref: '#/$defs/missing' } } },
                    annotations: {},
                    tags: [],
                  },
                ],
              },
            },
          }),
        }),
      );
      expect(created.status).toBe(201);
      const session = (await created.json()) as {
        session_id: string;
        mcp: { headers: Record<string, string> };
      };
      for (let i = 0; i < 3; i++) {
        const listed = await fresh.server.fetch(
          new Request(`http://localhost/mcp/${session.session_id}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...session.mcp.headers },
            body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/list' }),
          }),
        );
        const { result } = (await listed.json()) as {
          result: { tools: Array<{ name: string; outputSchema?: unknown }> };
        };
        const declared = result.tools.find((tool) => tool.name === 'CRM_BROKEN_OUTPUT');
        expect(declared).toBeDefined();
        expect(declared!.outputSchema).toBeUndefined();
      }
      expect(fresh.logger.warnings.filter((warning) => warning.includes('CRM_BROKEN_OUTPUT'))).toHaveLength(
        1,
      );
    } finally {
      await fresh.mux.close();
    }
  });
});

describe('MCP output schemas the official client checks more strictly than toolmux', () => {
  const outputTool = (slug: string, outputSchema: Record<string, unknown>, result: Record<string, unknown>) =>
    defineTool({
      slug,
      description: `Returns ${JSON.stringify(result)}.`,
      inputSchema: z.object({}),
      outputSchema: outputSchema as never,
      execute: () => result as never,
    });
  const closedPair = {
    type: 'object',
    properties: {
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false },
    },
  };
  const strict = defineToolkit({
    slug: 'strict',
    name: 'Strict clients',
    description: 'Results toolmux checks and sends, against schemas the SDK client reads more strictly.',
    tools: [
      // formats are hints that APIs break: a path where a uri is said, a date where a date-time is
      outputTool(
        'STRICT_FORMATS',
        {
          type: 'object',
          properties: {
            link: { type: 'string', format: 'uri' },
            contact: { type: 'object', properties: { email: { type: 'string', format: 'email' } } },
            changes: { type: 'array', items: { type: 'string', format: 'date-time' } },
            format: { type: 'string' },
          },
          required: ['link', 'format'],
        },
        { link: '/docs/page', contact: { email: 'support' }, changes: ['2024-05-01'], format: 'pdf' },
      ),
      // a draft-07 tuple, which defineTool writes as 2020-12's prefixItems + items
      outputTool(
        'STRICT_TUPLE',
        {
          type: 'object',
          properties: {
            point: { type: 'array', items: [{ type: 'string' }], additionalItems: { type: 'number' } },
          },
        },
        { point: ['origin', 1, 2] },
      ),
      outputTool('STRICT_CLOSED_TUPLE', closedPair, { pair: ['a', 1] }),
      outputTool(
        'STRICT_MIN_CONTAINS',
        {
          type: 'object',
          properties: { tags: { type: 'array', contains: { type: 'string' }, minContains: 0 } },
        },
        { tags: [1, 2] },
      ),
      // two tools whose output schemas share an $id (toolmux checks each by its own)
      outputTool(
        'STRICT_SAME_ID_A',
        {
          $id: 'https://example.com/result',
          type: 'object',
          properties: { a: { type: 'string' } },
          required: ['a'],
        },
        { a: 'x' },
      ),
      outputTool(
        'STRICT_SAME_ID_B',
        {
          $id: 'https://example.com/result',
          type: 'object',
          properties: { b: { type: 'string' } },
          required: ['b'],
        },
        { b: 'y' },
      ),
      defineTool({
        slug: 'STRICT_ECHO_PAIR',
        description: 'Returns the pair it is given, which its output schema closes after two items.',
        inputSchema: z.object({ pair: z.array(z.unknown()) }),
        outputSchema: closedPair as never,
        execute: ({ pair }) => ({ pair }) as never,
      }),
    ],
  });
  const own = ownServerClient(strict, 'user_strict');

  it('the client takes every result toolmux checked and sent as structuredContent (it refused them as a protocol error of a call that had run)', async () => {
    const { tools } = await own.client.listTools();
    expect(tools).toHaveLength(7);
    for (const tool of tools.filter((listed) => listed.name !== 'STRICT_ECHO_PAIR')) {
      const expected = JSON.parse(tool.description!.slice('Returns '.length, -1));
      const result = (await own.client.callTool({ name: tool.name, arguments: {} })) as CallToolResult;
      expect(result.isError, tool.name).toBeFalsy();
      expect(result.structuredContent, tool.name).toEqual(expected);
    }
    // listed a second time (the client compiles the schemas again), and the other tool of the $id first
    await own.client.listTools();
    const second = (await own.client.callTool({ name: 'STRICT_SAME_ID_B', arguments: {} })) as CallToolResult;
    expect(second.structuredContent).toEqual({ b: 'y' });
  });

  it('lists the schemas with what the client would read more strictly left out, and toolmux still checks it', async () => {
    const { tools } = await own.client.listTools();
    const listed = new Map(tools.map((tool) => [tool.name, tool.outputSchema as Record<string, any>]));
    const formats = listed.get('STRICT_FORMATS')!;
    expect(formats.properties.link).toEqual({ type: 'string' });
    expect(formats.properties.changes).toEqual({ type: 'array', items: { type: 'string' } });
    // a property named format is a property, not the keyword
    expect(formats.properties.format).toEqual({ type: 'string' });
    expect(formats.required).toEqual(['link', 'format']);
    expect(listed.get('STRICT_TUPLE')!.properties.point).toEqual({
      type: 'array',
      prefixItems: [{ type: 'string' }],
    });
    expect(listed.get('STRICT_SAME_ID_A')).not.toHaveProperty('$id');
    expect(listed.get('STRICT_SAME_ID_A')!.required).toEqual(['a']);
    expect(listed.get('STRICT_ECHO_PAIR')!.properties.pair).toEqual({
      type: 'array',
      prefixItems: [{ type: 'string' }, { type: 'number' }],
    });
    // what the listing leaves out is still checked by toolmux: a third item of the closed pair
    const pair = async (items: unknown[]) =>
      (await own.client.callTool({ name: 'STRICT_ECHO_PAIR', arguments: { pair: items } })) as CallToolResult;
    expect((await pair(['a', 1])).structuredContent).toEqual({ pair: ['a', 1] });
    const third = await pair(['a', 1, 2]);
    expect(third.isError).toBe(true);
    expect(third.structuredContent).toBeUndefined();
    expect(text(third)).toContain("does not match the tool's declared output schema");
  });
});

describe("MCP tools/list of tools whose schemas MCP's Tool shape does not take as they are", () => {
  const odd = defineToolkit({
    slug: 'odd',
    name: 'Odd schemas',
    description: 'Tools with JSON Schemas that MCP lists differently, or cannot list.',
    tools: [
      defineTool({
        slug: 'ODD_BOOLEAN_PROPERTIES',
        description: 'Takes a name, anything as `anything`, and never `nothing` (boolean subschemas).',
        inputSchema: {
          type: 'object',
          properties: { name: { type: 'string' }, anything: true, nothing: false },
          required: ['name'],
        },
        execute: (input) => ({ got: input }),
      }),
      defineTool({
        slug: 'ODD_BOOLEAN_OUTPUT',
        description: 'Declares an output schema with a boolean property subschema.',
        inputSchema: z.object({}),
        outputSchema: { type: 'object', properties: { got: true }, required: ['got'] },
        execute: () => ({ got: [1, 'two'] }),
      }),
      defineTool({
        slug: 'ODD_INVALID_INPUT',
        description: 'Declares an input schema that is not valid JSON Schema (required is not an array).',
        inputSchema: { type: 'object', properties: { a: { type: 'string' } }, required: 'a' as never },
        execute: () => ({ ran: true }),
      }),
      defineTool({
        slug: 'ODD_PLAIN',
        description: 'An ordinary tool.',
        inputSchema: z.object({}),
        execute: () => ({ plain: true }),
      }),
    ],
  });
  const own = ownServerClient(odd, 'user_odd', { sessionCacheTtlMs: 0 });
  const { logger } = own;

  it('the SDK client lists them: boolean property schemas as the object schemas they equal, a tool of an invalid input schema as an object of any properties (as every provider hands it), its calls refused', async () => {
    for (let i = 0; i < 3; i++) {
      // each listing resumes the session anew (sessionCacheTtlMs 0)
      const { tools } = await own.client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual([
        'ODD_BOOLEAN_OUTPUT',
        'ODD_BOOLEAN_PROPERTIES',
        'ODD_INVALID_INPUT',
        'ODD_PLAIN',
      ]);
      const byName = new Map(tools.map((tool) => [tool.name, tool]));
      expect(byName.get('ODD_BOOLEAN_PROPERTIES')!.inputSchema).toMatchObject({
        properties: { name: { type: 'string' }, anything: {}, nothing: { not: {} } },
        required: ['name'],
      });
      expect(byName.get('ODD_BOOLEAN_OUTPUT')!.outputSchema).toMatchObject({ properties: { got: {} } });
      expect(byName.get('ODD_INVALID_INPUT')!.inputSchema).toEqual({
        type: 'object',
        properties: {},
        additionalProperties: true,
      });
    }
    // the operator is told once why the model sees it so, not at every listing
    expect(logger.warnings.filter((warning) => warning.includes('ODD_INVALID_INPUT'))).toEqual([
      expect.stringMatching(
        /^toolmux: the input schema of ODD_INVALID_INPUT as the model sees it: The input schema is not valid JSON Schema \(.*required.*\); the model sees an object with any properties\.$/,
      ),
    ]);
    const refused = (await own.client.callTool({
      name: 'ODD_INVALID_INPUT',
      arguments: { a: 'x' },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('TOOL_DEFINITION_INVALID');
  });

  it('calls them as their own schemas say: the listed schemas mean the same', async () => {
    const ran = (await own.client.callTool({
      name: 'ODD_BOOLEAN_PROPERTIES',
      arguments: { name: 'n', anything: [5] },
    })) as CallToolResult;
    expect(ran.isError).toBeFalsy();
    expect(JSON.parse(text(ran))).toEqual({ got: { name: 'n', anything: [5] } });
    const refused = (await own.client.callTool({
      name: 'ODD_BOOLEAN_PROPERTIES',
      arguments: { name: 'n', nothing: 1 },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('TOOL_ARGUMENTS_INVALID');
    // the client checks structuredContent against the output schema it listed
    const output = (await own.client.callTool({
      name: 'ODD_BOOLEAN_OUTPUT',
      arguments: {},
    })) as CallToolResult;
    expect(output.isError).toBeFalsy();
    expect(output.structuredContent).toEqual({ got: [1, 'two'] });
  });
});
