import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { typeList } from './nullability.js';
import { strictSchemaOf } from './strict-spec.js';
import { isSchemaObject, transformSchemaTree } from './subschemas.js';

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

/**
 * Anthropic's limits on the strict tools of one request (its structured outputs' schema complexity
 * limits): beyond any of them the API refuses the whole request, every tool with it.
 */
export const ANTHROPIC_STRICT_LIMITS = {
  /** Tools with `strict: true`. */
  tools: 20,
  /** Properties not in their object's `required`, in all strict schemas. */
  optionalParameters: 24,
  /** Schemas with `anyOf` or a list of types (`['string', 'null']`), in all strict schemas. */
  unionParameters: 16,
} as const;

/** What one strict schema spends of {@link ANTHROPIC_STRICT_LIMITS} (besides being one strict tool). */
export interface AnthropicStrictCost {
  optionalParameters: number;
  unionParameters: number;
}

const costs = new WeakMap<JSONSchema, AnthropicStrictCost>();

/**
 * The optional parameters and the parameters with a union type of a strict schema, at every depth
 * (properties, array items, union variants). toolmux's strict rewrite makes every optional field
 * required and nullable, so each one is a union (`['string', 'null']`, `anyOf: [..., { type: 'null' }]`).
 *
 * @example
 * anthropicStrictCost({ type: 'object', properties: { a: { type: ['string', 'null'] } }, required: ['a'], additionalProperties: false });
 * // { optionalParameters: 0, unionParameters: 1 }
 */
export function anthropicStrictCost(schema: JSONSchema): AnthropicStrictCost {
  let cost = costs.get(schema);
  if (!cost) {
    const counted: AnthropicStrictCost = { optionalParameters: 0, unionParameters: 0 };
    const visit = (node: unknown): void => {
      if (!isSchemaObject(node)) return;
      if (Array.isArray(node.anyOf) || typeList(node.type).length > 1) counted.unionParameters++;
      if (isSchemaObject(node.properties)) {
        const required = new Set(Array.isArray(node.required) ? node.required : []);
        for (const [name, property] of Object.entries(node.properties)) {
          if (!required.has(name)) counted.optionalParameters++;
          visit(property);
        }
      }
      visit(node.items);
      if (Array.isArray(node.anyOf)) for (const variant of node.anyOf) visit(variant);
    };
    visit(schema);
    cost = counted;
    costs.set(schema, cost);
  }
  return cost;
}
