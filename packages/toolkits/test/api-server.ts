import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Credentials, Tool, ToolContext, Toolkit } from '@toolmux/core';

/** One request the fake API received. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, percent-decoded. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** Parsed JSON body, or the raw text, or undefined. */
  body: unknown;
}

export interface FakeReply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Handler = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** A provider API on loopback that answers from fixtures and records every request. */
export interface FakeApi {
  url: string;
  requests: RecordedRequest[];
  /** Answers `METHOD /path/:param` with a fixture (or a function of the request). */
  route(method: string, path: string, reply: FakeReply | Handler): void;
  /** The next request (whatever route it hits) gets this reply instead. */
  failNext(reply: FakeReply): void;
  close(): Promise<void>;
}

function toPattern(path: string): RegExp {
  const escaped = path
    .split('/')
    .map((part) =>
      part.startsWith(':')
        ? part === ':path*'
          ? '.*'
          : '[^/]+'
        : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${escaped}$`);
}

async function readRequest(request: IncomingMessage): Promise<RecordedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const url = new URL(request.url ?? '/', 'http://localhost');
  let body: unknown;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return {
    method: request.method ?? 'GET',
    path: decodeURIComponent(url.pathname),
    query: Object.fromEntries(url.searchParams),
    headers: Object.fromEntries(
      Object.entries(request.headers).map(([key, value]) => [
        key,
        Array.isArray(value) ? value.join(', ') : (value ?? ''),
      ]),
    ),
    body,
  };
}

function write(response: ServerResponse, reply: FakeReply): void {
  const status = reply.status ?? 200;
  const isText = typeof reply.body === 'string';
  response.writeHead(status, {
    'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    ...reply.headers,
  });
  response.end(reply.body === undefined ? '' : isText ? (reply.body as string) : JSON.stringify(reply.body));
}

export async function startFakeApi(): Promise<FakeApi> {
  const routes: Route[] = [];
  const requests: RecordedRequest[] = [];
  const overrides: FakeReply[] = [];
  const server = createServer(async (incoming, response) => {
    const request = await readRequest(incoming);
    requests.push(request);
    const override = overrides.shift();
    if (override) return write(response, override);
    const route = routes.find((entry) => entry.method === request.method && entry.pattern.test(request.path));
    if (!route)
      return write(response, {
        status: 404,
        body: { message: `no fixture for ${request.method} ${request.path}` },
      });
    try {
      write(response, await route.handler(request));
    } catch (error) {
      write(response, { status: 500, body: { message: (error as Error).message } });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    route(method, path, reply) {
      routes.unshift({
        method,
        pattern: toPattern(path),
        handler: typeof reply === 'function' ? reply : () => reply,
      });
    },
    failNext(reply) {
      overrides.push(reply);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tool context as core builds it, for calling `tool.execute(input, context)` directly. */
export function toolContext(credentials?: Credentials, signal?: AbortSignal): ToolContext {
  return {
    userId: 'user_test',
    sessionId: undefined,
    callId: undefined,
    credentials,
    signal: signal ?? new AbortController().signal,
    fetch: globalThis.fetch,
    log: () => {},
  };
}

/** Validates the input like a session does, then runs the tool's handler. */
export async function run(
  toolkit: Toolkit,
  slug: string,
  input: unknown,
  context: ToolContext,
): Promise<any> {
  const tool: Tool | undefined = toolkit.tools.find((candidate) => candidate.slug === slug);
  if (!tool) throw new Error(`no tool ${slug} in ${toolkit.slug}`);
  const validation = tool.validate(input);
  if (!validation.success) throw new Error(`invalid input for ${slug}: ${JSON.stringify(validation.issues)}`);
  return tool.execute(validation.value, context);
}
