import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestServer, TEST_API_KEY } from './test-helpers.js';

/**
 * A request body in a content coding (`Content-Encoding: gzip`) was read as if it were the JSON: a
 * gzip body was answered 400 "not valid JSON", and JSON labelled gzip or br was taken. The server
 * decodes no coding, so it answers 415 naming the coding (RFC 9110 §15.5.16), on every route that
 * reads a body.
 */

const { mux, server } = createTestServer();
afterAll(() => mux.close());

const session = await mux.create('user_1', { toolkits: ['mail'] });
const json = JSON.stringify({ user_id: 'user_2' });

async function post(path: string, body: string | Uint8Array, coding?: string) {
  const headers: Record<string, string> = {
    authorization: `Bearer ${TEST_API_KEY}`,
    'x-api-key': TEST_API_KEY,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (coding !== undefined) headers['content-encoding'] = coding;
  const response = await server.fetch(
    new Request(`http://localhost${path}`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : new Uint8Array(body),
    }),
  );
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('a request body in a content coding', () => {
  it('is refused 415 UNSUPPORTED_MEDIA_TYPE, naming the coding, whether or not the bytes are compressed', async () => {
    const routes = ['/api/v1/sessions', `/mcp/${session.sessionId}`, '/api/v3.1/tool_router/session'];
    for (const path of routes) {
      for (const [body, coding] of [
        [gzipSync(json), 'gzip'],
        [json, 'gzip'],
        [json, 'br'],
        [json, 'identity, gzip'],
      ] as const) {
        const answer = await post(path, body, coding);
        expect(answer.status, `${path} ${coding}`).toBe(415);
        const error = answer.body.error;
        // the MCP endpoint answers a JSON-RPC error (Invalid Request), the APIs their code
        expect(error.code, path).toBe(path.startsWith('/mcp/') ? -32600 : 'UNSUPPORTED_MEDIA_TYPE');
        expect(error.message).toContain(`Content-Encoding "${coding}"`);
      }
    }
  });

  it('identity (or none) is read as the JSON it is', async () => {
    for (const coding of [undefined, 'identity', 'IDENTITY']) {
      const answer = await post('/api/v1/sessions', json, coding);
      expect(answer.status, String(coding)).toBe(201);
      expect(answer.body.user_id).toBe('user_2');
    }
  });
});
