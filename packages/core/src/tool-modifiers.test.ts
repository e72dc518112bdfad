import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from './catalog/define.js';
import type { JSONSchema } from './catalog/types.js';
import { ToolMuxError } from './errors.js';
import type { ToolResult } from './execution/result.js';
import { ComposioMetaToolSlug, MetaToolSlug } from './meta-tools/meta-tools.js';
import type { PlainTool } from './provider.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import type { AfterExecuteContext, ToolModifiers } from './tool-modifiers.js';
import { ToolMux } from './toolmux.js';

const quiet = { debug() {}, warn() {}, error() {} };

function setup() {
  const sample = createSampleToolkits();
  const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
  return { ...sample, mux };
}

/** A schema without one property (and without it in `required`). */
function without(schema: JSONSchema, property: string): JSONSchema {
  const properties = { ...(schema.properties as Record<string, unknown>) };
  delete properties[property];
  return {
    ...schema,
    properties,
    required: ((schema.required as string[] | undefined) ?? []).filter((name) => name !== property),
  };
}

const byName = (tools: PlainTool[]) => new Map(tools.map((tool) => [tool.name, tool]));

/**
 * The session's tools with hooks that fill in the title (which the model may leave out) and a
 * priority, and the arguments `beforeExecute` was given.
 */
async function fillingInTitle(session: { tools(modifiers: ToolModifiers): Promise<unknown> }) {
  const seen: unknown[] = [];
  const tools = byName(
    (await session.tools({
      modifySchema: ({ slug, schema }) =>
        slug === 'TASKS_CREATE_TASK' ? { ...schema, required: [] } : schema,
      beforeExecute: ({ args }) => {
        seen.push(args);
        return { title: 'From the app', priority: 'low', ...args };
      },
    })) as PlainTool[],
  );
  return { seen, tools };
}

