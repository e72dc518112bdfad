import Anthropic from '@anthropic-ai/sdk';
import { defineTool, defineToolkit, type Session, SessionPreset, type Toolkit, ToolMux } from '@toolmux/core';
import {
  expectCellAnswer,
  hardSchemaCall,
  hardSchemaToolkit,
  type ScriptedModelServer,
  type ScriptedRequest,
  startScriptedModelServer,
  untilTestTimeout,
  WORKBENCH_CELL_CASES,
  workbenchCellCalls,
} from '@toolmux/core/test';
import { sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AnthropicProvider } from './index.js';

/** A `tool_use` block the scripted model sends. */
type ScriptedCall = { id: string; name: string; input: unknown };
/** One step of the script: sees the request the SDK sent and answers with tool calls (none: "done"). */
type Step = (request: ScriptedRequest) => ScriptedCall[];

/** A Messages API response in Anthropic's wire format. */
function reply(calls: ScriptedCall[], index: number) {
  return {
    id: `msg_${index}`,
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content:
      calls.length > 0
        ? [{ type: 'text', text: 'Let me do that.' }, ...calls.map((call) => ({ type: 'tool_use', ...call }))]
        : [{ type: 'text', text: 'done' }],
    stop_reason: calls.length > 0 ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 1, output_tokens: 1 },
  };
}

/** The `tool_result` blocks of the request's last message (what the SDK sent back), by tool_use id. */
function resultsOf(model: ScriptedModelServer, request: number) {
  const messages = model.requests[request]!.body.messages as Array<{ role: string; content: unknown }>;
  const last = messages.at(-1)!;
  expect(last.role).toBe('user');
  return Object.fromEntries(
    (last.content as Array<{ type: string; tool_use_id: string; content: string; is_error?: boolean }>).map(
      (block) => {
        expect(block.type).toBe('tool_result');
        return [block.tool_use_id, { text: block.content, isError: block.is_error === true }];
      },
    ),
  );
}

/** The agent loop of the Anthropic SDK's documentation, with toolmux running the tool calls. */
async function loop(
  client: Anthropic,
  session: Session<Anthropic.Tool[], Anthropic.Message, any>,
  tools: Anthropic.Tool[],
  signal?: AbortSignal,
) {
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Help me with my tasks' }];
  for (let step = 0; step < 6; step++) {
    const message = await client.messages.create({ model: 'claude-test', max_tokens: 1024, messages, tools });
    messages.push({ role: 'assistant', content: message.content });
    if (message.stop_reason !== 'tool_use') {
      return message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    }
    messages.push(await session.handleToolCalls(message, { signal }));
  }
  throw new Error('the loop did not end');
}

const silent = { debug() {}, warn() {}, error() {} };
const modes = TOOLMUX_MODES;

const samples = sampleModes({}, { beforeAll, afterEach, afterAll });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A scripted model server and the real Anthropic client pointed at it. */
async function scriptedClient(steps: Step[]) {
  const model = await startScriptedModelServer([
    ...steps.map((step, index) => (request: ScriptedRequest) => reply(step(request), index)),
    () => reply([], steps.length),
  ]);
  cleanups.push(() => model.close());
  return { model, client: new Anthropic({ apiKey: 'sk-ant-test', baseURL: model.url, maxRetries: 0 }) };
}

/** A DIRECT_TOOLS session of `toolkit` alone, on an embedded ToolMux closed after the test. */
async function directSession(toolkit: Toolkit, provider = new AnthropicProvider()) {
  const mux = new ToolMux({ provider, toolkits: [toolkit], store: ':memory:', logger: silent });
  cleanups.push(() => mux.close());
  return mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
}

async function setUp(steps: Step[], options: { mode?: (typeof modes)[number]; preset?: SessionPreset } = {}) {
  const provider = new AnthropicProvider();
  const { session, tools, ...sample } = await samples.session(provider, {
    mode: options.mode,
    preset: options.preset,
    toolkits: ['tasks', 'notes'],
  });
  const { model, client } = await scriptedClient(steps);
  return {
    ...sample,
    session,
    tools,
    model,
    run: (signal?: AbortSignal) => loop(client, session, tools, signal),
  };
}

