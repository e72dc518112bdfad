import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ToolMuxError } from '../errors.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { turnsDuring } from '../test/turns.js';
import { ToolMux } from '../toolmux.js';
import { checkJsonDepth, MAX_JSON_DEPTH } from '../util/json-depth.js';
import { WorkSlice } from '../util/slices.js';
import { findUnstorableString, shownValue } from '../util/stored-text.js';
import { Catalog } from './catalog.js';
import {
  declaredTool,
  declaredToolkit,
  declaredToolkitsSliced,
  declaredToolsSliced,
  isDeclaredTool,
  type ToolDeclaration,
  type ToolkitDeclaration,
  toolkitDeclarationOf,
} from './declarations.js';
import { defineTool, defineToolkit, toolSlugPrefix } from './define.js';
import type { Tool, Toolkit } from './types.js';

/**
 * A session that declares thousands of custom tools is built a slice at a time (extending the
 * catalog, the checks of remote declarations, the search index at its first search), so that one
 * request does not hold the event loop every other request waits for; the catalog, the index and
 * every error stay what they were when all of it ran in one turn.
 */

const quiet = { debug() {}, warn() {}, error() {} };
const execute = async () => ({});

/** A slice that is due at every look: the sliced functions pause between every two steps. */
class EveryStep extends WorkSlice {
  pauses = 0;
  override due(): boolean {
    return true;
  }
  override async pause(): Promise<void> {
    this.pauses++;
    await super.pause();
  }
}

type Outcome<T> = { value: T } | { error: { code: string; message: string } };

async function outcomeOf<T>(run: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await run() };
  } catch (error) {
    if (!ToolMuxError.isInstance(error)) throw error;
    return { error: { code: error.code, message: error.message } };
  }
}

function tool(slug: string, toolkit?: string): Tool {
  return defineTool({
    slug,
    description: `Does ${slug.toLowerCase().replaceAll('_', ' ')}`,
    inputSchema: z.object({ id: z.string().describe(`The id for ${slug}`) }),
    ...(toolkit ? { toolkit } : {}),
    execute,
  });
}

/** The catalog every case extends: a toolkit with auth, one without. */
function baseCatalog(): Catalog {
  return new Catalog([
    defineToolkit({
      slug: 'acme',
      description: 'Orders',
      auth: { type: 'bearer' },
      tools: [tool('ACME_GET_ORDER'), tool('ACME_LIST_ORDERS')],
    }),
    defineToolkit({ slug: 'mail', description: 'Mail', tools: [tool('MAIL_SEND')] }),
  ]);
}

/** Custom toolkits a case picks from (with repeats): one has the slug of a catalog toolkit. */
const toolkitPool: Toolkit[] = [
  defineToolkit({ slug: 'crm', description: 'Customers', tools: [tool('CRM_FIND'), tool('CRM_ADD')] }),
  defineToolkit({ slug: 'acme', description: 'Not the catalog one', tools: [tool('ACME_OTHER')] }),
  defineToolkit({ slug: 'todo', description: 'Todos', tools: [tool('TODO_LIST')] }),
];

/**
 * Custom tools a case picks from (with repeats): slugs of catalog tools, tools joining a toolkit by
 * prefix (a catalog one, a custom one, `custom` itself once it exists) or by name (one that exists,
 * one that does not yet), a tool with the slug of a custom toolkit's tool, and entries that are not
 * tools at all.
 */
const toolPool: unknown[] = [
  tool('ACME_GET_ORDER'),
  tool('ACME_REFUND'),
  tool('CRM_NOTE'),
  tool('CRM_FIND'),
  tool('MAIL_ARCHIVE', 'mail'),
  tool('SHARED_THING', 'crm'),
  tool('WIKI_READ', 'wiki'),
  tool('WIKI_WRITE'),
  tool('CUSTOM_THING'),
  tool('LONE_TOOL'),
  tool('TODO_LIST'),
  null,
  { kind: 'something else', slug: 'NOT_A_TOOL' },
];

/**
 * `Catalog.extend` as it was before it worked in steps (each tool copied its toolkit's whole list of
 * tools): what the steps must still make, error for error.
 */
