import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolMuxError } from '@toolmux/core';
import { badZodValues, createSampleToolkits, editDistanceByTable, ZOD_DEFAULTS } from '@toolmux/core/test';
import fc from 'fast-check';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  configSchema,
  defineConfig,
  findConfigFile,
  loadConfigFile,
  type ToolMuxConfig,
  toolkitsOfModule,
  validateConfig,
} from './config.js';
import { didYouMean } from './suggest.js';

const directory = mkdtempSync(join(tmpdir(), 'toolmux-config-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function failure(work: () => unknown): ToolMuxError {
  try {
    work();
  } catch (error) {
    expect(ToolMuxError.isInstance(error)).toBe(true);
    return error as ToolMuxError;
  }
  throw new Error('expected a ToolMuxError');
}

describe('validateConfig', () => {
  // every check of the config's schema broken (a wrong type, a number out of range or not whole, an
  // unknown enum value, a string or a list too short): the refusal says what to write, never in zod's
  // default words ("port: Invalid input: expected number, received string", "Too big: expected
  // number to be <=65535") as it did
  it('words every refusal of a value as what is wrong and what to write', () => {
    const messages: string[] = [];
    for (const [key, schema] of Object.entries(configSchema.shape)) {
      if (key === 'toolkits') continue;
      for (const bad of badZodValues(schema as never)) {
        let message: string;
        try {
          validateConfig({ [key]: bad }, 'toolmux.config.json');
          continue;
        } catch (error) {
          if (!ToolMuxError.isInstance(error)) throw error;
          message = error.message;
        }
        expect(message).toMatch(/^toolmux\.config\.json: /);
        messages.push(message);
      }
    }
    expect(messages.length).toBeGreaterThan(40);
    expect(messages.filter((message) => ZOD_DEFAULTS.test(message))).toEqual([]);
    // each names what to write (a type, a range, the values to use, a key) and the value refused
    expect(messages.filter((message) => !/send |use one of|unknown key|is required: /.test(message))).toEqual(
      [],
    );
    // and the value given: at the end, or in the words that quote it (an unknown value)
    expect(
      messages.filter((message) => !/unknown key|\(got .+\)\.$|unknown value ".+"/.test(message)),
    ).toEqual([]);
    expect(failure(() => validateConfig({ port: 'eighty' }, 'toolmux.config.json')).message).toContain(
      'toolmux.config.json: port: is a string: send a number (got "eighty").',
    );
  });

  it('accepts the documented shape', () => {
    const { toolkits } = createSampleToolkits();
    const config = {
      toolkits: [...toolkits, './more.mjs'],
      store: 'postgres://db/toolmux',
      baseUrl: 'https://tools.example.com',
      port: 8080,
      host: '0.0.0.0',
      managedAuth: { github: { clientId: 'id', clientSecret: 'secret', scopes: ['repo'] } },
      allowedCallbackUrls: ['https://myapp.com'],
      mcp: {
        allowedOrigins: ['https://myapp.com'],
        toolsPageSize: 50,
        maxBatchSize: 10,
        progressIntervalMs: 2_000,
      },
      log: { level: 'debug', format: 'pretty' },
      metrics: { enabled: true, allowFrom: ['10.0.0.0/8'] },
      connections: { perClient: 64, unlimited: ['10.0.0.7'], headersTimeoutMs: 10_000 },
      shutdownTimeoutMs: 5000,
    } satisfies ToolMuxConfig;
    expect(validateConfig(config, 'toolmux.config.ts')).toEqual(config);
  });

  it('names unknown keys with the closest known one, at any depth', () => {
    expect(failure(() => validateConfig({ baseURL: 'x' }, 'c.json')).message).toBe(
      'c.json: unknown key "baseURL". Did you mean "baseUrl"? Known keys: toolkits, store, baseUrl, port, host, apiKey, secretKey, managedAuth, allowedCallbackUrls, defaultCallbackUrl, mcp, log, metrics, connections, bodyLimit, shutdownTimeoutMs, shutdownDelayMs, startupTimeoutMs, accountCacheTtlMs, sessionCacheTtlMs, proxyMaxResponseBytes, oauthRequestTimeoutMs, logRetentionDays.',
    );
    expect(failure(() => validateConfig({ mcp: { allowedOrigin: [] } }, 'c.json')).message).toContain(
      'unknown key "mcp.allowedOrigin". Did you mean "mcp.allowedOrigins"?',
    );
    expect(
      failure(() => validateConfig({ managedAuth: { github: { clientID: 'x' } } }, 'c.json')).message,
    ).toContain('Did you mean "managedAuth.github.clientId"?');
    expect(failure(() => validateConfig({ zzzzzz: 1 }, 'c.json')).message).not.toContain('Did you mean');
  });

  it('names wrong values and what it got', () => {
    const error = failure(() => validateConfig({ log: { format: 'xml' } }, 'c.json'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(
      // the value once: the words quote it ('(got "xml")' followed them)
      /^c\.json: log\.format: unknown value "xml"; use one of json, pretty\.$/,
    );
    expect(failure(() => validateConfig({ toolkits: [42] }, 'c.json')).message).toContain('toolkits[0]');
    // a record's key that holds a dot or is only digits is quoted in brackets, as a REST body path
    // names it (`managedAuth.my.kit.clientId` read as four keys, `managedAuth.0` as an index)
    expect(
      failure(() => validateConfig({ managedAuth: { 'my.kit': { clientId: 5 } } }, 'c.json')).message,
    ).toBe('c.json: managedAuth["my.kit"].clientId: is a number: send a string (got number).');
    expect(
      failure(() => validateConfig({ managedAuth: { '0': { clientId: 'id', scopes: ['a', ''] } } }, 'c.json'))
        .message,
    ).toMatch(/^c\.json: managedAuth\["0"\]\.scopes\[1\]: /);
    expect(failure(() => validateConfig([], 'c.json')).message).toContain('export the config object');
  });
});

describe('didYouMean', () => {
  it('suggests close names only', () => {
    expect(didYouMean('prot', ['port', 'host'])).toBe('port');
    expect(didYouMean('strore', ['store'])).toBe('store');
    expect(didYouMean('log-lev', ['log-level', 'log-format'])).toBe('log-level');
    expect(didYouMean('xyz', ['port', 'store'])).toBeUndefined();
  });

  it('suggests what the full edit distance suggests, for names of any length', () => {
    // the suggestion by definition: every candidate's edit distance (with adjacent swaps) computed
    const byDefinition = (input: string, candidates: readonly string[]) => {
      let best: { candidate: string; score: number } | undefined;
      for (const candidate of candidates) {
        const lower = candidate.toLowerCase();
        const wanted = input.toLowerCase();
        const score =
          lower.startsWith(wanted) && wanted.length >= 3 ? 0.5 : editDistanceByTable(wanted, lower);
        const limit = Math.min(3, Math.max(1, Math.floor(candidate.length / 3)));
        if (score <= limit && (!best || score < best.score)) best = { candidate, score };
      }
      return best?.candidate;
    };
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'B', '-'), maxLength: 16 });
    fc.assert(
      fc.property(word, fc.array(word, { maxLength: 8 }), (input, candidates) => {
        expect(didYouMean(input, candidates)).toBe(byDefinition(input, candidates));
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('config files and toolkit modules', () => {
  it('finds the one config file of the working directory, and refuses two', () => {
    const cwd = mkdtempSync(join(directory, 'cwd-'));
    expect(findConfigFile(undefined, cwd)).toBeUndefined();
    writeFileSync(join(cwd, 'toolmux.config.mjs'), 'export default {};');
    expect(findConfigFile(undefined, cwd)).toBe(join(cwd, 'toolmux.config.mjs'));
    writeFileSync(join(cwd, 'toolmux.config.json'), '{}');
    expect(failure(() => findConfigFile(undefined, cwd)).message).toContain(
      'found toolmux.config.mjs and toolmux.config.json; keep one, or name the one to use with --config <file>.',
    );
    expect(findConfigFile('toolmux.config.json', cwd)).toBe(join(cwd, 'toolmux.config.json'));
  });

  it('loads toolkits a JSON file names by path (relative to the file) and by package name', async () => {
    const cwd = mkdtempSync(join(directory, 'json-'));
    const sample = fileURLToPath(new URL('./cli/fixture-toolkits.mjs', import.meta.url));
    const slow = fileURLToPath(new URL('./cli/fixture-slow.mjs', import.meta.url));
    writeFileSync(join(cwd, 'local.mjs'), `export { default } from ${JSON.stringify(slow)};\n`);
    writeFileSync(
      join(cwd, 'toolmux.config.json'),
      JSON.stringify({ toolkits: ['./local.mjs', 'toolmux-no-such-package'] }),
    );
    const missing = await loadConfigFile(join(cwd, 'toolmux.config.json')).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(missing?.message).toBe(
      `toolmux.config.json: toolkits[1] "toolmux-no-such-package": cannot find package "toolmux-no-such-package" from ${cwd}. Install it, or write a path starting with ./`,
    );

    // inside the package, @toolmux/toolkits resolves (node_modules of packages/server)
    const inPackage = mkdtempSync(fileURLToPath(new URL('../.config-test-', import.meta.url)));
    const inPackageFile = join(inPackage, 'toolmux.config.json');
    writeFileSync(
      inPackageFile,
      JSON.stringify({ toolkits: ['@toolmux/toolkits', sample, join(cwd, 'local.mjs')] }),
    );
    try {
      const loaded = await loadConfigFile(inPackageFile);
      const slugs = loaded.toolkits!.map((toolkit) => toolkit.slug);
      expect(slugs).toEqual(expect.arrayContaining(['github', 'hackernews', 'tasks', 'notes', 'slow']));
      expect(new Set(slugs).size).toBe(slugs.length);
    } finally {
      rmSync(inPackage, { recursive: true, force: true });
    }
  });

  it('reads the config a Promise resolves to, and refuses a Map, a class instance or a failed Promise naming where', async () => {
    const cwd = mkdtempSync(join(directory, 'exports-'));
    const load = async (name: string, source: string) => {
      writeFileSync(join(cwd, name), source);
      return loadConfigFile(join(cwd, name)).then(
        (config) => ({ config, message: undefined }),
        (error: Error) => ({ config: undefined, message: error.message }),
      );
    };
    // on the code before, each of these was read as an empty config: serve started on a new SQLite
    // database with every default, in place of the configured PostgreSQL store
    const resolved = await load(
      'async.mjs',
      'export default (async () => ({ store: "postgres://db.internal/toolmux", port: 0 }))();',
    );
    expect(resolved.config).toMatchObject({ store: 'postgres://db.internal/toolmux', port: 0 });
    expect((await load('map.mjs', 'export default new Map([["port", 0]]);')).message).toBe(
      'map.mjs: the default export is a Map, not a plain object: write the settings as an object literal ({ … }) as the default export (export default defineConfig({ … }); a config read asynchronously: export default await …).',
    );
    expect((await load('nested.mjs', 'export default { log: new Map([["level", "debug"]]) };')).message).toBe(
      'nested.mjs: log is a Map, not a plain object: write the settings as an object literal ({ … }).',
    );
    expect(
      (
        await load(
          'instance.mjs',
          'class Settings { constructor() { this.port = 0; } }\nexport default { metrics: new Settings() };',
        )
      ).message,
    ).toBe(
      'instance.mjs: metrics is a Settings, not a plain object: write the settings as an object literal ({ … }).',
    );
    expect(
      (await load('rejected.mjs', 'export default Promise.reject(new Error("vault unreachable"));')).message,
    ).toBe('rejected.mjs: its default export is a Promise that failed: Error: vault unreachable');
    // one that never settles is bounded (serve would wait for ever; with nothing else to wait for,
    // Node.js ended the process with exit code 13)
    writeFileSync(join(cwd, 'never.mjs'), 'export default new Promise(() => {});');
    const never = await loadConfigFile(join(cwd, 'never.mjs'), { promiseTimeoutMs: 50 }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(never).toBe(
      'never.mjs: its default export is a Promise that did not settle within 50 ms: what it waits for (a secret store, a request) does not answer.',
    );
    // a toolkit is an object of its own: it stays accepted
    const toolkit = fileURLToPath(new URL('./cli/fixture-slow.mjs', import.meta.url));
    const withToolkit = await load(
      'toolkit.mjs',
      `import slow from ${JSON.stringify(toolkit)};\nexport default { toolkits: [slow] };`,
    );
    expect(withToolkit.config?.toolkits?.map((entry) => entry.slug)).toEqual(['slow']);
  });

  it('takes a toolkit or an array, as the default export or "toolkits"', () => {
    const { toolkits } = createSampleToolkits();
    expect(toolkitsOfModule({ default: toolkits[0] }, 'm')).toEqual([toolkits[0]]);
    expect(toolkitsOfModule({ default: toolkits }, 'm')).toEqual(toolkits);
    expect(toolkitsOfModule({ toolkits }, 'm')).toEqual(toolkits);
    expect(failure(() => toolkitsOfModule({ default: { kind: 'other' } }, './m.mjs')).message).toContain(
      './m.mjs: exports no toolkits',
    );
  });

  it('defineConfig is typed', () => {
    expectTypeOf(defineConfig).parameter(0).toEqualTypeOf<ToolMuxConfig>();
    // @ts-expect-error an unknown key is a type error too
    defineConfig({ stroe: ':memory:' });
    // @ts-expect-error and so is a wrong log format
    defineConfig({ log: { format: 'xml' } });
  });
});