describe('AnthropicProvider with the real @anthropic-ai/sdk client', () => {
  it.each(modes)(
    'META_TOOLS (%s): the model searches, then runs what it found through TOOLMUX_MULTI_EXECUTE_TOOL',
    async (mode) => {
      let found: string | undefined;
      const { model, run, tools, calls, session } = await setUp(
        [
          () => [
            {
              id: 'toolu_search',
              name: 'TOOLMUX_SEARCH_TOOLS',
              input: { queries: [{ use_case: 'create a to-do task' }] },
            },
          ],
          (request) => {
            const last = request.body.messages.at(-1).content[0];
            found = JSON.parse(last.content).results[0].tools[0].tool_slug;
            return [
              {
                id: 'toolu_multi',
                name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
                input: { tools: [{ tool_slug: found, arguments: { title: 'Buy milk', priority: 'high' } }] },
              },
            ];
          },
        ],
        { mode },
      );
      expect(await run()).toBe('done');
      const sent = model.requests[0]!;
      expect(sent.url).toBe('/v1/messages');
      expect(sent.body.tools).toEqual(JSON.parse(JSON.stringify(tools)));
      expect(sent.body.tools.map((tool: Anthropic.Tool) => tool.name).sort()).toEqual([
        'TOOLMUX_GET_TOOL_SCHEMAS',
        'TOOLMUX_MANAGE_CONNECTIONS',
        'TOOLMUX_MULTI_EXECUTE_TOOL',
        'TOOLMUX_SEARCH_TOOLS',
        'TOOLMUX_WORKBENCH',
      ]);
      expect(sent.body.tools[0]).toEqual({
        name: tools[0]!.name,
        description: expect.any(String),
        input_schema: expect.objectContaining({ type: 'object' }),
      });
      expect(found).toBe('TASKS_CREATE_TASK');
      expect(calls).toEqual([
        expect.objectContaining({
          slug: 'TASKS_CREATE_TASK',
          input: { title: 'Buy milk', priority: 'high' },
        }),
      ]);
      expect(calls[0]!.context.callId).toBe('toolu_multi#0');
      expect(Object.keys(resultsOf(model, 1))).toEqual(['toolu_search']);
      const multi = resultsOf(model, 2).toolu_multi!;
      expect(multi.isError).toBe(false);
      expect(JSON.parse(multi.text)).toMatchObject({
        successful_count: 1,
        results: [
          { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
        ],
      });
      const logged = (await session.logs()).items.map((entry) => [entry.toolSlug, entry.callId]);
      expect(logged).toEqual(
        expect.arrayContaining([
          ['TOOLMUX_SEARCH_TOOLS', 'toolu_search'],
          ['TOOLMUX_MULTI_EXECUTE_TOOL', 'toolu_multi'],
          ['TASKS_CREATE_TASK', 'toolu_multi#0'],
        ]),
      );
    },
  );

  it('DIRECT_TOOLS: parallel tool_use blocks; failures are tool_result blocks with is_error the model reads', async () => {
    const { model, run, calls } = await setUp(
      [
        () => [
          { id: 'toolu_a', name: 'TASKS_CREATE_TASK', input: { title: 'A' } },
          { id: 'toolu_b', name: 'TASKS_SYNC_CALENDAR', input: { calendarId: 'work' } },
          { id: 'toolu_c', name: 'GITHUB_DELETE_REPO', input: {} },
          { id: 'toolu_d', name: 'TASKS_CREATE_TASK', input: { priority: 'urgent' } },
        ],
      ],
      { preset: SessionPreset.DIRECT_TOOLS },
    );
    expect(await run()).toBe('done');
    const results = resultsOf(model, 1);
    expect(Object.keys(results)).toEqual(['toolu_a', 'toolu_b', 'toolu_c', 'toolu_d']);
    expect(results.toolu_a).toEqual({ text: JSON.stringify({ id: 'task_1', title: 'A' }), isError: false });
    expect(results.toolu_b).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_EXECUTION_FAILED\): .*calendar work is unreachable/),
      isError: true,
    });
    expect(results.toolu_c).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_NOT_FOUND\): .*GITHUB_DELETE_REPO/),
      isError: true,
    });
    expect(results.toolu_d).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_ARGUMENTS_INVALID\): .*title/),
      isError: true,
    });
    expect(calls.map((call) => [call.slug, call.context.callId])).toEqual([
      ['TASKS_CREATE_TASK', 'toolu_a'],
      ['TASKS_SYNC_CALENDAR', 'toolu_b'],
    ]);
  });

  it.each(modes)(
    'TOOLMUX_WORKBENCH (%s): a cell that threw or reached a limit is is_error, its answer still the text; one that succeeded is not',
    async (mode) => {
      const { model, run, session } = await setUp(
        [
          // a tool that fails (toolu_failed) is flagged as before
          () => workbenchCellCalls('input', 'toolu_failed'),
        ],
        { mode },
      );
      expect(await run()).toBe('done');
      const results = resultsOf(model, 1);
      for (const cell of WORKBENCH_CELL_CASES) {
        // a failed cell was sent with is_error: false, and the model read it as a success
        expect(results[cell.id]!.isError, cell.id).toBe(cell.failsWith !== undefined);
        expectCellAnswer(JSON.parse(results[cell.id]!.text), cell);
      }
      expect(results.toolu_failed).toEqual({
        text: expect.stringMatching(/^Error \(TOOL_EXECUTION_FAILED\): .*calendar work is unreachable/),
        isError: true,
      });
      const logged = (await session.logs()).items.filter((entry) => entry.toolSlug === 'TOOLMUX_WORKBENCH');
      expect(Object.fromEntries(logged.map((entry) => [entry.callId, entry.errorCode]))).toEqual(
        Object.fromEntries(WORKBENCH_CELL_CASES.map(({ id, failsWith }) => [id, failsWith ?? null])),
      );
    },
  );

  it('passes the abort signal: an aborted call is an is_error result, logged with its tool_use id', async () => {
    const { model, run, calls, session } = await setUp(
      [
        () => [
          { id: 'toolu_wait', name: 'TASKS_WAIT_FOR_APPROVAL', input: { taskId: 't1' } },
          { id: 'toolu_list', name: 'TASKS_LIST_TASKS', input: {} },
        ],
      ],
      { preset: SessionPreset.DIRECT_TOOLS },
    );
    const controller = new AbortController();
    const finished = run(controller.signal);
    await vi.waitFor(
      () => expect(calls.map((call) => call.slug)).toContain('TASKS_WAIT_FOR_APPROVAL'),
      untilTestTimeout(),
    );
    controller.abort();
    expect(await finished).toBe('done');
    const results = resultsOf(model, 1);
    expect(results.toolu_wait).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_ABORTED\)/),
      isError: true,
    });
    expect(results.toolu_list).toEqual({ text: '{"tasks":[]}', isError: false });
    const logged = (await session.logs()).items.map((entry) => [
      entry.toolSlug,
      entry.callId,
      entry.errorCode,
    ]);
    expect(logged).toEqual(
      expect.arrayContaining([
        ['TASKS_WAIT_FOR_APPROVAL', 'toolu_wait', 'TOOL_ABORTED'],
        ['TASKS_LIST_TASKS', 'toolu_list', null],
      ]),
    );
  });
});

