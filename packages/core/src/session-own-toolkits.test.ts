import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from './catalog/define.js';
import type { Tool, Toolkit } from './catalog/types.js';
import type { SessionConfig } from './config/session-config.js';
import { MetaToolSlug } from './meta-tools/meta-tools.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

/**
 * The tools handed to a session itself (its custom toolkits, its custom tools that join no toolkit of
 * the catalog) are the session's to use: an enable list of toolkits leaves them in, on every path a
 * tool is found or run; a `{ disable }` list, `tools` and `tags` filters still apply to them. A
 * custom tool that joins a catalog toolkit follows that toolkit's filters.
 */

const quiet = { debug() {}, warn() {}, error() {} };

function customTools(): { tools: Tool[]; toolkits: Toolkit[]; ran: string[] } {
  const ran: string[] = [];
  const tool = (slug: string, description: string, annotations: Tool['annotations'] = {}) =>
    defineTool({
      slug,
      description,
      inputSchema: z.object({ id: z.string().optional() }),
      annotations,
      execute: async () => {
        ran.push(slug);
        return { ran: slug };
      },
    });
  const crm = defineToolkit({
    slug: 'crm',
    name: 'CRM',
    description: 'Our own customer relationship manager.',
    tools: [
      tool('CRM_GET_DEAL', 'Get a sales deal of the CRM by its id.', { readOnlyHint: true }),
      tool('CRM_DELETE_DEAL', 'Delete a sales deal of the CRM.', { destructiveHint: true }),
    ],
  });
  return {
    ran,
    toolkits: [crm],
    tools: [
      tool('LOOKUP_CUSTOMER', 'Look up a customer by email address in the billing system.', {
        readOnlyHint: true,
      }),
      // joins the catalog's `tasks` by its prefix: it follows that toolkit's filters
      tool('TASKS_WEEKLY_SUMMARY', 'Summarise the week of to-do items in one paragraph.', {
        readOnlyHint: true,
      }),
    ],
  };
}

function setup(store = ':memory:') {
  const sample = createSampleToolkits();
  const mux = new ToolMux({ toolkits: sample.toolkits, store, logger: quiet });
  return { mux, ...customTools() };
}

type Setup = ReturnType<typeof setup>;

function create(s: Setup, config: SessionConfig) {
  return s.mux.create('user_own', {
    ...config,
    experimental: { customTools: s.tools, customToolkits: s.toolkits },
  });
}

const OWN = ['CRM_DELETE_DEAL', 'CRM_GET_DEAL', 'LOOKUP_CUSTOMER'];

