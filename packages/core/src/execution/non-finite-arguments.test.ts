import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { firstNonFinite, NON_FINITE, probeAnyTool } from '../test/non-finite.js';
import { ToolMux } from '../toolmux.js';
import { jsonShapeSliced } from '../util/json-slices.js';

/**
 * NaN and ±Infinity in a tool's arguments: JSON has no number for them (`JSON.stringify` writes
 * `null`, and a JSON number too large for a double, `1e999`, reads as `Infinity`), so a tool never
 * expects one, and the execution log, which stores the arguments as JSON, would show `null` where
 * the tool had `Infinity`. Ajv's `number` and `integer` take Infinity (and `number` NaN), zod's
 * `z.unknown()` all three. Wherever one is in the arguments, the call is refused before the tool
 * runs, TOOL_ARGUMENTS_INVALID naming its path.
 */

const quiet = { debug() {}, warn() {}, error() {} };
const received: unknown[] = [];

const probe = defineToolkit({
  slug: 'probe',
  description: 'Probe',
  tools: [
    probeAnyTool(received),
    defineTool({
      slug: 'PROBE_NUMBER',
      description: 'Takes a number (JSON Schema, Ajv)',
      inputSchema: {
        type: 'object',
        properties: { n: { type: 'number' }, i: { type: 'integer' } },
        additionalProperties: false,
      },
      execute: async (input) => {
        received.push(input);
        return { ok: true };
      },
    }),
  ],
});

const mux = new ToolMux({ toolkits: [probe], store: ':memory:', logger: quiet });
afterAll(() => mux.close());
const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });

/** JSON values with non-finite numbers among their leaves now and then; some records, some wide. */
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    fc.constantFrom(...NON_FINITE),
    // JSON cannot write a BigInt at all: refused alike
    fc.bigInt(),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 5 }),
    // a record of an array (counted in place) and an object past the small ones
    fc.array(fc.record({ id: fc.integer(), size: fc.oneof(fc.double(), fc.integer()) }), { maxLength: 4 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.oneof(fc.double(), fc.string()), {
      minKeys: 70,
      maxKeys: 90,
    }),
  ),
}));

const problem = (value: number) =>
  `is ${String(value)}, which JSON has no number for (JSON writes it as null, and reads a number too large for a double, such as 1e999, as Infinity): send a finite number`;

describe('non-finite numbers in arguments', () => {
  it('are refused by the shape walk wherever they are, named by the first one in JSON order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, fc.integer({ min: 1, max: 9 }), async (value, checkEvery) => {
        const args = { payload: value };
        const expected = firstNonFinite(args);
        const slice = { due: () => true, pause: async () => {} };
        const walk = await jsonShapeSliced(args, 128, slice, {
          root: 'arguments',
          finiteNumbers: true,
          checkEvery,
        });
        expect(walk.nonFinite?.path).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('are refused by session.execute before the tool runs, the log storing the refusal (property)', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (value) => {
        received.length = 0;
        const args = { payload: value };
        const expected = firstNonFinite(args);
        const result = await session.execute('PROBE_ANY', args);
        if (expected === undefined) {
          expect(result.successful).toBe(true);
          return;
        }
        expect(received).toEqual([]);
        expect(result).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
        expect(result.error).toContain(`The arguments of PROBE_ANY are not JSON data: ${expected} is `);
        const entries = await mux.logs.list({ toolSlug: 'PROBE_ANY', limit: 5 });
        const entry = entries.items.find((item) => item.id === result.logId);
        expect(entry).toMatchObject({ errorCode: 'TOOL_ARGUMENTS_INVALID', errorMessage: result.error });
      }),
      { numRuns: 150 },
    );
  });

  it('are refused for a JSON Schema number or integer, which Ajv takes, at the top and in a class instance', async () => {
    class Sizes {
      n = Number.POSITIVE_INFINITY;
    }
    for (const value of NON_FINITE) {
      received.length = 0;
      for (const [args, path] of [
        [{ n: value }, 'arguments.n'],
        [{ i: value }, 'arguments.i'],
      ] as const) {
        const result = await session.execute('PROBE_NUMBER', args);
        expect(result).toMatchObject({
          successful: false,
          code: 'TOOL_ARGUMENTS_INVALID',
          error: `The arguments of PROBE_NUMBER are not JSON data: ${path} ${problem(value)}.`,
        });
      }
      // not plain data (a Date beside it, a class instance) is refused alike, not taken as its JSON
      const dated = await session.execute('PROBE_ANY', { payload: [new Date(0), { at: value }] });
      expect(dated.error).toContain(`arguments.payload[1].at ${problem(value)}`);
      const instance = await session.execute('PROBE_ANY', { payload: new Sizes() });
      expect(instance.error).toContain('arguments.payload.n is Infinity');
      // mux.tools.execute (no session) and the multi-execute meta-tool, each named in its own call
      const direct = await mux.tools.execute('PROBE_NUMBER', { userId: 'user_1', arguments: { n: value } });
      expect(direct).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(direct.error).toContain(`arguments.n ${problem(value)}`);
      expect(received).toEqual([]);
    }
    // a large argument (walked in slices) with one far in
    const rows = Array.from({ length: 20_000 }, (_, id) => ({ id, size: id / 3 }));
    rows[19_999]!.size = Number.NaN;
    const large = await session.execute('PROBE_ANY', { payload: { rows } });
    expect(large.error).toContain('arguments.payload.rows[19999].size is NaN');
  });

  it('are refused inside a multi-execute, the call that holds one named', async () => {
    const meta = await mux.create('user_1');
    const result = await meta.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [
        { tool_slug: 'PROBE_NUMBER', arguments: { n: 1 } },
        { tool_slug: 'PROBE_NUMBER', arguments: { n: Number.NEGATIVE_INFINITY } },
      ],
    });
    expect(result.successful).toBe(false);
    expect(result.error).toContain('arguments.tools[1].arguments.n is -Infinity');
  });
});