describe.each([false, true])('hard schemas (hardSchemaCases), strict: %s', (strict) => {
  it('are sent as shaped (strict where possible, alone otherwise), and their arguments reach each handler', async () => {
    const { toolkit, cases, received } = hardSchemaToolkit();
    const warnings: string[] = [];
    const provider = new AnthropicProvider({ strict, logger: { warn: (message) => warnings.push(message) } });
    const mux = new ToolMux({ provider, toolkits: [toolkit], store: ':memory:', logger: silent });
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const tools = await session.tools();
    /** Whether the request handed the tool out strict (then the model sends strict arguments). */
    const sentStrict = (request: ScriptedRequest, slug: string) =>
      (request.body.tools as Anthropic.Tool[]).some((tool) => tool.name === slug && tool.strict === true);
    const { model, client } = await scriptedClient([
      (request) =>
        cases.map((entry, index) => ({
          id: `toolu_${index}`,
          name: entry.slug,
          input: hardSchemaCall(entry, sentStrict(request, entry.slug)).args,
        })),
    ]);
    expect(await loop(client, session, tools)).toBe('done');
    const request = model.requests[0]!;
    const sent = request.body.tools as Anthropic.Tool[];
    for (const entry of cases) {
      const tool = sent.find((candidate) => candidate.name === entry.slug)!;
      const isStrict = sentStrict(request, entry.slug);
      // a tool that can be strict is, unless the request's limits on strict tools are spent
      if (!strict || !entry.strict) expect(tool.strict, entry.slug).toBeUndefined();
      else if (!isStrict)
        expect(warnings.join('\n')).toMatch(new RegExp(`${entry.slug}: Anthropic takes at most`));
      if (isStrict) expect(tool.input_schema.additionalProperties).toBe(false);
      if (entry.shownProperties)
        expect(Object.keys(tool.input_schema.properties ?? {}), entry.slug).toEqual(entry.shownProperties);
      expect(received.get(entry.slug)).toEqual([hardSchemaCall(entry, isStrict).received]);
    }
    expect(Object.values(resultsOf(model, 1)).every((result) => !result.isError)).toBe(true);
    if (strict) {
      expect(sent.filter((tool) => tool.strict).length).toBeGreaterThan(0);
      expect(warnings).toEqual([
        expect.stringMatching(/^toolmux: \d+ tool\(s\) cannot use Anthropic strict tool use/),
      ]);
    } else expect(warnings).toEqual([]);
  });
});

