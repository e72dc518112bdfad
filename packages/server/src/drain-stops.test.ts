import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type ExecutionLogRecord, type Logger, MetaToolSlug, ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { API_KEY, api } from './test-serve.js';

/**
 * Tool calls still running when a server's shutdown drain runs out are stopped by the server, and
 * say so (in their log entries), whether a REST or MCP request waits for them or a workbench cell
 * made them; a client that goes away mid-call still reads "aborted by the caller". On the code
 * before, the drain's end cut the connections first, and each call read "aborted by the caller"
 * (the cut aborts every request's signal), which no caller did. (The same through `toolmux serve`
 * and SIGTERM: `cli/serve.test.ts`.)
 */
const silent: Logger = { debug() {}, warn() {}, error() {} };
const WAIT = 'TASKS_WAIT_FOR_APPROVAL';
const opened: ToolMux[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((mux) => mux.close({ timeoutMs: 0 })));
});

async function serving() {
  const warnings: string[] = [];
  const logger: Logger = { ...silent, warn: (message) => warnings.push(message) };
  const sample = createSampleToolkits();
  const toolmux = new ToolMux({
    toolkits: sample.toolkits,
    store: ':memory:',
    secretKey: randomBytes(32).toString('base64'),
    baseUrl: 'http://127.0.0.1',
    logger: silent,
  });
  opened.push(toolmux);
  const running = await createServer({ toolmux, apiKey: API_KEY, logger }).serve({ port: 0 });
  const created = await api(running.url, 'POST', '/sessions', {
    user_id: 'drain_user',
    config: { toolkits: ['tasks'], workbench: {} },
  });
  expect(created.status).toBe(201);
  const sessionId = created.json.session_id as string;
  const mcpEndpoint = new URL(`${running.url}${new URL(created.json.mcp.url).pathname}`);
  /** Resolves once `count` calls of the waiting tool have reached it. */
  const waiting = async (count: number) => {
    while (sample.calls.filter((call) => call.slug === WAIT).length < count) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  /** The session's log entries, once `count` of them are written. */
  const entries = async (count: number): Promise<ExecutionLogRecord[]> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { items } = await toolmux.logs.list({ sessionId });
      if (items.length >= count || Date.now() > deadline) return items as ExecutionLogRecord[];
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const mcpHeaders = created.json.mcp.headers as Record<string, string>;
  return { running, sessionId, mcpEndpoint, mcpHeaders, waiting, entries, warnings };
}

/** POST /sessions/:id/execute of `slug`, its answer (or the socket error of a cut connection). */
function execute(url: string, sessionId: string, slug: string, args: unknown, signal?: AbortSignal) {
  return fetch(`${url}/api/v1/sessions/${sessionId}/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool_slug: slug, arguments: args }),
    signal,
  }).then(
    async (response) => (await response.json()) as Record<string, unknown>,
    (error: unknown) => error,
  );
}

const CELL = `return await toolmux.execute('${WAIT}', { taskId: 'cell' })`;

describe('a server whose shutdown drain runs out with tool calls running', () => {
  it('stops them itself, before it cuts their connections: their log entries say the server stopped them', async () => {
    const { running, sessionId, mcpEndpoint, mcpHeaders, waiting, entries, warnings } = await serving();
    const client = new Client({ name: 'drain-stops', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(mcpEndpoint, { requestInit: { headers: mcpHeaders } }),
    );
    const answers = Promise.all([
      execute(running.url, sessionId, WAIT, { taskId: 'rest' }),
      execute(running.url, sessionId, MetaToolSlug.WORKBENCH, { code: CELL }),
      client.callTool({ name: WAIT, arguments: { taskId: 'mcp' } }).catch((error: unknown) => error),
      // with a progress token: answered as a stream, which begins before the call ends
      client
        .callTool({ name: WAIT, arguments: { taskId: 'mcp-progress' } }, undefined, { onprogress: () => {} })
        .catch((error: unknown) => error),
      fetch(`${running.url}/api/v3.1/tool_router/session/${sessionId}/execute`, {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ tool_slug: WAIT, arguments: { taskId: 'composio' } }),
      }).catch((error: unknown) => error),
    ]);
    await waiting(5);
    await running.close({ timeoutMs: 200 });
    await answers;
    await client.close();

    const because =
      'because the server was shutting down and its drain time (running.close({ timeoutMs }): 200 ms) ran out before the call finished; give running.close({ timeoutMs }) more time if calls should finish.';
    const logged = await entries(6);
    const stopped = logged.map((entry) => [entry.toolSlug, entry.errorCode, entry.errorMessage]);
    // the REST, MCP (answered with JSON, and as a progress stream) and Composio-compatible calls, the
    // cell's call, and the workbench call that ran the cell; on the code before, each said "<slug>
    // was aborted by the caller."
    expect(stopped.sort()).toEqual([
      [WAIT, 'TOOL_ABORTED', `${WAIT} was stopped ${because}`],
      [WAIT, 'TOOL_ABORTED', `${WAIT} was stopped ${because}`],
      [WAIT, 'TOOL_ABORTED', `${WAIT} was stopped ${because}`],
      [WAIT, 'TOOL_ABORTED', `${WAIT} was stopped ${because}`],
      [WAIT, 'TOOL_ABORTED', `${WAIT} was stopped ${because}`],
      [MetaToolSlug.WORKBENCH, 'TOOL_ABORTED', `${MetaToolSlug.WORKBENCH} was stopped ${because}`],
    ]);
    // one warning, from the server, counting them all and naming the setting to raise
    expect(warnings.filter((line) => line.includes('still running'))).toEqual([
      'toolmux: the server stopped 6 tool calls still running when its shutdown drain ended (running.close({ timeoutMs }): 200 ms): they are answered, where their connections were still open, and logged as TOOL_ABORTED. Give running.close({ timeoutMs }) more time if the tools should finish.',
    ]);
  });

  it('leaves a call whose client went away reading "aborted by the caller": the caller did it', async () => {
    const { running, sessionId, waiting, entries, warnings } = await serving();
    const gone = new AbortController();
    const answers = Promise.all([
      execute(running.url, sessionId, WAIT, { taskId: 'rest' }, gone.signal),
      execute(running.url, sessionId, MetaToolSlug.WORKBENCH, { code: CELL }, gone.signal),
    ]);
    await waiting(2);
    gone.abort();
    await answers;
    const logged = await entries(3);
    expect(logged.map((entry) => [entry.toolSlug, entry.errorCode, entry.errorMessage]).sort()).toEqual([
      [WAIT, 'TOOL_ABORTED', `${WAIT} was aborted by the caller.`],
      [WAIT, 'TOOL_ABORTED', `${WAIT} was aborted by the caller.`],
      [MetaToolSlug.WORKBENCH, 'TOOL_ABORTED', `${MetaToolSlug.WORKBENCH} was aborted by the caller.`],
    ]);
    await running.close({ timeoutMs: 200 });
    // the server's drain stopped none of them
    expect(warnings.filter((line) => line.includes('still running'))).toEqual([]);
  });
});
