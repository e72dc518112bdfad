import {
  defineTool,
  defineToolkit,
  type Session,
  SessionPreset,
  type Toolkit,
  type ToolModifiers,
  ToolMux,
} from '@toolmux/core';
import {
  AWKWARD_KEY_ARGUMENTS,
  argumentsAsShown,
  awkwardKeysTool,
  hardSchemaCall,
  hardSchemaToolkit,
  type OpenAIScriptedCall,
  openaiReply,
  portableKeyViolations,
  type ScriptedModelServer,
  type ScriptedRequest,
  startScriptedModelServer,
  untilTestTimeout,
} from '@toolmux/core/test';
import { sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type OpenAIApi, OpenAIProvider, type OpenAIResponse, type OpenAITools } from './index.js';

/** A tool call the scripted model makes; `raw` sends text that is not JSON-encoded `args`. */
type ScriptedCall = OpenAIScriptedCall;
/** One step of the script: sees the request the SDK sent and answers with tool calls (none: "done"). */
type Step = (request: ScriptedRequest) => ScriptedCall[];

/** The OpenAI wire formats the scripted server speaks, and how each API's agent loop runs. */
const wires = {
  chat: {
    /** The tool results the SDK sent back: the `tool` messages after the last assistant message. */
    results: (request: ScriptedRequest) => {
      const messages = request.body.messages as Array<{
        role: string;
        tool_call_id?: string;
        content?: string;
      }>;
      const last = messages.findLastIndex((message) => message.role === 'assistant');
      return messages
        .slice(last + 1)
        .filter((message) => message.role === 'tool')
        .map((message) => ({ id: message.tool_call_id!, text: message.content! }));
    },
    toolNames: (request: ScriptedRequest) =>
      (request.body.tools as Array<{ function: { name: string } }>).map((tool) => tool.function.name),
    async loop(client: OpenAI, session: Session<unknown, any, any>, tools: unknown, signal?: AbortSignal) {
      const messages: OpenAI.ChatCompletionMessageParam[] = [
        { role: 'user', content: 'Help me with my tasks' },
      ];
      for (let step = 0; step < 6; step++) {
        const response = await client.chat.completions.create({
          model: 'gpt-test',
          messages,
          tools: tools as OpenAI.ChatCompletionTool[],
        });
        const message = response.choices[0]!.message;
        messages.push(message);
        if (!message.tool_calls?.length) return message.content;
        messages.push(...(await session.handleToolCalls(response, { signal })));
      }
      throw new Error('the loop did not end');
    },
  },
  responses: {
    results: (request: ScriptedRequest) =>
      (Array.isArray(request.body.input) ? (request.body.input as Array<Record<string, string>>) : [])
        .filter((item) => item.type === 'function_call_output')
        .map((item) => ({ id: item.call_id!, text: item.output! })),
    toolNames: (request: ScriptedRequest) =>
      (request.body.tools as Array<{ name: string }>).map((tool) => tool.name),
    async loop(client: OpenAI, session: Session<unknown, any, any>, tools: unknown, signal?: AbortSignal) {
      let input: OpenAI.Responses.ResponseInput | string = 'Help me with my tasks';
      let previous: string | undefined;
      for (let step = 0; step < 6; step++) {
        const response: OpenAI.Responses.Response = await client.responses.create({
          model: 'gpt-test',
          input,
          tools: tools as OpenAI.Responses.Tool[],
          ...(previous ? { previous_response_id: previous } : {}),
        });
        if (!response.output.some((item) => item.type === 'function_call')) return response.output_text;
        input = await session.handleToolCalls(response, { signal });
        previous = response.id;
      }
      throw new Error('the loop did not end');
    },
  },
} as const;

const silent = { debug() {}, warn() {}, error() {} };
const modes = TOOLMUX_MODES;
type Mode = (typeof modes)[number];

