import { ToolMux, ToolMuxError } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A route's path with a slash at its end or doubled (a client that joins `${base}/` and `/toolkits`)
 * matches no route. Its 404 pointed at the whole API ("The REST API is under /api/v1"), though the
 * path was one letter from a route: it now names the path to send.
 */

let server: TestServer;
let sessionId: string;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
  sessionId = (await server.embedded.create('user_paths')).sessionId;
});
afterAll(() => server.close());

async function send(method: string, path: string) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'x-api-key': server.apiKey },
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

describe('a path with trailing or doubled slashes', () => {
  it('is a 404 naming the path of the route it meant (when one takes the method), on the REST API and the Composio routes alike', async () => {
    for (const [method, path, served] of [
      ['GET', '/api/v1/toolkits/', '/api/v1/toolkits'],
      ['GET', '/api/v1//toolkits', '/api/v1/toolkits'],
      ['GET', `/api/v1/sessions/${sessionId}//tools`, `/api/v1/sessions/${sessionId}/tools`],
      ['DELETE', `/api/v1/sessions/${sessionId}/`, `/api/v1/sessions/${sessionId}`],
      ['POST', '/api/v1/sessions/', '/api/v1/sessions'],
    ] as const) {
      const answer = await send(method, path);
      expect(answer.status, path).toBe(404);
      expect(answer.json.error, path).toEqual({
        code: 'ROUTE_NOT_FOUND',
        message: `No route ${method} ${path}: send it without the trailing or doubled slashes, as ${method} ${served}.`,
      });
    }
    const composio = await send('GET', `/api/v3.1/tool_router/session/${sessionId}/`);
    expect(composio.status).toBe(404);
    expect(composio.json).toMatchObject({
      code: 'ROUTE_NOT_FOUND',
      status: 404,
      message: `No route GET /api/v3.1/tool_router/session/${sessionId}/: send it without the trailing or doubled slashes, as GET /api/v3.1/tool_router/session/${sessionId}.`,
    });
    expect(composio.json.error.code).toBe('ROUTE_NOT_FOUND');

    // no route takes the path, or not with that method: the 404 that points at the API
    for (const [method, path] of [
      ['GET', '/api/v1/nothing/'],
      // the route without the slash takes POST and GET, not PUT
      ['PUT', '/api/v1/sessions/'],
    ] as const) {
      const answer = await send(method, path);
      expect(answer.status, path).toBe(404);
      expect(answer.json.error.message, path).toBe(
        `No route ${method} ${path}. The REST API is under /api/v1 (see /api/v1/openapi.json); MCP is at /mcp/:sessionId.`,
      );
    }
  });
});

/**
 * A base URL that ends in `/api/v1` already (`new ToolMux({ baseUrl: 'http://host:8787/api/v1' })`,
 * a common mistake): the SDK, or a client, adds `/api/v1` to it again. The 404 said "No route POST
 * /api/v1/api/v1/sessions" and pointed at the whole API; the server now names the path to send and
 * that the base URL must leave out `/api/v1`, and the SDK says which baseUrl to give. The SDK keeps
 * the baseUrl as given (a proxy may serve the server below a path of its own).
 */
describe('/api/v1 twice in the path', () => {
  it('is a 404 that says to leave /api/v1 out of the base URL, naming the route meant', async () => {
    for (const [method, path, served] of [
      ['POST', '/api/v1/api/v1/sessions', '/api/v1/sessions'],
      ['GET', `/api/v1/api/v1/sessions/${sessionId}/tools`, `/api/v1/sessions/${sessionId}/tools`],
    ] as const) {
      const answer = await send(method, path);
      expect(answer.status, path).toBe(404);
      expect(answer.json.error, path).toEqual({
        code: 'ROUTE_NOT_FOUND',
        message: `No route ${method} ${path}: /api/v1 is in the path twice: the base URL it was added to ends in /api/v1 already, so give the server's address without it (the SDK's baseUrl too); send it as ${method} ${served}.`,
      });
    }
    // and with a trailing slash as well
    const both = await send('GET', '/api/v1/api/v1/toolkits/');
    expect(both.json.error.message).toBe(
      "No route GET /api/v1/api/v1/toolkits/: /api/v1 is in the path twice: the base URL it was added to ends in /api/v1 already, so give the server's address without it (the SDK's baseUrl too); send it without the trailing or doubled slashes, as GET /api/v1/toolkits.",
    );
  });

  it('a remote SDK whose baseUrl ends in /api/v1 is told to drop it, naming the baseUrl to give', async () => {
    const mux = new ToolMux({ baseUrl: `${server.url}/api/v1`, apiKey: server.apiKey });
    try {
      const error = await mux.create('user_paths').then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(ToolMuxError.isInstance(error)).toBe(true);
      expect((error as ToolMuxError).code).toBe('ROUTE_NOT_FOUND');
      expect((error as ToolMuxError).message).toMatch(
        new RegExp(
          `^baseUrl ${server.url}/api/v1 ends in /api/v1, which the SDK adds to every request itself: give the server's address without it, new ToolMux\\({ baseUrl: "${server.url}", apiKey }\\)\\. The server said: .*No route POST /api/v1/api/v1/sessions`,
        ),
      );
      expect((error as ToolMuxError).message).not.toContain(server.apiKey);
    } finally {
      await mux.close();
    }
  });
});
