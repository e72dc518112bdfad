import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type Logger, MetaToolSlug, ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { API_KEY, api, sessionAwaitingMail, untilHeld } from './test-serve.js';

/**
 * A server that begins to drain (`running.close()`) while connection waits are held: each wait
 * (REST, the meta-tool over MCP, REST execute and the Composio-compatible API, and a remote-mode
 * SDK's) answers
 * at once with how the toolkits stand, `timed_out` since one is still PENDING, and the drain ends
 * without waiting for the waits' 60 s. (The same through `toolmux serve` and SIGTERM:
 * `cli/serve-drain.test.ts`.)
 */
const WAIT = MetaToolSlug.WAIT_FOR_CONNECTIONS;
const silent: Logger = { debug() {}, warn() {}, error() {} };

type WaitJson = {
  toolkits: Record<string, { status: string; connection_request_id?: string; message: string }>;
  timed_out: boolean;
  next_steps: string;
};

describe('createServer().serve() closed while connection waits are held', () => {
  it('answers every wait at once with the toolkits’ state (timed_out) and drains in well under its timeout', async () => {
    const toolmux = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store: ':memory:',
      secretKey: randomBytes(32).toString('base64'),
      baseUrl: 'http://127.0.0.1',
      logger: silent,
    });
    const running = await createServer({ toolmux, apiKey: API_KEY, logger: silent }).serve({ port: 0 });
    const remote = new ToolMux({ baseUrl: running.url, apiKey: API_KEY, logger: silent });
    const client = new Client({ name: 'drain-waits', version: '1.0.0' });
    try {
      const { sessionId, requestId } = await sessionAwaitingMail(running.url, client);
      const composio = fetch(`${running.url}/api/v3.1/tool_router/session/${sessionId}/execute_meta`, {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({
          slug: 'COMPOSIO_WAIT_FOR_CONNECTIONS',
          arguments: { toolkits: ['mail'], timeout_seconds: 60 },
        }),
      }).then(async (response) => ({ status: response.status, json: await response.json() }));

      // each asks for 60 s
      const rest = api(running.url, 'POST', `/sessions/${sessionId}/wait-for-connections`, {
        toolkits: ['mail'],
        timeout_seconds: 60,
      });
      const mcp = client.callTool({ name: WAIT, arguments: { toolkits: ['mail'], timeout_seconds: 60 } });
      const sdk = (await remote.use(sessionId)).waitForConnections(['mail'], { timeoutMs: 60_000 });
      const executed = api(running.url, 'POST', `/sessions/${sessionId}/execute`, {
        tool_slug: WAIT,
        arguments: { toolkits: ['mail'], timeout_seconds: 60 },
      });
      const answers = Promise.all([rest, mcp, composio, sdk, executed]);
      answers.catch(() => {});
      await untilHeld(running.url, 5);

      const closing = Date.now();
      await running.close({ timeoutMs: 30_000 });
      const drainedMs = Date.now() - closing;
      const [restAnswer, mcpAnswer, composioAnswer, sdkAnswer, executedAnswer] = await answers;
      // on the code before, close() took its whole timeout and each wait got a socket error
      expect(drainedMs).toBeLessThan(10_000);

      const pending = {
        timed_out: true,
        toolkits: { mail: { status: 'PENDING', connection_request_id: requestId } },
      };
      expect(restAnswer.status).toBe(200);
      expect(restAnswer.headers.get('connection')).toBe('close');
      expect(restAnswer.json as WaitJson).toMatchObject(pending);
      expect(restAnswer.json.next_steps).toContain(
        'the server is shutting down, so the wait ended before its timeout',
      );
      const mcpResult = mcpAnswer as CallToolResult;
      expect(mcpResult.isError).toBeFalsy();
      const mcpJson = JSON.parse((mcpResult.content[0] as { text: string }).text) as WaitJson;
      expect(mcpJson).toMatchObject(pending);
      expect(mcpJson.next_steps).toContain(`call ${WAIT} again`);
      expect(composioAnswer.status).toBe(200);
      expect(composioAnswer.json).toMatchObject({ error: null, data: pending });
      expect(executedAnswer.status).toBe(200);
      expect(executedAnswer.json).toMatchObject({ successful: true, data: pending });
      expect(sdkAnswer).toMatchObject({
        timedOut: true,
        toolkits: { mail: { status: 'PENDING', connectionRequestId: requestId } },
      });
    } finally {
      await client.close().catch(() => {});
      await remote.close({ timeoutMs: 0 });
      await running.close({ timeoutMs: 0 }).catch(() => {});
      await toolmux.close({ timeoutMs: 0 });
    }
  }, 60_000);
});
