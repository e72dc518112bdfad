import { ToolMux, ToolMuxError } from '@toolmux/core';
import { MAX_TIMER_MS } from '@toolmux/core/internal';
import { type NumberKeys, notWholeNumberWithin } from '@toolmux/core/test';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type ToolMuxConfig, validateConfig } from './config.js';
import type { McpOptions } from './mcp/mcp-endpoint.js';
import { type CreateServerOptions, createServer } from './server.js';
import { TEST_API_KEY } from './test-helpers.js';

const mux = new ToolMux({ toolkits: [], store: ':memory:' });
afterAll(() => mux.close());

function refusal(work: () => unknown): ToolMuxError {
  try {
    work();
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a ToolMuxError');
}

interface Bounds {
  min: number;
  max?: number;
}

/**
 * Every numeric option of `createServer()` (and of its `mcp`), with its bounds: Records over the
 * numeric keys, so that one added without a row here fails the type check.
 */
const SERVER: Record<NumberKeys<CreateServerOptions>, Bounds> = {
  bodyLimit: { min: 1 },
  sessionCacheTtlMs: { min: 0 },
};
const MCP: Record<NumberKeys<McpOptions>, Bounds> = {
  toolsPageSize: { min: 1 },
  maxBatchSize: { min: 1 },
  maxBatchResponseBytes: { min: 1 },
  progressIntervalMs: { min: 10, max: 300_000 },
};

describe('every numeric option of createServer() refuses what it cannot be: CONFIG_INVALID naming it, its bounds and the value', () => {
  const cases = [
    ...Object.entries(SERVER).map(
      ([name, bounds]) => [name, bounds, (value: unknown) => ({ [name]: value })] as const,
    ),
    ...Object.entries(MCP).map(
      ([name, bounds]) => [`mcp.${name}`, bounds, (value: unknown) => ({ mcp: { [name]: value } })] as const,
    ),
  ];
  it.each(cases)('%s', (name, bounds, optionsWith) => {
    const make = (value: unknown) =>
      createServer({ toolmux: mux, apiKey: TEST_API_KEY, ...(optionsWith(value) as object) });
    fc.assert(
      fc.property(notWholeNumberWithin(bounds), (value) => {
        const error = refusal(() => make(value));
        expect(error.code).toBe('CONFIG_INVALID');
        expect(error.message.startsWith(`${name} must be a whole number of `)).toBe(true);
        expect(error.message).toContain(
          bounds.max === undefined ? `, ${bounds.min} or more` : ` from ${bounds.min} to ${bounds.max}`,
        );
        expect(error.message).toMatch(/; got .+\. Leave it out for /s);
      }),
      { numRuns: 100 },
    );
    expect(() => make(bounds.min)).not.toThrow();
    expect(() => make(bounds.max ?? 2 ** 40)).not.toThrow();
  });

  it('running.close({ timeoutMs }) takes a whole number of milliseconds from 0 to 2147483647 (a longer one was a timer of 1 ms that cut the connections at once), else INVALID_REQUEST naming it', async () => {
    const running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({ port: 0 });
    await fc.assert(
      fc.asyncProperty(notWholeNumberWithin({ min: 0, max: MAX_TIMER_MS }), async (timeoutMs) => {
        const error = await running.close({ timeoutMs: timeoutMs as number }).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(ToolMuxError.isInstance(error) && error.code).toBe('INVALID_REQUEST');
        expect((error as Error).message).toMatch(
          /^running\.close\(\{ timeoutMs \}\) must be a whole number of milliseconds from 0 to 2147483647 \(.*\); got .+\. Leave it out for 10000\.$/s,
        );
      }),
      { numRuns: 50 },
    );
    await fc.assert(
      fc.asyncProperty(notWholeNumberWithin({ min: 0, max: MAX_TIMER_MS }), async (delayMs) => {
        await expect(running.close({ delayMs: delayMs as number })).rejects.toMatchObject({
          code: 'INVALID_REQUEST',
          message: expect.stringMatching(
            /^running\.close\(\{ delayMs \}\) must be a whole number of milliseconds from 0 to 2147483647 \(.*\); got .+\. Leave it out for 0\.$/s,
          ),
        });
      }),
      { numRuns: 20 },
    );
    // still listening and ready: a refused close() closed nothing
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    await running.close({ timeoutMs: 0 });
  });
});

/** Every numeric key of the config file, with its bounds; a Record over them, as above. */
const CONFIG_FILE: Record<NumberKeys<ToolMuxConfig>, Bounds> = {
  port: { min: 0, max: 65_535 },
  bodyLimit: { min: 1 },
  shutdownTimeoutMs: { min: 0, max: MAX_TIMER_MS },
  shutdownDelayMs: { min: 0, max: MAX_TIMER_MS },
  startupTimeoutMs: { min: 1, max: MAX_TIMER_MS },
  accountCacheTtlMs: { min: 0 },
  sessionCacheTtlMs: { min: 0 },
  proxyMaxResponseBytes: { min: 1 },
  oauthRequestTimeoutMs: { min: 1, max: 300_000 },
  logRetentionDays: { min: 1, max: 36_500 },
};

describe('every numeric key of the config file refuses what it cannot be: CONFIG_INVALID naming the file, the key and the value', () => {
  it.each(Object.entries(CONFIG_FILE))('%s', (key, bounds) => {
    fc.assert(
      fc.property(notWholeNumberWithin(bounds), (value) => {
        const error = refusal(() => validateConfig({ [key]: value }, 'toolmux.config.json'));
        expect(error.code).toBe('CONFIG_INVALID');
        expect(error.message.startsWith(`toolmux.config.json: ${key}: `)).toBe(true);
        // the value itself when it is a number, a boolean or a string, else its type
        expect(error.message).toMatch(/ \(got .+\)\.$/s);
        if (typeof value === 'number') expect(error.message.endsWith(`(got ${value}).`)).toBe(true);
      }),
      { numRuns: 100 },
    );
    for (const value of [bounds.min, bounds.max ?? 2 ** 40]) {
      expect(validateConfig({ [key]: value }, 'toolmux.config.json')).toEqual({ [key]: value });
    }
  });
});

/**
 * createServer() and serve() ignored keys they do not take: `serve({ host: '0.0.0.0' })` listened on
 * 127.0.0.1 only (out of reach from outside a container), and createServer() without `toolmux` (or
 * with `mux`) said "Tool call listeners needs an embedded ToolMux".
 */
describe('createServer() and serve() refuse what they do not take: CONFIG_INVALID naming it and the fix', () => {
  it('an option createServer() does not take, with the closest one', () => {
    const error = refusal(() => createServer({ toolmux: mux, apiKey: TEST_API_KEY, port: 0 } as never));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      'createServer() has no option "port". Its options: toolmux, apiKey, apiKeySource, bodyLimit, sessionCacheTtlMs, logger, metrics, mcp, connections.',
    );
    const misspelt = refusal(() => createServer({ mux, apiKey: TEST_API_KEY } as never));
    expect(misspelt.message).toMatch(/^createServer\(\) has no option "mux"\. Did you mean .*"toolmux"/);
  });

  it("an option of createServer()'s mcp, metrics or connections it does not take, or one of them that is no object", () => {
    for (const [options, message] of [
      [
        { mcp: { allowedOrigin: ['https://app.example'] } },
        'createServer()\'s mcp has no option "allowedOrigin". Did you mean "allowedOrigins"? Its options: allowedOrigins, toolsPageSize, maxBatchSize, maxBatchResponseBytes, propertyKeys, progressIntervalMs.',
      ],
      [
        { metrics: { enable: false } },
        'createServer()\'s metrics has no option "enable". Did you mean "enabled"? Its options: enabled, public, allowFrom.',
      ],
      [
        { connections: { perclient: 5 } },
        'createServer()\'s connections has no option "perclient". Did you mean "perClient"? Its options: perClient, unlimited, headersTimeoutMs.',
      ],
      [
        { mcp: 5 },
        "createServer()'s mcp takes an options object ({ allowedOrigins, toolsPageSize, maxBatchSize, maxBatchResponseBytes, propertyKeys, progressIntervalMs }) or nothing; got a number.",
      ],
    ] as const) {
      const error = refusal(() => createServer({ toolmux: mux, apiKey: TEST_API_KEY, ...options } as never));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toBe(message);
    }
  });

  it('no ToolMux to serve, or a remote one, or no options object', async () => {
    const none = refusal(() => createServer({ apiKey: TEST_API_KEY } as never));
    expect(none.code).toBe('CONFIG_INVALID');
    expect(none.message).toMatch(/^createServer\(\) needs toolmux: the ToolMux to serve, .*; got none\.$/);
    expect(refusal(() => createServer({ toolmux: {}, apiKey: TEST_API_KEY } as never)).message).toMatch(
      /got an object that is no ToolMux\.$/,
    );
    const remote = new ToolMux({ baseUrl: 'https://tools.example.com', apiKey: TEST_API_KEY });
    try {
      const error = refusal(() => createServer({ toolmux: remote, apiKey: TEST_API_KEY }));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(/^createServer\(\) serves an embedded ToolMux .* in remote mode/);
    } finally {
      await remote.close();
    }
    for (const options of [undefined, null, []]) {
      expect(refusal(() => createServer(options as never)).message).toMatch(
        /^createServer\(\) takes an options object \(\{ toolmux, apiKey, … \}\); got /,
      );
    }
  });

  it('an option serve() does not take (host for hostname), before it listens', async () => {
    const server = createServer({ toolmux: mux, apiKey: TEST_API_KEY });
    const error = await server.serve({ host: '0.0.0.0' } as never).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(ToolMuxError.isInstance(error) && error.code).toBe('CONFIG_INVALID');
    expect((error as Error).message).toBe(
      'serve() has no option "host". Did you mean "port" or "hostname"? Its options: port, hostname.',
    );
    const running = await server.serve({ port: 0, hostname: '127.0.0.1' });
    await running.close();
  });
});

describe("createServer()'s metrics switches take true or false: another value was read as truthy or not", () => {
  it.each(['enabled', 'public'] as const)('metrics.%s', (name) => {
    for (const value of ['false', 'true', 0, 1, null, {}]) {
      const error = refusal(() =>
        createServer({ toolmux: mux, apiKey: TEST_API_KEY, metrics: { [name]: value as never } }),
      );
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(
        new RegExp(
          `^metrics\\.${name} must be true or false; got .+\\. Leave it out for its default \\((true|false)\\)\\.$`,
        ),
      );
    }
  });
});

it('a number where the config file takes a string is not shown: it may be a secret written without quotes', () => {
  for (const key of ['apiKey', 'secretKey', 'store', 'baseUrl']) {
    const error = refusal(() => validateConfig({ [key]: 12_345_678_901_234 }, 'toolmux.config.json'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.startsWith(`toolmux.config.json: ${key}: `)).toBe(true);
    expect(error.message).toContain('(got number)');
    expect(error.message).not.toContain('12345678901234');
  }
});
