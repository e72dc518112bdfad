import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { ToolMux } from '@toolmux/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { TEST_API_KEY } from './test-helpers.js';

/**
 * Answers given before the app routes a request (`serve()` only): a dot segment in the path, a
 * target or Host header the adapter cannot read, a connection past its client's share. They were
 * given outside the request-log middleware: no `x-request-id`, no log line and no count in
 * `toolmux_http_request_duration_seconds` (and the adapter's own 400 had an empty body), so a client
 * or proxy seeing them had nothing to find them by, and a dashboard of answers did not show them.
 */

const lines: Array<{ level: string; message: string; data?: Record<string, unknown> }> = [];
const at =
  (level: string) =>
  (message: string, data?: Record<string, unknown>): void =>
    void lines.push({ level, message, data });
const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
const mux = new ToolMux({ store: ':memory:', toolkits: [] });
const server = createServer({
  toolmux: mux,
  apiKey: TEST_API_KEY,
  logger,
  connections: { perClient: 1, unlimited: [] },
});
const running = await server.serve({ port: 0, hostname: '127.0.0.1' });
const sockets: Socket[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await running.close({ timeoutMs: 0 });
  await mux.close();
});

/** Sends `head` (a request line and headers) as written on a new connection: the answer's status, headers and body. */
async function send(head: string): Promise<{ status: number; headers: string; body: string }> {
  const socket = connect({ port: running.port, host: '127.0.0.1' });
  sockets.push(socket);
  await once(socket, 'connect');
  socket.write(`${head}Connection: close\r\n\r\n`);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.on('error', () => {});
  await once(socket, 'close');
  const [headers = '', body = ''] = text.split('\r\n\r\n');
  return { status: Number(headers.split(' ')[1]), headers: headers.toLowerCase(), body };
}

/** The log lines of request `id`. */
const linesOf = (id: string) => lines.filter((line) => line.data?.req_id === id);

describe('answers given before routing', () => {
  it('carry a request id, are logged and counted as routed answers are (route "unmatched")', async () => {
    const cases = [
      // a dot segment (refused by the server), a backslash and a Host header that is no host
      // (refused by the adapter, with an empty body before)
      { id: 'probe-dot', head: 'GET /mcp/../metrics HTTP/1.1\r\nHost: x\r\n', says: 'dot segment ".."' },
      { id: 'probe-backslash', head: 'GET /api\\v1/toolkits HTTP/1.1\r\nHost: x\r\n', says: 'backslash' },
      {
        id: 'probe-host',
        head: 'POST /healthz HTTP/1.1\r\nHost: a b\r\nContent-Length: 0\r\n',
        says: 'Host',
      },
    ];
    for (const { id, head, says } of cases) {
      const answer = await send(`${head}x-request-id: ${id}\r\n`);
      expect(answer.status, id).toBe(400);
      expect(answer.headers, id).toContain(`x-request-id: ${id}`);
      const error = JSON.parse(answer.body).error;
      expect(error.code, id).toBe('INVALID_REQUEST');
      expect(error.message, id).toContain(says);
      expect(linesOf(id), id).toEqual([
        {
          level: 'info',
          message: expect.stringMatching(/^(GET|POST) unmatched 400 [\d.]+ms$/),
          data: expect.objectContaining({ req_id: id, route: 'unmatched', status: 400 }),
        },
      ]);
    }
    // an id that is no sane id gets a new one, as on routed answers
    const forged = await send('GET /mcp/%2e%2e/metrics HTTP/1.1\r\nHost: x\r\nx-request-id: a b\r\n');
    expect(forged.headers).toMatch(/x-request-id: [0-9a-f-]{36}\r?$/m);

    // a connection past its client's share (one here): counted and answered with an id, logged in
    // the limit's own warning (at most one every 10 s), not a line per refusal
    const holder = connect({ port: running.port, host: '127.0.0.1' });
    sockets.push(holder);
    await once(holder, 'connect');
    holder.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const refused = await send('GET /healthz HTTP/1.1\r\nHost: x\r\nx-request-id: probe-refused\r\n');
    holder.destroy();
    expect(refused.status).toBe(503);
    expect(refused.headers).toContain('x-request-id: probe-refused');
    expect(JSON.parse(refused.body).error.code).toBe('TOO_MANY_CONNECTIONS');
    expect(linesOf('probe-refused')).toEqual([]);
    expect(
      lines.filter((line) => line.level === 'warn' && line.message.includes('refused a connection')),
    ).toHaveLength(1);

    const metrics = await (
      await server.app.request('/metrics', { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
    ).text();
    expect(metrics).toContain(
      'toolmux_http_request_duration_seconds_count{method="GET",route="unmatched",status="400"} 3',
    );
    expect(metrics).toContain(
      'toolmux_http_request_duration_seconds_count{method="POST",route="unmatched",status="400"} 1',
    );
    expect(metrics).toContain(
      'toolmux_http_request_duration_seconds_count{method="GET",route="unmatched",status="503"} 1',
    );
    expect(metrics).toContain('toolmux_connections_refused_total 1');
  });

  it("that Node.js's HTTP parser gives (a malformed request, headers over the size limit) carry a request id and are logged and counted too", async () => {
    const before = lines.length;
    const malformed = await send('GARBAGE\r\n');
    expect(malformed.status).toBe(400);
    const oversized = await send(`GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n`);
    expect(oversized.status).toBe(431);
    const ids = [malformed, oversized].map(
      (answer) => /x-request-id: ([0-9a-f-]{36})/.exec(answer.headers)?.[1],
    );
    expect(ids).toEqual([expect.any(String), expect.any(String)]);
    expect(linesOf(ids[0]!)).toEqual([
      {
        level: 'info',
        message: expect.stringMatching(/^UNKNOWN unmatched 400 [\d.]+ms$/),
        data: expect.objectContaining({ route: 'unmatched', status: 400 }),
      },
    ]);
    expect(linesOf(ids[1]!)).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ status: 431 }) }),
    ]);
    expect(lines.length - before).toBe(2);
    const metrics = await (
      await server.app.request('/metrics', { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
    ).text();
    expect(metrics).toContain(
      'toolmux_http_request_duration_seconds_count{method="UNKNOWN",route="unmatched",status="400"} 1',
    );
    expect(metrics).toContain(
      'toolmux_http_request_duration_seconds_count{method="UNKNOWN",route="unmatched",status="431"} 1',
    );
  });
});
