import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { defineToolkit } from '../catalog/define.js';
import { firstNonFinite, NON_FINITE, probeAnyTool } from '../test/non-finite.js';
import { ToolMux } from '../toolmux.js';

/**
 * NaN and ±Infinity in the arguments of a cell's `toolmux.execute`: the engine's JSON writes them as
 * null, so the prelude writes the first one as a marker and says where it was; the call is refused
 * naming that path, as on every other entry point. The arguments are written once: the code's
 * toJSON methods and getters run once per call, and a toJSON that makes a call makes it once.
 */

const quiet = { debug() {}, warn() {}, error() {} };
const received: unknown[] = [];
const probe = defineToolkit({
  slug: 'probe',
  description: 'Probe',
  tools: [probeAnyTool(received)],
});
const mux = new ToolMux({ toolkits: [probe], store: ':memory:', logger: quiet });
afterAll(() => mux.close());
const session = await mux.create('user_1', { workbench: {} });

type Cell = { result: unknown; logs: string[]; error?: { code: string; message: string } };
async function cell(code: string): Promise<Cell> {
  const outcome = await session.execute('TOOLMUX_WORKBENCH', { code });
  expect(outcome.successful, JSON.stringify(outcome)).toBe(true);
  const data = outcome.data as Cell;
  expect(data.error, JSON.stringify(data.error)).toBeUndefined();
  return data;
}

/** `value` as JavaScript source for a cell (keys computed, so that `__proto__` is an own key there too). */
function source(value: unknown): string {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (value === Number.POSITIVE_INFINITY) return 'Infinity';
    if (value === Number.NEGATIVE_INFINITY) return '(-Infinity)';
    return Object.is(value, -0) ? '(-0)' : String(value);
  }
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(source).join(', ')}]`;
  return `{ ${Object.entries(value)
    .map(([key, item]) => `[${JSON.stringify(key)}]: ${source(item)}`)
    .join(', ')} }`;
}

/** JSON values with nulls, and non-finite numbers among their leaves now and then. */
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    fc.constant(null),
    fc.constantFrom(...NON_FINITE),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 5 }),
  ),
}));

describe('non-finite numbers in the arguments of a cell’s toolmux.execute', () => {
  it('refuse the call naming the first one in JSON order; without one the tool gets the arguments as JSON has them (property)', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, fc.boolean(), async (value, withOptions) => {
        received.length = 0;
        const expected = firstNonFinite({ payload: value });
        const call = withOptions
          ? `toolmux.execute('PROBE_ANY', { payload: ${source(value)} }, {})`
          : `toolmux.execute('PROBE_ANY', { payload: ${source(value)} })`;
        const { result } = await cell(
          `const r = await ${call}; return { successful: r.successful, error: r.error ?? null };`,
        );
        if (expected === undefined) {
          expect(result).toEqual({ successful: true, error: null });
          expect(received).toEqual([JSON.parse(JSON.stringify({ payload: value }))]);
          return;
        }
        expect(received).toEqual([]);
        expect((result as { error: string }).error).toContain(
          `The arguments of PROBE_ANY are not JSON data: ${expected} is `,
        );
      }),
      { numRuns: 120 },
    );
  });

  it('arguments that are themselves non-finite are refused as such', async () => {
    for (const [literal, shown] of [
      ['NaN', 'NaN'],
      ['Infinity', 'Infinity'],
      ['-Infinity', '-Infinity'],
    ]) {
      const { result } = await cell(
        `return [(await toolmux.execute('PROBE_ANY', ${literal})).error, (await toolmux.execute('PROBE_ANY', ${literal}, {})).error];`,
      );
      for (const error of result as string[]) expect(error).toContain(`not JSON data: arguments is ${shown}`);
    }
  });

  it('run the code’s toJSON methods and getters once per call, with a null or a non-finite number beside them', async () => {
    for (const beside of ['null', 'NaN', '[null, -Infinity]']) {
      received.length = 0;
      const { result } = await cell(`
        let toJSONs = 0;
        let getters = 0;
        const stamped = { toJSON() { toJSONs++; return { at: toJSONs }; } };
        const read = { get count() { getters++; return getters; } };
        const r = await toolmux.execute('PROBE_ANY', { payload: [stamped, read, ${beside}] });
        return { toJSONs, getters, successful: r.successful };`);
      expect(result).toMatchObject({ toJSONs: 1, getters: 1, successful: beside === 'null' });
      if (beside === 'null') expect(received).toEqual([{ payload: [{ at: 1 }, { count: 1 }, null] }]);
    }
  });

  it('a toJSON that makes a call makes it once, and each call names its own non-finite number', async () => {
    received.length = 0;
    const { result } = await cell(`
      const inner = [];
      const nested = { toJSON() { inner.push(toolmux.execute('PROBE_ANY', { payload: [null, NaN] })); return 'nested'; } };
      const outer = await toolmux.execute('PROBE_ANY', { payload: [null, nested, { deep: Infinity }] });
      const made = await Promise.all(inner);
      return { calls: inner.length, outer: outer.error, inner: made.map((r) => r.error) };`);
    const { calls, outer, inner } = result as { calls: number; outer: string; inner: string[] };
    expect(calls).toBe(1);
    expect(outer).toContain('arguments.payload[2].deep is Infinity');
    expect(inner).toHaveLength(1);
    expect(inner[0]).toContain('arguments.payload[1] is NaN');
    expect(received).toEqual([]);
  });
});
