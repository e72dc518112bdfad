import { describe, expect, it } from 'vitest';
import { toStrictSchema } from '../schema/strict.js';
import { exposedToolSpecs } from '../session.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import {
  ComposioMetaToolSlug,
  MetaToolSlug,
  metaToolKind,
  metaToolsOf,
  renameMetaTools,
} from './meta-tools.js';

const quiet = { debug() {}, warn() {}, error() {} };

async function setup(config: Parameters<ToolMux['create']>[1] = {}) {
  const sample = createSampleToolkits();
  const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
  const session = await mux.create('user_1', { metaToolNames: 'composio', ...config });
  return { ...sample, mux, session };
}

const COMPOSIO_SLUGS = [
  'COMPOSIO_SEARCH_TOOLS',
  'COMPOSIO_GET_TOOL_SCHEMAS',
  'COMPOSIO_MANAGE_CONNECTIONS',
  'COMPOSIO_MULTI_EXECUTE_TOOL',
  'COMPOSIO_REMOTE_WORKBENCH',
];

describe("metaToolNames: 'composio' — names", () => {
  it("hands out Composio's meta-tool names, and toolmux's by default", async () => {
    const { session, mux } = await setup();
    expect(session.config.metaToolNames).toBe('composio');
    expect(exposedToolSpecs(session).map((spec) => spec.slug)).toEqual(COMPOSIO_SLUGS);
    const plain = await mux.create('user_1', {});
    expect(plain.config.metaToolNames).toBe('toolmux');
    // TOOLMUX_WAIT_FOR_CONNECTIONS only with manageConnections.waitForConnections
    expect(exposedToolSpecs(plain).map((spec) => spec.slug)).toEqual(
      Object.values(MetaToolSlug).filter((slug) => slug !== MetaToolSlug.WAIT_FOR_CONNECTIONS),
    );
  });

  it('follows manageConnections, the workbench switch and preloads', async () => {
    const { session } = await setup({
      manageConnections: false,
      workbench: { enable: false },
      preload: { tools: ['TASKS_CREATE_TASK'] },
    });
    expect(exposedToolSpecs(session).map((spec) => spec.slug)).toEqual([
      'COMPOSIO_SEARCH_TOOLS',
      'COMPOSIO_GET_TOOL_SCHEMAS',
      'COMPOSIO_MULTI_EXECUTE_TOOL',
      'TASKS_CREATE_TASK',
    ]);
  });

  it('refuses the other style’s names, pointing to its own', async () => {
    const { session } = await setup();
    const result = await session.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: 'x' }] });
    expect(result.code).toBe('TOOL_NOT_IN_SESSION');
    expect(result.error).toContain('COMPOSIO_SEARCH_TOOLS');
    const plain = await setup({ metaToolNames: 'toolmux' });
    const refused = await plain.session.execute(ComposioMetaToolSlug.SEARCH_TOOLS, {
      queries: [{ use_case: 'x' }],
    });
    expect(refused.code).toBe('TOOL_NOT_IN_SESSION');
    expect(refused.error).toContain('TOOLMUX_SEARCH_TOOLS');
  });

  it('is validated, stored, kept by update() and read again by use()', async () => {
    const { mux, session } = await setup();
    await expect(mux.create('user_1', { metaToolNames: 'composioo' as 'composio' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(
        /metaToolNames: unknown value "composioo"; use one of toolmux, composio/,
      ),
    });
    await session.update({ toolkits: ['tasks'] });
    expect(session.config.metaToolNames).toBe('composio');
    const again = await mux.use(session.sessionId);
    expect(again.config.metaToolNames).toBe('composio');
    expect(exposedToolSpecs(again)[0]!.slug).toBe('COMPOSIO_SEARCH_TOOLS');
    await again.update({ metaToolNames: 'toolmux' });
    expect(exposedToolSpecs(again)[0]!.slug).toBe('TOOLMUX_SEARCH_TOOLS');
  });
});