const samples = sampleModes({}, { beforeAll, afterEach, afterAll });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A session over the sample toolkits, its tools, and the real OpenAI client on a scripted server. */
async function setUp<A extends OpenAIApi>(
  api: A,
  steps: Step[],
  options: {
    mode?: Mode;
    preset?: SessionPreset;
    strict?: boolean;
    warn?: (message: string) => void;
    modifiers?: ToolModifiers;
  } = {},
) {
  const provider = new OpenAIProvider({
    api,
    strict: options.strict,
    logger: { warn: options.warn ?? (() => {}) },
  });
  const {
    session,
    tools: plainTools,
    ...sample
  } = await samples.session(provider, {
    mode: options.mode,
    preset: options.preset,
    toolkits: ['tasks', 'notes'],
  });
  const tools = options.modifiers ? await session.tools(options.modifiers) : plainTools;
  const model = await startScriptedModelServer([
    ...steps.map((step) => (request: ScriptedRequest) => openaiReply(request, step(request))),
    (request) => openaiReply(request, []),
  ]);
  cleanups.push(() => model.close());
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${model.url}/v1`, maxRetries: 0 });
  const run = (signal?: AbortSignal) => wires[api].loop(client, session, tools, signal);
  return { ...sample, session, tools, model, run };
}

/** The text the model received for each tool call of the previous step, by call id. */
function resultsOf(api: OpenAIApi, model: ScriptedModelServer, request: number): Record<string, string> {
  return Object.fromEntries(
    wires[api].results(model.requests[request]!).map((result) => [result.id, result.text]),
  );
}

describe.each(['chat', 'responses'] as const)(
  'OpenAIProvider, %s API, with the real openai client',
  (api) => {
    it.each(modes)(
      'META_TOOLS (%s): the model searches, then runs what it found through TOOLMUX_MULTI_EXECUTE_TOOL',
      async (mode) => {
        let found: string | undefined;
        const { model, run, tools, calls, session } = await setUp(
          api,
          [
            () => [
              {
                id: 'call_search',
                name: 'TOOLMUX_SEARCH_TOOLS',
                args: { queries: [{ use_case: 'create a to-do task' }] },
              },
            ],
            (request) => {
              const search = JSON.parse(wires[api].results(request)[0]!.text);
              found = search.results[0].tools[0].tool_slug;
              return [
                {
                  id: 'call_multi',
                  name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
                  args: { tools: [{ tool_slug: found, arguments: { title: 'Buy milk', priority: 'high' } }] },
                },
              ];
            },
          ],
          { mode },
        );

        expect(await run()).toBe('done');
        // the definitions the SDK sent are the session's tools, as the provider made them
        const sent = model.requests[0]!;
        expect(sent.url).toBe(api === 'chat' ? '/v1/chat/completions' : '/v1/responses');
        expect(sent.body.tools).toEqual(JSON.parse(JSON.stringify(tools)));
        expect(wires[api].toolNames(sent).sort()).toEqual([
          'TOOLMUX_GET_TOOL_SCHEMAS',
          'TOOLMUX_MANAGE_CONNECTIONS',
          'TOOLMUX_MULTI_EXECUTE_TOOL',
          'TOOLMUX_SEARCH_TOOLS',
          'TOOLMUX_WORKBENCH',
        ]);
        expect(found).toBe('TASKS_CREATE_TASK');
        expect(calls).toEqual([
          expect.objectContaining({
            slug: 'TASKS_CREATE_TASK',
            input: { title: 'Buy milk', priority: 'high' },
          }),
        ]);
        expect(calls[0]!.context.callId).toBe('call_multi#0');
        // the results went back with their call ids, and the model read them
        expect(Object.keys(resultsOf(api, model, 1))).toEqual(['call_search']);
        expect(JSON.parse(resultsOf(api, model, 2).call_multi!)).toMatchObject({
          successful_count: 1,
          results: [
            { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
          ],
        });
        expect(model.requests).toHaveLength(3);
        const logged = (await session.logs()).items.map((entry) => [entry.toolSlug, entry.callId]);
        expect(logged).toEqual(
          expect.arrayContaining([
            ['TOOLMUX_SEARCH_TOOLS', 'call_search'],
            ['TOOLMUX_MULTI_EXECUTE_TOOL', 'call_multi'],
            ['TASKS_CREATE_TASK', 'call_multi#0'],
          ]),
        );
      },
    );

    it('DIRECT_TOOLS: parallel calls run at once; failures, unknown tools and bad JSON are results the model reads', async () => {
      const { model, run, calls, tools } = await setUp(
        api,
        [
          () => [
            { id: 'call_a', name: 'TASKS_CREATE_TASK', args: { title: 'A' } },
            { id: 'call_b', name: 'TASKS_SYNC_CALENDAR', args: { calendarId: 'work' } },
            { id: 'call_c', name: 'GITHUB_DELETE_REPO', args: {} },
            { id: 'call_d', name: 'TASKS_CREATE_TASK', raw: '{"title": ' },
            { id: 'call_e', name: 'TASKS_CREATE_TASK', args: { priority: 'high' } },
          ],
        ],
        { preset: SessionPreset.DIRECT_TOOLS },
      );
      expect(await run()).toBe('done');
      expect(wires[api].toolNames(model.requests[0]!)).toContain('TASKS_CREATE_TASK');
      expect((tools as unknown[]).length).toBe(wires[api].toolNames(model.requests[0]!).length);
      const results = resultsOf(api, model, 1);
      expect(Object.keys(results)).toEqual(['call_a', 'call_b', 'call_c', 'call_d', 'call_e']);
      expect(JSON.parse(results.call_a!)).toEqual({ id: 'task_1', title: 'A' });
      expect(results.call_b).toMatch(/^Error \(TOOL_EXECUTION_FAILED\): .*calendar work is unreachable/);
      expect(results.call_c).toMatch(/^Error \(TOOL_NOT_FOUND\): .*GITHUB_DELETE_REPO/);
      // the model is told its JSON was broken (cut off here), and shown the start of what it sent
      expect(results.call_d).toMatch(
        /^Error \(TOOL_ARGUMENTS_INVALID\): The arguments of TASKS_CREATE_TASK are not valid JSON \(.*JSON.*\): "\{\\"title\\": "\. Send them as one JSON object/,
      );
      expect(results.call_e).toMatch(/^Error \(TOOL_ARGUMENTS_INVALID\): .*title/);
      expect(calls.map((call) => [call.slug, call.context.callId])).toEqual([
        ['TASKS_CREATE_TASK', 'call_a'],
        ['TASKS_SYNC_CALENDAR', 'call_b'],
      ]);
    });

    it('arguments an OpenAI-compatible server sends as a JSON value, not text: an object runs, any other is a result the model reads', async () => {
      // llama.cpp's llama-server sent them so by default; the SDK hands them over untouched
      const { model, run, calls, session } = await setUp(
        api,
        [
          () => [
            { id: 'call_object', name: 'TASKS_CREATE_TASK', unencoded: { title: 'A' } },
            { id: 'call_number', name: 'TASKS_CREATE_TASK', unencoded: 5 },
            { id: 'call_null', name: 'TASKS_LIST_TASKS', unencoded: null },
          ],
        ],
        { preset: SessionPreset.DIRECT_TOOLS },
      );
      expect(await run()).toBe('done');
      const results = resultsOf(api, model, 1);
      expect(Object.keys(results)).toEqual(['call_object', 'call_number', 'call_null']);
      expect(JSON.parse(results.call_object!)).toEqual({ id: 'task_1', title: 'A' });
      expect(results.call_number).toMatch(/^Error \(TOOL_ARGUMENTS_INVALID\): .*TASKS_CREATE_TASK/);
      expect(JSON.parse(results.call_null!)).toHaveProperty('tasks');
      expect(calls.map((call) => [call.slug, call.input, call.context.callId]).sort()).toEqual([
        ['TASKS_CREATE_TASK', { title: 'A' }, 'call_object'],
        ['TASKS_LIST_TASKS', {}, 'call_null'],
      ]);
      const logged = (await session.logs()).items.map((entry) => [entry.callId, entry.errorCode ?? null]);
      expect(logged).toEqual(
        expect.arrayContaining([
          ['call_object', null],
          ['call_number', 'TOOL_ARGUMENTS_INVALID'],
          ['call_null', null],
        ]),
      );
    });

    it.each(modes)(
      'call ids the log cannot keep as they are (%s): every call runs and is answered under its own id',
      async (mode) => {
        // the ids are the model API's (an OpenAI-compatible server may send anything)
        const ids = ['c'.repeat(300), 'call\u0000x', 'call_\ud800', 'call_ok'];
        const { model, run, calls, session } = await setUp(
          api,
          [() => ids.map((id, index) => ({ id, name: 'TASKS_CREATE_TASK', args: { title: `t${index}` } }))],
          { mode, preset: SessionPreset.DIRECT_TOOLS },
        );
        expect(await run()).toBe('done');
        const results = wires[api].results(model.requests[1]!);
        expect(results.map((result) => result.id)).toEqual(ids);
        expect(results.map((result) => JSON.parse(result.text).title)).toEqual(['t0', 't1', 't2', 't3']);
        expect(calls.map((call) => call.context.callId).sort()).toEqual(
          ['c'.repeat(256), 'call\ufffdx', 'call_\ufffd', 'call_ok'].sort(),
        );
        const logged = (await session.logs()).items.map((entry) => entry.callId);
        expect(logged.sort()).toEqual(['c'.repeat(256), 'call\ufffdx', 'call_\ufffd', 'call_ok'].sort());
      },
    );

    it.each(modes)(
      'tool modifiers (%s): the calls run with the beforeExecute and afterExecute of session.tools(modifiers)',
      async (mode) => {
        const { model, run, calls, tools } = await setUp(
          api,
          [() => [{ id: 'call_a', name: 'TASKS_CREATE_TASK', args: { priority: 'high' } }]],
          {
            mode,
            preset: SessionPreset.DIRECT_TOOLS,
            modifiers: {
              // the application knows the title: the model is not asked for it
              modifySchema: ({ slug, schema }) => {
                if (slug !== 'TASKS_CREATE_TASK') return schema;
                const { title: _title, ...properties } = schema.properties as Record<string, unknown>;
                return { ...schema, properties, required: [] };
              },
              beforeExecute: ({ slug, args }) =>
                slug === 'TASKS_CREATE_TASK' ? { ...args, title: 'From the app' } : args,
              afterExecute: ({ slug, result }) =>
                slug === 'TASKS_CREATE_TASK' && result.successful
                  ? { ...result, data: { created: true } }
                  : result,
            },
          },
        );
        const create = (tools as Array<Record<string, any>>).find(
          (tool) => (tool.function?.name ?? tool.name) === 'TASKS_CREATE_TASK',
        )!;
        expect(Object.keys((create.function ?? create).parameters.properties)).not.toContain('title');
        expect(await run()).toBe('done');
        expect(calls).toEqual([
          expect.objectContaining({
            slug: 'TASKS_CREATE_TASK',
            input: { title: 'From the app', priority: 'high' },
          }),
        ]);
        expect(JSON.parse(resultsOf(api, model, 1).call_a!)).toEqual({ created: true });
      },
    );

    it.each([false, true])(
      'beforeExecute gets the same arguments whether the model is strict (%s): no null for a field it left out',
      async (strict) => {
        const seen: unknown[] = [];
        // a strict model sends null for the optional fields it has no value for; another leaves them out
        const args = strict ? { title: 'Buy milk', priority: null, labels: null } : { title: 'Buy milk' };
        const { model, run, calls, tools } = await setUp(
          api,
          [() => [{ id: 'call_a', name: 'TASKS_CREATE_TASK', args }]],
          {
            strict,
            preset: SessionPreset.DIRECT_TOOLS,
            modifiers: {
              // "high unless the model said otherwise"
              beforeExecute: ({ args }) => {
                seen.push(args);
                return { priority: 'high', ...args };
              },
            },
          },
        );
        const create = (tools as Array<Record<string, any>>).find(
          (tool) => (tool.function?.name ?? tool.name) === 'TASKS_CREATE_TASK',
        )!;
        expect((create.function ?? create).strict).toBe(strict);
        expect(await run()).toBe('done');
        expect(seen).toEqual([{ title: 'Buy milk' }]);
        expect(calls).toEqual([
          expect.objectContaining({
            slug: 'TASKS_CREATE_TASK',
            input: { title: 'Buy milk', priority: 'high' },
          }),
        ]);
        expect(JSON.parse(resultsOf(api, model, 1).call_a!)).toMatchObject({ title: 'Buy milk' });
      },
    );

    it.each(modes)(
      'beforeExecute gets no strict-mode null in a multi-execute entry of a tool the model never saw listed (%s), with its toolkit',
      async (mode) => {
        const seen: unknown[] = [];
        // no search first: the model names the tool from an earlier turn, with a strict model's nulls
        // (before, in remote mode, the hook got them and the call ran with priority null, toolkit '')
        const { model, run, calls } = await setUp(
          api,
          [
            () => [
              {
                id: 'call_multi',
                name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
                args: {
                  tools: [
                    {
                      tool_slug: 'TASKS_CREATE_TASK',
                      arguments: { title: 'Buy milk', priority: null, labels: null },
                    },
                  ],
                },
              },
            ],
          ],
          {
            mode,
            strict: true,
            modifiers: {
              beforeExecute: ({ slug, toolkit, args }) => {
                seen.push({ slug, toolkit, args });
                return { priority: 'high', ...args };
              },
            },
          },
        );
        expect(await run()).toBe('done');
        expect(seen).toEqual([{ slug: 'TASKS_CREATE_TASK', toolkit: 'tasks', args: { title: 'Buy milk' } }]);
        expect(calls).toEqual([
          expect.objectContaining({
            slug: 'TASKS_CREATE_TASK',
            input: { title: 'Buy milk', priority: 'high' },
          }),
        ]);
        expect(JSON.parse(resultsOf(api, model, 1).call_multi!)).toMatchObject({ successful_count: 1 });
      },
    );

    it.each(modes)(
      'afterExecute alone gets the toolkit of a multi-execute entry of a tool the model never saw listed (%s)',
      async (mode) => {
        const seen: unknown[] = [];
        const { run } = await setUp(
          api,
          [
            () => [
              {
                id: 'call_multi',
                name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
                args: { tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Buy milk' } }] },
              },
            ],
          ],
          {
            mode,
            modifiers: {
              afterExecute: ({ slug, toolkit, result }) => {
                seen.push({ slug, toolkit });
                return result;
              },
            },
          },
        );
        expect(await run()).toBe('done');
        // before, in remote mode, the toolkit '' (an embedded session reads it from its catalog)
        expect(seen).toEqual([{ slug: 'TASKS_CREATE_TASK', toolkit: 'tasks' }]);
      },
    );

    it('passes the abort signal: an aborted call is a TOOL_ABORTED result, logged with its call id', async () => {
      const { model, run, calls, session } = await setUp(
        api,
        [
          () => [
            { id: 'call_wait', name: 'TASKS_WAIT_FOR_APPROVAL', args: { taskId: 't1' } },
            { id: 'call_list', name: 'TASKS_LIST_TASKS', args: {} },
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
      const results = resultsOf(api, model, 1);
      expect(results.call_wait).toMatch(/^Error \(TOOL_ABORTED\)/);
      expect(JSON.parse(results.call_list!)).toEqual({ tasks: [] });
      const logged = (await session.logs()).items.map((entry) => [
        entry.toolSlug,
        entry.callId,
        entry.errorCode,
      ]);
      expect(logged).toEqual(
        expect.arrayContaining([
          ['TASKS_WAIT_FOR_APPROVAL', 'call_wait', 'TOOL_ABORTED'],
          ['TASKS_LIST_TASKS', 'call_list', null],
        ]),
      );
    });
  },
);

/**
 * A DIRECT_TOOLS session of `toolkit` on `provider`, run through `api`'s loop with the real client
 * against a scripted model that makes `calls` once, then answers "done"; closed after the test.
 */
async function runScripted(
  api: OpenAIApi,
  provider: OpenAIProvider<OpenAIApi>,
  toolkit: Toolkit,
  calls: ScriptedCall[],
): Promise<{ model: ScriptedModelServer }> {
  const mux = new ToolMux({ provider, toolkits: [toolkit], store: ':memory:', logger: silent });
  const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
  const tools = await session.tools();
  const model = await startScriptedModelServer([
    (request) => openaiReply(request, calls),
    (request) => openaiReply(request, []),
  ]);
  cleanups.push(
    () => mux.close(),
    () => model.close(),
  );
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${model.url}/v1`, maxRetries: 0 });
  expect(await wires[api].loop(client, session, tools)).toBe('done');
  return { model };
}