describe('tool modifiers', () => {
  it('are typed: the hooks get slug, toolkit and the schema, arguments or result', () => {
    expectTypeOf<Parameters<NonNullable<ToolModifiers['beforeExecute']>>[0]>().toEqualTypeOf<{
      slug: string;
      toolkit: string;
      args: Record<string, unknown>;
    }>();
    expectTypeOf<
      Parameters<NonNullable<ToolModifiers['afterExecute']>>[0]['result']
    >().toEqualTypeOf<ToolResult>();
    expectTypeOf<ReturnType<NonNullable<ToolModifiers['modifySchema']>>>().toEqualTypeOf<JSONSchema>();
  });

  it('DIRECT_TOOLS: change the schema the model sees, the arguments a call runs with, and the result it reads', async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const seen: string[] = [];
    const tools = byName(
      await session.tools({
        modifySchema: ({ slug, toolkit, schema }) => {
          seen.push(`${toolkit}/${slug}`);
          return slug === 'TASKS_CREATE_TASK' ? without(schema, 'labels') : schema;
        },
        beforeExecute: ({ slug, toolkit, args }) =>
          slug === 'TASKS_CREATE_TASK' ? { ...args, labels: [`from-${toolkit}`] } : args,
        afterExecute: ({ slug, result }) =>
          slug === 'TASKS_CREATE_TASK' && result.successful
            ? { ...result, data: { created: (result.data as { id: string }).id } }
            : result,
      }),
    );
    expect(seen).toContain('tasks/TASKS_CREATE_TASK');
    const create = tools.get('TASKS_CREATE_TASK')!;
    expect(Object.keys(create.inputSchema.properties as object)).toEqual(['title', 'priority']);
    // other tools and the unmodified collection keep their schema
    expect(tools.get('TASKS_LIST_TASKS')!.inputSchema).toEqual(
      byName((await session.tools()) as PlainTool[]).get('TASKS_LIST_TASKS')!.inputSchema,
    );
    expect(
      Object.keys(
        byName((await session.tools()) as PlainTool[]).get('TASKS_CREATE_TASK')!.inputSchema
          .properties as object,
      ),
    ).toContain('labels');

    const result = await create.execute({ title: 'Buy milk' });
    expect(result).toMatchObject({ successful: true, data: { created: 'task_1' } });
    expect(calls.at(-1)).toMatchObject({
      slug: 'TASKS_CREATE_TASK',
      input: { title: 'Buy milk', labels: ['from-tasks'] },
    });
    // the execution log keeps what the tool really returned
    const [entry] = (await session.logs()).items;
    expect(JSON.parse(entry!.output)).toEqual({ id: 'task_1', title: 'Buy milk' });
    expect(JSON.parse(entry!.input)).toEqual({ title: 'Buy milk', labels: ['from-tasks'] });
  });

  it('META_TOOLS: search and schema results show the modified schemas; multi-execute runs the hooks per tool', async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'] });
    const before: string[] = [];
    const after: string[] = [];
    const tools = byName(
      await session.tools({
        modifySchema: ({ slug, schema }) =>
          slug === 'TASKS_CREATE_TASK' ? without(schema, 'priority') : schema,
        beforeExecute: ({ slug, toolkit, args }) => {
          before.push(`${toolkit}/${slug}`);
          return slug === 'TASKS_CREATE_TASK' ? { ...args, priority: 'high' } : args;
        },
        afterExecute: ({ slug, toolkit, result }) => {
          after.push(`${toolkit}/${slug}`);
          return slug === 'NOTES_CREATE_NOTE'
            ? { ...result, successful: false, data: null, error: 'hidden' }
            : result;
        },
      }),
    );
    // meta-tools keep their own schemas when modifySchema leaves them alone
    expect(tools.get(MetaToolSlug.SEARCH_TOOLS)!.inputSchema).toEqual(
      byName((await session.tools()) as PlainTool[]).get(MetaToolSlug.SEARCH_TOOLS)!.inputSchema,
    );

    const search = await tools.get(MetaToolSlug.SEARCH_TOOLS)!.execute({
      queries: [{ use_case: 'create a new to-do task' }],
    });
    const found = (
      search.data as { results: Array<{ tools: Array<{ tool_slug: string; input_schema: JSONSchema }> }> }
    ).results[0]!.tools.find((tool) => tool.tool_slug === 'TASKS_CREATE_TASK')!;
    expect(Object.keys(found.input_schema.properties as object)).not.toContain('priority');
    const schemas = await tools
      .get(MetaToolSlug.GET_TOOL_SCHEMAS)!
      .execute({ tool_slugs: ['TASKS_CREATE_TASK'] });
    const schema = (schemas.data as { tools: Array<{ input_schema: JSONSchema }> }).tools[0]!.input_schema;
    expect(Object.keys(schema.properties as object)).toEqual(['title', 'labels']);

    const multi = await tools.get(MetaToolSlug.MULTI_EXECUTE_TOOL)!.execute({
      tools: [
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Buy milk' } },
        { tool_slug: 'NOTES_CREATE_NOTE', arguments: JSON.stringify({ title: 'n', body: 'b' }) },
      ],
    });
    expect(calls.find((call) => call.slug === 'TASKS_CREATE_TASK')).toMatchObject({
      input: { title: 'Buy milk', priority: 'high' },
    });
    expect(multi.data).toMatchObject({
      successful_count: 1,
      failed_count: 1,
      results: [
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1' } },
        { tool_slug: 'NOTES_CREATE_NOTE', successful: false, data: null, error: 'hidden' },
      ],
    });
    // the hooks ran for each tool inside TOOLMUX_MULTI_EXECUTE_TOOL, never for the wrapper itself
    expect(before).toEqual([
      'toolmux/TOOLMUX_SEARCH_TOOLS',
      'toolmux/TOOLMUX_GET_TOOL_SCHEMAS',
      'tasks/TASKS_CREATE_TASK',
      'notes/NOTES_CREATE_NOTE',
    ]);
    expect(after.slice(2).sort()).toEqual(['notes/NOTES_CREATE_NOTE', 'tasks/TASKS_CREATE_TASK']);
  });

  it("afterExecute changes a multi-execute result that is saved to the workbench files, before it is saved: the model never reads the tool's own data", async () => {
    const { mux } = setup();
    const report = defineTool({
      slug: 'REPORTS_GET_REPORT',
      description: 'Get a report',
      inputSchema: z.object({ size: z.number().int() }),
      execute: async ({ size }) => ({ customerEmail: 'alice@example.com', body: 'r'.repeat(size) }),
    });
    const redact = async ({ result }: AfterExecuteContext): Promise<ToolResult> =>
      result.successful
        ? { ...result, data: { ...(result.data as object), customerEmail: '[redacted]' } }
        : result;
    for (const metaToolNames of ['toolmux', 'composio'] as const) {
      const session = await mux.create('user_1', {
        toolkits: ['tasks'],
        metaToolNames,
        workbench: { enable: true, autoOffloadThreshold: 1_000 },
        experimental: { customTools: [report] },
      });
      const slugs = metaToolNames === 'toolmux' ? MetaToolSlug : ComposioMetaToolSlug;
      const tools = byName((await session.tools({ afterExecute: redact })) as PlainTool[]);
      const multi = tools.get(slugs.MULTI_EXECUTE_TOOL)!;
      const call = (size: number) => [{ tool_slug: 'REPORTS_GET_REPORT', arguments: { size } }];
      // [input, whether its result is saved to the files]: inline, over the threshold, and
      // Composio's sync_response_to_workbench (saved whatever its size)
      const inputs: Array<[Record<string, unknown>, boolean]> = [
        [{ tools: call(10) }, false],
        [{ tools: call(5_000) }, true],
        ...(metaToolNames === 'composio'
          ? [
              [{ tools: call(10), sync_response_to_workbench: true }, true] as [
                Record<string, unknown>,
                boolean,
              ],
            ]
          : []),
      ];
      for (const [input, saved] of inputs) {
        const result = await multi.execute(input);
        expect(result.successful).toBe(true);
        // on the old code an offloaded result's preview (and file) held the address
        expect(JSON.stringify(result.data)).not.toContain('alice@example.com');
        expect(JSON.stringify(result.data)).toContain('[redacted]');
        const offloaded = (result.data as { offloaded?: { path: string } }).offloaded;
        expect(offloaded !== undefined).toBe(saved);
        if (!offloaded) continue;
        const read = await session.execute(slugs.WORKBENCH, {
          [metaToolNames === 'toolmux' ? 'code' : 'code_to_execute']:
            `const r = await toolmux.files.read(${JSON.stringify(offloaded.path)}); return r.results[0].data.customerEmail;`,
        });
        const cell = read.data as { result?: unknown; results?: unknown };
        expect(cell.result ?? cell.results).toBe('[redacted]');
      }
    }
  });

  it('afterExecute that throws inside a multi-execute makes the call throw once every call has answered', async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'] });
    const tools = byName(
      (await session.tools({
        afterExecute: ({ slug, result }) => {
          if (slug === 'TASKS_LIST_TASKS') throw new Error('not for the model');
          return result;
        },
      })) as PlainTool[],
    );
    await expect(
      tools.get(MetaToolSlug.MULTI_EXECUTE_TOOL)!.execute({
        tools: [
          { tool_slug: 'TASKS_LIST_TASKS', arguments: {} },
          { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'x' } },
        ],
      }),
    ).rejects.toThrow('not for the model');
    expect(calls.map((call) => call.slug).sort()).toEqual(['TASKS_CREATE_TASK', 'TASKS_LIST_TASKS']);
  });

  it('a schema modifySchema returns is shaped once per tools(), and each new one it returns is shaped anew', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'] });
    let version = 1;
    const tools = byName(
      await session.tools({
        modifySchema: ({ slug, schema }) =>
          slug === 'TASKS_CREATE_TASK' ? { ...schema, description: `version ${version}` } : schema,
      }),
    );
    const listed = async () =>
      (
        (await tools.get(MetaToolSlug.GET_TOOL_SCHEMAS)!.execute({ tool_slugs: ['TASKS_CREATE_TASK'] }))
          .data as {
          tools: Array<{ input_schema: JSONSchema }>;
        }
      ).tools[0]!.input_schema;
    const first = await listed();
    const again = await listed();
    expect(first.description).toBe('version 1');
    // the same shaped schema, not shaped again (before: a new object, shaped on every listing)
    expect(again).toBe(first);
    version = 2;
    const changed = await listed();
    expect(changed.description).toBe('version 2');
    expect(changed).not.toBe(first);
  });

  it("a workbench cell's calls run with beforeExecute's arguments and hand the code afterExecute's results; a hook that throws fails the cell's call", async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'] });
    const seen: string[] = [];
    const tools = byName(
      (await session.tools({
        beforeExecute: ({ slug, args }) => {
          if (slug === 'TASKS_LIST_TASKS') throw new Error('blocked by policy');
          return slug === 'TASKS_CREATE_TASK' ? { ...args, title: `[bot] ${String(args.title)}` } : args;
        },
        afterExecute: ({ slug, result }) => {
          seen.push(slug);
          return slug === 'TASKS_CREATE_TASK' && result.successful
            ? { ...result, data: { redacted: true } }
            : result;
        },
      })) as PlainTool[],
    );
    const cell = tools.get(MetaToolSlug.WORKBENCH)!;
    const result = await cell.execute({
      code: "const made = await toolmux.execute('TASKS_CREATE_TASK', { title: 'x' }); return made.data;",
    });
    // before: the cell's call ran with { title: 'x' } and the code read the tool's own data
    expect(result.successful).toBe(true);
    expect((result.data as { result: unknown }).result).toEqual({ redacted: true });
    expect(calls.map((call) => call.input)).toEqual([{ title: '[bot] x' }]);
    // the hooks saw the cell's call, and the cell's own (as a direct call's)
    expect(seen).toEqual(['TASKS_CREATE_TASK', MetaToolSlug.WORKBENCH]);
    await expect(
      cell.execute({ code: "await toolmux.execute('TASKS_LIST_TASKS', {}); return 1;" }),
    ).rejects.toThrow('blocked by policy');
    // the blocked tool did not run
    expect(calls.map((call) => call.slug)).toEqual(['TASKS_CREATE_TASK']);
  });

  it("a workbench cell's toolmux.search shows the schemas modifySchema makes, as TOOLMUX_SEARCH_TOOLS does", async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'] });
    const tools = byName(
      (await session.tools({
        modifySchema: ({ slug, schema }) =>
          slug === 'TASKS_CREATE_TASK' ? without(schema, 'priority') : schema,
      })) as PlainTool[],
    );
    type Found = { results: Array<{ tools: Array<{ tool_slug: string; input_schema: JSONSchema }> }> };
    const schemaIn = (found: Found) =>
      found.results[0]!.tools.find((tool) => tool.tool_slug === 'TASKS_CREATE_TASK')!.input_schema;
    const search = await tools.get(MetaToolSlug.SEARCH_TOOLS)!.execute({
      queries: [{ use_case: 'create a new to-do task' }],
    });
    const cell = await tools.get(MetaToolSlug.WORKBENCH)!.execute({
      code: "return await toolmux.search('create a new to-do task');",
    });
    expect(cell.successful).toBe(true);
    const inCell = schemaIn((cell.data as { result: Found }).result);
    // before: the cell's search showed the tool's own schema, with the field the application hid
    expect(Object.keys(inCell.properties as object)).not.toContain('priority');
    expect(inCell).toEqual(schemaIn(search.data as Found));
    // without modifiers the cell sees the field (the hook, not the search, took it away)
    const plain = byName((await session.tools()) as PlainTool[]);
    const unmodified = await plain.get(MetaToolSlug.WORKBENCH)!.execute({
      code: "return await toolmux.search('create a new to-do task');",
    });
    const own = schemaIn((unmodified.data as { result: Found }).result);
    expect(Object.keys(own.properties as object)).toContain('priority');
  });

  it('beforeExecute runs for every call of a multi-execute that runs, whatever the other entries are', async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'] });
    const tools = byName(
      (await session.tools({
        beforeExecute: ({ slug, args }) => {
          if (slug === 'TASKS_LIST_TASKS') throw new Error('blocked by policy');
          return args;
        },
      })) as PlainTool[],
    );
    const multi = tools.get(MetaToolSlug.MULTI_EXECUTE_TOOL)!;
    // before: an entry that is no call (7) let the others run without the hook, and so did a call
    // without arguments or with null ones (run as {})
    for (const tools of [
      [{ tool_slug: 'TASKS_LIST_TASKS', arguments: {} }, 7],
      [{ tool_slug: 'TASKS_LIST_TASKS' }],
      [{ tool_slug: 'TASKS_LIST_TASKS', arguments: null }],
      [{ tool_slug: 'TASKS_LIST_TASKS', arguments: '{}' }],
    ]) {
      await expect(multi.execute({ tools }), JSON.stringify(tools)).rejects.toThrow('blocked by policy');
    }
    expect(calls).toEqual([]);
  });

  it("beforeExecute gets no null strict mode sends for an optional field (of the schema the model saw): a default it fills in is the tool's", async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const { seen, tools } = await fillingInTitle(session);
    const create = tools.get('TASKS_CREATE_TASK')!;
    // what a model without strict mode sends, then what one with it sends for the same call
    await create.execute({ labels: ['a'] });
    await create.execute({ title: null, priority: null, labels: ['a'] });
    expect(seen).toEqual([{ labels: ['a'] }, { labels: ['a'] }]);
    expect(calls.map((call) => call.input)).toEqual([
      { title: 'From the app', priority: 'low', labels: ['a'] },
      { title: 'From the app', priority: 'low', labels: ['a'] },
    ]);
  });

  it('beforeExecute gets no strict-mode null in a multi-execute entry of a tool the model never saw listed, as for a direct call', async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'] });
    const { seen, tools } = await fillingInTitle(session);
    const multi = tools.get(MetaToolSlug.MULTI_EXECUTE_TOOL)!;
    // no search first: the model named the tool from an earlier turn (before: the hook got the nulls,
    // and the call ran with title null)
    const result = await multi.execute({
      tools: [
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: null, priority: null, labels: ['a'] } },
        { tool_slug: 'TASKS_LIST_TASKS', arguments: { openOnly: null } },
      ],
    });
    expect(result.successful, JSON.stringify(result)).toBe(true);
    expect(seen).toEqual([{ labels: ['a'] }, {}]);
    expect(calls.map((call) => call.input)).toEqual(
      expect.arrayContaining([{ title: 'From the app', priority: 'low', labels: ['a'] }]),
    );
  });

  it('mux.tools.get() takes the same modifiers', async () => {
    const { mux, calls } = setup();
    const modifiers: ToolModifiers = {
      modifySchema: ({ schema }) => ({ ...schema, description: 'modified' }),
      beforeExecute: async ({ args }) => ({ ...args, title: `[bot] ${String(args.title)}` }),
      afterExecute: async ({ toolkit, result }) =>
        result.successful ? { ...result, data: { toolkit, original: result.data } } : result,
    };
    const tools = byName((await mux.tools.get('user_9', { toolkits: ['tasks'] }, modifiers)) as PlainTool[]);
    expect(tools.get('TASKS_CREATE_TASK')!.inputSchema.description).toBe('modified');
    const result = await tools.get('TASKS_CREATE_TASK')!.execute({ title: 'x' });
    expect(result.data).toEqual({ toolkit: 'tasks', original: { id: 'task_1', title: '[bot] x' } });
    expect(calls.at(-1)).toMatchObject({ input: { title: '[bot] x' } });
  });

  it('a hook that returns something else than what it must makes the call throw, naming the hook and the tool', async () => {
    const { mux, calls } = setup();
    const direct = await mux.create('user_1', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const meta = await mux.create('user_1', { toolkits: ['tasks'] });
    /** The error a call through `tools` rejects with, directly and through the multi-execute. */
    const failures = async (modifiers: ToolModifiers) => {
      const errors: unknown[] = [];
      for (const session of [direct, meta]) {
        const tools = byName((await session.tools(modifiers)) as PlainTool[]);
        const run =
          session === direct
            ? tools.get('TASKS_CREATE_TASK')!.execute({ title: 'x' })
            : tools.get(MetaToolSlug.MULTI_EXECUTE_TOOL)!.execute({
                tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'x' } }],
              });
        errors.push(
          await run.then(
            () => undefined,
            (error: unknown) => error,
          ),
        );
      }
      return errors;
    };
    const expectRefused = (errors: unknown[], hook: string, got: string) => {
      for (const error of errors) {
        expect(ToolMuxError.isInstance(error), String(error)).toBe(true);
        expect((error as ToolMuxError).code).toBe('INVALID_REQUEST');
        expect((error as ToolMuxError).message).toContain(hook);
        expect((error as ToolMuxError).message).toContain('TASKS_CREATE_TASK');
        expect((error as ToolMuxError).message).toContain(got);
      }
    };

    // beforeExecute that changes args in place and returns nothing: the call did run with {} (the
    // model was told it left out the title it sent)
    const mutating = await failures({
      beforeExecute: ({ args }) => {
        args.title = 'changed';
        return undefined as never;
      },
    });
    expectRefused(mutating, 'beforeExecute', 'undefined');
    expect(calls).toEqual([]);
    expectRefused(await failures({ beforeExecute: () => 'x' as never }), 'beforeExecute', '"x"');

    // afterExecute without a result: the model read undefined, and the multi-execute threw a TypeError
    expectRefused(await failures({ afterExecute: () => undefined as never }), 'afterExecute', 'undefined');
    expectRefused(
      await failures({ afterExecute: () => ({}) as never }),
      'afterExecute',
      'an object without successful',
    );

    // modifySchema without a schema: a TypeError from deep inside the schema shaping
    const schemaError = await direct
      .tools({
        modifySchema: ({ slug, schema }) => (slug === 'TASKS_CREATE_TASK' ? (undefined as never) : schema),
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expectRefused([schemaError], 'modifySchema', 'undefined');
  });

  it('a hook that throws makes the call throw, and nothing runs', async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const tools = byName(
      (await session.tools({
        beforeExecute: () => {
          throw new Error('not allowed');
        },
      })) as PlainTool[],
    );
    await expect(tools.get('TASKS_CREATE_TASK')!.execute({ title: 'x' })).rejects.toThrow('not allowed');
    expect(calls).toEqual([]);
  });
});