describe("Anthropic's limits on strict tools in one request", () => {
  /** A toolkit of `count` tools, each with one required string and `optional` optional strings. */
  function toolkitOf(count: number, optional: number) {
    return defineToolkit({
      slug: 'many',
      description: 'Many tools',
      tools: Array.from({ length: count }, (_, index) =>
        defineTool({
          slug: `MANY_TOOL_${index + 1}`,
          description: `Tool ${index + 1}`,
          inputSchema: {
            type: 'object',
            properties: {
              q: { type: 'string' },
              ...Object.fromEntries(
                Array.from({ length: optional }, (_, field) => [`opt${field}`, { type: 'string' }]),
              ),
            },
            required: ['q'],
          },
          execute: async () => ({ ok: true }),
        }),
      ),
    });
  }

  async function sentTools(count: number, optional: number) {
    const warnings: string[] = [];
    const mux = new ToolMux({
      provider: new AnthropicProvider({
        strict: true,
        logger: { warn: (message) => warnings.push(message) },
      }),
      toolkits: [toolkitOf(count, optional)],
      store: ':memory:',
      logger: silent,
    });
    cleanups.push(() => mux.close());
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const tools = await session.tools();
    const { model, client } = await scriptedClient([
      () => [{ id: 'toolu_1', name: 'MANY_TOOL_1', input: { q: 'x' } }],
    ]);
    expect(await loop(client, session, tools)).toBe('done');
    const sent = model.requests[0]!.body.tools as Anthropic.Tool[];
    return { sent, warnings, strictNames: sent.filter((tool) => tool.strict).map((tool) => tool.name) };
  }

  it('at most 20 strict tools: the others are handed out without strict, named in the warning', async () => {
    const { sent, warnings, strictNames } = await sentTools(25, 0);
    expect(sent).toHaveLength(25);
    expect(strictNames).toEqual(Array.from({ length: 20 }, (_, index) => `MANY_TOOL_${index + 1}`));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^toolmux: 5 tool\(s\) cannot use Anthropic strict tool use/);
    expect(warnings[0]).toContain('MANY_TOOL_21: Anthropic takes at most 20 strict tools in one request');
  });

  it('at most 16 parameters with a union type (each optional field of a strict schema is nullable) in all', async () => {
    const { strictNames, warnings } = await sentTools(6, 3);
    // 3 nullable fields a tool: 5 tools are 15, a sixth would make 18
    expect(strictNames).toEqual(['MANY_TOOL_1', 'MANY_TOOL_2', 'MANY_TOOL_3', 'MANY_TOOL_4', 'MANY_TOOL_5']);
    expect(warnings[0]).toContain(
      'MANY_TOOL_6: Anthropic takes at most 16 parameters with a union type (anyOf or a type list) in the strict tools of one request',
    );
  });
});