describe("metaToolNames: 'composio' — inputs and results", () => {
  it("COMPOSIO_SEARCH_TOOLS takes Composio's fields and answers in Composio's shape", async () => {
    const { session } = await setup();
    const result = await session.execute('COMPOSIO_SEARCH_TOOLS', {
      queries: [
        { use_case: 'add a new to-do item', known_fields: 'title: milk' },
        { use_case: 'send an email' },
      ],
      session: { generate_id: true },
      model: 'gpt-5',
    });
    expect(result.successful).toBe(true);
    const data = result.data as {
      results: Array<{ index: number; use_case: string; primary_tool_slugs: string[]; toolkits: string[] }>;
      tool_schemas: Record<
        string,
        { tool_slug: string; toolkit: string; input_schema: { properties: object } }
      >;
      toolkit_connection_statuses: Array<{
        toolkit: string;
        has_active_connection: boolean;
        description: string;
      }>;
      next_steps_guidance: string[];
      session: { id: string };
      time_info: { current_time_utc: string };
    };
    expect(data.results[0]).toMatchObject({ index: 1, use_case: 'add a new to-do item' });
    expect(data.results[1]).toMatchObject({ index: 2 });
    expect(data.results[0]!.toolkits[0]).toBe('tasks');
    expect(data.results[0]!.primary_tool_slugs[0]).toBe('TASKS_CREATE_TASK');
    expect(data.results[1]!.primary_tool_slugs[0]).toBe('MAIL_SEND_EMAIL');
    expect(Object.keys(data.tool_schemas.TASKS_CREATE_TASK!.input_schema.properties)).toEqual([
      'title',
      'priority',
      'labels',
    ]);
    expect(data.toolkit_connection_statuses).toContainEqual(
      expect.objectContaining({ toolkit: 'mail', has_active_connection: false }),
    );
    expect(data.toolkit_connection_statuses.find((entry) => entry.toolkit === 'mail')!.description).not.toBe(
      '',
    );
    expect(data.next_steps_guidance.join(' ')).toContain('COMPOSIO_MANAGE_CONNECTIONS');
    expect(data.next_steps_guidance.join(' ')).toContain('COMPOSIO_MULTI_EXECUTE_TOOL');
    expect(JSON.stringify(data)).not.toContain('TOOLMUX_');
    expect(data.session.id).toBe(session.sessionId);
    expect(Number.isNaN(Date.parse(data.time_info.current_time_utc))).toBe(false);
    // session.search() (no model) names the application's operations, in neither naming style
    const found = await session.search({ query: 'send an email' });
    expect(found.next_steps).toContain('session.authorize("mail")');
    expect(found.next_steps).not.toMatch(/COMPOSIO_|TOOLMUX_/);
  });

  it('COMPOSIO_MULTI_EXECUTE_TOOL takes tools, thought, sync_response_to_workbench and step fields', async () => {
    const { session, calls } = await setup();
    const result = await session.execute('COMPOSIO_MULTI_EXECUTE_TOOL', {
      tools: [
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'milk' } },
        { tool_slug: 'NOTES_CREATE_NOTE', arguments: '{"text":"from a JSON string"}' },
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 42 } },
        { tool_slug: 'COMPOSIO_SEARCH_TOOLS', arguments: { queries: [] } },
      ],
      thought: 'Create the task and the note.',
      sync_response_to_workbench: false,
      current_step: 'CREATING',
      current_step_metric: '0/2 items',
      session_id: session.sessionId,
    });
    expect(result.successful).toBe(true);
    const data = result.data as {
      results: Array<{
        index: number;
        tool_slug: string;
        response: { successful: boolean; data: unknown; error: string | null };
        error?: string;
      }>;
      total_count: number;
      success_count: number;
      error_count: number;
    };
    expect(data.results.map((entry) => [entry.index, entry.tool_slug, entry.response.successful])).toEqual([
      // numbered from 1, as search numbers its queries
      [1, 'TASKS_CREATE_TASK', true],
      [2, 'NOTES_CREATE_NOTE', true],
      [3, 'TASKS_CREATE_TASK', false],
      [4, 'COMPOSIO_SEARCH_TOOLS', false],
    ]);
    expect(data.results[0]!.response.data).toMatchObject({ title: 'milk' });
    expect(data.results[0]!.error).toBeUndefined();
    expect(data.results[2]!.error).toContain('title');
    expect(data.results[3]!.error).toContain('call it directly, not through COMPOSIO_MULTI_EXECUTE_TOOL');
    expect(data).toMatchObject({ total_count: 4, success_count: 2, error_count: 2 });
    expect(calls.map((call) => call.slug).sort()).toEqual(['NOTES_CREATE_NOTE', 'TASKS_CREATE_TASK']);
    const invalid = await session.execute('COMPOSIO_MULTI_EXECUTE_TOOL', { tools: [], thought: 'x' });
    expect(invalid.code).toBe('TOOL_ARGUMENTS_INVALID');
  });

  it('sync_response_to_workbench: true saves the result as a workbench file that COMPOSIO_REMOTE_WORKBENCH reads', async () => {
    const { session } = await setup();
    const result = await session.execute('COMPOSIO_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'kept' } }],
      sync_response_to_workbench: true,
    });
    const { offloaded } = result.data as { offloaded: { path: string; preview: string; hint: string } };
    expect(offloaded.preview).toContain('kept');
    expect(offloaded.hint).toContain('COMPOSIO_REMOTE_WORKBENCH');
    expect(offloaded.hint).not.toContain('TOOLMUX_');
    const read = await session.execute('COMPOSIO_REMOTE_WORKBENCH', {
      code_to_execute: `const r = await toolmux.files.read(${JSON.stringify(offloaded.path)}); return r.results[0].data.title;`,
    });
    expect(read.data).toMatchObject({ results: 'kept' });
    // without the workbench there is nowhere to save it: the result stays inline
    const off = await setup({ workbench: { enable: false } });
    const inline = await off.session.execute('COMPOSIO_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'inline' } }],
      sync_response_to_workbench: true,
    });
    expect(inline.data).toMatchObject({ results: [{ response: { successful: true } }] });
  });

  it('COMPOSIO_GET_TOOL_SCHEMAS keys schemas by slug and adds output schemas on request', async () => {
    const { session } = await setup({ toolkits: ['tasks'] });
    const plain = await session.execute('COMPOSIO_GET_TOOL_SCHEMAS', { tool_slugs: ['TASKS_CREATE_TASK'] });
    expect(plain.data).toMatchObject({
      success: true,
      tool_schemas: { TASKS_CREATE_TASK: { toolkit: 'tasks' } },
    });
    expect(
      (plain.data as { tool_schemas: Record<string, object> }).tool_schemas.TASKS_CREATE_TASK,
    ).not.toHaveProperty('output_schema');
    const result = await session.execute('COMPOSIO_GET_TOOL_SCHEMAS', {
      tool_slugs: ['TASKS_CREATE_TASK', 'NOTES_CREATE_NOTE'],
      include: ['input_schema', 'output_schema'],
      session_id: 'anything',
    });
    expect(result.data).toMatchObject({
      success: false,
      tool_schemas: { TASKS_CREATE_TASK: { output_schema: { type: 'object' } } },
      not_found: ['NOTES_CREATE_NOTE'],
      not_found_message: expect.stringContaining('COMPOSIO_SEARCH_TOOLS'),
    });
  });

  it('COMPOSIO_MANAGE_CONNECTIONS takes reinitiate_all and answers per toolkit with a summary', async () => {
    const { session } = await setup({ toolkits: ['tasks', 'mail'] });
    const result = await session.execute('COMPOSIO_MANAGE_CONNECTIONS', {
      toolkits: ['tasks', 'mail'],
      reinitiate_all: false,
      session_id: session.sessionId,
    });
    expect(result.successful).toBe(true);
    expect(result.data).toMatchObject({
      results: {
        tasks: { toolkit: 'tasks', status: 'active', has_active_connection: true },
        mail: { toolkit: 'mail', status: 'failed', has_active_connection: false },
      },
      summary: { total_toolkits: 2, active_connections: 1, initiated_connections: 0, failed_connections: 1 },
    });
    const missing = await session.execute('COMPOSIO_MANAGE_CONNECTIONS', { reinitiate_all: true });
    expect(missing.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(missing.error).toContain('toolkits');
  });

  it('COMPOSIO_REMOTE_WORKBENCH runs code_to_execute and answers { results, stdout }', async () => {
    const { session } = await setup();
    const result = await session.execute('COMPOSIO_REMOTE_WORKBENCH', {
      code_to_execute:
        'console.log("hi"); const r = await toolmux.execute("TASKS_CREATE_TASK", { title: "w" }); return r.data.title;',
      thought: 'Create one task.',
      current_step: 'CREATING',
    });
    expect(result.successful).toBe(true);
    expect(result.data).toMatchObject({ results: 'w', stdout: 'hi', stderr: '' });
    const failed = await session.execute('COMPOSIO_REMOTE_WORKBENCH', {
      code_to_execute: 'throw new Error("boom")',
    });
    expect((failed.data as { error: string }).error).toContain('boom');
  });

  it('names its own meta-tools in tool errors that point to one', async () => {
    const { session } = await setup({ toolkits: ['mail'] });
    const result = await session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 's', body: 'b' });
    expect(result.successful).toBe(false);
    expect(result.error).toContain('COMPOSIO_MANAGE_CONNECTIONS');
    expect(result.error).not.toContain('TOOLMUX_');
  });
});

