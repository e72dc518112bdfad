import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ToolMux } from '@toolmux/core';
import {
  createSampleToolkits,
  createTestPostgresUrl,
  postgresSkipReason,
  recordingLogger,
} from '@toolmux/core/test';
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
