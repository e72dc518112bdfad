import { request } from 'node:http';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { startTestServer, type TestServer } from './testing/index.js';

/**
 * A credential header sent twice. Node.js joins the two values with ", ", and the refusal said the
 * key (or the session token) was wrong, even when both copies held the right one: every route that
 * reads a credential (REST and /metrics, the Composio routes, the MCP endpoint) now says the header came
 * more than once, with a 400.
 */

let server: TestServer;
let sessionId: string;
let token: string;
let composioSessionId: string;

/** A request with `headers` as raw pairs, so that a header can be sent twice. */
function send(method: string, path: string, headers: Array<[string, string]>, body?: string) {
  // raw pairs get no Host header of Node's: without one, an HTTP/1.1 server answers 400 itself
  const flat = ['host', new URL(server.url).host, ...headers.flat()];
  if (body !== undefined)
    flat.push('content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)));
  return new Promise<{ status: number; json: Record<string, any> }>((resolve, reject) => {
    const outgoing = request(`${server.url}${path}`, { method, headers: flat }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, json: text ? JSON.parse(text) : {} }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
  const session = await server.embedded.create('user_1');
  sessionId = session.sessionId;
  token = (session.mcp.headers as { Authorization: string }).Authorization.slice('Bearer '.length);
  const created = await send(
    'POST',
    '/api/v3.1/tool_router/session',
    [['x-api-key', server.apiKey]],
    JSON.stringify({ user_id: 'user_1' }),
  );
  composioSessionId = created.json.session_id;
});
afterAll(() => server.close());

describe('a credential header sent twice', () => {
  it('is a 400 naming the header on REST and the Composio routes, the right key twice included', async () => {
    const right = `Bearer ${server.apiKey}`;
    for (const [first, second] of [
      [right, right],
      [right, 'Bearer wrong-key-0123456789'],
      ['Bearer wrong-key-0123456789', right],
    ]) {
      for (const path of [
        '/api/v1/toolkits?limit=1',
        `/api/v3.1/tool_router/session/${composioSessionId}/tools`,
      ]) {
        const answer = await send('GET', path, [
          ['authorization', first!],
          ['authorization', second!],
        ]);
        expect(answer.status, `${path} ${first} ${second}`).toBe(400);
        expect(JSON.stringify(answer.json), path).toContain(
          'The Authorization header holds 2 values joined by \\", \\", as a request that sends it 2 times arrives: send the header once',
        );
        expect(JSON.stringify(answer.json)).not.toContain(server.apiKey);
      }
    }
    const composio = await send('GET', `/api/v3.1/tool_router/session/${composioSessionId}/tools`, [
      ['x-api-key', server.apiKey],
      ['x-api-key', server.apiKey],
    ]);
    expect(composio.status).toBe(400);
    expect(composio.json.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(composio.json.error.message).toContain('The x-api-key header holds 2 values');
    // once, each is taken
    expect((await send('GET', '/api/v1/toolkits?limit=1', [['authorization', right]])).status).toBe(200);
  });

  it("is a 400 at the MCP endpoint, for the session's token and for the project API key", async () => {
    const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const mcpHeaders: Array<[string, string]> = [['accept', 'application/json, text/event-stream']];
    for (const doubled of [
      [
        ['authorization', `Bearer ${token}`],
        ['authorization', `Bearer ${token}`],
      ],
      [
        ['x-api-key', server.apiKey],
        ['x-api-key', server.apiKey],
      ],
    ] as Array<Array<[string, string]>>) {
      const answer = await send('POST', `/mcp/${sessionId}`, [...mcpHeaders, ...doubled], list);
      expect(answer.status, doubled[0]![0]).toBe(400);
      expect(answer.json.error.message).toContain(
        `The ${doubled[0]![0] === 'authorization' ? 'Authorization' : 'x-api-key'} header holds 2 values`,
      );
      expect(answer.json.error.data).toEqual({ code: 'INVALID_REQUEST' });
    }
    // a wrong token is still 401
    const wrong = await send(
      'POST',
      `/mcp/${sessionId}`,
      [...mcpHeaders, ['authorization', 'Bearer nope']],
      list,
    );
    expect(wrong.status).toBe(401);
  });

  it('still takes a project API key that itself holds ", "', async () => {
    const apiKey = 'key, with a comma-0123456789';
    const mux = new ToolMux({ toolkits: [], store: ':memory:' });
    const running = await createServer({ toolmux: mux, apiKey }).serve({ port: 0 });
    try {
      const answer = await fetch(`${running.url}/api/v1/toolkits?limit=1`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      expect(answer.status).toBe(200);
      // a wrong one holding ", " is answered as two headers would be: the message says why
      const wrong = await fetch(`${running.url}/api/v1/toolkits?limit=1`, {
        headers: { authorization: 'Bearer key, with another comma' },
      });
      expect(wrong.status).toBe(400);
    } finally {
      await running.close();
      await mux.close();
    }
  });
});
