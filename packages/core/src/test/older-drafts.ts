import { Ajv2020 } from 'ajv/dist/2020.js';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema } from '../catalog/types.js';

/** Checks schemas against the draft 2020-12 meta-schema: an instance of its own, not toolmux's. */
let checker: Ajv2020 | undefined;

/**
 * Why `schema` is not valid draft 2020-12 JSON Schema, as a model API that checks tool schemas
 * against its meta-schema sees it (Anthropic's "JSON schema is invalid. It must match JSON Schema
 * draft 2020-12"): one line per complaint, none for a valid schema.
 */
export function draft2020Violations(schema: unknown): string[] {
  checker ??= new Ajv2020({ strict: false, allErrors: true, validateFormats: false, logger: false });
  if (checker.validateSchema(schema as object) === true) return [];
  return [
    ...new Set((checker.errors ?? []).map((error) => `${error.instancePath || '(root)'} ${error.message}`)),
  ];
}

/**
 * A toolkit (`legacy`) of tools whose JSON Schemas are written in older drafts, as hand-written tool
 * schemas, MCP servers and OpenAPI documents still have them, beside one that is valid in none and one
 * plain tool:
 *
 * - `LEGACY_PAY`: draft-04's boolean exclusive bounds (`amount` above 0, `percent` below 100) and
 *   draft-07's `dependencies` (`card` needs `cvc`), under a draft-04 `$schema`;
 * - `LEGACY_PAIR`: a draft-07 tuple (`items: [string, number]`, `additionalItems: false`);
 * - `LEGACY_BROKEN`: `minimum: "5"` (invalid in every draft);
 * - `LEGACY_ECHO`: a plain 2020-12 schema.
 *
 * `received` holds what each handler was called with.
 */
export function olderDraftToolkit() {
  const received: Record<string, unknown[]> = {};
  const tool = (slug: string, inputSchema: JSONSchema) =>
    defineTool({
      slug,
      description: `${slug.toLowerCase().replace('legacy_', '')}: a tool whose schema is written in an older draft`,
      inputSchema,
      execute: (input) => {
        received[slug] = [...(received[slug] ?? []), input];
        return { ok: true };
      },
    });
  const toolkit = defineToolkit({
    slug: 'legacy',
    description: 'Tools with schemas of older JSON Schema drafts',
    tools: [
      tool('LEGACY_PAY', {
        $schema: 'http://json-schema.org/draft-04/schema#',
        type: 'object',
        properties: {
          amount: { type: 'number', minimum: 0, exclusiveMinimum: true, description: 'More than 0' },
          percent: { type: 'number', maximum: 100, exclusiveMaximum: true },
          tip: { type: 'number', minimum: 0, exclusiveMinimum: false },
          card: { type: 'string' },
          cvc: { type: 'string' },
        },
        required: ['amount'],
        dependencies: { card: ['cvc'] },
      }),
      tool('LEGACY_PAIR', {
        type: 'object',
        properties: {
          pair: { type: 'array', items: [{ type: 'string' }, { type: 'number' }], additionalItems: false },
        },
        required: ['pair'],
      }),
      tool('LEGACY_BROKEN', {
        type: 'object',
        properties: { count: { type: 'number', minimum: '5' } },
      }),
      tool('LEGACY_ECHO', {
        type: 'object',
        properties: { text: { type: 'string' } },
        required: ['text'],
      }),
    ],
  });
  return { toolkit, received };
}
