import type { Logger } from '@toolmux/core';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import type { McpOptions } from './mcp/mcp-endpoint.js';
import { createServer, type ToolMuxServer } from './server.js';

export const TEST_API_KEY = 'test-api-key-0123456789abcdef';

/** A logger that keeps what it is told, so tests can assert on it (and the output stays quiet). */
export function recordingLogger(): Logger & { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return {
    errors,
    warnings,
    debug() {},
    warn(message) {
      warnings.push(message);
    },
    error(message) {
      errors.push(message);
    },
  };
}

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
