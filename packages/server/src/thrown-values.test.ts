import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Session } from '@toolmux/core';
import { HOSTILE_RESULTS, HOSTILE_THROWS, hostileThrowsToolkit } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing/index.js';

/**
 * A tool that throws what is not a plain Error (a proxy whose traps throw, an Error whose message
 * getter throws, a cycle without a prototype, a message of megabytes, …) fails its call with a
 * result the model can read, on every surface: REST answers 200, MCP `isError`, workbench code gets
 * the failed result and goes on, a remote-mode custom tool (run in the client) answers it too; and
 * each call is logged. Never a 500, never a broken cell or a rejected promise.
 */

let server: TestServer;
let session: Session;
/** A remote-mode session whose custom toolkit `local` runs in the client. */
let remote: Session;
let mcp: Client;

beforeAll(async () => {
  server = await startTestServer({ toolkits: [hostileThrowsToolkit()] });
  session = await server.embedded.create('user_hostile', { toolkits: ['hostile'], workbench: {} });
  remote = await server.remote().create('user_hostile', {
    // the custom toolkit too: a session's filters leave out custom tools as embedded
    toolkits: ['hostile', 'local'],
    experimental: { customToolkits: [hostileThrowsToolkit('local')] },
  });
  mcp = new Client({ name: 'toolmux-test', version: '1.0.0' });
  await mcp.connect(
    new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${session.sessionId}`), {
      requestInit: { headers: session.mcp.headers },
    }),
  );
});
afterAll(async () => {
  await mcp.close();
  await server.close();
});

describe('a tool that throws what is not a plain Error', () => {
  it.each(HOSTILE_THROWS)(
    '$kind: a failed result on REST, MCP, in the workbench and in remote mode',
    async ({ kind, words, code = 'TOOL_EXECUTION_FAILED' }) => {
      const response = await fetch(`${server.url}/api/v1/sessions/${session.sessionId}/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tool_slug: 'HOSTILE_THROW', arguments: { kind } }),
      });
      expect(response.status).toBe(200);
      const rest = (await response.json()) as { successful: boolean; error: string; code: string };
      expect(rest).toMatchObject({ successful: false, code });
      for (const word of words) expect(rest.error).toContain(word);

      const called = (await mcp.callTool({
        name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
        arguments: { tools: [{ tool_slug: 'HOSTILE_THROW', arguments: { kind } }] },
      })) as CallToolResult;
      const [first] = called.content;
      const text = first?.type === 'text' ? first.text : '';
      for (const word of words) expect(text).toContain(JSON.stringify(word).slice(1, -1));

      const cell = await session.execute('TOOLMUX_WORKBENCH', {
        code: `const r = await toolmux.execute('HOSTILE_THROW', { kind: ${JSON.stringify(kind)} });
             return { successful: r.successful, error: r.error.slice(0, 200) + r.error.slice(-200) };`,
      });
      expect(cell.successful).toBe(true);
      const { result } = cell.data as { result: { successful: boolean; error: string } };
      expect(result.successful).toBe(false);
      for (const word of words) expect(result.error).toContain(word);

      const local = await remote.execute('LOCAL_THROW', { kind });
      expect(local).toMatchObject({ successful: false, code });
      for (const word of words) expect(local.error).toContain(word);

      const logged = (await session.logs({ limit: 5 })).items.filter(
        (entry) => entry.toolSlug === 'HOSTILE_THROW',
      );
      expect(logged.map((entry) => entry.errorCode)).toEqual([code, code, code]);
      await expect
        .poll(async () => (await remote.logs({ limit: 1 })).items[0])
        .toMatchObject({ id: local.logId, toolSlug: 'LOCAL_THROW', errorCode: code });
    },
  );
});

describe('a tool whose result throws megabytes when it is read', () => {
  /** The most a failed result's message may have: the quote's cut (16,384) and the words around it. */
  const bound = 16_384 + 500;

  it.each(HOSTILE_RESULTS)(
    '$kind: TOOL_RESULT_INVALID quoting it cut, on REST, MCP and in remote mode',
    async ({ kind, words }) => {
      const response = await fetch(`${server.url}/api/v1/sessions/${session.sessionId}/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tool_slug: 'HOSTILE_RETURN', arguments: { kind } }),
      });
      expect(response.status).toBe(200);
      const rest = (await response.json()) as { successful: boolean; error: string; code: string };
      expect(rest).toMatchObject({ successful: false, code: 'TOOL_RESULT_INVALID' });
      for (const word of words) expect(rest.error).toContain(word);
      expect(rest.error.length).toBeLessThan(bound);

      const called = (await mcp.callTool({
        name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
        arguments: { tools: [{ tool_slug: 'HOSTILE_RETURN', arguments: { kind } }] },
      })) as CallToolResult;
      const [first] = called.content;
      const text = first?.type === 'text' ? first.text : '';
      expect(text).toContain('HOSTILE_RETURN returned a result that cannot be handed on as JSON');
      // the multi-execute's JSON: each quote of a quoted JSON escaped
      expect(text.length).toBeLessThan(2 * bound);

      const local = await remote.execute('LOCAL_RETURN', { kind });
      expect(local).toMatchObject({ successful: false, code: 'TOOL_RESULT_INVALID' });
      for (const word of words) expect(local.error).toContain(word);
      expect(local.error!.length).toBeLessThan(bound);
    },
  );
});
