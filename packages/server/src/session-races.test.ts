import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits, gateToolkit } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { recordingLogger, restCaller, TEST_API_KEY, testStoreBackends } from './test-helpers.js';

/**
 * A session changed through the REST API while an MCP client's call of it is under way, on both
 * stores: what the update took away is not run by the call's later tool calls.
 */

const backends = await testStoreBackends(mkdtempSync(join(tmpdir(), 'toolmux-session-races-')));

describe.each(backends)('a session updated over REST during an MCP call on $name', ({ skip, store }) => {
  it.skipIf(skip !== undefined)(
    'a workbench cell runs no tool of a toolkit the PATCH took away once the PATCH answered',
    async () => {
      const database = await store();
      const sample = createSampleToolkits();
      const held = gateToolkit();
      const mux = new ToolMux({
        toolkits: [...sample.toolkits, held.toolkit],
        store: database.spec,
        secretKey: randomBytes(32).toString('base64'),
        baseUrl: 'http://localhost:8787',
        logger: recordingLogger(),
      });
      const server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger: recordingLogger() });
      const running = await server.serve({ port: 0 });
      const client = new Client({ name: 'session-races', version: '1.0.0' });
      try {
        const call = restCaller(server.app);
        const created = await call('POST', '/sessions', {
          user_id: 'user_1',
          config: { toolkits: ['tasks', 'notes', 'gate'], workbench: {} },
        });
        expect(created.status).toBe(201);
        const { session_id: sessionId, mcp } = created.json;
        await client.connect(
          new StreamableHTTPClientTransport(new URL(`${running.url}/mcp/${sessionId}`), {
            requestInit: { headers: mcp.headers },
          }),
        );
        const cell = client.callTool({
          name: 'TOOLMUX_WORKBENCH',
          arguments: {
            code: `await toolmux.execute('GATE_WAIT', {});
                   return await toolmux.execute('NOTES_CREATE_NOTE', { text: 'after the PATCH' });`,
          },
        }) as Promise<CallToolResult>;
        await held.called;
        const patched = await call('PATCH', `/sessions/${sessionId}`, {
          config: { toolkits: ['tasks', 'gate'] },
        });
        expect(patched.status).toBe(200);
        held.release();
        const answer = await cell;
        const [first] = answer.content;
        const out = JSON.parse(first?.type === 'text' ? first.text : '{}') as {
          result: { successful: boolean; error: string } | null;
        };
        // on the old code the cell's call ran with the config the PATCH had replaced
        expect(sample.calls.filter((each) => each.slug === 'NOTES_CREATE_NOTE')).toHaveLength(0);
        expect(out.result?.successful).toBe(false);
        expect(out.result?.error).toContain('NOTES_CREATE_NOTE');
      } finally {
        await client.close();
        await running.close();
        await mux.close();
        await database.cleanup();
      }
    },
  );
});
