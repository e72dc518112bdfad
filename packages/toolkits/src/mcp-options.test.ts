import { join } from 'node:path';
import { ToolMuxError } from '@toolmux/core';
import { MAX_TIMER_MS } from '@toolmux/core/internal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type McpHttpOptions, type McpStdioOptions, mcpToolkit } from './mcp.js';

/** The keys of T whose value is a number. */
type NumberKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends number ? K : never }[keyof T];

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

function badValuesOf({ min, max }: { min: number; max?: number }): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -1,
      min - 1,
      '5',
      1e20,
      2 ** 53,
      null,
      true,
      {},
    ),
    ...(max === undefined ? [] : [fc.constant(max + 1)]),
    fc.maxSafeInteger().filter((value) => value < min || (max !== undefined && value > max)),
    fc.double().filter((value) => !Number.isSafeInteger(value)),
  );
}

describe('every numeric option of mcpToolkit() refuses what it cannot be before anything is started: TOOL_DEFINITION_INVALID naming it, its bounds and the value', () => {
  const cases = Object.entries(NUMERIC).flatMap(([name, { transports, ...bounds }]) =>
    transports.map((base) => [name, 'command' in base ? 'stdio' : 'http', base, bounds] as const),
  );
  it.each(cases)('%s (%s)', async (name, _transport, base, bounds) => {
    await fc.assert(
      fc.asyncProperty(badValuesOf(bounds), async (value) => {
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
