import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema, Toolkit } from '../catalog/types.js';

/**
 * A tool schema that has broken tool wrappers before, with the arguments models send for it and what
 * its handler must receive.
 */
export interface HardSchemaCase {
  /** The tool's slug (toolkit `hard`). */
  readonly slug: string;
  /** One line: what the schema has that broke wrappers before. Also the tool's description. */
  readonly description: string;
  /** The schema as the tool's author wrote it: zod, or a JSON Schema. */
  readonly inputSchema: z.ZodType | JSONSchema;
  /** What a model sends without strict mode: optional fields left out. */
  readonly args: Record<string, unknown>;
  /** What a model sends in strict mode: every field present, `null` for an absent optional. */
  readonly strictArgs: Record<string, unknown>;
  /** What the handler must receive for `args` (and for `strictArgs`, unless `strictReceived` says otherwise). */
  readonly received: Record<string, unknown>;
  /** What the handler must receive for `strictArgs`, where that differs from `received`. */
  readonly strictReceived?: Record<string, unknown>;
  /** Whether core can rewrite the schema for strict mode. */
  readonly strict: boolean;
  /**
   * For a schema that cannot be strict: the JSON path core's reason starts with, before any deeper
   * path and the `: ` that says why (`$.labels` for `$.labels: is a record …`).
   */
  readonly notStrictAt?: string;
  /** Anything a test of the case should know. */
  readonly note?: string;
  /**
   * The properties the model must be shown at the root, where the schema's own `properties` do not
   * list them all (a root union's variants hold them).
   */
  readonly shownProperties?: readonly string[];
}

/**
 * The hard schemas, made afresh on every call (no test can change another's). The tools of
 * {@link hardSchemaToolkit} come in this order.
 */
export function hardSchemaCases(): HardSchemaCase[] {
  interface TreeNode {
    name: string;
    children?: TreeNode[];
  }
  const treeNode: z.ZodType<TreeNode> = z.object({
    name: z.string().describe('Node name'),
    get children() {
      return z.array(treeNode).optional();
    },
  });
  // where the handler receives what the model sent, `received` is a copy: a framework that changed the
  // arguments it was handed could not make them match
  const orderArgs = {
    order: {
      items: [
        { sku: 'A1', quantity: 2 },
        { sku: 'B2', quantity: 1, note: 'gift' },
      ],
      shipping: { address: { line1: 'Main St 1' } },
    },
  };
  const enumsArgs = { target: { kind: 'team', slug: 'core' }, value: 3, level: 'write' };
  return [
    {
      slug: 'HARD_OPTIONAL_DEFAULTS',
      description:
        'A default and an optional enum: the handler must get the default whether the model omits the field or sends null.',
      inputSchema: z.object({
        query: z.string().min(1),
        limit: z.number().int().min(1).max(50).default(10),
        sort: z.enum(['asc', 'desc']).optional(),
      }),
      args: { query: 'milk' },
      strictArgs: { query: 'milk', limit: null, sort: null },
      received: { query: 'milk', limit: 10 },
      strict: true,
    },
    {
      slug: 'HARD_NOTHING_REQUIRED',
      description:
        'No required field at all, only defaults (one an enum) and an optional: an empty `required` that strict mode must fill.',
      inputSchema: z.object({
        limit: z.number().int().default(10),
        sort: z.enum(['asc', 'desc']).default('asc'),
        query: z.string().optional(),
      }),
      args: { query: 'x' },
      strictArgs: { limit: null, sort: null, query: 'x' },
      received: { limit: 10, sort: 'asc', query: 'x' },
      strict: true,
    },
    {
      slug: 'HARD_NESTED_ARRAYS_OF_OBJECTS',
      description:
        'Arrays of objects with optional fields inside nested objects: strict nulls must go from every item, at every depth.',
      inputSchema: z.object({
        order: z.object({
          items: z
            .array(
              z.object({ sku: z.string(), quantity: z.number().int().min(1), note: z.string().optional() }),
            )
            .min(1),
          shipping: z
            .object({ address: z.object({ line1: z.string(), line2: z.string().optional() }) })
            .optional(),
        }),
      }),
      args: orderArgs,
      strictArgs: {
        order: {
          items: [
            { sku: 'A1', quantity: 2, note: null },
            { sku: 'B2', quantity: 1, note: 'gift' },
          ],
          shipping: { address: { line1: 'Main St 1', line2: null } },
        },
      },
      received: structuredClone(orderArgs),
      strict: true,
    },
    {
      slug: 'HARD_OPTIONAL_NESTED',
      description:
        'An optional object inside an optional object: strict mode makes both nullable, and their fields too.',
      inputSchema: z.object({
        query: z.string(),
        filter: z
          .object({
            tag: z.string().optional(),
            range: z.object({ from: z.string(), to: z.string().optional() }).optional(),
          })
          .optional(),
      }),
      args: { query: 'q', filter: { range: { from: '2024-01-01' } } },
      strictArgs: { query: 'q', filter: { tag: null, range: { from: '2024-01-01', to: null } } },
      received: { query: 'q', filter: { range: { from: '2024-01-01' } } },
      strict: true,
    },
    {
      slug: 'HARD_ENUMS_AND_UNIONS',
      description:
        'A discriminated union with optional fields in a variant, a union of scalars, enums (one optional) and a nullable optional.',
      inputSchema: z.object({
        target: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('user'), login: z.string() }),
          z.object({
            kind: z.literal('team'),
            slug: z.string(),
            role: z.enum(['member', 'maintainer']).optional(),
            includeChildren: z.boolean().optional(),
          }),
        ]),
        value: z.union([z.string(), z.number()]),
        level: z.enum(['read', 'write', 'admin']),
        state: z.enum(['open', 'closed', 'all']).optional(),
        due: z.string().nullable().optional(),
      }),
      args: enumsArgs,
      strictArgs: {
        ...enumsArgs,
        target: { ...enumsArgs.target, role: null, includeChildren: null },
        state: null,
        due: null,
      },
      received: structuredClone(enumsArgs),
      strictReceived: { ...structuredClone(enumsArgs), due: null },
      strict: true,
      note: '`due` accepts null itself: a strict null for it is a value and stays, it does not mean "absent".',
    },
    {
      slug: 'HARD_RECURSIVE_TREE',
      description:
        'A recursive schema ($defs and $ref): cannot be strict, and its $ref must not reach the framework.',
      inputSchema: z.object({ root: treeNode }),
      args: { root: { name: 'a', children: [{ name: 'b' }] } },
      strictArgs: { root: { name: 'a', children: [{ name: 'b', children: null }] } },
      received: { root: { name: 'a', children: [{ name: 'b' }] } },
      strict: false,
      notStrictAt: '$.root.children',
    },
    {
      slug: 'HARD_RECORD',
      description: 'A record (keys not known in advance): cannot be strict, falls back alone.',
      inputSchema: z.object({ id: z.string(), labels: z.record(z.string(), z.number()) }),
      args: { id: 'r1', labels: { stars: 5 } },
      strictArgs: { id: 'r1', labels: { stars: 5 } },
      received: { id: 'r1', labels: { stars: 5 } },
      strict: false,
      notStrictAt: '$.labels',
    },
    {
      slug: 'HARD_JSON_SCHEMA_FROM_ZOD',
      description:
        "A JSON Schema made by z.toJSONSchema(): it carries zod's hidden `~standard` marker, which frameworks take for a zod schema.",
      inputSchema: z.toJSONSchema(z.object({ name: z.string(), tags: z.array(z.string()).optional() })),
      args: { name: 'n' },
      strictArgs: { name: 'n', tags: null },
      received: { name: 'n' },
      strict: true,
      note: 'The OpenAI Agents SDK would demand strict mode for it if it reached `tool()` as is (docs/providers.md).',
    },
    {
      slug: 'HARD_ROOT_UNION',
      description:
        "A root anyOf whose variants hold the properties (a user by id or by name): model APIs refuse a root union, so the model must be shown its variants' properties at the root.",
      inputSchema: {
        type: 'object',
        anyOf: [
          { properties: { id: { type: 'string' } }, required: ['id'] },
          { properties: { name: { type: 'string' } }, required: ['name'] },
        ],
      },
      args: { id: 'u1' },
      strictArgs: { id: 'u1', name: null },
      received: { id: 'u1' },
      strict: true,
      shownProperties: ['id', 'name'],
    },
  ];
}

