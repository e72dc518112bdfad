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