function extendedBefore(base: Catalog, customToolkits: readonly Toolkit[], customTools: readonly Tool[]) {
  if (customToolkits.length === 0 && customTools.length === 0) return base;
  const toolkits = new Map(base.toolkits);
  // a custom tool with the slug of a catalog tool is refused where it comes, naming that tool's toolkit
  const notCatalogTool = (custom: Tool, of: string) => {
    const catalogTool = base.tools.get(custom.slug);
    if (!catalogTool) return;
    const message = `Custom tool ${custom.slug} ${of}has the slug of a tool of the catalog (toolkit "${catalogTool.toolkit}"); a custom tool adds to the catalog and cannot replace one of its tools: give it another slug.`;
    throw new ToolMuxError({ code: 'TOOL_DEFINITION_INVALID', message });
  };
  for (const toolkit of customToolkits) {
    if (toolkits.has(toolkit.slug)) {
      const message = `Custom toolkit "${toolkit.slug}" has the slug of a catalog toolkit; rename it.`;
      throw new ToolMuxError({ code: 'CONFIG_CONFLICT', message });
    }
    for (const custom of toolkit.tools) notCatalogTool(custom, `of custom toolkit "${toolkit.slug}" `);
    toolkits.set(toolkit.slug, toolkit);
  }
  for (const custom of customTools) {
    if (custom?.kind !== 'toolmux.tool') {
      const message = 'experimental.customTools must hold defineTool() results.';
      throw new ToolMuxError({ code: 'CONFIG_INVALID', message });
    }
    notCatalogTool(custom, '');
    const byPrefix = [...toolkits.keys()].find((slug) => custom.slug.startsWith(toolSlugPrefix(slug)));
    const slug = custom.toolkit || byPrefix || 'custom';
    const owner: Toolkit = toolkits.get(slug) ?? {
      ...toolkitPool[0]!,
      slug,
      name: slug === 'custom' ? 'Custom tools' : slug,
      description: 'Tools defined by the application for this session.',
      tools: [],
      auth: [],
      categories: [],
      noAuth: true,
    };
    const joined = custom.toolkit === slug ? custom : { ...custom, toolkit: slug };
    toolkits.set(slug, { ...owner, tools: [...owner.tools, joined] });
  }
  return new Catalog([...toolkits.values()]);
}

/** What a catalog holds, as plain data to compare. */
function contentsOf(catalog: Catalog) {
  return {
    toolkits: [...catalog.toolkits].map(([slug, toolkit]) => ({
      slug,
      own: toolkit.slug,
      name: toolkit.name,
      description: toolkit.description,
      noAuth: toolkit.noAuth,
      auth: toolkit.auth,
      tools: toolkit.tools.map((each) => `${each.slug}@${each.toolkit}`),
    })),
    tools: [...catalog.tools].map(([slug, each]) => `${slug}@${each.toolkit}`),
  };
}

const queries = ['get an order', 'send mail', 'find a customer', 'write the wiki', 'thing', 'refund'];

describe('a catalog extended by custom tools a slice at a time', () => {
  it('is the catalog extend() made before, and fails with the same error for the same mistake (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...toolkitPool), { maxLength: 3 }),
        fc.array(fc.constantFrom(...toolPool), { maxLength: 8 }),
        async (customToolkits, customTools) => {
          const tools = customTools as Tool[];
          const before = await outcomeOf(() =>
            contentsOf(extendedBefore(baseCatalog(), customToolkits, tools)),
          );
          const slice = new EveryStep();
          const sliced = await outcomeOf(async () =>
            contentsOf(await baseCatalog().extendSliced(customToolkits, tools, slice)),
          );
          expect(sliced).toEqual(before);
          expect(await outcomeOf(() => contentsOf(baseCatalog().extend(customToolkits, tools)))).toEqual(
            before,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('searches as the index built in one turn does, for the base catalog and the extended one (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...toolPool.slice(1, 10)), { maxLength: 6 }),
        fc.constantFrom(...queries),
        async (customTools, query) => {
          const tools = customTools as Tool[];
          const inOneTurn = baseCatalog().extend([], tools);
          const base = baseCatalog();
          const sliced = base.extend([], tools);
          // the base catalog's index first, then the extended one's on it, each a slice at a time
          const index = await sliced.searchIndex();
          expect(index.search(query, { limit: 20 })).toEqual(inOneTurn.index.search(query, { limit: 20 }));
          expect((await base.searchIndex()).search(query)).toEqual(baseCatalog().index.search(query));
          // built once: later searches and the synchronous getter get the same index
          expect(await sliced.searchIndex()).toBe(index);
          expect(sliced.index).toBe(index);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('builds the index once for searches that wait for it together', async () => {
    const catalog = baseCatalog().extend([], [tool('WIKI_READ'), tool('WIKI_WRITE')]);
    const [first, second] = await Promise.all([catalog.searchIndex(), catalog.searchIndex()]);
    expect(first).toBe(second);
    expect(first.search('write the wiki')[0]?.slug).toBe('WIKI_WRITE');
  });
});

/** A value that nests `depth` levels of objects and arrays. */
function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level++) value = level % 2 ? [value] : { inner: value };
  return value;
}

/** Strings a declaration may or may not store: control characters, a lone surrogate, over 65,536. */
const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 12 }) },
  fc.constantFrom('', 'tab\tand\nlines', 'nul\u0000', 'lone \ud800', 'del\u007f', 'x'.repeat(65_537)),
);