describe('property keys the Messages API refuses (it refuses the whole request for one)', () => {
  const KEY = /^[a-zA-Z0-9_.-]{1,64}$/;
  const long = 'x'.repeat(70);

  /** Every property key of a schema, at every depth. */
  function keysIn(schema: unknown, found: string[] = []): string[] {
    if (typeof schema !== 'object' || schema === null) return found;
    if (Array.isArray(schema)) {
      for (const item of schema) keysIn(item, found);
      return found;
    }
    for (const [keyword, value] of Object.entries(schema)) {
      if (keyword === 'properties' && typeof value === 'object' && value !== null) {
        found.push(...Object.keys(value));
        for (const property of Object.values(value)) keysIn(property, found);
      } else if (keyword !== 'enum' && keyword !== 'default') keysIn(value, found);
    }
    return found;
  }

  /** The object schema of a property: itself, or the variant of its anyOf that is not null. */
  function objectIn(schema: any): { properties?: Record<string, unknown>; items?: unknown } {
    return Array.isArray(schema?.anyOf)
      ? schema.anyOf.find((variant: any) => variant.type !== 'null')
      : schema;
  }

  it.each([false, true])(
    'strict: %s — they are sent renamed (distinct, described), and a call with those keys runs the tool with its own',
    async (strict) => {
      const received: unknown[] = [];
      const toolkit = defineToolkit({
        slug: 'acme',
        description: 'ACME',
        tools: [
          defineTool({
            slug: 'ACME_LIST',
            description: 'List things',
            inputSchema: {
              type: 'object',
              properties: {
                'filter[id]': { type: 'string', description: 'Only this id' },
                'filter(id)': { type: 'string' },
                filter_id_: { type: 'string' },
                'first name': { type: 'string' },
                [long]: { type: 'string' },
                [`${long}y`]: { type: 'string' },
                page: {
                  type: 'object',
                  properties: { 'page[size]': { type: 'integer' } },
                  required: ['page[size]'],
                },
                rows: {
                  type: 'array',
                  items: { type: 'object', properties: { 'a b': { type: 'string' } } },
                },
              },
              required: ['filter[id]'],
            },
            execute: async (args) => {
              received.push(args);
              return { ok: true };
            },
          }),
        ],
      });
      const session = await directSession(toolkit, new AnthropicProvider({ strict, logger: { warn() {} } }));
      const tools = await session.tools();
      let call: Record<string, unknown> = {};
      const { model, client } = await scriptedClient([
        (request) => {
          const tool = (request.body.tools as Anthropic.Tool[]).find((entry) => entry.name === 'ACME_LIST')!;
          const properties = tool.input_schema.properties as Record<
            string,
            {
              description?: string;
              properties?: Record<string, unknown>;
              items?: { properties: Record<string, unknown> };
            }
          >;
          // the model reads each renamed property's description to know its key
          const named = (own: string) =>
            Object.keys(properties).find((key) =>
              properties[key]!.description?.includes(JSON.stringify(own)),
            )!;
          // under strict, an optional object is nullable: its schema is the anyOf variant with properties
          const page = objectIn(properties.page).properties!;
          const rows = objectIn(objectIn(properties.rows).items).properties!;
          call = {
            [named('filter[id]')]: '42',
            [named('filter(id)')]: 'b',
            filter_id_: 'c',
            [named('first name')]: 'Ada',
            [named(long)]: 'long',
            [named(`${long}y`)]: 'longer',
            page: { [Object.keys(page)[0]!]: 10 },
            rows: [{ [Object.keys(rows)[0]!]: 'r' }],
          };
          return [{ id: 'toolu_1', name: 'ACME_LIST', input: call }];
        },
      ]);
      expect(await loop(client, session, tools)).toBe('done');
      const sent = (model.requests[0]!.body.tools as Anthropic.Tool[]).find(
        (tool) => tool.name === 'ACME_LIST',
      )!;
      const keys = keysIn(sent.input_schema);
      expect(keys.filter((key) => !KEY.test(key))).toEqual([]);
      const root = Object.keys(sent.input_schema.properties ?? {});
      expect(new Set(root).size).toBe(8);
      expect(root).toContain('filter_id_');
      expect(sent.input_schema.required).toContain(root[0]);
      expect((sent.input_schema.properties as any)[root[0]!].description).toBe(
        'Only this id\n\nThe tool\'s own name for this parameter: "filter[id]".',
      );
      expect(resultsOf(model, 1).toolu_1).toEqual({ text: JSON.stringify({ ok: true }), isError: false });
      expect(received).toEqual([
        {
          'filter[id]': '42',
          'filter(id)': 'b',
          filter_id_: 'c',
          'first name': 'Ada',
          [long]: 'long',
          [`${long}y`]: 'longer',
          page: { 'page[size]': 10 },
          rows: [{ 'a b': 'r' }],
        },
      ]);
      // the same tool is handed out alike each time
      expect((await session.tools())[0]!.input_schema).toEqual(sent.input_schema);
    },
  );
});

