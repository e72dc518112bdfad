import { once } from 'node:events';
import { connect } from 'node:net';
import { ToolMux } from '@toolmux/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { TEST_API_KEY } from './test-helpers.js';

/**
 * URL parsing resolves dot segments, encoded ones too: `GET /mcp/%2e%2e/api/v1/openapi.json` was
 * answered with the OpenAPI document, and `/api/v1/%2e%2e/%2e%2e/metrics` with the metrics. A proxy
 * in front that allows requests by path prefix without normalising them (`/mcp/` to everyone) let
 * them reach other routes. Such paths are refused 400 before routing.
 */

const mux = new ToolMux({ store: ':memory:', toolkits: [] });
const running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({
  port: 0,
  hostname: '127.0.0.1',
});
afterAll(async () => {
  await running.close({ timeoutMs: 0 });
  await mux.close();
});

/** The status line and body of a request for `target`, sent as written (no client normalises it). */
async function ask(target: string): Promise<{ status: number; body: string }> {
  const socket = connect({ port: running.port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(
    `GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nConnection: close\r\n\r\n`,
  );
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  await once(socket, 'close');
  const [head = '', body = ''] = text.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), body };
}

describe('request paths with dot segments', () => {
  it('are refused 400 INVALID_REQUEST naming the segment, encoded or not, in any case', async () => {
    for (const [target, segment] of [
      ['/mcp/%2e%2e/api/v1/openapi.json', '%2e%2e'],
      ['/api/v1/%2E%2E/%2e%2e/metrics', '%2E%2E'],
      ['/api/v1/sessions/%2e%2E', '%2e%2E'],
      ['/api/v1/./sessions', '.'],
      ['/api/v1/sessions/../toolkits?limit=1', '..'],
      ['/mcp/.%2e/metrics', '.%2e'],
      ['http://x/mcp/%2e/healthz', '%2e'],
    ] as const) {
      const answer = await ask(target);
      expect(answer.status, target).toBe(400);
      const error = JSON.parse(answer.body).error;
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.message).toContain(`dot segment "${segment}"`);
    }
  });

  it("are refused in Composio's envelope on Composio's paths, as every other answer there", async () => {
    for (const target of ['/api/v3.1/tool_router/session/%2e%2e/tools', '/api/v3/tool_router/./session']) {
      const answer = await ask(target);
      expect(answer.status, target).toBe(400);
      const body = JSON.parse(answer.body);
      expect(body, target).toMatchObject({
        code: 'INVALID_REQUEST',
        status: 400,
        message: expect.stringContaining('dot segment'),
        error: { code: 'INVALID_REQUEST', status: 400, message: expect.stringContaining('dot segment') },
      });
    }
  });

  it('dots inside a segment are not dot segments', async () => {
    expect((await ask('/api/v1/openapi.json')).status).toBe(200);
    expect((await ask('/healthz?next=/../x')).status).toBe(200);
    // an id holding dots is looked up (and not found), not refused as a path
    expect((await ask('/api/v1/sessions/...')).status).not.toBe(400);
    expect((await ask('/api/v1/sessions/%2e%2e%2e')).status).not.toBe(400);
  });
});
