import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { ToolMuxError } from '../errors.js';
import type { ToolResult } from '../execution/result.js';

/** How the test server answers one request. */
export type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * A loopback HTTP server whose answers the test sets (`answer(handler)`), standing where a remote
 * ToolMux expects a toolmux server; it records each request it received.
 */
export async function misbehavingServer(host = '127.0.0.1') {
  let handler: Handler = (_request, response) => response.end();
  const received: Array<{ method: string; url: string; authorization?: string; body: string }> = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        authorization: request.headers.authorization,
        body,
      });
    });
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const url = `http://${host === '127.0.0.1' ? host : 'localhost'}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    answer(next: Handler) {
      handler = next;
      received.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A session as the toolmux server describes it (`GET /api/v1/sessions/:id`). */
export const SESSION_ANSWER = {
  session_id: 'ses_remote_client_test',
  user_id: 'user_1',
  config: { customTools: [], customToolkits: [] },
  config_version: 1,
  metadata: {},
  mcp: { url: 'http://x/mcp/ses_remote_client_test', headers: { Authorization: 'Bearer t' } },
};

/**
 * A connection request as the toolmux server at `serverUrl` describes it (`GET
 * /api/v1/connection-requests/:id`): its connect page on the server's own origin; `fields` over it.
 */
export function connectionRequestAnswer(serverUrl: string, fields: Record<string, unknown> = {}) {
  const id = typeof fields.id === 'string' ? fields.id : 'cr_1';
  return {
    id,
    kind: 'oauth2',
    user_id: 'user_1',
    toolkit: 'github',
    auth_config_id: 'ac_1',
    connected_account_id: 'ca_1',
    status: 'PENDING',
    callback_url: 'http://localhost:3000/connected',
    redirect_url: `${serverUrl}/connect/${id}`,
    expires_at: '2024-05-01T10:00:00.000Z',
    ...fields,
  };
}

/** An execution log entry as the toolmux server describes it (an item of `GET /api/v1/logs`). */
export const LOG_ANSWER = {
  id: 'log_1',
  session_id: SESSION_ANSWER.session_id,
  user_id: 'user_1',
  tool_slug: 'GITHUB_STAR',
  toolkit: 'github',
  connected_account_id: 'ca_1',
  call_id: null,
  status: 'success',
  error_code: null,
  error_message: null,
  duration_ms: 12,
  input: '{}',
  output: '{}',
  created_at: '2024-05-01T10:00:00.000Z',
  parent_id: null,
};

/** Answers `status` with `body` as JSON (a string is sent as it is). */
export const jsonAnswer =
  (status: number, body: unknown): Handler =>
  (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

/**
 * The ToolMuxError a promise rejects with, whose message and details do not show `secret`; fails
 * the test when it resolves, or rejects with something else (a TypeError).
 */
export async function rejection(promise: Promise<unknown>, secret: string): Promise<ToolMuxError> {
  const error = await promise.then(
    (value) => new Error(`expected a rejection, got ${JSON.stringify(value)}`),
    (caught: unknown) => caught,
  );
  if (!ToolMuxError.isInstance(error)) throw error;
  expect(`${error.message} ${JSON.stringify(error.details ?? {})}`).not.toContain(secret);
  return error;
}

/**
 * A tool call's failed result (which a tool call answers instead of rejecting, in both modes) thrown
 * as the ToolMuxError it reports, its code and message, so that a test compares it with what other
 * requests reject with; a successful result is handed on.
 */
export async function failedCall(call: Promise<ToolResult>): Promise<ToolResult> {
  const result = await call;
  if (result.successful) return result;
  expect(result.data).toBeNull();
  throw new ToolMuxError({ code: result.code ?? 'TOOL_EXECUTION_FAILED', message: result.error ?? '' });
}