describe.each(['chat', 'responses'] as const)('strict mode, %s API', (api) => {
  it('sends strict schemas where possible, falls back alone with a warning, and strips strict nulls', async () => {
    const { toolkit, cases, received } = hardSchemaToolkit();
    const warnings: string[] = [];
    const provider = new OpenAIProvider({
      api,
      strict: true,
      logger: { warn: (message) => warnings.push(message) },
    });
    const { model } = await runScripted(
      api,
      provider,
      toolkit,
      cases.map((entry, index) => ({
        id: `call_${index}`,
        name: entry.slug,
        args: hardSchemaCall(entry, entry.strict).args,
      })),
    );

    const sent = model.requests[0]!.body.tools as Array<Record<string, any>>;
    for (const entry of cases) {
      const tool = sent.find((candidate) => (candidate.function?.name ?? candidate.name) === entry.slug)!;
      const definition = api === 'chat' ? tool.function : tool;
      expect(definition.strict, entry.slug).toBe(entry.strict);
      if (entry.strict) expect(definition.parameters.additionalProperties).toBe(false);
      if (entry.shownProperties)
        expect(Object.keys(definition.parameters.properties), entry.slug).toEqual(entry.shownProperties);
      expect(received.get(entry.slug)).toEqual([hardSchemaCall(entry, entry.strict).received]);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^toolmux: 2 tool\(s\) cannot use OpenAI strict mode/);
  });

  it('a tool whose required names a key its properties do not list (nested too) falls back to non-strict alone, with a warning, and its calls run', async () => {
    const received: unknown[] = [];
    const find = (slug: string, inputSchema: Record<string, unknown>) =>
      defineTool({
        slug,
        description: 'Find records',
        inputSchema,
        execute: async (input) => {
          received.push(input);
          return { found: 1 };
        },
      });
    const toolkit = defineToolkit({
      slug: 'acme',
      name: 'Acme',
      description: 'Acme records',
      tools: [
        find('ACME_FIND', {
          type: 'object',
          properties: { query: { type: 'string' } },
          required: ['query', 'limit'],
        }),
        find('ACME_FIND_NESTED', {
          type: 'object',
          properties: {
            page: { type: 'object', properties: { size: { type: 'integer' } }, required: ['cursor'] },
          },
          required: ['page'],
        }),
        find('ACME_FIND_PLAIN', {
          type: 'object',
          properties: { query: { type: 'string' } },
          required: ['query'],
        }),
      ],
    });
    const warnings: string[] = [];
    const provider = new OpenAIProvider({
      api,
      strict: true,
      logger: { warn: (message) => warnings.push(message) },
    });
    const { model } = await runScripted(api, provider, toolkit, [
      { id: 'call_a', name: 'ACME_FIND', args: { query: 'x', limit: 5 } },
      { id: 'call_b', name: 'ACME_FIND_NESTED', args: { page: { cursor: 'c' } } },
    ]);
    const sent = model.requests[0]!.body.tools as Array<Record<string, any>>;
    const definition = (slug: string) => {
      const tool = sent.find((candidate) => (candidate.function?.name ?? candidate.name) === slug)!;
      return api === 'chat' ? tool.function : tool;
    };
    expect(definition('ACME_FIND').strict).toBe(false);
    expect(definition('ACME_FIND').parameters.additionalProperties).not.toBe(false);
    expect(definition('ACME_FIND_NESTED').strict).toBe(false);
    expect(definition('ACME_FIND_PLAIN').strict).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/2 tool\(s\) cannot use OpenAI strict mode/);
    expect(warnings[0]).toMatch(/ACME_FIND.*"limit"/s);
    expect(warnings[0]).toMatch(/\$\.page: requires "cursor"/);
    expect(received).toEqual(expect.arrayContaining([{ query: 'x', limit: 5 }, { page: { cursor: 'c' } }]));
  });

  it('without strict, every tool says strict: false and keeps its schema as shaped', async () => {
    const { toolkit } = hardSchemaToolkit();
    const mux = new ToolMux({
      provider: new OpenAIProvider({ api }),
      toolkits: [toolkit],
      store: ':memory:',
      logger: silent,
    });
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const tools = (await session.tools()) as OpenAITools<typeof api>;
    const { cases } = hardSchemaToolkit();
    for (const tool of tools as Array<Record<string, any>>) {
      const definition = api === 'chat' ? tool.function : tool;
      expect(definition.strict).toBe(false);
      expect(definition.parameters.additionalProperties).not.toBe(false);
      const shown = cases.find((entry) => entry.slug === definition.name)?.shownProperties;
      if (shown) expect(Object.keys(definition.parameters.properties), definition.name).toEqual(shown);
    }
  });
});

