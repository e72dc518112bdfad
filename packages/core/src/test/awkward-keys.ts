import { defineTool } from '../catalog/define.js';
import type { JSONSchema, Tool } from '../catalog/types.js';
import { ANTHROPIC_PROPERTY_KEY } from '../schema/anthropic-keys.js';
import { GEMINI_PARAMETER_NAME } from '../schema/gemini.js';

const LONG_KEY = `k${'e'.repeat(63)}y`;

/**
 * Arguments of {@link awkwardKeysTool} in the tool's own keys: keys Anthropic refuses at the root and
 * nested (`filter[id]`, `first name`, 65 characters), and one only Gemini refuses (`page-size`).
 */
export const AWKWARD_KEY_ARGUMENTS = {
  'filter[id]': '42',
  'first name': 'Ada',
  'page-size': 10,
  [LONG_KEY]: true,
  page: { 'page[number]': 2 },
};

/** A custom tool (`TASKS_FILTER`) whose property keys are {@link AWKWARD_KEY_ARGUMENTS}'s; it records what it gets. */
export function awkwardKeysTool(received: unknown[]): Tool {
  return defineTool({
    slug: 'TASKS_FILTER',
    toolkit: 'tasks',
    description: 'Lists tasks by filters',
    inputSchema: {
      type: 'object',
      properties: {
        'filter[id]': { type: 'string', description: 'Only this id' },
        'first name': { type: 'string' },
        'page-size': { type: 'integer' },
        [LONG_KEY]: { type: 'boolean' },
        page: {
          type: 'object',
          properties: { 'page[number]': { type: 'integer' } },
          required: ['page[number]'],
          additionalProperties: false,
        },
      },
      required: ['filter[id]', 'page'],
      additionalProperties: false,
    },
    execute: async (args) => {
      received.push(args);
      return { ok: true };
    },
  });
}

/**
 * The property keys of `schema` some major model API refuses, by path: any Anthropic refuses
 * (`^[a-zA-Z0-9_.-]{1,64}$`, at every depth), and root keys Gemini refuses as parameter names.
 */
export function portableKeyViolations(schema: unknown, path = '$'): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const found: string[] = [];
  const { properties } = schema as { properties?: Record<string, unknown> };
  for (const [key, property] of Object.entries(properties ?? {})) {
    if (!ANTHROPIC_PROPERTY_KEY.test(key) || (path === '$' && !GEMINI_PARAMETER_NAME.test(key)))
      found.push(`${path}.${key}`);
    found.push(...portableKeyViolations(property, `${path}.${key}`));
  }
  return found;
}

/**
 * `args` (in the tool's own keys) as a model sends them to a tool shown with `schema`: each key
 * renamed where the schema's property says it stands for it ("The tool's own name for this
 * parameter: …"), as a model reading the descriptions would.
 */
export function argumentsAsShown(schema: unknown, args: unknown): unknown {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return args;
  const properties = ((schema as { properties?: Record<string, JSONSchema> } | undefined)?.properties ??
    {}) as Record<string, JSONSchema>;
  const shown: Record<string, unknown> = {};
  for (const [own, value] of Object.entries(args)) {
    const note = `The tool's own name for this parameter: ${JSON.stringify(own)}.`;
    const key =
      Object.keys(properties).find((name) => String(properties[name]?.description ?? '').includes(note)) ??
      own;
    shown[key] = argumentsAsShown(properties[key], value);
  }
  return shown;
}
