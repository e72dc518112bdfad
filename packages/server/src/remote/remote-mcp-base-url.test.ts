import { ToolMux, ToolMuxError } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A session's MCP URL (`…/mcp/ses_…`) pasted as remote mode's baseUrl, or a baseUrl ending in `/mcp`,
 * failed with the server's bare "No route POST /mcp/…/api/v1/sessions": the SDK now says that baseUrl
 * is the server's root and names it, and the server's 404 (for curl and other clients) names the
 * REST path to send.
 */
let server: TestServer;
let mcpUrl: string;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
  const mux = new ToolMux({ baseUrl: server.url, apiKey: server.apiKey });
  mcpUrl = (await mux.create('user_mcp_base')).mcp.url;
});
afterAll(() => server.close());

async function refusal(baseUrl: string): Promise<ToolMuxError> {
  const mux = new ToolMux({ baseUrl, apiKey: server.apiKey });
  const error = await mux.create('user_mcp_base').then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  await mux.close();
  if (!ToolMuxError.isInstance(error)) throw new Error(`expected a ToolMuxError, got ${String(error)}`);
  return error;
}

describe('remote mode with a baseUrl of the MCP endpoint', () => {
  it("a session's MCP URL: the message says baseUrl is the server's root and names it", async () => {
    expect(mcpUrl).toMatch(/\/mcp\/ses_/);
    const error = await refusal(mcpUrl);
    expect(error.code).toBe('ROUTE_NOT_FOUND');
    const suffix = new URL(mcpUrl).pathname;
    expect(error.message).toMatch(
      new RegExp(
        `^baseUrl ${mcpUrl} ends in ${suffix}, a session's MCP endpoint \\(its mcp\\.url\\): baseUrl is the toolmux server's root, to which the SDK adds /api/v1 itself, and the MCP URL is for MCP clients\\. Give new ToolMux\\(\\{ baseUrl: "${server.url}", apiKey \\}\\)\\. The server said: `,
      ),
    );
    expect(error.message).not.toContain(server.apiKey);
  });

  it.each(['/mcp', '/mcp/'])('a baseUrl ending in %s: the same, naming the root', async (end) => {
    const error = await refusal(`${server.url}${end}`);
    expect(error.code).toBe('ROUTE_NOT_FOUND');
    expect(error.message).toContain(
      `baseUrl ${server.url}/mcp ends in /mcp, the path of the MCP endpoints: baseUrl is the toolmux server's root`,
    );
    expect(error.message).toContain(`Give new ToolMux({ baseUrl: "${server.url}", apiKey }).`);
    expect(error.message).toContain(
      'The server said: No route POST /mcp/api/v1/sessions: the base URL /api/v1 was added to ends in /mcp, the path of the MCP endpoints, which takes MCP messages only',
    );
  });

  it('the server 404 of a REST path after /mcp/:sessionId names the path to send', async () => {
    const response = await fetch(`${mcpUrl}/api/v1/toolkits`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(response.status).toBe(404);
    expect(error.code).toBe('ROUTE_NOT_FOUND');
    expect(error.message).toBe(
      `No route GET ${new URL(mcpUrl).pathname}/api/v1/toolkits: the base URL /api/v1 was added to ends in ${new URL(mcpUrl).pathname}, a session's MCP endpoint, which takes MCP messages only: the REST API's base URL is the server's root, without /mcp (the SDK's baseUrl too); send it as GET /api/v1/toolkits.`,
    );
  });

  it('the server root still works as baseUrl', async () => {
    const mux = new ToolMux({ baseUrl: server.url, apiKey: server.apiKey });
    expect((await mux.create('user_mcp_base')).mcp.url).toMatch(/\/mcp\/ses_/);
    await mux.close();
  });
});