describe.each(['chat', 'responses'] as const)('patterns with lookaround, %s API', (api) => {
  it.each([false, true])(
    'are left out of the schemas sent (OpenAI refuses the request: "regex lookaround is not supported"), described, and still checked (strict: %s)',
    async (strict) => {
      const received: unknown[] = [];
      const toolkit = defineToolkit({
        slug: 'accounts',
        description: 'User accounts',
        tools: [
          defineTool({
            slug: 'ACCOUNTS_SET_PASSWORD',
            description: 'Set a user password.',
            inputSchema: {
              type: 'object',
              properties: {
                user: { type: 'string', pattern: '^[a-z]+$' },
                password: {
                  type: 'string',
                  description: 'The new password',
                  pattern: '^(?=.*[A-Z])(?=.*\\d).{8,}$',
                },
                hosts: { type: 'array', items: { type: 'string', pattern: '^(?!localhost$).+$' } },
              },
              required: ['user', 'password'],
            },
            execute: async (input) => {
              received.push(input);
              return { ok: true };
            },
          }),
        ],
      });
      const { model } = await runScripted(
        api,
        new OpenAIProvider({ api, strict, logger: { warn() {} } }),
        toolkit,
        [
          { id: 'call_ok', name: 'ACCOUNTS_SET_PASSWORD', args: { user: 'ann', password: 'Secret123' } },
          { id: 'call_weak', name: 'ACCOUNTS_SET_PASSWORD', args: { user: 'bob', password: 'weak' } },
        ],
      );
      const sent = model.requests[0]!.body.tools as Array<Record<string, any>>;
      const parameters = (api === 'chat' ? sent[0]!.function : sent[0]!).parameters;
      const patterns = [...JSON.stringify(parameters).matchAll(/"pattern":("(?:[^"\\]|\\.)*")/g)].map(
        (match) => JSON.parse(match[1]!),
      );
      expect(patterns).toEqual(['^[a-z]+$']);
      expect(parameters.properties.user.pattern).toBe('^[a-z]+$');
      expect(parameters.properties.password.description).toBe(
        'The new password Must match the regular expression ^(?=.*[A-Z])(?=.*\\d).{8,}$.',
      );
      expect(received).toEqual([{ user: 'ann', password: 'Secret123' }]);
      expect(resultsOf(api, model, 1).call_weak).toMatch(/^Error \(TOOL_ARGUMENTS_INVALID\): .*password/);
    },
  );
});

