import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { PlainTool } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing/index.js';

/**
 * DIRECT_TOOLS sessions hand out the meta-tools their config asked for, and no others, whichever way
 * the session is made and read: REST, MCP `tools/list`, a remote-mode ToolMux.
 */

let server: TestServer;
const clients: Client[] = [];
beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.close();
});

const MAIL = { to: 'a@example.com', subject: 'Hi', body: 'Hello' };
const ASKED = {
  sessionPreset: 'DIRECT_TOOLS',
  toolkits: ['mail', 'tasks'],
  manageConnections: true,
  workbench: { enable: true },
};
const DEFAULT = { sessionPreset: 'DIRECT_TOOLS', toolkits: ['mail', 'tasks'] };
const metaOf = (names: string[]) => names.filter((name) => name.startsWith('TOOLMUX_')).sort();

async function rest<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (await response.json()) as T;
}

type SessionWire = { session_id: string; mcp: { url: string; headers: Record<string, string> } };
type ResultWire = { successful: boolean; error: string | null; code?: string };

async function mcpClient(session: SessionWire): Promise<Client> {
  const client = new Client({ name: 'toolmux-direct-test', version: '1.0.0' });
  const url = new URL(session.mcp.url);
  const local = new URL(`${server.url}${url.pathname}`);
  await client.connect(
    new StreamableHTTPClientTransport(local, { requestInit: { headers: session.mcp.headers } }),
  );
  clients.push(client);
  return client;
}

function text(result: CallToolResult): string {
  const [first] = result.content;
  return first?.type === 'text' ? first.text : '';
}

describe('DIRECT_TOOLS over REST and MCP', () => {
  it('POST /sessions with manageConnections and the workbench: those meta-tools in GET /tools and tools/list, and errors name them', async () => {
    const session = await rest<SessionWire>('POST', '/sessions', { user_id: 'user_1', config: ASKED });
    const listed = await rest<{ items: Array<{ slug: string }> }>(
      'GET',
      `/sessions/${session.session_id}/tools`,
    );
    const slugs = listed.items.map((item) => item.slug);
    expect(metaOf(slugs)).toEqual(['TOOLMUX_MANAGE_CONNECTIONS', 'TOOLMUX_WORKBENCH']);
    expect(slugs).toContain('MAIL_SEND_EMAIL');

    const client = await mcpClient(session);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names.sort()).toEqual([...slugs].sort());

    const viaRest = await rest<ResultWire>('POST', `/sessions/${session.session_id}/execute`, {
      tool_slug: 'MAIL_SEND_EMAIL',
      arguments: MAIL,
    });
    expect(viaRest.code).toBe('CONNECTION_REQUIRED');
    expect(viaRest.error).toContain('TOOLMUX_MANAGE_CONNECTIONS gives a link to open');
    const viaMcp = (await client.callTool({
      name: 'TOOLMUX_MANAGE_CONNECTIONS',
      arguments: { toolkits: ['mail'] },
    })) as CallToolResult;
    expect(viaMcp.isError).toBeFalsy();
    expect(JSON.parse(text(viaMcp))).toMatchObject({ results: [{ toolkit: 'mail', connected: false }] });
  });

  it('POST /sessions by default: no meta-tools, and no error names one', async () => {
    const session = await rest<SessionWire>('POST', '/sessions', { user_id: 'user_1', config: DEFAULT });
    const client = await mcpClient(session);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(metaOf(names)).toEqual([]);
    const unconnected = (await client.callTool({
      name: 'MAIL_SEND_EMAIL',
      arguments: MAIL,
    })) as CallToolResult;
    expect(unconnected.isError).toBe(true);
    expect(text(unconnected)).toContain('CONNECTION_REQUIRED');
    expect(text(unconnected)).not.toContain('TOOLMUX_');
    const missing = await rest<ResultWire>('POST', `/sessions/${session.session_id}/execute`, {
      tool_slug: 'TOOLMUX_SEARCH_TOOLS',
      arguments: { queries: [{ use_case: 'send mail' }] },
    });
    expect(missing.code).toBe('TOOL_NOT_IN_SESSION');
    expect(missing.error!.replace(/^TOOLMUX_SEARCH_TOOLS/, '')).not.toContain('TOOLMUX_');
  });
});

describe('DIRECT_TOOLS in remote mode', () => {
  it('a remote session has the meta-tools its config asked for, and its errors name only those', async () => {
    const mux = server.remote();
    const asked = await mux.create('user_1', {
      sessionPreset: 'DIRECT_TOOLS',
      toolkits: ['mail', 'tasks'],
      manageConnections: { waitForConnections: true },
    });
    const names = ((await asked.tools()) as PlainTool[]).map((tool) => tool.name);
    expect(metaOf(names)).toEqual(['TOOLMUX_MANAGE_CONNECTIONS', 'TOOLMUX_WAIT_FOR_CONNECTIONS']);
    expect((await asked.execute('MAIL_SEND_EMAIL', MAIL)).error).toContain('TOOLMUX_MANAGE_CONNECTIONS');

    const plain = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS', toolkits: ['mail', 'tasks'] });
    expect(metaOf(((await plain.tools()) as PlainTool[]).map((tool) => tool.name))).toEqual([]);
    const failed = await plain.execute('MAIL_SEND_EMAIL', MAIL);
    expect(failed.code).toBe('CONNECTION_REQUIRED');
    expect(failed.error).not.toContain('TOOLMUX_');
    expect(failed.error).toContain('session.authorize("mail")');
  });
});