/**
 * What a model sends to a case's tool and what the handler must then receive: `strictArgs` when the
 * model fills in every field (strict mode), `args` otherwise.
 */
export function hardSchemaCall(
  entry: HardSchemaCase,
  strictArgs: boolean,
): { args: Record<string, unknown>; received: Record<string, unknown> } {
  return strictArgs
    ? { args: entry.strictArgs, received: entry.strictReceived ?? entry.received }
    : { args: entry.args, received: entry.received };
}

/**
 * The source of a RegExp that matches core's reason why a case cannot be strict (its `notStrictAt`,
 * any deeper path, then `: ` and why), for a test of the fallback warning a provider logs.
 *
 * @example
 * expect(warning).toMatch(new RegExp(`${entry.slug}: ${notStrictReasonPattern(entry)}`));
 */
export function notStrictReasonPattern(entry: HardSchemaCase): string {
  if (entry.strict || !entry.notStrictAt) throw new Error(`${entry.slug} can be strict: it has no reason`);
  return `${entry.notStrictAt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^:]*: .+`;
}

/**
 * A fresh toolkit `hard` with one tool per {@link hardSchemaCases} case (slug, description and schema
 * of the case). Each handler records its input under its slug in `received` and returns it, so a test
 * can compare what the handler received, from the record or from the tool result.
 *
 * @example
 * const { toolkit, cases, received } = hardSchemaToolkit();
 * // … run every tool through the framework with hardSchemaCall(entry, strict).args …
 * for (const entry of cases) expect(received.get(entry.slug)).toEqual([hardSchemaCall(entry, strict).received]);
 */
export function hardSchemaToolkit(): {
  toolkit: Toolkit;
  cases: HardSchemaCase[];
  received: Map<string, unknown[]>;
} {
  const cases = hardSchemaCases();
  const received = new Map<string, unknown[]>();
  const toolkit = defineToolkit({
    slug: 'hard',
    name: 'Hard',
    description: 'Hard schemas.',
    tools: cases.map((entry) =>
      defineTool({
        slug: entry.slug,
        description: entry.description,
        inputSchema: entry.inputSchema,
        execute: (input: unknown) => {
          received.set(entry.slug, [...(received.get(entry.slug) ?? []), input]);
          return input;
        },
      }),
    ),
  });
  return { toolkit, cases, received };
}

/**
 * `{ items: [...] }` whose each item is one of two closed objects, `{ a: string }` or `{ b: number }`
 * (and, with `shortString`, a string of at most 3 characters): arguments whose items all fail are
 * thousands of failed unions, which validation must explain within bounds.
 */
export function unionItemsSchema(options: { shortString?: boolean } = {}): JSONSchema {
  const closed = (name: string, type: string): JSONSchema => ({
    type: 'object',
    properties: { [name]: { type } },
    required: [name],
    additionalProperties: false,
  });
  const variants = [closed('a', 'string'), closed('b', 'number')];
  if (options.shortString) variants.push({ type: 'string', maxLength: 3 });
  return { type: 'object', properties: { items: { type: 'array', items: { anyOf: variants } } } };
}