describe('meta-tool descriptions and schemas per naming style', () => {
  it('reference only meta-tools of their own style', () => {
    for (const tool of metaToolsOf('composio').values()) {
      const text = JSON.stringify([tool.description, tool.inputSchema, tool.strictInputSchema]);
      expect(text, tool.slug).not.toContain('TOOLMUX_');
      expect(metaToolKind(tool.slug)).toBe(tool.metaKind);
    }
    for (const tool of metaToolsOf('toolmux').values()) {
      expect(JSON.stringify([tool.description, tool.inputSchema]), tool.slug).not.toContain('COMPOSIO_');
    }
    expect(metaToolsOf('composio').get('COMPOSIO_SEARCH_TOOLS')!.description).toContain(
      'COMPOSIO_MULTI_EXECUTE_TOOL',
    );
    expect(metaToolsOf('composio').get('COMPOSIO_REMOTE_WORKBENCH')!.description).toContain(
      'JavaScript, not Python',
    );
  });

  it("carry Composio's input fields", () => {
    const fields = (slug: string) =>
      Object.keys(metaToolsOf('composio').get(slug)!.inputSchema.properties ?? {});
    expect(fields('COMPOSIO_SEARCH_TOOLS')).toEqual(['queries', 'session', 'model']);
    expect(fields('COMPOSIO_MULTI_EXECUTE_TOOL')).toEqual([
      'tools',
      'thought',
      'sync_response_to_workbench',
      'current_step',
      'current_step_metric',
      'session_id',
    ]);
    expect(fields('COMPOSIO_MANAGE_CONNECTIONS')).toEqual(['toolkits', 'reinitiate_all', 'session_id']);
    expect(fields('COMPOSIO_GET_TOOL_SCHEMAS')).toEqual(['tool_slugs', 'include', 'session_id']);
    expect(fields('COMPOSIO_REMOTE_WORKBENCH')).toEqual([
      'code_to_execute',
      'thought',
      'current_step',
      'current_step_metric',
      'session_id',
    ]);
  });

  it('are accepted by OpenAI strict mode as written', () => {
    for (const tool of metaToolsOf('composio').values()) {
      expect(toStrictSchema(tool.strictInputSchema), tool.slug).toMatchObject({ ok: true });
    }
  });

  it('renameMetaTools rewrites toolmux names and only them', () => {
    expect(
      renameMetaTools(
        'Call TOOLMUX_MANAGE_CONNECTIONS with reinitiate: true, then TOOLMUX_WORKBENCH.',
        'composio',
      ),
    ).toBe('Call COMPOSIO_MANAGE_CONNECTIONS with reinitiate_all: true, then COMPOSIO_REMOTE_WORKBENCH.');
    expect(renameMetaTools('TOOLMUX_API_KEY and TOOLMUX_SEARCH_TOOLSX stay', 'composio')).toBe(
      'TOOLMUX_API_KEY and TOOLMUX_SEARCH_TOOLSX stay',
    );
    expect(renameMetaTools('TOOLMUX_SEARCH_TOOLS', 'toolmux')).toBe('TOOLMUX_SEARCH_TOOLS');
  });
});

