import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolMux } from '@toolmux/core';
import {
  createSampleToolkits,
  createTestPostgresUrl,
  postgresSkipReason,
  recordingLogger,
} from '@toolmux/core/test';
import type { Hono } from 'hono';
import type { McpOptions } from './mcp/mcp-endpoint.js';
import { createServer, type ToolMuxServer } from './server.js';

export const TEST_API_KEY = 'test-api-key-0123456789abcdef';

export { recordingLogger };

/** A ToolMux on an in-memory store with the sample toolkits, and a server over it. */
export function createTestServer(
  options: { bodyLimit?: number; baseUrl?: string; sessionCacheTtlMs?: number; mcp?: McpOptions } = {},
): {
  mux: ToolMux;
  server: ToolMuxServer;
  logger: ReturnType<typeof recordingLogger>;
  sample: ReturnType<typeof createSampleToolkits>;
} {
  const sample = createSampleToolkits();
  const logger = recordingLogger();
  const mux = new ToolMux({
    toolkits: sample.toolkits,
    store: ':memory:',
    baseUrl: options.baseUrl ?? 'http://localhost:8787',
    logger,
  });
  const server = createServer({
    toolmux: mux,
    apiKey: TEST_API_KEY,
    bodyLimit: options.bodyLimit,
    sessionCacheTtlMs: options.sessionCacheTtlMs,
    logger,
    mcp: options.mcp,
  });
  return { mux, server, logger, sample };
}

/**
 * A `POST /mcp/:sessionId` of one JSON-RPC message (or batch) as MCP clients send it, with `headers`
 * (the credentials) added, for `server.fetch()`.
 */
export function mcpRequest(sessionId: string, headers: Record<string, string>, body: unknown): Request {
  return new Request(`http://localhost/mcp/${sessionId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

/**
 * Calls the REST API of `app` in process (no port), with the test API key: `call(method, path, body)`
 * answers the status and the parsed JSON body.
 */
export function restCaller(app: Hono) {
  return async (method: string, path: string, body?: unknown) => {
    const response = await app.request(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as any };
  };
}

/** The built CLI (`pnpm build` makes it). */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/**
 * Starts `toolmux serve --port 0 …args` as a child process, with `env` over this process's
 * environment; answers once it prints the URL it listens on (20 s at most).
 */
export function spawnServe(
  args: string[],
  env: Record<string, string>,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL from the server in time:\n${output}`)), 20_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1]!, child });
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
}

/** A store a test runs on: an SQLite file, or a fresh PostgreSQL database (skipped, with the reason, without one). */
export interface TestStoreBackend {
  name: 'SQLite' | 'PostgreSQL';
  skip: string | undefined;
  /** A new, empty store's spec, and what removes it. */
  store(): Promise<{ spec: string; cleanup(): Promise<void> }>;
}

/**
 * The two stores a log or session test runs on, each store a new one in `directory` (SQLite) or a new
 * database (PostgreSQL). `sharedSecretKey`: a PostgreSQL store sets `TOOLMUX_SECRET_KEY` to a new key
 * while it lives, for a server and its clients that read the key from the environment.
 */
export async function testStoreBackends(
  directory: string,
  options: { sharedSecretKey?: boolean } = {},
): Promise<TestStoreBackend[]> {
  return [
    {
      name: 'SQLite',
      skip: undefined,
      store: async () => ({
        spec: `sqlite:${join(mkdtempSync(join(directory, 'db-')), 'toolmux.db')}`,
        cleanup: async () => {},
      }),
    },
    {
      name: 'PostgreSQL',
      skip: await postgresSkipReason(),
      store: async () => {
        const previousKey = process.env.TOOLMUX_SECRET_KEY;
        if (options.sharedSecretKey) process.env.TOOLMUX_SECRET_KEY = randomBytes(32).toString('base64');
        const database = await createTestPostgresUrl();
        return {
          spec: database.url,
          cleanup: async () => {
            await database.cleanup();
            if (!options.sharedSecretKey) return;
            if (previousKey === undefined) delete process.env.TOOLMUX_SECRET_KEY;
            else process.env.TOOLMUX_SECRET_KEY = previousKey;
          },
        };
      },
    },
  ];
}

/**
 * A user with one Gmail account (alias "work", of `createGmailLikeToolkit({ 'key-work': … })`) and
 * a session that may use it, made through `mux` (embedded or remote): the right arguments the SDK
 * argument tests vary one at a time.
 */
export async function userWithGmailAccount(mux: ToolMux, userId: string) {
  const config = await mux.authConfigs.create('gmail', { type: 'api_key' });
  const account = await mux.connectedAccounts.create(
    userId,
    config.id,
    { apiKey: 'key-work' },
    { alias: 'work' },
  );
  const session = await mux.create(userId, {
    authConfigs: { gmail: config.id },
    multiAccount: { enable: true },
  });
  return { mux, userId, config, account, session };
}