describe('a required name without a property ("ghost") with strict: true', () => {
  it('keeps its tool out of strict tool use, named with the name in the warning, and each call is checked against the tool’s schema', async () => {
    const received: unknown[] = [];
    const toolkit = defineToolkit({
      slug: 'notes',
      description: 'Notes',
      tools: [
        defineTool({
          slug: 'NOTES_TAG',
          description: 'Tag a note.',
          // valid JSON Schema (`ghost` must be there, of any value), but a strict schema lets the
          // model send the keys properties lists only: every strict call would lack it
          inputSchema: {
            type: 'object',
            properties: { title: { type: 'string' } },
            required: ['title', 'ghost'],
          },
          execute: async (input) => {
            received.push(input);
            return { ok: true };
          },
        }),
      ],
    });
    const warnings: string[] = [];
    const session = await directSession(
      toolkit,
      new AnthropicProvider({
        strict: true,
        logger: { warn: (message) => warnings.push(message) },
      }),
    );
    const tools = await session.tools();
    const { model, client } = await scriptedClient([
      () => [
        { id: 'toolu_without', name: 'NOTES_TAG', input: { title: 'Draft' } },
        { id: 'toolu_with', name: 'NOTES_TAG', input: { title: 'Draft', ghost: 3 } },
      ],
    ]);
    expect(await loop(client, session, tools)).toBe('done');

    const [sent] = model.requests[0]!.body.tools as Anthropic.Tool[];
    expect(sent!.strict).toBeUndefined();
    expect(sent!.input_schema.required).toEqual(['title', 'ghost']);
    expect(warnings).toEqual([
      expect.stringContaining('NOTES_TAG: $: requires "ghost", which properties does not list'),
    ]);
    const results = resultsOf(model, 1);
    expect(results.toolu_without).toEqual({
      text: expect.stringMatching(/^Error \(TOOL_ARGUMENTS_INVALID\): .*ghost/),
      isError: true,
    });
    expect(results.toolu_with).toEqual({ text: '{"ok":true}', isError: false });
    expect(received).toEqual([{ title: 'Draft', ghost: 3 }]);
  });
});

describe('a tool whose result is an empty or blank string (an MCP tool without output, an empty file)', () => {
  it('answers with a tool_result the Messages API takes: the string as JSON, never empty text', async () => {
    const outputs: Record<string, string> = { NOTES_EMPTY: '', NOTES_BLANK: ' \n\t', NOTES_TEXT: 'saved' };
    const toolkit = defineToolkit({
      slug: 'notes',
      description: 'Notes',
      tools: Object.entries(outputs).map(([slug, output]) =>
        defineTool({
          slug,
          description: `Answers ${JSON.stringify(output)}`,
          inputSchema: { type: 'object', properties: {} },
          execute: async () => output,
        }),
      ),
    });
    const session = await directSession(toolkit);
    const { model, client } = await scriptedClient([
      () => Object.keys(outputs).map((name) => ({ id: `toolu_${name}`, name, input: {} })),
    ]);
    expect(await loop(client, session, await session.tools())).toBe('done');

    // the Messages API refuses a tool_result whose text is empty (the whole request, and every later
    // one of the conversation that carries it): before, '' went out as it was
    expect(resultsOf(model, 1)).toEqual({
      toolu_NOTES_EMPTY: { text: '""', isError: false },
      toolu_NOTES_BLANK: { text: '" \\n\\t"', isError: false },
      toolu_NOTES_TEXT: { text: 'saved', isError: false },
    });
  });
});