describe("tool modifiers with metaToolNames: 'composio'", () => {
  it('run for each call of COMPOSIO_MULTI_EXECUTE_TOOL and rewrite the schemas COMPOSIO_SEARCH_TOOLS lists', async () => {
    const { session, calls } = await setup({ toolkits: ['tasks'] });
    const seen: string[] = [];
    const tools = (await session.tools({
      modifySchema: ({ slug, schema }) =>
        slug === 'TASKS_CREATE_TASK'
          ? { ...schema, properties: { title: (schema.properties as Record<string, unknown>).title } }
          : schema,
      beforeExecute: ({ slug, toolkit, args }) => {
        seen.push(`${toolkit}:${slug}`);
        return slug === 'TASKS_CREATE_TASK' ? { ...args, priority: 'high' } : args;
      },
      afterExecute: ({ slug, result }) =>
        slug === 'TASKS_CREATE_TASK' && result.successful
          ? { ...result, data: { shortened: true } }
          : slug === 'TASKS_LIST_TASKS'
            ? { successful: false, data: null, error: 'refused by the application', logId: result.logId }
            : result,
    })) as Array<{ name: string; execute: (args: unknown) => Promise<{ data: unknown }> }>;
    const byName = new Map(tools.map((tool) => [tool.name, tool]));

    const search = (await byName.get('COMPOSIO_SEARCH_TOOLS')!.execute({
      queries: [{ use_case: 'add a new to-do item' }],
    })) as { data: { tool_schemas: Record<string, { input_schema: { properties: object } }> } };
    expect(Object.keys(search.data.tool_schemas.TASKS_CREATE_TASK!.input_schema.properties)).toEqual([
      'title',
    ]);

    const ran = (await byName.get('COMPOSIO_MULTI_EXECUTE_TOOL')!.execute({
      tools: [
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'a' } },
        { tool_slug: 'TASKS_LIST_TASKS', arguments: {} },
      ],
      sync_response_to_workbench: false,
    })) as { data: Record<string, unknown> };
    // meta-tools are hooked as toolkit `toolmux`; the calls inside the wrapper with their own toolkit
    expect(seen).toEqual([
      'toolmux:COMPOSIO_SEARCH_TOOLS',
      'tasks:TASKS_CREATE_TASK',
      'tasks:TASKS_LIST_TASKS',
    ]);
    expect(calls.find((call) => call.slug === 'TASKS_CREATE_TASK')!.input).toMatchObject({
      priority: 'high',
    });
    expect(ran.data).toMatchObject({
      results: [
        {
          index: 1,
          tool_slug: 'TASKS_CREATE_TASK',
          response: { successful: true, data: { shortened: true } },
        },
        {
          index: 2,
          tool_slug: 'TASKS_LIST_TASKS',
          response: { successful: false, error: 'refused by the application' },
          error: 'refused by the application',
        },
      ],
      success_count: 1,
      error_count: 1,
    });
    expect(ran.data).not.toHaveProperty('successful_count');
    expect((ran.data.results as object[])[0]).not.toHaveProperty('successful');
  });
});
