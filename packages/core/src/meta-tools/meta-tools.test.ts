import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { toStrictSchema } from '../schema/strict.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { MAX_MULTI_EXECUTE, META_TOOLS, MetaToolSlug } from './meta-tools.js';

const quiet = { debug() {}, warn() {}, error() {} };

async function setup(config: Parameters<ToolMux['create']>[1] = {}) {
  const sample = createSampleToolkits();
  const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
  const session = await mux.create('user_1', config);
  return { ...sample, mux, session };
}

describe('TOOLMUX_SEARCH_TOOLS', () => {
  it('ranks the matching tool first with its schema and connection status', async () => {
    const { session } = await setup();
    const result = await session.execute(MetaToolSlug.SEARCH_TOOLS, {
      queries: [{ use_case: 'add a new to-do item' }, { use_case: 'send an email to a colleague' }],
    });
    expect(result.successful).toBe(true);
    const data = result.data as {
      results: Array<{
        use_case: string;
        tools: Array<{ tool_slug: string; input_schema: { properties: object } }>;
      }>;
      toolkit_connections: Array<{ toolkit: string; connected: boolean }>;
      next_steps: string;
    };
    expect(data.results[0]!.tools[0]!.tool_slug).toBe('TASKS_CREATE_TASK');
    expect(Object.keys(data.results[0]!.tools[0]!.input_schema.properties)).toEqual([
      'title',
      'priority',
      'labels',
    ]);
    expect(data.results[1]!.tools[0]!.tool_slug).toBe('MAIL_SEND_EMAIL');
    expect(data.toolkit_connections).toContainEqual({ toolkit: 'mail', connected: false });
    expect(data.toolkit_connections).toContainEqual({ toolkit: 'tasks', connected: true });
    expect(data.next_steps).toContain('TOOLMUX_MANAGE_CONNECTIONS');
    // one toolkit is "Toolkit mail is", not "Toolkits mail are"
    expect(data.next_steps).toContain(
      'Toolkit mail is not connected: call TOOLMUX_MANAGE_CONNECTIONS for it',
    );
  });

  it("session.search() tells the application what to do in its own terms; a cell's toolmux.search tells the agent", async () => {
    const { session } = await setup();
    const found = await session.search({ query: 'send an email to a colleague' });
    expect(found.results[0]!.tools[0]!.tool_slug).toBe('MAIL_SEND_EMAIL');
    // before: "call TOOLMUX_MANAGE_CONNECTIONS … Run the tools you need with TOOLMUX_MULTI_EXECUTE_TOOL"
    expect(found.next_steps).not.toContain('TOOLMUX_');
    expect(found.next_steps).toContain('Toolkit mail is not connected: before running its tools');
    expect(found.next_steps).toContain('session.authorize("mail")');
    expect(found.next_steps).toContain('session.waitForConnections()');
    expect(found.next_steps).toContain('session.execute(tool_slug, arguments)');
    expect(found.next_steps).not.toContain('\u2063');
    const cell = await session.execute(MetaToolSlug.WORKBENCH, {
      code: "return (await toolmux.search('send an email to a colleague')).next_steps;",
    });
    expect(cell.data).toMatchObject({ result: expect.stringContaining('TOOLMUX_MANAGE_CONNECTIONS') });
  });

  it('answers each query with the part of its use case it read (2,000 characters), not a megabyte sent back to the model', async () => {
    const { session } = await setup();
    const useCase = `add a new to-do item ${'and more words '.repeat(100_000)}`;
    const result = await session.execute(MetaToolSlug.SEARCH_TOOLS, {
      queries: Array.from({ length: 10 }, () => ({ use_case: useCase })),
    });
    const data = result.data as { results: Array<{ use_case: string; tools: Array<{ tool_slug: string }> }> };
    expect(data.results[0]!.tools[0]!.tool_slug).toBe('TASKS_CREATE_TASK');
    expect(data.results[0]!.use_case).toBe(useCase.slice(0, 2_000));
    // on the old code 15 MB: each use case whole
    expect(JSON.stringify(result.data).length).toBeLessThan(200_000);
  });

  it('never shows a tool outside the session', async () => {
    const { session } = await setup({ toolkits: ['notes'] });
    const found = await session.search({ query: 'delete a task', limit: 10 });
    const slugs = found.results[0]!.tools.map((tool) => tool.tool_slug);
    expect(slugs.every((slug) => slug.startsWith('NOTES_'))).toBe(true);
    const tagged = await setup({ tags: { disable: ['destructiveHint'] } });
    const deletes = await tagged.session.search({ query: 'delete a task permanently', limit: 10 });
    expect(deletes.results[0]!.tools.map((tool) => tool.tool_slug)).not.toContain('TASKS_DELETE_TASK');
  });

  it('session.search() refuses what is not { query, knownFields?, limit? } with INVALID_REQUEST naming what it got (a string from JavaScript, a limit of 0)', async () => {
    const { session } = await setup();
    const cases: Array<[unknown, string]> = [
      // the kind only, as every method given a non-object (what is given there may be a secret)
      ['create a task', 'session.search() takes an object ({ query, knownFields?, limit? }); got a string.'],
      [{ query: '  ' }, 'an empty query'],
      [{ query: 42 }, 'got query number 42.'],
      // an object's kind, never its text (a query object of 1 MB was written whole, then cut)
      [{ query: { secret: 'x'.repeat(1_000_000) } }, 'got query an object.'],
      [undefined, 'session.search() takes an object ({ query, knownFields?, limit? }); got nothing.'],
      [{ query: 'create a task', knownFields: 7 }, 'knownFields must be a string (or null); got number 7.'],
      // a limit the REST route refuses (its schema): these found nothing, silently
      ...[0, -1, 2.5, 51, Number.NaN, 'x'].map((limit): [unknown, string] => [
        { query: 'create a task', limit },
        // a string shown as one: '5' read "got 5", as if it were the number
        `limit must be an integer from 1 to 50, got ${typeof limit === 'string' ? `"${limit}"` : String(limit)}`,
      ]),
    ];
    for (const [options, named] of cases) {
      // on the old code a string was a TypeError ("Cannot read properties of undefined")
      const refused = await session.search(options as { query: string }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((refused as { code?: string }).code, String(options)).toBe('INVALID_REQUEST');
      expect((refused as Error).message).toContain(named);
    }
    expect(
      (await session.search({ query: 'create a task', limit: 50 })).results[0]!.tools.length,
    ).toBeGreaterThan(0);
  });

  it('uses known_fields and reports when nothing matched', async () => {
    const { session } = await setup();
    const empty = await session.search({ query: 'zzqx' });
    expect(empty.results[0]!.tools).toEqual([]);
    expect(empty.next_steps).toContain('No tool matched');
    const invalid = await session.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [] });
    expect(invalid.code).toBe('TOOL_ARGUMENTS_INVALID');
  });
});