/** Declarations of every kind of mistake the checks find, and good ones. */
const declaration: fc.Arbitrary<ToolDeclaration> = fc.record({
  slug: fc.constantFrom('NOTES_ADD', 'NOTES_LIST', 'bad slug', 'NOTES_\u0000'),
  name: text,
  description: fc.oneof(text, fc.constant('Adds a note')),
  toolkit: fc.constantFrom('', 'notes', 'Bad Toolkit'),
  inputSchema: fc.oneof(
    fc.constant({ type: 'object' }),
    fc.dictionary(text, text, { maxKeys: 3 }).map((properties) => ({ type: 'object', properties })),
    fc
      .integer({ min: MAX_JSON_DEPTH - 2, max: MAX_JSON_DEPTH + 4 })
      .map((depth) => ({ type: 'object', properties: { deep: nested(depth) } })),
    fc.constant({ type: 'string' }),
  ),
  annotations: fc.constantFrom({}, { readOnlyHint: true }),
  tags: fc.array(text, { maxLength: 2 }),
}) as fc.Arbitrary<ToolDeclaration>;

/**
 * The checks `declaredTool` made before they ran in steps (a recursive depth walk, then the walk for
 * unstorable strings), then what it made: the oracle of the sliced checks.
 */
function declaredBefore<D extends ToolDeclaration | ToolkitDeclaration, T>(
  value: D,
  subject: string,
  make: (value: D) => T,
): T {
  checkJsonDepth(value, `${subject}'s declaration`, 'TOOL_DEFINITION_INVALID', MAX_JSON_DEPTH + 4);
  const bad = findUnstorableString(value, { maxLength: 65_536, allowEmpty: true, freeText: true });
  if (bad) {
    throw new ToolMuxError({
      code: 'TOOL_DEFINITION_INVALID',
      message: `${subject}: the ${bad.isKey ? 'key' : 'string'} ${shownValue(bad.value)} at ${bad.path} ${bad.problem}; use well-formed Unicode text without control characters (but tab and line breaks).`,
    });
  }
  return make(value);
}

/** What a declared tool is, as plain data to compare. */
function toolOf(each: Tool) {
  const { slug, name, description, toolkit, inputSchema, outputSchema, annotations, tags } = each;
  return {
    slug,
    name,
    description,
    toolkit,
    inputSchema,
    outputSchema,
    annotations,
    tags,
    declared: isDeclaredTool(each),
  };
}

