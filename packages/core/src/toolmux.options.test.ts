import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from './catalog/define.js';
import { type MultiAccountOptions, parseSessionConfig } from './config/session-config.js';
import { ToolMuxError } from './errors.js';
import type { Provider } from './provider.js';
import { type NumberKeys, notWholeNumberWithin } from './test/whole-numbers.js';
import { ToolMux } from './toolmux.js';
import type { ToolMuxOptions } from './toolmux-types.js';
import { MAX_TIMER_MS } from './util/whole-number.js';
import type { WorkbenchConfig } from './workbench/config.js';

type Options = ToolMuxOptions<Provider<unknown>>;
type Mode = 'embedded' | 'remote';

const BASE: Record<Mode, Options> = {
  embedded: { toolkits: [], store: ':memory:' },
  remote: { baseUrl: 'https://tools.example.com', apiKey: 'k'.repeat(32) },
};

const made: Array<{ close(): Promise<void> }> = [];
afterAll(() => Promise.all(made.map((mux) => mux.close())));

function refusal(make: () => unknown): ToolMuxError {
  try {
    const mux = make();
    if (mux instanceof ToolMux) made.push(mux);
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a ToolMuxError');
}

/**
 * Every numeric option, the modes that take it and its bounds: a Record of them, so that a numeric
 * option added to ToolMuxOptions without a row here fails the type check.
 */
const NUMERIC: Record<NumberKeys<Options>, { modes: Mode[]; min: number; max?: number }> = {
  requestTimeoutMs: { modes: ['remote'], min: 1, max: MAX_TIMER_MS },
  maxResponseBytes: { modes: ['remote'], min: 65_536, max: 268_435_456 },
  accountCacheTtlMs: { modes: ['embedded', 'remote'], min: 0 },
  proxyMaxResponseBytes: { modes: ['embedded'], min: 1 },
  oauthRequestTimeoutMs: { modes: ['embedded'], min: 1, max: 300_000 },
  logRetentionDays: { modes: ['embedded'], min: 1, max: 36_500 },
};

/**
 * The options that are no number, each with values of the wrong kind; a Record as well. URLs
 * (`checkOptionUrl`), `managedAuth` and `apiKey` have their own tests (toolmux.test.ts).
 */
type KindOption = Exclude<
  keyof Options,
  NumberKeys<Options> | 'baseUrl' | 'defaultCallbackUrl' | 'oauthRedirectUri' | 'managedAuth' | 'apiKey'
>;
const KINDS: Record<KindOption, { modes: Mode[]; wrong: unknown[] }> = {
  provider: { modes: ['embedded', 'remote'], wrong: [5, 'openai', true, null, {}, [], () => {}] },
  toolkits: { modes: ['embedded'], wrong: [5, 'github', true, null, {}, () => {}] },
  store: { modes: ['embedded'], wrong: [5, true, null, [], () => {}] },
  secretKey: { modes: ['embedded'], wrong: [5, true, null, {}, [], Buffer.alloc(32)] },
  previousSecretKeys: { modes: ['embedded'], wrong: [5, 'key', true, null, {}, [5]] },
  embed: { modes: ['embedded'], wrong: [5, 'model', true, null, {}, []] },
  fetch: { modes: ['embedded', 'remote'], wrong: [5, 'fetch', true, null, {}, []] },
  logger: { modes: ['embedded', 'remote'], wrong: [5, 'console', true, null, {}, [], { warn() {} }] },
  allowedCallbackUrls: { modes: ['embedded'], wrong: [5, 'https://app.test', true, null, {}] },
  hostedConnectPage: { modes: ['embedded'], wrong: ['false', 'true', 1, 0, null, {}] },
};

const rows = <T extends { modes: Mode[] }>(table: Record<string, T>) =>
  Object.entries(table).flatMap(([name, row]) => row.modes.map((mode) => [name, mode, row] as const));

describe('every numeric option of new ToolMux() refuses what it cannot be: CONFIG_INVALID naming it, its bounds and the value', () => {
  it.each(rows(NUMERIC))('%s (%s)', (name, mode, rule) => {
    const range = rule.max === undefined ? `, ${rule.min} or more` : ` from ${rule.min}`;
    fc.assert(
      fc.property(notWholeNumberWithin(rule), (value) => {
        const error = refusal(() => new ToolMux({ ...BASE[mode], [name]: value }));
        expect(error.code).toBe('CONFIG_INVALID');
        expect(error.message).toMatch(new RegExp(`^${name} must be a whole number of \\w+`));
        expect(error.message).toContain(range);
        expect(error.message).toMatch(/; got .+\. Leave it out for /s);
      }),
      { numRuns: 100 },
    );
    // and takes its bounds
    for (const value of [rule.min, rule.max ?? 2 ** 40]) {
      const mux = new ToolMux({ ...BASE[mode], [name]: value });
      made.push(mux);
      expect(mux.mode).toBe(mode);
    }
  });

  it.each(['embedded', 'remote'] as const)(
    'close({ timeoutMs }) (%s) takes a whole number of milliseconds from 0 to 2147483647 (a longer one was a timer of 1 ms that stopped the calls at once), else INVALID_REQUEST naming it',
    async (mode) => {
      const mux = new ToolMux(BASE[mode]);
      await fc.assert(
        fc.asyncProperty(notWholeNumberWithin({ min: 0, max: MAX_TIMER_MS }), async (timeoutMs) => {
          const error = await mux.close({ timeoutMs: timeoutMs as number }).then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
          expect(ToolMuxError.isInstance(error) && error.code).toBe('INVALID_REQUEST');
          expect((error as Error).message).toMatch(
            /^close\(\{ timeoutMs \}\) must be a whole number of milliseconds from 0 to 2147483647 \(.*\); got .+\. Leave it out for 10000\.$/s,
          );
        }),
        { numRuns: 100 },
      );
      await mux.close({ timeoutMs: 0 });
    },
  );
});

describe('every other option of new ToolMux() refuses a value of the wrong kind: CONFIG_INVALID naming it and what it takes', () => {
  it.each(rows(KINDS))('%s (%s)', (name, mode, { wrong }) => {
    for (const value of wrong) {
      const error = refusal(() => new ToolMux({ ...BASE[mode], [name]: value }));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(
        new RegExp(`^${name} must be .+; got .+\\. Leave it out for its default\\.$`),
      );
      // a string in a string option may be a secret: only its kind is said
      if (typeof value === 'string') expect(error.message).not.toContain(`"${value}"`);
    }
  });

  it('the options themselves must be an object', () => {
    for (const options of [null, 5, 'sqlite:./x.db', []]) {
      const error = refusal(() => new ToolMux(options as never));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(/^new ToolMux\(\) takes an options object .* or nothing; got /);
      expect(error.message).not.toContain('sqlite');
    }
  });
});

/**
 * A key new ToolMux() does not take was ignored: `toolkit: [acme]` (for `toolkits`) made a ToolMux
 * without the toolkit, `apikey` (for `apiKey`) an embedded one instead of a client of the server.
 */
describe('an option new ToolMux() does not take: CONFIG_INVALID naming it, the closest option and every option', () => {
  it.each(['embedded', 'remote'] as const)('%s', (mode) => {
    for (const [key, closest] of [
      ['toolkit', 'toolkits'],
      ['secretkey', 'secretKey'],
      ['storage', 'store'],
      ['port', undefined],
    ] as const) {
      const error = refusal(() => new ToolMux({ ...BASE[mode], [key]: 'x' } as Options));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(new RegExp(`^new ToolMux\\(\\) has no option "${key}"\\.`));
      if (closest !== undefined) expect(error.message).toContain(`Did you mean "${closest}"`);
      expect(error.message).toContain('Its options: provider, apiKey, toolkits, store,');
      // what was given is not shown: a misspelt secretKey's value is a secret
      expect(error.message).not.toContain('"x"');
    }
  });

  it('one given as undefined is not given, as any option', () => {
    const mux = new ToolMux({ ...BASE.embedded, toolkit: undefined } as Options);
    made.push(mux);
    expect(mux.mode).toBe('embedded');
  });
});

describe("defineTool()'s timeoutMs", () => {
  it('takes a whole number of milliseconds from 1 to 2147483647 (a longer one was a timer of 1 ms: every call timed out at once), else TOOL_DEFINITION_INVALID naming the tool', () => {
    const define = (timeoutMs: unknown) =>
      defineTool({
        slug: 'ACME_WAIT',
        description: 'Waits.',
        inputSchema: z.object({}),
        execute: () => ({}),
        timeoutMs: timeoutMs as number,
      });
    fc.assert(
      fc.property(notWholeNumberWithin({ min: 1, max: MAX_TIMER_MS }), (value) => {
        const error = refusal(() => define(value));
        expect(error.code).toBe('TOOL_DEFINITION_INVALID');
        expect(error.message).toMatch(
          /^Tool ACME_WAIT: timeoutMs must be a whole number of milliseconds from 1 to 2147483647 \(.*\); got .+\. Leave it out for 60000\.$/s,
        );
      }),
      { numRuns: 200 },
    );
    expect(define(1).timeoutMs).toBe(1);
    expect(define(MAX_TIMER_MS).timeoutMs).toBe(MAX_TIMER_MS);
  });
});

/**
 * Every numeric option of the session config (`mux.create(userId, config)`, `session.update()`), with
 * its bounds: Records over the numeric keys of each nested object, as above.
 */
const WORKBENCH: Record<NumberKeys<WorkbenchConfig>, { min: number; max: number }> = {
  timeoutMs: { min: 100, max: 600_000 },
  memoryMb: { min: 8, max: 1024 },
  autoOffloadThreshold: { min: 1_000, max: 10_000_000 },
};
const MULTI_ACCOUNT: Record<NumberKeys<MultiAccountOptions>, { min: number; max: number }> = {
  maxAccountsPerToolkit: { min: 2, max: 10 },
};

describe('every numeric option of the session config refuses what it cannot be: CONFIG_INVALID naming it, and the value when it is a number', () => {
  const cases = [
    ...Object.entries(WORKBENCH).map(([key, bounds]) => ['workbench', key, bounds] as const),
    ...Object.entries(MULTI_ACCOUNT).map(([key, bounds]) => ['multiAccount', key, bounds] as const),
  ];
  it.each(cases)('%s.%s', (object, key, bounds) => {
    fc.assert(
      fc.property(notWholeNumberWithin(bounds), (value) => {
        const error = refusal(() => parseSessionConfig({ [object]: { enable: true, [key]: value } }));
        expect(error.code).toBe('CONFIG_INVALID');
        expect(error.message.startsWith(`Invalid session config at ${object}.${key}: `)).toBe(true);
        // the value is named beside what is wrong with it, before what to send
        if (typeof value === 'number') expect(error.message).toContain(` (got ${value})`);
      }),
      { numRuns: 100 },
    );
    for (const value of [bounds.min, bounds.max]) {
      expect(parseSessionConfig({ [object]: { enable: true, [key]: value } })).toBeDefined();
    }
  });
});

describe('a malformed store spec or key fails in new ToolMux(), where it was written, not at the first call', () => {
  const key = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64');

  it('a store spec of no known form, or an object that is no Store: STORE_CONFIG_INVALID', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .string()
            .filter((spec) => spec !== ':memory:' && !/^(postgres|sqlite:)|\.(db|sqlite)$/i.test(spec)),
          fc.constantFrom('mysql://root@localhost/db', 'sqlite://x.db', 'sqlite:', './data.json'),
        ),
        (store) => {
          const error = refusal(() => new ToolMux({ toolkits: [], store }));
          expect(error.code).toBe('STORE_CONFIG_INVALID');
        },
      ),
      { numRuns: 200 },
    );
    for (const store of [{}, { migrate: 'yes' }]) {
      expect(refusal(() => new ToolMux({ toolkits: [], store: store as never })).code).toBe(
        'STORE_CONFIG_INVALID',
      );
    }
  });

  it('a secretKey or previousSecretKeys entry that is not 32 bytes: SECRET_KEY_INVALID, without the key', () => {
    for (const bytes of [1, 16, 31, 33, 64]) {
      const secretKey = key(bytes);
      for (const options of [
        { secretKey },
        { secretKey: key(32), previousSecretKeys: [key(32), secretKey] },
      ]) {
        const error = refusal(() => new ToolMux({ toolkits: [], store: ':memory:', ...options }));
        expect(error.code).toBe('SECRET_KEY_INVALID');
        expect(error.message).toContain(`got ${bytes}`);
        expect(error.message).not.toContain(secretKey);
      }
    }
    // a well-formed key is taken, in both forms
    for (const secretKey of [key(32), Buffer.alloc(32, 9).toString('hex')]) {
      made.push(new ToolMux({ toolkits: [], store: ':memory:', secretKey, previousSecretKeys: [key(32)] }));
    }
  });

  it('TOOLMUX_SECRET_KEY and TOOLMUX_PREVIOUS_SECRET_KEYS are read there too (the option wins over the variable)', () => {
    const saved = { ...process.env };
    try {
      process.env.TOOLMUX_SECRET_KEY = key(20);
      expect(refusal(() => new ToolMux({ toolkits: [], store: ':memory:' })).message).toContain(
        'TOOLMUX_SECRET_KEY',
      );
      made.push(new ToolMux({ toolkits: [], store: ':memory:', secretKey: key(32) }));
      process.env.TOOLMUX_SECRET_KEY = key(32);
      process.env.TOOLMUX_PREVIOUS_SECRET_KEYS = `${key(32)},${key(8)}`;
      expect(refusal(() => new ToolMux({ toolkits: [], store: ':memory:' })).message).toContain(
        'TOOLMUX_PREVIOUS_SECRET_KEYS (entry 2)',
      );
    } finally {
      process.env.TOOLMUX_SECRET_KEY = saved.TOOLMUX_SECRET_KEY;
      process.env.TOOLMUX_PREVIOUS_SECRET_KEYS = saved.TOOLMUX_PREVIOUS_SECRET_KEYS;
      if (saved.TOOLMUX_SECRET_KEY === undefined) delete process.env.TOOLMUX_SECRET_KEY;
      if (saved.TOOLMUX_PREVIOUS_SECRET_KEYS === undefined) delete process.env.TOOLMUX_PREVIOUS_SECRET_KEYS;
    }
  });
});
