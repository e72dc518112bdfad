import { WorkSlice } from '@toolmux/core/internal';
import { turnsDuring } from '@toolmux/core/test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CREATE_SESSION_WIRE_LARGE_ARRAYS, CreateSessionWire } from '../composio/config.js';
import type { LargeArray } from './large-arrays.js';
import { parseLargeRequestPart, parseRequestPart } from './route.js';
import { CREATE_SESSION_LARGE_ARRAYS, CreateSessionBody } from './schemas.js';

/**
 * A body whose arrays hold thousands of declarations is checked an item at a time, and what comes
 * out is what one zod parse of the whole gave: the same data (key order and `__proto__` keys kept),
 * or the same 400, naming the same first five issues and counting the same others.
 */

/** A slice that is due at every look: the parse pauses after every item. */
class EveryStep extends WorkSlice {
  override due(): boolean {
    return true;
  }
}

type Outcome = { data: string } | { error: string };

/** Data as JSON (key order and own `__proto__` keys show), or the 400's message. */
async function outcomeOf(parse: () => unknown): Promise<Outcome> {
  try {
    return { data: JSON.stringify(await parse()) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

async function expectSameParse(schema: z.ZodType, body: unknown, arrays: readonly LargeArray[]) {
  const whole = await outcomeOf(() => parseRequestPart(schema, body, 'body'));
  const sliced = await outcomeOf(() => parseLargeRequestPart(schema, body, arrays, new EveryStep()));
  expect(sliced).toEqual(whole);
  return whole;
}

/** {@link expectSameParse} as a property's check (which answers nothing). */
async function sameParse(schema: z.ZodType, body: unknown, arrays: readonly LargeArray[]): Promise<void> {
  await expectSameParse(schema, body, arrays);
}

/** An object with a `__proto__` key of its own, as JSON.parse makes it. */
const protoKeyed = () => JSON.parse('{"type":"object","__proto__":{"polluted":true}}');

const good = fc.record({
  slug: fc.constantFrom('NOTES_ADD', 'NOTES_LIST', 'X'),
  name: fc.constantFrom('Add', 'List'),
  description: fc.constantFrom('Adds a note', 'Lists notes'),
  toolkit: fc.constantFrom('', 'notes'),
  inputSchema: fc.oneof(fc.constant({ type: 'object' }), fc.constant(null).map(protoKeyed)),
  annotations: fc.constantFrom({}, { readOnlyHint: true }),
  tags: fc.constantFrom([], ['a']),
});

/** A declaration, good or with one of the mistakes zod names. */
const declaration = fc.oneof(
  { weight: 3, arbitrary: good },
  good.map(({ name: _name, ...rest }) => rest),
  good.map((each) => ({ ...each, name: 5 })),
  good.map((each) => ({ ...each, slug: 'S'.repeat(65), description: '' })),
  good.map((each) => ({ ...each, extra: true })),
  good.map((each) => ({ ...each, annotations: { readOnly: true } })),
  good.map((each) => ({ ...each, tags: Array(51).fill('t') })),
  fc.constantFrom('not a declaration', null, []),
);

const toolkit = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      slug: fc.constantFrom('notes', 'wiki'),
      name: fc.constant('Notes'),
      description: fc.constant('Notes'),
      categories: fc.constantFrom([], ['docs']),
      tools: fc.array(declaration, { maxLength: 8 }),
    }),
  },
  fc.record({ slug: fc.constant(''), tools: fc.constantFrom('x', [], [1]) }),
  fc.constant(7),
);

/** Create-session bodies: the config's other fields and the body's own may be wrong too. */
const body = fc.record(
  {
    user_id: fc.constantFrom('user_1', 5),
    config: fc.oneof(
      fc.record(
        {
          toolkits: fc.constantFrom(['notes'], 5),
          metadata: fc.constantFrom({ a: 'b' }, { a: 1 }),
          unknownOption: fc.constant(true),
          experimental: fc.oneof(
            fc.record(
              {
                customTools: fc.oneof(fc.array(declaration, { maxLength: 12 }), fc.constant('x')),
                customToolkits: fc.array(toolkit, { maxLength: 3 }),
                other: fc.constant(1),
              },
              { requiredKeys: [] },
            ),
            fc.constant('x'),
          ),
          manageConnections: fc.constantFrom(true, 'yes'),
        },
        { requiredKeys: [] },
      ),
      fc.constant(3),
    ),
    extra: fc.constant(1),
  },
  { requiredKeys: ['user_id'] },
);

/** Declaration `n`, good. */
function tool(n: number) {
  return {
    slug: `NOTES_${n}`,
    name: 'N',
    description: 'D',
    toolkit: '',
    inputSchema: { type: 'object' },
    annotations: {},
    tags: [],
  };
}