/** What a session of `s` can run, found on each path that finds or runs a tool. */
async function reach(session: Awaited<ReturnType<typeof create>>, slugs: readonly string[]) {
  const executed = [];
  for (const slug of slugs) if ((await session.execute(slug, {})).successful) executed.push(slug);
  const schemas = (await session.execute(MetaToolSlug.GET_TOOL_SCHEMAS, { tool_slugs: [...slugs] })).data as {
    tools: Array<{ tool_slug: string }>;
  };
  const multi = (
    await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: slugs.map((slug) => ({ tool_slug: slug, arguments: {} })),
    })
  ).data as { results: Array<{ tool_slug: string; successful: boolean }> };
  const cell = (
    await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const ok = [];
             for (const slug of ${JSON.stringify(slugs)}) if ((await toolmux.execute(slug, {})).successful) ok.push(slug);
             return ok;`,
    })
  ).data as { result: string[] };
  const searched = new Set<string>();
  for (const query of ['get a sales deal of the CRM', 'delete a sales deal', 'look up a customer by email']) {
    for (const tool of (await session.search({ query, limit: 10 })).results[0]!.tools)
      searched.add(tool.tool_slug);
  }
  return {
    executed,
    schemas: schemas.tools.map((tool) => tool.tool_slug).sort(),
    multi: multi.results.filter((result) => result.successful).map((result) => result.tool_slug),
    workbench: cell.result,
    search: slugs.filter((slug) => searched.has(slug)),
    toolkits: (await session.toolkits()).items.map((toolkit) => toolkit.slug),
  };
}

function everywhere(slugs: string[], toolkits: string[]) {
  return { executed: slugs, schemas: slugs, multi: slugs, workbench: slugs, search: slugs, toolkits };
}

describe("a session's own toolkits under an enable list of toolkits", () => {
  it('are in the session on every path, named in the list or not (the config of docs/sessions.md)', async () => {
    const s = setup();
    const session = await create(s, { toolkits: ['notes'] });
    // on the old code: none of them, and toolkits() only notes
    expect(await reach(session, OWN)).toEqual(everywhere(OWN, ['crm', 'custom', 'notes']));
    // naming them is still allowed, and the same
    const named = await create(s, { toolkits: ['notes', 'crm', 'custom'] });
    expect(await reach(named, OWN)).toEqual(everywhere(OWN, ['crm', 'custom', 'notes']));
  });

  it('are handed out by tools() with DIRECT_TOOLS, and may be preloaded', async () => {
    const s = setup();
    const direct = await create(s, { toolkits: ['notes'], sessionPreset: 'DIRECT_TOOLS' });
    const names = (await direct.tools()).map((tool) => tool.name).sort();
    expect(names).toEqual([
      'CRM_DELETE_DEAL',
      'CRM_GET_DEAL',
      'LOOKUP_CUSTOMER',
      'NOTES_CREATE_NOTE',
      'NOTES_SEARCH_NOTES',
    ]);
    const preloaded = await create(s, {
      toolkits: ['notes'],
      preload: { tools: ['CRM_GET_DEAL', 'LOOKUP_CUSTOMER'] },
    });
    expect((await preloaded.tools()).map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['CRM_GET_DEAL', 'LOOKUP_CUSTOMER']),
    );
  });

  it('a { disable } list naming them, their tools filter and the tags filter still apply', async () => {
    const s = setup();
    const disabled = await create(s, { toolkits: { disable: ['crm'] } });
    expect(await reach(disabled, OWN)).toMatchObject({
      executed: ['LOOKUP_CUSTOMER'],
      search: ['LOOKUP_CUSTOMER'],
    });
    expect((await disabled.toolkits()).items.map((toolkit) => toolkit.slug)).not.toContain('crm');

    const filtered = await create(s, { toolkits: ['notes'], tools: { crm: ['CRM_GET_DEAL'] } });
    expect(await reach(filtered, OWN)).toEqual(
      everywhere(['CRM_GET_DEAL', 'LOOKUP_CUSTOMER'], ['crm', 'custom', 'notes']),
    );
    const tagged = await create(s, { toolkits: ['notes'], tags: { disable: ['destructiveHint'] } });
    expect((await reach(tagged, OWN)).executed).toEqual(['CRM_GET_DEAL', 'LOOKUP_CUSTOMER']);
    const byToolkitTags = await create(s, {
      toolkits: ['notes'],
      tools: { crm: { tags: ['readOnlyHint'] } },
    });
    expect((await reach(byToolkitTags, OWN)).executed).toEqual(['CRM_GET_DEAL', 'LOOKUP_CUSTOMER']);
  });

  it("a custom tool that joins a catalog toolkit follows that toolkit's filters", async () => {
    const s = setup();
    const slugs = ['TASKS_WEEKLY_SUMMARY', 'TASKS_LIST_TASKS'];
    const without = await create(s, { toolkits: ['notes'] });
    expect((await reach(without, slugs)).executed).toEqual([]);
    const filtered = await create(s, { toolkits: ['tasks'], tools: { tasks: ['TASKS_LIST_TASKS'] } });
    expect((await reach(filtered, slugs)).executed).toEqual(['TASKS_LIST_TASKS']);
    const withTasks = await create(s, { toolkits: ['tasks'] });
    expect((await reach(withTasks, slugs)).executed).toEqual(slugs);
    expect(withTasks.config.joinedToolkits).toEqual({ TASKS_WEEKLY_SUMMARY: 'tasks' });
  });

  it('stay in after use() and update(), until an update disables them', async () => {
    const s = setup();
    const created = await create(s, { toolkits: ['notes'] });
    const resumed = await s.mux.use(created.sessionId, { customTools: s.tools, customToolkits: s.toolkits });
    expect((await reach(resumed, OWN)).executed).toEqual(OWN);
    await resumed.update({ toolkits: ['tasks'] });
    expect(await reach(resumed, OWN)).toEqual(everywhere(OWN, ['crm', 'custom', 'tasks']));
    // the other object of the session takes the update up
    expect((await reach(created, OWN)).toolkits).toEqual(['crm', 'custom', 'tasks']);
    await created.update({ tools: { crm: { disable: ['CRM_DELETE_DEAL'] } } });
    expect((await reach(created, OWN)).executed).toEqual(['CRM_GET_DEAL', 'LOOKUP_CUSTOMER']);
    await created.update({ toolkits: { disable: ['crm', 'custom'] }, tools: {} });
    expect((await reach(created, OWN)).executed).toEqual([]);
  });
});

describe('a session stored before its own toolkits were told apart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-own-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is resumed with them enabled, worked out from its catalog', async () => {
    const path = join(dir, 'old.db');
    const first = setup(`sqlite:${path}`);
    const created = await create(first, { toolkits: ['tasks'] });
    const id = created.sessionId;
    await first.mux.close();
    // the config as a session stored before `joinedToolkits` has it
    const db = new DatabaseSync(path);
    db.prepare(
      "UPDATE toolmux_sessions SET config = json_remove(config, '$.joinedToolkits') WHERE id = ?",
    ).run(id);
    expect(
      JSON.parse((db.prepare('SELECT config FROM toolmux_sessions').get() as { config: string }).config),
    ).not.toHaveProperty('joinedToolkits');
    db.close();

    const second = setup(`sqlite:${path}`);
    const resumed = await second.mux.use(id, { customTools: second.tools, customToolkits: second.toolkits });
    expect((await reach(resumed, [...OWN, 'TASKS_WEEKLY_SUMMARY'])).executed).toEqual([
      ...OWN,
      'TASKS_WEEKLY_SUMMARY',
    ]);
    await resumed.update({ toolkits: ['notes'] });
    expect((await reach(resumed, [...OWN, 'TASKS_WEEKLY_SUMMARY'])).executed).toEqual(OWN);
    await second.mux.close();
  });
});

describe('a custom toolkit with auth', () => {
  // accounts connect through auth configs, which the ToolMux's catalog has and a session's own
  // toolkit cannot: such a toolkit was taken, listed as "not connected", its calls asked for a
  // connection, and every way to make one answered TOOLKIT_NOT_FOUND
  const withAuth = (type: 'api_key' | 'bearer' | 'basic' | 'oauth2') =>
    defineToolkit({
      slug: 'crm',
      name: 'CRM',
      description: 'Our own customer relationship manager.',
      auth: [
        type === 'oauth2'
          ? {
              type,
              authorizationUrl: 'https://crm.example.com/authorize',
              tokenUrl: 'https://crm.example.com/token',
            }
          : type === 'api_key'
            ? { type, fields: [{ name: 'apiKey' }] }
            : { type },
      ],
      tools: [
        defineTool({
          slug: 'CRM_GET_DEAL',
          description: 'Get a sales deal of the CRM by its id.',
          inputSchema: z.object({}),
          execute: async () => ({}),
        }),
      ],
    });

  it.each(['api_key', 'bearer', 'basic', 'oauth2'] as const)(
    'with %s auth is refused by create() and use(), naming the toolkit and the way out',
    async (type) => {
      const s = setup();
      const crm = withAuth(type);
      const refusal = {
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(
          new RegExp(
            `^Custom toolkit "crm" has auth \\(${type}\\), but .*new ToolMux\\(\\{ toolkits \\}\\).*drop its auth`,
          ),
        ),
      };
      await expect(
        s.mux.create('user_own', { experimental: { customToolkits: [crm] } }),
      ).rejects.toMatchObject(refusal);
      // a session made with the toolkit without auth cannot be resumed with it (nor has a way to
      // connect one then)
      const session = await s.mux.create('user_own', { experimental: { customToolkits: s.toolkits } });
      await expect(session.execute('CRM_GET_DEAL', {})).resolves.toMatchObject({ successful: true });
      await expect(s.mux.use(session.sessionId, { customToolkits: [crm] })).rejects.toMatchObject(refusal);
      await s.mux.close();
    },
  );

  it('with auth { type: "none" } is taken: its tools need no account', async () => {
    const s = setup();
    const crm = defineToolkit({ ...s.toolkits[0]!, auth: [{ type: 'none' }] });
    const session = await s.mux.create('user_own', { experimental: { customToolkits: [crm] } });
    await expect(session.execute('CRM_GET_DEAL', {})).resolves.toMatchObject({ successful: true });
    await s.mux.close();
  });
});