describe.each(['chat', 'responses'] as const)('arrays without items, %s API', (api) => {
  it.each([false, true])(
    'get items: {} (OpenAI refuses "array schema missing items" for the whole request), and their values reach the tool (strict: %s)',
    async (strict) => {
      const received: unknown[] = [];
      const toolkit = defineToolkit({
        slug: 'bag',
        description: 'A bag of values',
        tools: [
          defineTool({
            slug: 'BAG_PUT',
            description: 'Put values in the bag.',
            inputSchema: {
              type: 'object',
              properties: {
                values: { type: 'array', description: 'Anything' },
                either: { type: ['string', 'array'] },
                nested: { type: 'object', properties: { rows: { type: 'array', items: { type: 'array' } } } },
              },
              required: ['values'],
            },
            execute: async (input) => {
              received.push(input);
              return { ok: true };
            },
          }),
        ],
      });
      const warnings: string[] = [];
      const args = { values: [1, 'two', { three: 3 }], either: ['a'], nested: { rows: [[1, 2], ['x']] } };
      const { model } = await runScripted(
        api,
        new OpenAIProvider({ api, strict, logger: { warn: (message) => warnings.push(message) } }),
        toolkit,
        [{ id: 'call_put', name: 'BAG_PUT', args }],
      );
      const sent = model.requests[0]!.body.tools as Array<Record<string, any>>;
      const definition = api === 'chat' ? sent[0]!.function : sent[0]!;
      // the arrays cannot be strict (no item schema): the tool falls back, with its reason
      expect(definition.strict).toBe(false);
      if (strict)
        expect(warnings.join('\n')).toContain('BAG_PUT: $.values: is an array without an item schema');
      expect(definition.parameters.properties).toEqual({
        values: { type: 'array', description: 'Anything', items: {} },
        either: { type: ['string', 'array'], items: {} },
        nested: {
          type: 'object',
          properties: { rows: { type: 'array', items: { type: 'array', items: {} } } },
        },
      });
      expect(received).toEqual([args]);
    },
  );
});

