import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { badZodValues, ZOD_DEFAULTS } from '../test/zod-bad-values.js';
import { ToolMux } from '../toolmux.js';
import { defineTool, defineToolkit } from './define.js';

/**
 * The model reads a tool's argument refusals (TOOL_ARGUMENTS_INVALID) and must act on them. A zod
 * tool's read zod's default English, which names the rule broken, not what to send, by a dotted
 * path: `n: Too big: expected number to be <=5; tags: Too small: expected array to have >=1 items`,
 * `tags.0: Invalid input: expected string, received number`. Each issue kind of a tool's argument
 * schema is now worded as what is wrong at which path (`tags[0]`) and what to send, with the
 * schema's own bounds and options, whether the arguments are checked in one call or a part at a
 * time (large arguments), and in a multi-execute's results.
 */

/** A schema with a field for each kind of check a tool's arguments may break. */
const zodSchema = z.object({
  n: z.number().int().min(1).max(5),
  ratio: z.number().gt(0).lt(1).multipleOf(0.25),
  big: z.int(),
  tags: z.array(z.string().min(2).max(10)).min(1).max(3),
  code: z.string().length(4),
  email: z.email().optional(),
  site: z.url().optional(),
  id: z.uuid().optional(),
  at: z.iso.datetime().optional(),
  slug: z
    .string()
    .regex(/^[a-z-]+$/)
    .optional(),
  prefixed: z.string().startsWith('gh_').endsWith('!').includes('x').optional(),
  kind: z.enum(['a', 'b']),
  mode: z.literal('fast').optional(),
  nested: z.strictObject({ deep: z.boolean(), level: z.number().min(0).optional() }).optional(),
  byName: z.record(z.string().min(2), z.number().max(9)).optional(),
  choice: z.union([z.string().min(3), z.number().min(10)]).optional(),
  op: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('add'), items: z.array(z.string()).min(1) }),
      z.object({ type: z.literal('remove'), ids: z.array(z.int()).max(2) }),
    ])
    .optional(),
  pair: z.tuple([z.string(), z.number()]).optional(),
  maybe: z.string().nullable().optional(),
});

/** Valid arguments, each bad value is put into. */
const VALID = { n: 3, ratio: 0.5, big: 7, tags: ['ab'], code: 'abcd', kind: 'a' } as const;

/** Two issues that said nothing to act on (see the REST test): a key's own name, an object echoed. */
const MISWORDED = /unknown key "([^"]+)"\. Did you mean "\1"|unknown value [{[]/;