describe('declarations of a remote client checked a slice at a time', () => {
  it('make the tools declaredTool() made, and the same error for the same declaration (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(declaration, { minLength: 1, maxLength: 4 }), async (declarations) => {
        const before = await outcomeOf(() =>
          declarations.map((each) =>
            toolOf(declaredBefore(each, `Custom tool ${shownValue(each.slug)}`, declaredTool)),
          ),
        );
        const sliced = await outcomeOf(async () =>
          (await declaredToolsSliced(declarations, new EveryStep())).map(toolOf),
        );
        expect(sliced).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it('make the toolkits declaredToolkit() made, and the same error (property)', async () => {
    const toolkitDeclaration = fc.record({
      slug: fc.constantFrom('notes', 'Bad Slug'),
      name: text,
      description: fc.oneof(text, fc.constant('Notes')),
      categories: fc.array(text, { maxLength: 2 }),
      tools: fc.array(declaration, { maxLength: 3 }),
    }) as fc.Arbitrary<ToolkitDeclaration>;
    await fc.assert(
      fc.asyncProperty(toolkitDeclaration, async (each) => {
        const made = (toolkit: Toolkit) => ({ ...toolkit, tools: toolkit.tools.map(toolOf) });
        const before = await outcomeOf(() =>
          made(declaredBefore(each, `Custom toolkit ${shownValue(each.slug)}`, declaredToolkit)),
        );
        const sliced = await outcomeOf(async () =>
          made((await declaredToolkitsSliced([each], new EveryStep()))[0]!),
        );
        expect(sliced).toEqual(before);
      }),
      { numRuns: 200 },
    );
  });
});

describe("a custom toolkit's keywords in a remote client's declaration", () => {
  const tool = defineTool({
    slug: 'NOTES_LIST',
    description: 'List notes.',
    inputSchema: z.object({}),
    execute: () => 1,
  });

  it('reach the toolkit the server makes of it, and are left out of a declaration when there are none', () => {
    const keyed = toolkitDeclarationOf(
      defineToolkit({ slug: 'notes', description: 'Notes', tools: [tool], keywords: ['memo', 'jotting'] }),
    );
    expect(keyed.keywords).toEqual(['memo', 'jotting']);
    expect(declaredToolkit(keyed).keywords).toEqual(['memo', 'jotting']);
    // a server from before keywords refuses a declaration with a key it does not know
    const plain = toolkitDeclarationOf(defineToolkit({ slug: 'notes', description: 'Notes', tools: [tool] }));
    expect('keywords' in plain).toBe(false);
    expect(declaredToolkit(plain).keywords).toEqual([]);
  });
});

describe('a session with many custom tools', () => {
  /** `count` custom tools of a notes app, as an application defines them. */
  const notesTools = (count: number) =>
    Array.from({ length: count }, (_, n) =>
      defineTool({
        slug: `NOTES_ACTION_${n}`,
        description: `Runs action ${n} on the notes of the user`,
        inputSchema: z.object({ noteId: z.string().describe('The id of the note') }),
        execute,
      }),
    );
  const COUNT = 400;
  const mux = new ToolMux({ toolkits: [], store: ':memory:', logger: quiet });
  afterAll(() => mux.close());

  it('is created, and indexed at its first search, with other work running between slices', async () => {
    await mux.create('user_1'); // the store is open: what follows is the creation's own work
    const customTools = notesTools(COUNT);
    // with the clock moving 1 ms at every look, a turn ends every few tools: hundreds of turns. In
    // one turn (before), a creation took a turn or two for the awaits of the store, and so did a search
    const created = await turnsDuring(() => mux.create('user_1', { experimental: { customTools } }));
    expect(created.turns).toBeGreaterThan(COUNT / 4);
    const session = created.value;
    const searched = await turnsDuring(() => session.search({ query: 'run action 7 on a note' }));
    expect(searched.turns).toBeGreaterThan(COUNT / 4);
    expect(searched.value.results[0]!.tools.map((each) => each.tool_slug)).toContain('NOTES_ACTION_7');
    const direct = await session.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: 'action 12' }] });
    expect(direct.successful).toBe(true);
  });

  it('declared by a remote client is resumed by use() with other work running between slices', async () => {
    const declarations: ToolDeclaration[] = notesTools(COUNT).map((each) => ({
      slug: each.slug,
      name: each.name,
      description: each.description,
      toolkit: '',
      inputSchema: each.inputSchema,
      annotations: {},
      tags: [],
    }));
    const customTools = declarations.map(declaredTool);
    const created = await mux.create('user_1', { experimental: { customTools } });
    expect(created.config.clientTools).toHaveLength(COUNT);
    const resumed = await turnsDuring(() => mux.use(created.sessionId));
    expect(resumed.turns).toBeGreaterThan(COUNT / 4);
    expect(resumed.value.config).toEqual(created.config);
    const found = await resumed.value.search({ query: 'run action 9 on a note' });
    expect(found.results[0]!.tools.map((each) => each.tool_slug)).toContain('NOTES_ACTION_9');
  });

  it('refuses what it refused before: a custom toolkit with a catalog slug, a non-tool, a tool slug twice', async () => {
    const muxWithCatalog = new ToolMux({
      toolkits: [defineToolkit({ slug: 'mail', description: 'Mail', tools: [tool('MAIL_SEND')] })],
      store: ':memory:',
      logger: quiet,
    });
    try {
      const refusal = (config: Parameters<typeof mux.create>[1]) =>
        outcomeOf(() => muxWithCatalog.create('user_1', config));
      const many = notesTools(COUNT);
      expect(
        await refusal({
          experimental: { customToolkits: [defineToolkit({ slug: 'mail', description: 'x', tools: [] })] },
        }),
      ).toEqual({
        error: {
          code: 'CONFIG_CONFLICT',
          message: 'Custom toolkit "mail" has the slug of a catalog toolkit; rename it.',
        },
      });
      expect(await refusal({ experimental: { customTools: [...many, {} as Tool] } })).toEqual({
        error: {
          code: 'CONFIG_INVALID',
          message: 'experimental.customTools must hold defineTool() results.',
        },
      });
      expect(await refusal({ experimental: { customTools: [...many, tool('MAIL_SEND')] } })).toEqual({
        error: {
          code: 'TOOL_DEFINITION_INVALID',
          message:
            'Custom tool MAIL_SEND has the slug of a tool of the catalog (toolkit "mail"); a custom tool adds to the catalog and cannot replace one of its tools: give it another slug.',
        },
      });
    } finally {
      await muxWithCatalog.close();
    }
  });
});
