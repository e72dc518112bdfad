import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { strictSchemaOf } from './strict-spec.js';
import { transformSchemaTree } from './subschemas.js';

/**
 * Keywords Anthropic's strict tool use (`strict: true`, constrained decoding) refuses although OpenAI
 * strict mode takes them: numeric and length bounds. They are written into the description instead,
 * and still checked when the tool runs.
 */
const DESCRIBED_KEYWORDS: ReadonlyArray<[keyword: string, text: (value: unknown) => string]> = [
  ['minimum', (value) => `at least ${value}`],
  ['maximum', (value) => `at most ${value}`],
  ['exclusiveMinimum', (value) => `greater than ${value}`],
  ['exclusiveMaximum', (value) => `less than ${value}`],
  ['multipleOf', (value) => `a multiple of ${value}`],
  ['minLength', (value) => `at least ${value} characters`],
  ['maxLength', (value) => `at most ${value} characters`],
  ['minItems', (value) => `at least ${value} items`],
  ['maxItems', (value) => `at most ${value} items`],
];

const cache = new WeakMap<
  ToolSpec,
  { strict: true; schema: JSONSchema } | { strict: false; schema: JSONSchema; reason: string }
>();

/**
 * The schema an Anthropic provider hands out for `strict: true`: {@link strictSchemaOf} (the tool
 * falls back to non-strict alone when that does), with the bounds Anthropic's strict mode refuses
 * (`minimum`, `maxLength`, `minItems`…) moved into the description.
 */
export function anthropicStrictSchemaOf(
  spec: ToolSpec,
): { strict: true; schema: JSONSchema } | { strict: false; schema: JSONSchema; reason: string } {
  let entry = cache.get(spec);
  if (!entry) {
    const strict = strictSchemaOf(spec);
    entry = strict.strict
      ? { strict: true, schema: transformSchemaTree(strict.schema, describeBounds) }
      : strict;
    cache.set(spec, entry);
  }
  return entry;
}

function describeBounds(schema: JSONSchema): JSONSchema {
  const bounds = DESCRIBED_KEYWORDS.filter(([keyword]) => typeof schema[keyword] === 'number');
  if (bounds.length === 0) return schema;
  const rest: JSONSchema = { ...schema };
  for (const [keyword] of bounds) delete rest[keyword];
  const note = `Must be ${bounds.map(([keyword, text]) => text(schema[keyword])).join(', ')}.`;
  return {
    ...rest,
    description: typeof schema.description === 'string' ? `${schema.description} ${note}` : note,
  };
}
