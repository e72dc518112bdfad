import { z } from 'zod';
import { defineTool } from '../catalog/define.js';

/** The numbers JSON has none for: NaN, Infinity and -Infinity. */
export const NON_FINITE = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY] as const;

/**
 * The path of the first non-finite number (or BigInt) of `value` in JSON order, as a tool call's refusal names it
 * (`arguments` for the value itself, `.key` for a name, `["key"]` for other keys, `[index]`), or
 * undefined when it has none.
 */
export function firstNonFinite(value: unknown, path = 'arguments'): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  // JSON cannot write one at all
  if (typeof value === 'bigint') return path;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = firstNonFinite(value[index], `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const segment = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    const found = firstNonFinite(item, path + segment);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * `PROBE_ANY`: a tool that takes any `payload` and keeps the arguments it ran with in `received`
 * (a call refused before the tool runs leaves nothing there).
 */
export function probeAnyTool(received: unknown[]) {
  return defineTool({
    slug: 'PROBE_ANY',
    description: 'Takes anything',
    inputSchema: z.object({ payload: z.unknown() }),
    execute: async (input) => {
      received.push(input);
      return { ok: true };
    },
  });
}
