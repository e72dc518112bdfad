import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { ToolMux } from '@toolmux/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { TEST_API_KEY } from './test-helpers.js';

/**
 * A client that sends `Expect: 100-continue` waits for `100 Continue` before it uploads its body.
 * Node.js answered that at once for every request, so a request refused before its body is read
 * (401 without the key, 413 on the declared length, 415 for a body that is not JSON, a 404) first
 * invited the upload it then refused: curl sent 1.9 MB of a 20 MB body before the 413. Now only the
 * body's reader sends `100 Continue`, when it is about to read.
 */

const mux = new ToolMux({ store: ':memory:', toolkits: [] });
const running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, bodyLimit: 1024 * 1024 }).serve({
  port: 0,
  hostname: '127.0.0.1',
});
afterAll(async () => {
  await running.close({ timeoutMs: 0 });
  await mux.close();
});

/** Sends a request's head only, and collects what the server writes back. */
async function head(
  lines: string[],
): Promise<{ socket: Socket; text: () => string; until: (s: string) => Promise<void> }> {
  const socket = connect({ port: running.port, host: '127.0.0.1' });
  await once(socket, 'connect');
  let text = '';
  const waiting = new Set<() => void>();
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
    for (const check of waiting) check();
  });
  socket.on('error', () => {});
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return {
    socket,
    text: () => text,
    until: (expected) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (text.includes(expected)) {
            waiting.delete(check);
            resolve();
          }
        };
        waiting.add(check);
        socket.once('close', () =>
          text.includes(expected) ? resolve() : reject(new Error(`closed after:\n${text}`)),
        );
        check();
      }),
  };
}

const json = JSON.stringify({ user_id: 'user_continue' });

describe('Expect: 100-continue', () => {
  it('a request refused before its body is read is answered without 100 Continue first', async () => {
    for (const [lines, status] of [
      [
        [
          'POST /api/v1/sessions HTTP/1.1',
          'Host: x',
          'Content-Type: application/json',
          'Content-Length: 5000000',
        ],
        401,
      ],
      [
        [
          'POST /api/v1/sessions HTTP/1.1',
          'Host: x',
          `Authorization: Bearer ${TEST_API_KEY}`,
          'Content-Type: application/json',
          'Content-Length: 5000000',
        ],
        413,
      ],
      [
        [
          'POST /api/v1/sessions HTTP/1.1',
          'Host: x',
          `Authorization: Bearer ${TEST_API_KEY}`,
          'Content-Type: text/plain',
          'Content-Length: 500',
        ],
        415,
      ],
      [
        [
          'POST /api/v1/no-such-route HTTP/1.1',
          'Host: x',
          `Authorization: Bearer ${TEST_API_KEY}`,
          'Content-Length: 500',
        ],
        404,
      ],
    ] as const) {
      const request = await head([...lines, 'Expect: 100-continue']);
      await request.until('\r\n\r\n');
      expect(request.text(), lines[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(request.text()).not.toContain('100 Continue');
      request.socket.destroy();
    }
  });

  it('a request whose body is wanted gets 100 Continue, then its answer once the body is sent', async () => {
    const request = await head([
      'POST /api/v1/sessions HTTP/1.1',
      'Host: x',
      `Authorization: Bearer ${TEST_API_KEY}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(json)}`,
      'Connection: close',
      'Expect: 100-continue',
    ]);
    await request.until('HTTP/1.1 100 Continue\r\n\r\n');
    expect(request.text()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    request.socket.write(json);
    await request.until('"user_continue"');
    expect(request.text()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
    request.socket.destroy();
  });

  it('the MCP endpoint sends 100 Continue when it reads a call, and answers it', async () => {
    const session = await mux.create('user_mcp', {});
    const message = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const request = await head([
      `POST ${new URL(session.mcp.url).pathname} HTTP/1.1`,
      'Host: x',
      `Authorization: ${session.mcp.headers.Authorization}`,
      'Content-Type: application/json',
      'Accept: application/json, text/event-stream',
      `Content-Length: ${Buffer.byteLength(message)}`,
      'Connection: close',
      'Expect: 100-continue',
    ]);
    await request.until('HTTP/1.1 100 Continue\r\n\r\n');
    request.socket.write(message);
    await request.until('"jsonrpc"');
    expect(request.text()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    request.socket.destroy();
  });

  it('fetch with a streamed body (no Expect) still works', async () => {
    const response = await fetch(`${running.url}/api/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: json,
    });
    expect(response.status).toBe(201);
  });
});
