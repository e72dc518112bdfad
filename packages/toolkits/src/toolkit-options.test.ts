import { join } from 'node:path';
import { ToolMuxError } from '@toolmux/core';
import { MAX_TIMER_MS } from '@toolmux/core/internal';
import { type NumberKeys, notWholeNumberWithin } from '@toolmux/core/test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHttpToolkit, type HttpToolkitOptions } from './http-toolkit.js';
import { type McpHttpOptions, type McpStdioOptions, mcpToolkit } from './mcp.js';

// Nothing is there: a refused option is refused before a process is started or a server is asked
// (without the check, these failed as a spawn error or a refused connection instead).
const STDIO: McpStdioOptions = { slug: 'files', command: join(import.meta.dirname, 'no-such-mcp-server') };
const HTTP: McpHttpOptions = { slug: 'remote', url: 'http://127.0.0.1:9/mcp' };

/**
 * Every numeric option of `mcpToolkit()`, the transports that take it and its bounds: a Record over
 * the numeric keys, so that one added without a row here fails the type check.
 */
const NUMERIC: Record<
  NumberKeys<McpStdioOptions> | NumberKeys<McpHttpOptions>,
  { transports: Array<McpStdioOptions | McpHttpOptions>; min: number; max?: number }
> = {
  timeoutMs: { transports: [STDIO, HTTP], min: 1, max: MAX_TIMER_MS },
  maxClients: { transports: [HTTP], min: 1 },
};

describe('every numeric option of mcpToolkit() refuses what it cannot be before anything is started: TOOL_DEFINITION_INVALID naming it, its bounds and the value', () => {
  const cases = Object.entries(NUMERIC).flatMap(([name, { transports, ...bounds }]) =>
    transports.map((base) => [name, 'command' in base ? 'stdio' : 'http', base, bounds] as const),
  );
  it.each(cases)('%s (%s)', async (name, _transport, base, bounds) => {
    await fc.assert(
      fc.asyncProperty(notWholeNumberWithin(bounds), async (value) => {
        const error = await mcpToolkit({ ...base, [name]: value }).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(ToolMuxError.isInstance(error) && error.code).toBe('TOOL_DEFINITION_INVALID');
        expect((error as Error).message).toMatch(
          new RegExp(
            `^mcpToolkit\\(\\) ${name} must be a whole number of \\w+[ ,].*; got .+\\. Leave it out for \\d+\\.$`,
            's',
          ),
        );
      }),
      { numRuns: 50 },
    );
  });
});

describe('createHttpToolkit() refuses what its options cannot be: TOOL_DEFINITION_INVALID naming it and the value', () => {
  const NUMBERS: Record<NumberKeys<HttpToolkitOptions>, { min: number }> = {
    maxResponseCharacters: { min: 1 },
    maxResponseBytes: { min: 1 },
  };
  it.each(Object.entries(NUMBERS))('%s', (name, bounds) => {
    fc.assert(
      fc.property(notWholeNumberWithin(bounds), (value) => {
        let error: unknown;
        try {
          createHttpToolkit({ [name]: value });
        } catch (thrown) {
          error = thrown;
        }
        expect(ToolMuxError.isInstance(error) && error.code).toBe('TOOL_DEFINITION_INVALID');
        expect((error as Error).message).toMatch(
          new RegExp(
            `^createHttpToolkit\\(\\) ${name} must be a whole number of \\w+, 1 or more .*; got .+\\. Leave it out for `,
            's',
          ),
        );
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    ['allowPrivateNetwork', ['false', 'true', 0, 1, null, {}]],
    ['auth', ['Bearer', 'basic ', 'oauth2', 5, true, null]],
  ] as const)('%s of the wrong kind (a truthy string was read as on)', (name, values) => {
    for (const value of values) {
      expect(() => createHttpToolkit({ [name]: value })).toThrow(
        expect.objectContaining({
          code: 'TOOL_DEFINITION_INVALID',
          message: expect.stringMatching(
            new RegExp(
              `^createHttpToolkit\\(\\) ${name} must be .+; got .+\\. Leave it out for its default\\.$`,
            ),
          ),
        }),
      );
    }
  });
});