/** A path segment of an array's index written as a key (`tags.0`), not as `tags[0]`. */
const DOTTED_INDEX = /(?:^|\.)\d+(?:[.[]|$)/;

const zodTool = defineTool({
  slug: 'WORDS_ZOD',
  description: 'Takes arguments of every kind (zod).',
  inputSchema: zodSchema,
  execute: () => 'ran',
});

/**
 * A JSON Schema zod wrote (`z.toJSONSchema`): a Standard Schema zod validates, whose refusals read
 * zod's defaults too.
 */
const jsonTool = defineTool({
  slug: 'WORDS_JSON',
  description: 'Takes arguments of every kind (a JSON Schema zod wrote).',
  inputSchema: z.toJSONSchema(zodSchema),
  execute: () => 'ran',
});

/** A plain JSON Schema tool, checked by Ajv. */
const plainTool = defineTool({
  slug: 'WORDS_PLAIN',
  description: 'Takes labels (a JSON Schema).',
  inputSchema: {
    type: 'object',
    properties: {
      labels: { type: 'array', items: { type: 'string' } },
      byId: { type: 'object', additionalProperties: { type: 'array', items: { type: 'integer' } } },
    },
  },
  execute: () => 'ran',
});

const demo = z.object({
  n: z.number().int().min(1).max(5),
  tags: z.array(z.string()).min(1),
  email: z.email(),
  kind: z.enum(['a', 'b']),
});
/** The tool of the task's example. */
const demoTool = defineTool({
  slug: 'WORDS_DEMO',
  description: 'Demo.',
  inputSchema: demo,
  execute: () => 1,
});

const mux = new ToolMux({
  toolkits: [
    defineToolkit({
      slug: 'words',
      description: 'Argument words.',
      tools: [zodTool, jsonTool, plainTool, demoTool],
    }),
  ],
  store: ':memory:',
  logger: { debug() {}, warn() {}, error() {} },
});
afterAll(() => mux.close());

const session = await mux.create('words_user', { toolkits: ['words'] });

/** The issues of a refusal, each as `path` and `message`. */
function issuesOf(error: string, slug: string): Array<{ path: string; message: string }> {
  const prefix = `Invalid arguments for ${slug}: `;
  expect(error.startsWith(prefix), error).toBe(true);
  return error
    .slice(prefix.length)
    .replace(/; and \d+ more$/, '')
    .split(/; (?=\(root\)|[\w[\]"]+(?:[.[][^:]*)?: )/)
    .map((line) => {
      const at = line.indexOf(': ');
      return { path: line.slice(0, at), message: line.slice(at + 2) };
    });
}

/** Every refusal of the walk whose words are zod's defaults, misworded, or name an index by a dot. */
async function badlyWorded(
  slug: string,
  schema: z.core.$ZodType,
): Promise<{ refused: number; bad: string[] }> {
  const bad: string[] = [];
  let refused = 0;
  // each field's bad values, in otherwise valid arguments; and bad values of the arguments' object
  const shape = (schema._zod.def as unknown as { shape: Record<string, z.core.$ZodType> }).shape;
  const cases = [
    ...badZodValues(schema).filter(
      (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    ),
    ...Object.entries(shape).flatMap(([name, field]) =>
      badZodValues(field).map((value) => ({ ...VALID, [name]: value })),
    ),
  ];
  for (const args of cases) {
    const result = await session.execute(slug, args as Record<string, unknown>);
    if (result.successful) continue;
    expect(result.code, result.error ?? '').toBe('TOOL_ARGUMENTS_INVALID');
    refused++;
    const error = result.error!;
    const issues = issuesOf(error, slug);
    if (
      ZOD_DEFAULTS.test(error) ||
      MISWORDED.test(error) ||
      issues.some(({ path }) => DOTTED_INDEX.test(path)) ||
      issues.some(
        ({ message }) =>
          !/: (?:send|use)|; use|leave it out|is required|do not go together|unknown key/.test(message),
      )
    )
      bad.push(`${JSON.stringify(args).slice(0, 200)} -> ${error}`);
  }
  return { refused, bad };
}

describe('a tool’s argument refusals say what is wrong at which path and what to send', () => {
  it('walks a zod tool’s checks through session.execute: no refusal reads like zod’s defaults', async () => {
    const { refused, bad } = await badlyWorded('WORDS_ZOD', zodSchema);
    // the walk reached the schema's checks, and none reads like zod's
    expect(refused).toBeGreaterThan(60);
    expect(bad.slice(0, 10).join('\n')).toBe('');
  });

  it('walks a tool of a JSON Schema zod wrote alike: its checks are zod’s, its words are not', async () => {
    const { refused, bad } = await badlyWorded('WORDS_JSON', zodSchema);
    expect(refused).toBeGreaterThan(60);
    expect(bad.slice(0, 10).join('\n')).toBe('');
    // with the JSON Schema's own bounds: before, 'n: Too big: expected number to be <=5'
    const result = await session.execute('WORDS_JSON', { ...VALID, n: 9, tags: [5] });
    expect(result.error).toBe(
      'Invalid arguments for WORDS_JSON: n: is too large: send an integer from 1 to 5; tags[0]: is a number: send a string',
    );
  });

  it('names an index in a JSON Schema tool’s arguments as a zod tool’s issues do: `labels[1]`, `byId["0"]`', async () => {
    const result = await session.execute('WORDS_PLAIN', { labels: ['a', 5], byId: { '0': [1, 'x'] } });
    // before: 'labels.1: must be string; byId.0.1: must be integer', an object's key and an
    // array's index alike
    expect(result.error).toBe(
      'Invalid arguments for WORDS_PLAIN: labels[1]: is a number: send a string; byId["0"][1]: is a string: send an integer',
    );
  });

  it('words the example of the task with the schema’s own bounds and options, and `tags[0]`', async () => {
    const first = await session.execute('WORDS_DEMO', { n: 9, tags: [], email: 'x', kind: 'c' });
    // before: 'n: Too big: expected number to be <=5; tags: Too small: expected array to have >=1
    // items; email: Invalid email address; kind: Invalid option: expected one of "a"|"b"'
    expect(first).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(first.error).toBe(
      'Invalid arguments for WORDS_DEMO: n: is too large: send an integer from 1 to 5; tags: has 0 items: send an array of at least 1 item; email: is not a valid email address: send an email address; kind: unknown value "c"; use one of a, b. Did you mean "a" or "b"?',
    );
    // before: 'n: Invalid input: expected int, received number; tags.0: Invalid input: expected
    // string, received number'
    const second = await session.execute('WORDS_DEMO', {
      n: 1.5,
      tags: [5],
      email: 'a@b.co',
      kind: 'a',
    });
    expect(second.error).toBe(
      'Invalid arguments for WORDS_DEMO: n: is not a whole number: send an integer; tags[0]: is a number: send a string',
    );
  });

  it('words large arguments, checked a part at a time, alike', async () => {
    const byName = Object.fromEntries(Array.from({ length: 5000 }, (_, index) => [`k${index}`, 1]));
    const result = await session.execute('WORDS_ZOD', {
      ...VALID,
      tags: ['ok', 7],
      byName: { ...byName, k4321: 10, x: 1 },
    });
    // before: 'tags.1: Invalid input: expected string, received number; byName.k4321: Too big:
    // expected number to be <=9; byName.x: Invalid key in record'
    expect(result.error).toBe(
      'Invalid arguments for WORDS_ZOD: tags[1]: is a number: send a string; byName.k4321: is too large: send a number of at most 9; byName.x: has a key that is too short: send a string of at least 2 characters',
    );
    // a JSON Schema zod wrote, checked by zod a part at a time alike
    const json = await session.execute('WORDS_JSON', {
      ...VALID,
      tags: ['ok', 7],
      byName: { ...byName, k4321: 10, x: 1 },
      choice: true,
    });
    expect(json.error).toBe(
      'Invalid arguments for WORDS_JSON: tags[1]: is a number: send a string; byName.k4321: is too large: send a number of at most 9; byName.x: has a key that is too short: send a string of at least 2 characters; choice: is a boolean: send a string or a number',
    );
  });

  it('words a multi-execute entry’s refusal alike', async () => {
    const result = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'WORDS_ZOD', arguments: { ...VALID, code: 'abc', op: { type: 'move' } } }],
    });
    const [entry] = (result.data as { results: Array<{ error: string | null }> }).results;
    // before: 'code: Too small: expected string to have >=4 characters; op.type: Invalid input'
    expect(entry!.error).toBe(
      'Invalid arguments for WORDS_ZOD: code: is too short: send a string of exactly 4 characters; op.type: unknown value "move"; use one of add, remove. Did you mean "remove"?',
    );
  });
});