describe('TOOLMUX_GET_TOOL_SCHEMAS', () => {
  it('returns full schemas and names slugs that are not in the session', async () => {
    const { session } = await setup({ toolkits: ['tasks'] });
    const result = await session.execute(MetaToolSlug.GET_TOOL_SCHEMAS, {
      tool_slugs: ['TASKS_CREATE_TASK', 'NOTES_CREATE_NOTE'],
    });
    const data = result.data as {
      tools: Array<{ tool_slug: string; output_schema?: object }>;
      not_found: string[];
    };
    expect(data.tools.map((tool) => tool.tool_slug)).toEqual(['TASKS_CREATE_TASK']);
    expect(data.tools[0]!.output_schema).toMatchObject({
      type: 'object',
      properties: { id: { type: 'string' } },
    });
    expect(data.not_found).toEqual(['NOTES_CREATE_NOTE']);
  });
});

describe('TOOLMUX_GET_TOOL_SCHEMAS with repeated and mistyped slugs', () => {
  it('answers each slug once and suggests the close slugs of the session for one not found, as the multi-execute does', async () => {
    const { session } = await setup({ toolkits: ['tasks'] });
    const result = await session.execute(MetaToolSlug.GET_TOOL_SCHEMAS, {
      tool_slugs: [...Array(49).fill('TASKS_CREATE_TASK'), 'TASKS_LIST_TASK'],
    });
    const data = result.data as { tools: Array<{ tool_slug: string }>; not_found: string[]; hint: string };
    expect(data.tools.map((tool) => tool.tool_slug)).toEqual(['TASKS_CREATE_TASK']);
    expect(data.not_found).toEqual(['TASKS_LIST_TASK']);
    const executed = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'TASKS_LIST_TASK' }],
    });
    const error = (executed.data as { results: Array<{ error: string }> }).results[0]!.error;
    const suggestion = / Did you mean [^?]+\?/.exec(error)![0];
    expect(suggestion).toContain('"TASKS_LIST_TASKS"');
    expect(data.hint).toContain(`"TASKS_LIST_TASK" is not a tool of this session.${suggestion}`);
    expect(data.hint).toContain('TOOLMUX_SEARCH_TOOLS');
  });

  it('says of a meta-tool the session has that it is one, not that the session lacks it', async () => {
    const { session } = await setup({ toolkits: ['tasks'] });
    const result = await session.execute(MetaToolSlug.GET_TOOL_SCHEMAS, {
      tool_slugs: [MetaToolSlug.WORKBENCH, 'TASKS_CREATE_TASK'],
    });
    const data = result.data as { tools: Array<{ tool_slug: string }>; not_found: string[]; hint: string };
    expect(data.not_found).toEqual([MetaToolSlug.WORKBENCH]);
    expect(data.hint).toContain(
      `${MetaToolSlug.WORKBENCH} is a meta-tool of this session: its schema is in its own tool definition`,
    );
    expect(data.hint).not.toContain(`"${MetaToolSlug.WORKBENCH}" is not a tool of this session`);
    // one it lacks (turned off) is still not one of its tools
    const without = (await setup({ toolkits: ['tasks'], workbench: { enable: false } })).session;
    const lacking = await without.execute(MetaToolSlug.GET_TOOL_SCHEMAS, {
      tool_slugs: [MetaToolSlug.WORKBENCH],
    });
    expect((lacking.data as { hint: string }).hint).toContain(
      `"${MetaToolSlug.WORKBENCH}" is not a tool of this session`,
    );
  });

  it('in Composio names: each slug not found listed once, with the suggestions in not_found_message', async () => {
    const { session } = await setup({ toolkits: ['tasks'], metaToolNames: 'composio' });
    const result = await session.execute('COMPOSIO_GET_TOOL_SCHEMAS', {
      tool_slugs: ['TASKS_LIST_TASK', 'TASKS_LIST_TASK', 'TASKS_CREATE_TASK', 'TASKS_CREATE_TASK'],
    });
    const data = result.data as {
      tool_schemas: Record<string, unknown>;
      not_found: string[];
      not_found_message: string;
    };
    expect(Object.keys(data.tool_schemas)).toEqual(['TASKS_CREATE_TASK']);
    expect(data.not_found).toEqual(['TASKS_LIST_TASK']);
    expect(data.not_found_message).toContain('Did you mean "TASKS_LIST_TASKS"');
    expect(data.not_found_message).toContain('COMPOSIO_SEARCH_TOOLS');
  });
});

