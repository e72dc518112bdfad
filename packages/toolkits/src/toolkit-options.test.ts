import { join } from 'node:path';
import { ToolMuxError } from '@toolmux/core';
import { MAX_TIMER_MS } from '@toolmux/core/internal';
import { type NumberKeys, notWholeNumberWithin } from '@toolmux/core/test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createGithubToolkit } from './github.js';
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
  maxResponseBytes: { transports: [STDIO, HTTP], min: 1 },
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

/** The refusal `make` throws or rejects with. */
async function refusalOf(make: () => unknown): Promise<ToolMuxError> {
  let error: unknown;
  try {
    await make();
  } catch (thrown) {
    error = thrown;
  }
  if (!ToolMuxError.isInstance(error)) throw new Error(`expected a ToolMuxError, got ${String(error)}`);
  return error;
}

const SECRET = 'sk-live-4f9a0c1d2e3b';

describe("every other option of mcpToolkit() and createHttpToolkit() refuses a wrong kind or form before anything is started: TOOL_DEFINITION_INVALID naming it, never a header's or the environment's value", () => {
  // [factory, option, the base options, wrong values]; a row per option the factories take
  const ROWS: Array<[string, string, () => Record<string, unknown>, unknown[]]> = [
    ['mcpToolkit()', 'slug', () => ({ ...HTTP }), ['Files', 'my files', '', '1x', 5, null, {}]],
    ['mcpToolkit()', 'name', () => ({ ...HTTP }), ['', 5, {}]],
    ['mcpToolkit()', 'description', () => ({ ...STDIO }), ['', 5, []]],
    ['mcpToolkit()', 'categories', () => ({ ...STDIO }), ['dev', [5], {}]],
    ['mcpToolkit()', 'keywords', () => ({ ...STDIO }), ['ticket', [5], {}]],
    ['mcpToolkit()', 'logger', () => ({ ...STDIO }), [5, 'console', {}, { warn: 'x' }]],
    ['mcpToolkit()', 'command', () => ({ slug: 'files' }), ['', 5, ['node'], {}]],
    ['mcpToolkit()', 'args', () => ({ ...STDIO }), ['--port 1', [1], {}]],
    ['mcpToolkit()', 'env', () => ({ ...STDIO }), ['A=1', ['A'], { TOKEN: 5 }]],
    ['mcpToolkit()', 'cwd', () => ({ ...STDIO }), ['', 5]],
    [
      'mcpToolkit()',
      'url',
      () => ({ slug: 'remote' }),
      ['', 'not a url', 'ftp://files.example.com/', 'file:///etc/passwd', 'localhost:3000/mcp', 5, {}],
    ],
    [
      'mcpToolkit()',
      'headers',
      () => ({ ...HTTP }),
      [
        'Authorization: x',
        ['x'],
        { 'x api key': SECRET },
        { 'x-key': `${SECRET}\r\nInjected: 1` },
        { 'x-key': `${SECRET}\u2028` },
        { 'x-key': 5 },
      ],
    ],
    ['mcpToolkit()', 'credentialHeader', () => ({ ...HTTP }), ['', 'x key', 'x:y', 'x\n', 5]],
    ['mcpToolkit()', 'fetch', () => ({ ...HTTP }), ['fetch', 5, {}]],
    ['createHttpToolkit()', 'slug', () => ({}), ['HTTP', 'my api', '', '_x', 5, null]],
    ['createHttpToolkit()', 'name', () => ({}), ['', 5]],
    ['createHttpToolkit()', 'description', () => ({}), ['', {}]],
    ['createHttpToolkit()', 'keywords', () => ({}), ['payment', [5], {}]],
    ['createHttpToolkit()', 'baseUrl', () => ({ auth: 'bearer' }), ['', 'api.example.com', 'ftp://x', 5]],
    ['createHttpToolkit()', 'apiKeyHeader', () => ({ auth: 'api_key' }), ['', 'X Key', 'x:y', 5]],
    ['createHttpToolkit()', 'lookup', () => ({}), ['8.8.8.8', 5, {}]],
  ];
  const make = (factory: string, options: Record<string, unknown>) =>
    factory === 'mcpToolkit()'
      ? () => mcpToolkit(options as never)
      : () => createHttpToolkit(options as HttpToolkitOptions);

  it.each(ROWS)('%s %s', async (factory, name, base, wrong) => {
    for (const value of wrong) {
      const error = await refusalOf(make(factory, { ...base(), [name]: value }));
      expect(error.code, `${name}: ${String(value)}: ${error.message}`).toBe('TOOL_DEFINITION_INVALID');
      expect(error.message.startsWith(`${factory} ${name} `), error.message).toBe(true);
      expect(error.message).not.toContain(SECRET);
    }
  });

  it('mcpToolkit() takes command or url, exactly one of them', async () => {
    for (const options of [{ slug: 'x' }, { ...STDIO, url: HTTP.url }, { slug: 'x', command: undefined }]) {
      const error = await refusalOf(() => mcpToolkit(options as never));
      expect(error.code).toBe('TOOL_DEFINITION_INVALID');
      expect(error.message).toMatch(
        /^mcpToolkit\(\) takes either command .* or url .*; got (both|neither)\.$/,
      );
    }
  });

  it('a toolkit slug is taken exactly when defineToolkit takes it, in both factories', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.stringMatching(/^[a-z][a-z0-9_-]{0,20}$/)), async (slug) => {
        const valid = /^[a-z][a-z0-9_-]*$/.test(slug);
        const error = await mcpToolkit({ ...HTTP, slug }).then(
          () => undefined,
          (thrown: unknown) => thrown as ToolMuxError,
        );
        // a valid slug gets past the checks to the connection, which nothing answers
        expect(error?.code === 'TOOL_DEFINITION_INVALID', `${JSON.stringify(slug)}: ${error?.message}`).toBe(
          !valid,
        );
        if (valid) createHttpToolkit({ slug });
        else expect(() => createHttpToolkit({ slug })).toThrow(/^createHttpToolkit\(\) slug /);
      }),
      { numRuns: 100 },
    );
  });

  it("a built-in toolkit factory's baseUrl that is no http(s) URL fails the factory, not every call", () => {
    for (const baseUrl of ['', 'api.github.com', 'ftp://api.example.com', 'https://user:hunter2@/x']) {
      expect(() => createGithubToolkit({ baseUrl })).toThrow(
        expect.objectContaining({
          code: 'TOOL_DEFINITION_INVALID',
          message: expect.stringMatching(/^The GitHub toolkit's baseUrl must be an http\(s\) URL/),
        }),
      );
    }
    expect(() => createGithubToolkit({ baseUrl: 'https://user:hunter2@/x' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
    createGithubToolkit({ baseUrl: 'https://github.example.com/api/v3' });
  });
});