describe('Chat Completions tool calls from OpenAI-compatible servers', () => {
  it('runs a tool call without type (some servers leave it out) as the function call it is', async () => {
    const { session, tools, calls } = await samples.session(new OpenAIProvider(), {
      preset: SessionPreset.DIRECT_TOOLS,
      toolkits: ['tasks'],
    });
    const model = await startScriptedModelServer([
      (request) => {
        const reply = openaiReply(request, [
          { id: 'call_a', name: 'TASKS_CREATE_TASK', args: { title: 'Buy milk' } },
        ]) as { choices: Array<{ message: { tool_calls: Array<Record<string, unknown>> } }> };
        for (const call of reply.choices[0]!.message.tool_calls) delete call.type;
        return reply;
      },
      (request) => openaiReply(request, []),
    ]);
    cleanups.push(() => model.close());
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${model.url}/v1`, maxRetries: 0 });
    expect(await wires.chat.loop(client, session, tools)).toBe('done');
    expect(calls).toEqual([
      expect.objectContaining({ slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk' } }),
    ]);
    expect(JSON.parse(resultsOf('chat', model, 1).call_a!)).toMatchObject({ title: 'Buy milk' });
  });
});

describe.each(['chat', 'responses'] as const)('property keys, %s API', (api) => {
  // the client is often pointed at an OpenAI-compatible endpoint of another vendor's model (OpenRouter,
  // Gemini's OpenAI compatibility): one key Anthropic or Gemini refuses fails every request there
  const sentSchema = (request: ScriptedRequest) => {
    const sent = (request.body.tools as Array<Record<string, any>>).map((tool) =>
      api === 'chat' ? tool.function : tool,
    );
    return sent.find((tool) => tool.name === 'TASKS_FILTER')!.parameters as Record<string, any>;
  };

  /**
   * A DIRECT_TOOLS session of `provider` with the awkward-keys tool, and the real client on a model
   * that calls it once with the keys as it was shown them, then says "done".
   */
  async function filterSetUp(provider: OpenAIProvider<typeof api>) {
    const received: unknown[] = [];
    const { session, tools } = await samples.session(provider, {
      preset: SessionPreset.DIRECT_TOOLS,
      customTools: [awkwardKeysTool(received)],
    });
    const model = await startScriptedModelServer([
      (request) =>
        openaiReply(request, [
          {
            id: 'call_filter',
            name: 'TASKS_FILTER',
            args: argumentsAsShown(sentSchema(request), AWKWARD_KEY_ARGUMENTS),
          },
        ]),
      (request) => openaiReply(request, []),
    ]);
    cleanups.push(() => model.close());
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${model.url}/v1`, maxRetries: 0 });
    return { session, tools, model, client, received };
  }

  /** {@link filterSetUp}, run through the agent loop of the API. */
  async function filterRun(options: { strict?: boolean; propertyKeys?: 'portable' | 'unchanged' }) {
    const run = await filterSetUp(new OpenAIProvider({ api, ...options, logger: silent }));
    expect(await wires[api].loop(run.client, run.session, run.tools)).toBe('done');
    return { ...run, schema: sentSchema(run.model.requests[0]!) };
  }

  it.each([false, true])(
    'strict: %s — keys a major model API refuses are sent renamed, and a call with those keys runs the tool with its own',
    async (strict) => {
      const { session, model, received, schema } = await filterRun({ strict });
      // what the Messages API and Gemini take: before, `filter[id]` went out as it is
      expect(portableKeyViolations(schema)).toEqual([]);
      expect(Object.keys(schema.properties)).toHaveLength(5);
      expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
      expect(resultsOf(api, model, 1)).toEqual({ call_filter: '{"ok":true}' });
      const [entry] = (await session.logs()).items;
      expect(entry).toMatchObject({ toolSlug: 'TASKS_FILTER', status: 'success', callId: 'call_filter' });
    },
  );

  it("propertyKeys: 'unchanged' sends the keys as the tool has them, and the calls run with them", async () => {
    const { received, schema } = await filterRun({ propertyKeys: 'unchanged' });
    expect(Object.keys(schema.properties)).toEqual(Object.keys(AWKWARD_KEY_ARGUMENTS));
    expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
  });

  it('handleToolCalls called by a loop of its own (no session specs) reads the keys back by the tools it handed out', async () => {
    const provider = new OpenAIProvider({ api });
    const { session, tools, client, received } = await filterSetUp(provider);
    const response =
      api === 'chat'
        ? await client.chat.completions.create({
            model: 'gpt-test',
            messages: [{ role: 'user', content: 'Filter my tasks' }],
            tools: tools as OpenAI.ChatCompletionTool[],
          })
        : await client.responses.create({
            model: 'gpt-test',
            input: 'Filter my tasks',
            tools: tools as OpenAI.Responses.Tool[],
          });
    const outputs = await provider.handleToolCalls(
      response as OpenAIResponse<typeof api>,
      (slug, args, options) => session.execute(slug, args, options),
    );
    expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
    const texts = (outputs as Array<{ content?: unknown; output?: unknown }>).map(
      (output) => output.content ?? output.output,
    );
    expect(texts).toEqual(['{"ok":true}']);
  });
});

describe('OpenAIProvider options', () => {
  it('refuses a propertyKeys value it does not know, naming the ones it takes', () => {
    expect(() => new OpenAIProvider({ propertyKeys: 'keep' as never })).toThrow(
      /propertyKeys must be .*'portable'.*'unchanged'/,
    );
  });
});

describe('session.handleToolCalls() types', () => {
  it('follow the API the provider was made for', async () => {
    const mux = new ToolMux({
      provider: new OpenAIProvider({ api: 'responses' }),
      toolkits: [],
      store: ':memory:',
      logger: silent,
    });
    const session = await mux.create('user_1');
    const response = { id: 'resp_1', output: [] } as unknown as OpenAIResponse<'responses'>;
    expect(await session.handleToolCalls(response)).toEqual([]);
  });
});