describe('TOOLMUX_MANAGE_CONNECTIONS', () => {
  it('reports each toolkit: no auth needed, not connected, not in the session', async () => {
    const { session } = await setup({ toolkits: ['tasks', 'mail'] });
    const result = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, {
      toolkits: ['tasks', 'mail', 'notes'],
    });
    const data = result.data as { results: Array<{ toolkit: string; connected: boolean; message: string }> };
    expect(data.results.map((entry) => [entry.toolkit, entry.connected])).toEqual([
      ['tasks', true],
      ['mail', false],
      ['notes', false],
    ]);
    expect(data.results[1]!.message).toContain('not connected');
    expect(data.results[2]!.message).toContain('not a toolkit of this session');
  });
});

describe('TOOLMUX_MULTI_EXECUTE_TOOL', () => {
  it('runs calls in parallel, each result independent, each logged', async () => {
    const { session, calls } = await setup();
    const result = await session.execute(
      MetaToolSlug.MULTI_EXECUTE_TOOL,
      {
        tools: [
          { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'a' } },
          { tool_slug: 'TASKS_SYNC_CALENDAR', arguments: { calendarId: 'c' } },
          { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 42 } },
          { tool_slug: 'TASKS_NOPE', arguments: {} },
          { tool_slug: 'NOTES_CREATE_NOTE', arguments: '{"text":"from a JSON string"}' },
          { tool_slug: MetaToolSlug.SEARCH_TOOLS, arguments: { queries: [] } },
        ],
      },
      { callId: 'call_7' },
    );
    expect(result.successful).toBe(true);
    const data = result.data as {
      results: Array<{ tool_slug: string; successful: boolean; error: string | null; log_id?: string }>;
      successful_count: number;
      failed_count: number;
    };
    expect(data.results.map((entry) => entry.successful)).toEqual([true, false, false, false, true, false]);
    expect(data.results[1]!.error).toContain('unreachable');
    expect(data.results[2]!.error).toContain('title');
    expect(data.results[3]!.error).toContain('TASKS_NOPE');
    expect(data.results[5]!.error).toContain('meta-tool');
    expect(data).toMatchObject({ successful_count: 2, failed_count: 4 });
    expect(calls.map((call) => call.slug).sort()).toEqual([
      'NOTES_CREATE_NOTE',
      'TASKS_CREATE_TASK',
      'TASKS_SYNC_CALENDAR',
    ]);
    const logs = (await session.logs({ limit: 20 })).items;
    expect(logs.map((log) => log.toolSlug)).toContain(MetaToolSlug.MULTI_EXECUTE_TOOL);
    // the meta-tool's entry too (refused before it runs: it had no entry)
    expect(logs.filter((log) => log.callId?.startsWith('call_7#'))).toHaveLength(6);
  });

  it('runs the calls concurrently', async () => {
    const { session, calls } = await setup();
    const controller = new AbortController();
    const pending = session.execute(
      MetaToolSlug.MULTI_EXECUTE_TOOL,
      {
        tools: [1, 2, 3].map((n) => ({
          tool_slug: 'TASKS_WAIT_FOR_APPROVAL',
          arguments: { taskId: `t${n}` },
        })),
      },
      { signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toHaveLength(3);
    controller.abort();
    const result = await pending;
    expect(result.code).toBe('TOOL_ABORTED');
  });

  it(`accepts at most ${MAX_MULTI_EXECUTE} calls`, async () => {
    const { session } = await setup();
    const call = { tool_slug: 'TASKS_LIST_TASKS', arguments: {} };
    const ok = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: Array(MAX_MULTI_EXECUTE).fill(call),
    });
    expect((ok.data as { successful_count: number }).successful_count).toBe(MAX_MULTI_EXECUTE);
    const tooMany = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: Array(MAX_MULTI_EXECUTE + 1).fill(call),
    });
    expect(tooMany.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(tooMany.error).toContain('tools');
  });

  it("runs each call under its own tool's timeout, longer than 60 s too: the multi-execute has none of its own that cuts them short", async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const crawl = defineTool({
      slug: 'SITE_CRAWL',
      description: 'Crawl a site (slow)',
      inputSchema: z.object({}),
      timeoutMs: 120_000,
      execute: async () => {
        started();
        await finished;
        return { pages: 3 };
      },
    });
    const hang = defineTool({
      slug: 'SITE_HANG',
      description: 'Never answers',
      inputSchema: z.object({}),
      timeoutMs: 150_000,
      execute: () => new Promise(() => {}),
    });
    const site = defineToolkit({ slug: 'site', name: 'Site', description: 'A site', tools: [crawl, hang] });
    const mux = new ToolMux({ toolkits: [site], store: ':memory:', logger: quiet });
    const session = await mux.create('user_1');
    // the tools' and the multi-execute's timers only: the store and the log writer run as usual
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const call = session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [{ tool_slug: 'SITE_CRAWL' }, { tool_slug: 'SITE_HANG' }],
      });
      await running;
      // past the 60 s every tool without a timeoutMs has, within SITE_CRAWL's 120 s
      vi.advanceTimersByTime(90_000);
      finish();
      await new Promise((resolve) => setImmediate(resolve));
      // past SITE_HANG's 150 s: it times out on its own, and the others' results stay
      vi.advanceTimersByTime(61_000);
      const result = await call;
      // on the old code the multi-execute was TOOL_TIMEOUT at 60 s, and SITE_CRAWL aborted
      expect(result).toMatchObject({
        successful: true,
        data: {
          results: [
            { tool_slug: 'SITE_CRAWL', successful: true, data: { pages: 3 } },
            { tool_slug: 'SITE_HANG', successful: false, error: expect.stringContaining('150000 ms') },
          ],
          successful_count: 1,
          failed_count: 1,
        },
      });
    } finally {
      vi.useRealTimers();
      await mux.close();
    }
  });

  it('refuses only the entry whose tool_slug is over 256 characters, shown cut short; the other calls run', async () => {
    for (const metaToolNames of ['toolmux', 'composio'] as const) {
      const { session, calls } = await setup({ metaToolNames });
      const slug = 'TASKS_CREATE_TASK'.padEnd(100_000, 'X');
      const result = await session.execute(
        metaToolNames === 'toolmux' ? MetaToolSlug.MULTI_EXECUTE_TOOL : 'COMPOSIO_MULTI_EXECUTE_TOOL',
        {
          tools: [
            { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'a' } },
            { tool_slug: slug, arguments: {} },
            { tool_slug: 'TASKS_LIST_TASKS', arguments: {} },
          ],
        },
      );
      expect(result.successful).toBe(true);
      // inline, not a 100 KB result offloaded to the workbench files (the slug came back whole before)
      expect(JSON.stringify(result.data).length).toBeLessThan(5_000);
      const data = result.data as {
        results: Array<{
          tool_slug: string;
          successful?: boolean;
          response?: { successful: boolean };
          error: string | null;
        }>;
      };
      const successful = data.results.map((entry) => entry.successful ?? entry.response!.successful);
      expect(successful).toEqual([true, false, true]);
      expect(data.results[1]!.tool_slug).toBe(`${slug.slice(0, 64)}…`);
      expect(data.results[1]!.error).toContain('100000 characters long, over the limit of 256');
      expect(data.results[1]!.error).toContain(
        metaToolNames === 'toolmux' ? 'TOOLMUX_SEARCH_TOOLS' : 'COMPOSIO_SEARCH_TOOLS',
      );
      expect(calls.map((call) => call.slug).sort()).toEqual(['TASKS_CREATE_TASK', 'TASKS_LIST_TASKS']);
    }
  });

  it('refuses only the entry whose account is empty or over 256 characters, or whose tool_slug is empty; each refused entry is logged under the multi-execute and seen by afterExecute', async () => {
    for (const metaToolNames of ['toolmux', 'composio'] as const) {
      const { session, calls } = await setup({ metaToolNames });
      const multiSlug =
        metaToolNames === 'toolmux' ? MetaToolSlug.MULTI_EXECUTE_TOOL : 'COMPOSIO_MULTI_EXECUTE_TOOL';
      const searchSlug = metaToolNames === 'toolmux' ? 'TOOLMUX_SEARCH_TOOLS' : 'COMPOSIO_SEARCH_TOOLS';
      const longSlug = 'TASKS_CREATE_TASK'.padEnd(1_000, 'X');
      const hooked: string[] = [];
      const tools = await session.tools({
        afterExecute: ({ slug, result }) => {
          hooked.push(slug.slice(0, 30));
          return result;
        },
      });
      const multi = tools.find((tool) => tool.name === multiSlug)!;
      const result = await multi.execute(
        {
          tools: [
            { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'a' } },
            { tool_slug: 'MAIL_SEND_EMAIL', arguments: {}, account: 'w'.repeat(300) },
            { tool_slug: 'TASKS_LIST_TASKS', arguments: {}, account: '' },
            { tool_slug: '', arguments: {} },
            { tool_slug: longSlug, arguments: {} },
            { tool_slug: searchSlug, arguments: {} },
          ],
        },
        { callId: 'call_refused' },
      );
      // before: 'tools.1.account: Too big: expected string to have <=256 characters', no call ran
      expect(result.successful).toBe(true);
      const data = result.data as {
        results: Array<{
          tool_slug: string;
          successful?: boolean;
          response?: { successful: boolean };
          error: string | null;
          log_id?: string;
        }>;
      };
      const successful = data.results.map((entry) => entry.successful ?? entry.response!.successful);
      expect(successful).toEqual([true, false, false, false, false, false]);
      expect(data.results[1]!.error).toBe(
        `account "${'w'.repeat(64)}…" is 300 characters long, over the limit of 256: no account has such an id or alias. Use an alias or id from the accounts ${searchSlug} listed, or leave account out to use the default account.`,
      );
      expect(data.results[2]!.error).toMatch(/^account is empty: /);
      expect(data.results[3]!.error).toMatch(/^tool_slug is empty: no tool has a slug like that\. /);
      expect(calls.map((call) => call.slug)).toEqual(['TASKS_CREATE_TASK']);
      // every entry is logged under the multi-execute, as the calls execute() refuses are, and every
      // result went through afterExecute (before: the slug's length refusal neither)
      const children = (await session.logs({ parentId: result.logId })).items;
      expect(children.map((entry) => entry.id).sort()).toEqual(
        data.results.map((entry) => entry.log_id).sort(),
      );
      expect(
        children
          .map(
            (entry) =>
              `${entry.callId!.replace(/^[^#]*/, '')} ${entry.errorCode} ${entry.toolSlug.slice(0, 20)}`,
          )
          .sort(),
      ).toEqual([
        '#0 null TASKS_CREATE_TASK',
        '#1 INVALID_REQUEST MAIL_SEND_EMAIL',
        '#2 INVALID_REQUEST TASKS_LIST_TASKS',
        '#3 TOOL_NOT_FOUND ""',
        '#4 TOOL_NOT_FOUND "TASKS_CREATE_TASKXX',
        `#5 TOOL_NOT_IN_SESSION ${searchSlug.slice(0, 20)}`,
      ]);
      expect(hooked.sort()).toEqual(
        [
          'TASKS_CREATE_TASK',
          'MAIL_SEND_EMAIL',
          'TASKS_LIST_TASKS',
          '',
          longSlug.slice(0, 30),
          searchSlug,
        ].sort(),
      );
    }
  });

  it('refuses only the entry that is not an object, has no tool_slug text or an account that is not text; the others run, and each refused entry is logged under the multi-execute and seen by afterExecute', async () => {
    for (const metaToolNames of ['toolmux', 'composio'] as const) {
      const { session, calls } = await setup({ metaToolNames });
      const multiSlug =
        metaToolNames === 'toolmux' ? MetaToolSlug.MULTI_EXECUTE_TOOL : 'COMPOSIO_MULTI_EXECUTE_TOOL';
      const searchSlug = metaToolNames === 'toolmux' ? 'TOOLMUX_SEARCH_TOOLS' : 'COMPOSIO_SEARCH_TOOLS';
      const hooked: string[] = [];
      const tools = await session.tools({
        afterExecute: ({ slug, result }) => {
          hooked.push(slug);
          return result;
        },
      });
      const multi = tools.find((tool) => tool.name === multiSlug)!;
      const result = await multi.execute(
        {
          tools: [
            7,
            null,
            [{ tool_slug: 'TASKS_CREATE_TASK' }],
            { arguments: { title: 'a' } },
            { tool_slug: 5, arguments: {} },
            { tool_slug: 'TASKS_LIST_TASKS', arguments: {}, account: 12 },
            { tool_slug: 'TASKS_LIST_TASKS', arguments: { limit: 2 }, account: { id: 'ca_1' } },
            { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'a' }, account: null },
          ],
        },
        { callId: 'call_types' },
      );
      // before: 'tools.0: Invalid input: expected object, received number', and no call ran
      expect(result.error).toBeNull();
      expect(result.successful).toBe(true);
      const data = result.data as {
        results: Array<{
          successful?: boolean;
          response?: { successful: boolean };
          error: string | null;
          log_id?: string;
        }>;
      };
      expect(data.results.map((entry) => entry.successful ?? entry.response!.successful)).toEqual([
        false,
        false,
        false,
        false,
        false,
        false,
        false,
        true,
      ]);
      const form = `Each call is an object { "tool_slug": "<slug from ${searchSlug}>", "arguments": { … } }.`;
      expect(data.results.slice(0, 7).map((entry) => entry.error)).toEqual([
        `Call 1 of tools is number 7, not a call. ${form}`,
        `Call 2 of tools is null, not a call. ${form}`,
        `Call 3 of tools is an array, not a call. ${form}`,
        `Call 4 of tools has no tool_slug. ${form}`,
        `Call 5 of tools has tool_slug number 5, not text. ${form}`,
        `account number 12 is not text: use an alias or id from the accounts ${searchSlug} listed, or leave account out to use the default account.`,
        `account an object is not text: use an alias or id from the accounts ${searchSlug} listed, or leave account out to use the default account.`,
      ]);
      expect(calls.map((call) => call.slug)).toEqual(['TASKS_CREATE_TASK']);
      const children = (await session.logs({ parentId: result.logId })).items;
      expect(children.map((entry) => entry.id).sort()).toEqual(
        data.results.map((entry) => entry.log_id).sort(),
      );
      expect(
        children.map((entry) => `${entry.callId!.replace(/^[^#]*/, '')} ${entry.errorCode}`).sort(),
      ).toEqual([
        '#0 TOOL_ARGUMENTS_INVALID',
        '#1 TOOL_ARGUMENTS_INVALID',
        '#2 TOOL_ARGUMENTS_INVALID',
        '#3 TOOL_ARGUMENTS_INVALID',
        '#4 TOOL_ARGUMENTS_INVALID',
        '#5 INVALID_REQUEST',
        '#6 INVALID_REQUEST',
        '#7 null',
      ]);
      expect(hooked.length).toBe(8);
      // a refused entry is logged with its arguments, as far as it has any
      expect(children.find((entry) => entry.callId!.endsWith('#6'))!.input).toBe('{"limit":2}');
      expect(children.find((entry) => entry.callId!.endsWith('#3'))!.input).toBe('{"title":"a"}');
    }
  });

  it('an entry whose arguments are a string that is no JSON object, or not an object at all, fails on its own with TOOL_ARGUMENTS_INVALID, logged under the multi-execute and seen by afterExecute; a JSON string of an object runs', async () => {
    for (const metaToolNames of ['toolmux', 'composio'] as const) {
      const { session, calls } = await setup({ metaToolNames });
      const multiSlug =
        metaToolNames === 'toolmux' ? MetaToolSlug.MULTI_EXECUTE_TOOL : 'COMPOSIO_MULTI_EXECUTE_TOOL';
      const hooked: string[] = [];
      const tools = await session.tools({
        afterExecute: ({ slug, result }) => {
          hooked.push(`${slug} ${result.code ?? 'ok'}`);
          return result;
        },
      });
      const multi = tools.find((tool) => tool.name === multiSlug)!;
      const result = await multi.execute(
        {
          tools: [
            // as a strict-mode model sends them: a JSON string
            { tool_slug: 'TASKS_CREATE_TASK', arguments: '{"title":"a"}' },
            { tool_slug: 'TASKS_CREATE_TASK', arguments: '{"title":' },
            { tool_slug: 'TASKS_CREATE_TASK', arguments: 'a title' },
            { tool_slug: 'TASKS_CREATE_TASK', arguments: ['a'] },
            { tool_slug: 'TASKS_CREATE_TASK', arguments: 7 },
            // refused for its slug first, as execute() refuses such a call
            { tool_slug: 'TASKS_NO_SUCH_TOOL', arguments: '{"title":' },
            { tool_slug: 'TASKS_LIST_TASKS', arguments: null },
          ],
        },
        { callId: 'call_arguments' },
      );
      // before: 'tools.1.arguments: Invalid input; …', no call ran
      expect(result.successful).toBe(true);
      const data = result.data as {
        results: Array<{ successful?: boolean; response?: { successful: boolean }; error: string | null }>;
      };
      const successful = data.results.map((entry) => entry.successful ?? entry.response!.successful);
      expect(successful).toEqual([true, false, false, false, false, false, true]);
      expect(data.results[1]!.error).toBe(
        'The arguments of TASKS_CREATE_TASK are not valid JSON (Unexpected end of JSON input): "{\\"title\\":". Send them as one JSON object, as its input schema describes.',
      );
      expect(data.results[2]!.error).toBe(
        'The arguments of TASKS_CREATE_TASK are a string ("a title"), not a JSON object. Send them as one JSON object, as its input schema describes.',
      );
      expect(data.results[3]!.error).toMatch(/^Invalid arguments for TASKS_CREATE_TASK: \(root\): .*array/);
      expect(data.results[4]!.error).toMatch(/^Invalid arguments for TASKS_CREATE_TASK: \(root\): .*number/);
      expect(data.results[5]!.error).toMatch(/^There is no tool "TASKS_NO_SUCH_TOOL"/);
      expect(calls.map((call) => `${call.slug} ${JSON.stringify(call.input)}`)).toEqual([
        'TASKS_CREATE_TASK {"title":"a"}',
        'TASKS_LIST_TASKS {}',
      ]);
      const children = (await session.logs({ parentId: result.logId })).items;
      expect(
        children.map((entry) => `${entry.callId!.replace(/^[^#]*/, '')} ${entry.errorCode}`).sort(),
      ).toEqual([
        '#0 null',
        '#1 TOOL_ARGUMENTS_INVALID',
        '#2 TOOL_ARGUMENTS_INVALID',
        '#3 TOOL_ARGUMENTS_INVALID',
        '#4 TOOL_ARGUMENTS_INVALID',
        '#5 TOOL_NOT_FOUND',
        '#6 null',
      ]);
      expect(hooked.sort()).toEqual(
        [
          'TASKS_CREATE_TASK ok',
          'TASKS_CREATE_TASK TOOL_ARGUMENTS_INVALID',
          'TASKS_CREATE_TASK TOOL_ARGUMENTS_INVALID',
          'TASKS_CREATE_TASK TOOL_ARGUMENTS_INVALID',
          'TASKS_CREATE_TASK TOOL_ARGUMENTS_INVALID',
          'TASKS_NO_SUCH_TOOL TOOL_NOT_FOUND',
          'TASKS_LIST_TASKS ok',
        ].sort(),
      );
    }
  });

  it('never runs a tool outside the session', async () => {
    const { session, calls } = await setup({ toolkits: ['notes'] });
    const result = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'TASKS_DELETE_TASK', arguments: { taskId: 'x' } }],
    });
    expect((result.data as { results: Array<{ error: string }> }).results[0]!.error).toContain(
      'not available in this session',
    );
    expect(calls).toHaveLength(0);
  });
});

describe('meta-tool schemas', () => {
  it('are accepted by OpenAI strict mode as written', () => {
    for (const tool of META_TOOLS.values()) {
      expect(toStrictSchema(tool.strictInputSchema)).toMatchObject({ ok: true });
      expect(tool.inputSchema.type).toBe('object');
    }
  });
});