describe('a message cut off at max_tokens in the middle of a tool_use block', () => {
  const complete = { to: 'ada@example.com', body: 'The report is attached.' };
  const cutJson = '{"to":"boss@example.com","body":"I quit. Just kid';

  /** The Messages API's answer: one complete tool_use, then one cut off at the token limit. */
  function cutOffMessage(streamed: boolean) {
    const message = {
      id: 'msg_cut',
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1024 },
    };
    const uses = [
      { type: 'tool_use', id: 'toolu_done', name: 'MAIL_SEND', json: JSON.stringify(complete) },
      { type: 'tool_use', id: 'toolu_cut', name: 'MAIL_SEND', json: cutJson },
    ];
    if (!streamed) {
      // what the API's JSON answer holds for the cut block: the input as far as the model wrote it
      const content = uses.map(({ json, ...use }) => ({
        ...use,
        input: json === cutJson ? { to: 'boss@example.com', body: 'I quit. Just kid' } : JSON.parse(json),
      }));
      return { ...message, content, stop_reason: 'max_tokens' };
    }
    const event = (data: { type: string }) => ({ event: data.type, data });
    return {
      namedEvents: [
        event({ type: 'message_start', message: { ...message, content: [], stop_reason: null } } as never),
        ...uses.flatMap(({ json, ...use }, index) => [
          event({ type: 'content_block_start', index, content_block: { ...use, input: {} } } as never),
          event({
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: json },
          } as never),
          // the cut block has no content_block_stop: the message stops there
          ...(json === cutJson ? [] : [event({ type: 'content_block_stop', index } as never)]),
        ]),
        event({
          type: 'message_delta',
          delta: { stop_reason: 'max_tokens', stop_sequence: null },
          usage: { output_tokens: 1024 },
        } as never),
        event({ type: 'message_stop' }),
      ],
    };
  }

  it.each([false, true])(
    'streamed: %s — the complete call runs, the cut one does not and the model reads why',
    async (streamed) => {
      const sent: unknown[] = [];
      const toolkit = defineToolkit({
        slug: 'mail',
        description: 'Mail',
        tools: [
          defineTool({
            slug: 'MAIL_SEND',
            description: 'Sends an email',
            inputSchema: {
              type: 'object',
              properties: { to: { type: 'string' }, body: { type: 'string' }, cc: { type: 'string' } },
              required: ['to'],
            },
            execute: async (args) => {
              sent.push(args);
              return { sent: true };
            },
          }),
        ],
      });
      const session = await directSession(toolkit);
      const model = await startScriptedModelServer([() => cutOffMessage(streamed)]);
      cleanups.push(() => model.close());
      const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: model.url, maxRetries: 0 });
      const request = {
        model: 'claude-test',
        max_tokens: 1024,
        messages: [{ role: 'user' as const, content: 'Mail the report, and tell my boss' }],
        tools: await session.tools(),
      };
      const message = streamed
        ? await client.messages.stream(request).finalMessage()
        : await client.messages.create(request);
      expect(message.stop_reason).toBe('max_tokens');

      const reply = await session.handleToolCalls(message);

      // before, the cut call ran too, with the body as far as the model had written it
      expect(sent).toEqual([complete]);
      expect(reply.content.map((block) => [block.tool_use_id, block.is_error === true])).toEqual([
        ['toolu_done', false],
        ['toolu_cut', true],
      ]);
      expect(reply.content[1]!.content).toBe(
        "Error (TOOL_ARGUMENTS_INVALID): The call of MAIL_SEND was cut off with the response (stop_reason: max_tokens), so its arguments are incomplete and it did not run. Call it again with all of its arguments; if they are long, the request's max_tokens may need to be larger.",
      );
      expect((await session.logs()).items.map((entry) => [entry.callId, entry.status])).toEqual([
        ['toolu_done', 'success'],
      ]);
    },
  );
});