describe('a create-session body checked a declaration at a time', () => {
  it('parses as the whole body did, data or 400 (property)', async () => {
    await fc.assert(
      fc.asyncProperty(body, (each) => sameParse(CreateSessionBody, each, CREATE_SESSION_LARGE_ARRAYS)),
      { numRuns: 400 },
    );
  });

  it('with more declarations than allowed, good and bad, says what the whole body did', async () => {
    const many = (count: number, bad: (n: number) => boolean) =>
      Array.from({ length: count }, (_, n) => (bad(n) ? { ...tool(n), name: '' } : tool(n)));
    const bodies = [
      { customTools: many(600, () => false) },
      { customTools: many(600, (n) => n % 97 === 0) },
      { customTools: many(40, (n) => n % 3 === 0) },
      {
        customToolkits: Array.from({ length: 51 }, () => ({
          slug: 'k',
          name: 'K',
          description: 'K',
          categories: [],
          tools: [],
        })),
      },
      {
        customToolkits: [
          { slug: 'k', name: 'K', description: 'K', categories: [], tools: many(520, (n) => n > 510) },
          { slug: 'k', name: '', description: 'K', categories: [], tools: many(30, (n) => n % 2 === 0) },
        ],
      },
    ];
    const outcomes = [];
    for (const experimental of bodies) {
      outcomes.push(
        await expectSameParse(
          CreateSessionBody,
          { user_id: 'user_1', config: { experimental } },
          CREATE_SESSION_LARGE_ARRAYS,
        ),
      );
    }
    expect(outcomes.map((outcome) => 'error' in outcome)).toEqual([true, true, true, true, true]);
    // zod refuses an array over its limit by its length alone; 14 bad declarations are 5 and 9 more
    expect((outcomes[1] as { error: string }).error).toBe(
      'Invalid request body: body.config.experimental.customTools: has 600 items: send an array of at most 500 items.',
    );
    expect((outcomes[2] as { error: string }).error).toMatch(/\(and 9 more\)\.$/);
  });

  it('lets other work run between declarations', async () => {
    const customTools = Array.from({ length: 400 }, (_, n) => tool(n));
    const { turns } = await turnsDuring(() =>
      parseLargeRequestPart(
        CreateSessionBody,
        { user_id: 'user_1', config: { experimental: { customTools } } },
        CREATE_SESSION_LARGE_ARRAYS,
        new WorkSlice(),
      ),
    );
    expect(turns).toBeGreaterThan(customTools.length / 8);
  });
});

describe("Composio's create-session body checked a custom tool at a time", () => {
  const customTool = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        slug: fc.constantFrom('GREP', 'SED'),
        name: fc.constant('Grep'),
        description: fc.constant('Search'),
        input_schema: fc.oneof(fc.constant({ type: 'object' }), fc.constant(null).map(protoKeyed)),
        extends_toolkit: fc.constantFrom(undefined, 'notes'),
      }),
    },
    fc.record({ slug: fc.constant(''), name: fc.constant(3) }),
    fc.constant(null),
  );
  const wire = fc.record(
    {
      user_id: fc.constantFrom('user_1', 5),
      toolkits: fc.constantFrom(['notes'], 5),
      experimental: fc.record(
        {
          custom_tools: fc.array(customTool, { maxLength: 10 }),
          custom_toolkits: fc.array(
            fc.record({
              slug: fc.constantFrom('dev', ''),
              name: fc.constant('Dev'),
              description: fc.constant('Dev'),
              tools: fc.array(customTool, { maxLength: 8 }),
            }),
            { maxLength: 3 },
          ),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['user_id'] },
  );

  it('parses as the whole body did, data or 400 (property)', async () => {
    await fc.assert(
      fc.asyncProperty(wire, (each) => sameParse(CreateSessionWire, each, CREATE_SESSION_WIRE_LARGE_ARRAYS)),
      { numRuns: 300 },
    );
  });
});

describe('large arrays of any schema', () => {
  const item = z.strictObject({ id: z.string().min(1), n: z.number().int() });
  const schema = z.strictObject({
    a: z.string().optional(),
    list: z.array(item).max(3).optional(),
    groups: z
      .array(z.strictObject({ name: z.string().min(1), items: z.array(item).max(2) }))
      .max(2)
      .optional(),
    b: z.number().optional(),
  });
  const arrays: LargeArray[] = [
    { path: ['list'], item, max: 3 },
    {
      path: ['groups'],
      item: schema.shape.groups.unwrap().element,
      max: 2,
      inner: [{ path: ['items'], item, max: 2 }],
    },
  ];
  const anItem = fc.oneof(
    fc.record({ id: fc.constantFrom('a', ''), n: fc.constantFrom(1, 1.5, 'x') }),
    fc.constantFrom(null, { id: 'a', n: 1, extra: 1 }),
  );
  const value = fc.record(
    {
      a: fc.constantFrom('a', 1),
      list: fc.oneof(fc.array(anItem, { maxLength: 14 }), fc.constant('x')),
      groups: fc.array(
        fc.oneof(
          fc.record({ name: fc.constantFrom('g', ''), items: fc.array(anItem, { maxLength: 9 }) }),
          fc.constant(2),
        ),
        { maxLength: 5 },
      ),
      b: fc.constantFrom(1, 'b'),
      c: fc.constant(1),
    },
    { requiredKeys: [] },
  );

  it('parse as the whole did, when over their limits too (property)', async () => {
    await fc.assert(
      fc.asyncProperty(value, (each) => sameParse(schema, each, arrays)),
      { numRuns: 1_000 },
    );
  });
});
