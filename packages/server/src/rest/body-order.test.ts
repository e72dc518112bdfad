import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Session } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A body is refused for what its headers say before it is read: a Content-Type that is not JSON (or
 * none) is a 415 as soon as the headers are in, not after the body (up to the offload route's 64 MB)
 * was read and decoded; a body past the route's limit is a 413 as it streams in, not once it ended.
 * Each request here sends its headers and a first part of its body, then waits for the answer
 * before sending the rest: an answer that needs the whole body never comes while the body is held
 * back (the request then ends after a wait, and the test fails on the order).
 */

let server: TestServer;
let session: Session;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
  session = await server.embedded.create('user_body_order', { toolkits: ['tasks'] });
});
afterAll(() => server?.close());

/** How long a request holds back the rest of its body waiting for an early answer. */
const HOLD_MS = 3_000;

interface Early {
  status: number;
  body: string;
  /** The answer came while the rest of the body was held back. */
  beforeBodyEnd: boolean;
}

/**
 * Sends `headers` and `first`, waits up to {@link HOLD_MS} for the answer, then sends `rest` bytes
 * (in 1 MB pieces) and ends the request unless the answer came.
 */
function sendHeld(
  path: string,
  headers: Record<string, string>,
  first: Buffer,
  rest: number,
): Promise<Early> {
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    let bodyEnded = false;
    const request = httpRequest(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, ...headers },
    });
    const timer = setTimeout(() => {
      // no early answer: send the rest and end, and let the answer say what it says
      const piece = Buffer.alloc(1 << 20, 0x78);
      for (let sent = 0; sent < rest; sent += piece.length) {
        request.write(piece.subarray(0, Math.min(piece.length, rest - sent)));
      }
      bodyEnded = true;
      request.end();
    }, HOLD_MS);
    request.on('response', (response: IncomingMessage) => {
      const beforeBodyEnd = !bodyEnded;
      clearTimeout(timer);
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), beforeBodyEnd });
        request.destroy();
      });
    });
    request.on('error', (error) => {
      // the server may close the connection once it answered, while the body is held
      if (!bodyEnded) return;
      reject(error);
    });
    request.write(first);
  });
}

const jsonStart = Buffer.from(
  `{"log_id":"log_${'0'.repeat(38)}","always":true,"result":"${'x'.repeat(70_000)}`,
);

describe('a body refused for its headers is refused before it is read', () => {
  const offload = () => `/api/v1/sessions/${session.sessionId}/workbench/offload`;

  it('the offload route: a Content-Type that is not JSON, or none, is a 415 before the body is read', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const size = 32 * 1024 * 1024;
      const headers: Record<string, string> = { 'content-length': String(size) };
      if (contentType !== undefined) headers['content-type'] = contentType;
      const answer = await sendHeld(offload(), headers, jsonStart, size - jsonStart.length);
      expect(answer.status, `${contentType}: ${answer.body}`).toBe(415);
      expect(answer.body).toContain('Content-Type: application/json');
      expect(answer.beforeBodyEnd, String(contentType)).toBe(true);
    }
    // chunked (no Content-Length) alike
    const chunked = await sendHeld(
      offload(),
      { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
      jsonStart,
      8 * 1024 * 1024,
    );
    expect(chunked).toMatchObject({ status: 415, beforeBodyEnd: true });
  }, 60_000);

  it('every route family that reads a body: REST, the Composio API and MCP answer 415 first', async () => {
    const composio = await fetch(`${server.url}/api/v3.1/tool_router/session`, {
      method: 'POST',
      headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'user_body_order' }),
    });
    const composioSession = ((await composio.json()) as { session_id: string }).session_id;
    for (const path of [
      '/api/v1/sessions',
      `/api/v1/sessions/${session.sessionId}/execute`,
      '/api/v3.1/tool_router/session',
      `/api/v3.1/tool_router/session/${composioSession}/execute`,
      `/mcp/${session.sessionId}`,
    ]) {
      const headers: Record<string, string> = {
        'content-type': 'text/plain',
        'content-length': String(512 * 1024),
        'x-api-key': server.apiKey,
        accept: 'application/json, text/event-stream',
        ...(path.startsWith('/mcp/') ? session.mcp.headers : {}),
      };
      const answer = await sendHeld(path, headers, jsonStart, 512 * 1024 - jsonStart.length);
      expect(answer.status, `${path}: ${answer.body}`).toBe(415);
      expect(answer.beforeBodyEnd, path).toBe(true);
    }
  }, 60_000);

  it('an empty or blank body without a Content-Type is no body, as before (the route then names what it lacks)', async () => {
    for (const [body, headers] of [
      [Buffer.alloc(0), { 'content-length': '0' }],
      [Buffer.from(' \r\n\t'), { 'transfer-encoding': 'chunked' }],
    ] as const) {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(new URL('/api/v1/sessions', server.url), {
          method: 'POST',
          headers: { authorization: `Bearer ${server.apiKey}`, ...headers },
        });
        request.on('response', (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        });
        request.on('error', reject);
        request.end(body);
      });
      expect(answer.status, answer.body).toBe(400);
      expect(answer.body).toContain('user_id');
    }
  });

  it('a JSON body past the limit is a 413 as it streams in, with a Content-Length or chunked', async () => {
    for (const path of [
      '/api/v1/sessions',
      offload(),
      '/api/v3.1/tool_router/session',
      `/mcp/${session.sessionId}`,
    ]) {
      const limit = path === offload() ? 64 * 1024 * 1024 + 64 * 1024 : 1024 * 1024;
      const declared = await sendHeld(
        path,
        {
          'content-type': 'application/json',
          'content-length': String(limit + 1),
          'x-api-key': server.apiKey,
          accept: 'application/json, text/event-stream',
          ...(path.startsWith('/mcp/') ? session.mcp.headers : {}),
        },
        jsonStart,
        limit + 1 - jsonStart.length,
      );
      expect(declared, path).toMatchObject({ status: 413, beforeBodyEnd: true });
    }
    // chunked: refused once what arrived passes the limit, while the rest is held back
    const over = Buffer.concat([jsonStart, Buffer.alloc(1024 * 1024, 0x78)]);
    const chunked = await sendHeld(
      '/api/v1/sessions',
      { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      over,
      1024 * 1024,
    );
    expect(chunked).toMatchObject({ status: 413, beforeBodyEnd: true });
  }, 60_000);
});
