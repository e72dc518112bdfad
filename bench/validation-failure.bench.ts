/**
 * What a tool call's failed validation costs (JSON Schema tools, Ajv), by input size: arguments
 * whose items all fail a union (`{ "c": 1 }` objects and bare numbers against `anyOf` of two closed
 * objects and a short string), doubling from 16,000 items. For each size: Ajv's own check of the
 * value (allErrors, as toolmux compiles it), the whole `validate` (Ajv plus the explanation: at
 * most 50 unions tried variant by variant, at most 1,000 issues listed), and the sliced validator
 * that a large call runs (`SLICE_MS` slices): its longest stretch without a pause, the floor of the
 * event-loop delay for other requests. Linear work doubles with the size; the longest stretch of
 * the sliced one stays near Ajv's single check.
 * Run: `node --experimental-strip-types --no-warnings bench/validation-failure.bench.ts` (after `pnpm build`).
 */
import { createRequire } from 'node:module';
import { unionItemsSchema } from '@toolmux/core/test';
import { compileJsonSchemaValidator, SLICE_MS } from '../packages/core/dist/internal.js';
// not part of the public API: the built module itself
import { slicedValidatorOf } from '../packages/core/dist/schema/validate.js';

// Ajv as core depends on it (the bench package does not)
const { Ajv2020 } = createRequire(new URL('../packages/core/package.json', import.meta.url))(
  'ajv/dist/2020.js',
) as typeof import('ajv/dist/2020.js');

const schema = unionItemsSchema({ shortString: true });

const validate = compileJsonSchemaValidator(structuredClone(schema) as never, 'BENCH_ITEMS');
const sliced = slicedValidatorOf(validate)!;
const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: false }).compile(structuredClone(schema));

/** A slice as the call path's: due after SLICE_MS; records the longest stretch between pauses. */
function timedSlice() {
  let start = performance.now();
  let longest = 0;
  return {
    due: () => performance.now() - start >= SLICE_MS,
    pause: async () => {
      longest = Math.max(longest, performance.now() - start);
      await new Promise((resolve) => setImmediate(resolve));
      start = performance.now();
    },
    longest: () => Math.max(longest, performance.now() - start),
  };
}

function best<T>(runs: number, run: () => T): number {
  let fastest = Infinity;
  for (let round = 0; round < runs; round++) {
    const start = performance.now();
    run();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return fastest;
}

const shapes: Record<string, () => unknown> = { 'object items': () => ({ c: 1 }), 'number items': () => 5 };
console.log(`failed validation, best of 3 (ms); slice ${SLICE_MS} ms`);
for (const [name, item] of Object.entries(shapes)) {
  for (const count of [16_000, 32_000, 64_000, 128_000]) {
    const value = { items: Array.from({ length: count }, item) };
    const bytes = JSON.stringify(value).length;
    const ajvMs = best(3, () => ajv(structuredClone(value)));
    let issues = 0;
    const validateMs = best(3, () => {
      const result = validate(value);
      issues = result.success ? 0 : result.issues.length;
    });
    let longest = Infinity;
    for (let round = 0; round < 3; round++) {
      const slice = timedSlice();
      await sliced(value, slice);
      longest = Math.min(longest, slice.longest());
    }
    console.log(
      `${name.padEnd(13)} ${String(count).padStart(7)} items ${(bytes / 1024).toFixed(0).padStart(5)} KB  ajv ${ajvMs.toFixed(1).padStart(6)}  validate ${validateMs.toFixed(1).padStart(6)}  sliced: longest stretch ${longest.toFixed(1).padStart(6)}  issues ${issues}`,
    );
  }
}
