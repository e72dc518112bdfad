import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { convertToOpenAITool } from '@langchain/core/utils/function_calling';
import { FakeStreamingChatModel } from '@langchain/core/utils/testing';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import {
  type ExecutionLog,
  MetaToolSlug,
  type Provider,
  SessionPreset,
  strictSchemaOf,
  type Tool,
  type Toolkit,
  ToolMux,
  type ToolResult,
  type ToolSpec,
} from '@toolmux/core';
import {
  AWKWARD_KEY_ARGUMENTS,
  argumentsAsShown,
  awkwardKeysTool,
  portableKeyViolations,
  stockLookupTool,
  untilTestTimeout,
} from '@toolmux/core/test';
import { sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { createAgent } from 'langchain';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { LangChainProvider, type LangChainToolMetadata } from './index.js';

const open: ToolMux<Provider<unknown>>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((mux) => mux.close()));
});

/**
 * The agent loops run twice: on an embedded ToolMux, and on a remote-mode ToolMux talking to a live
 * toolmux server (in this process, so the sample toolkits' `calls` still show what the handlers got).
 */
type Mode = (typeof TOOLMUX_MODES)[number];
const modes: Mode[] = [...TOOLMUX_MODES];

/** The sample toolkits, embedded or served by a test server (reset for each remote ToolMux). */
const samples = sampleModes({}, { beforeAll, afterEach, afterAll });

async function setUp(
  mode: Mode,
  options: {
    preset?: SessionPreset;
    strict?: boolean;
    preload?: string[];
    toolkits?: string[];
    customTools?: Tool[];
  } = {},
) {
  const warnings: string[] = [];
  const provider = new LangChainProvider({
    strict: options.strict,
    logger: { warn: (message) => warnings.push(message) },
  });
  const { mux, ...sample } = samples.muxOf(mode, provider);
  expect(mux.mode).toBe(mode);
  const customTools = options.customTools ?? [];
  const session = await mux.create('user_1', {
    toolkits: options.toolkits ?? ['tasks', 'notes'],
    sessionPreset: options.preset ?? SessionPreset.META_TOOLS,
    preload: { tools: options.preload ?? [] },
    ...(customTools.length > 0 ? { experimental: { customTools } } : {}),
  });
  return { ...sample, mux, session, warnings, tools: await session.tools() };
}

/** The tool specs core hands a provider, captured as they are. */
class SpecCapture implements Provider<ToolSpec[]> {
  readonly name = 'capture';
  wrapTools(tools: readonly ToolSpec[]): ToolSpec[] {
    return [...tools];
  }
}

async function specsOf(preset: SessionPreset, toolkits: Toolkit[]): Promise<Map<string, ToolSpec>> {
  const mux = new ToolMux({ provider: new SpecCapture(), toolkits, store: ':memory:' });
  open.push(mux);
  const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'], sessionPreset: preset });
  return new Map((await session.tools()).map((spec) => [spec.slug, spec]));
}

function callTools(...calls: Array<{ name: string; args: Record<string, unknown>; id: string }>): AIMessage {
  return new AIMessage({
    content: '',
    tool_calls: calls.map((call) => ({ ...call, type: 'tool_call' as const })),
  });
}

function toolMessage(messages: readonly BaseMessage[], callId: string): ToolMessage {
  const found = messages.find(
    (message) => ToolMessage.isInstance(message) && message.tool_call_id === callId,
  );
  if (!found) throw new Error(`no ToolMessage for ${callId}`);
  return found as ToolMessage;
}

type Logged = { logs(): Promise<{ items: ExecutionLog[] }> };

async function findLog(session: Logged, callId: string): Promise<ExecutionLog | undefined> {
  return (await session.logs()).items.find((log) => log.callId === callId);
}

async function logFor(session: Logged, callId: string): Promise<ExecutionLog> {
  const entry = await findLog(session, callId);
  if (!entry) throw new Error(`no log entry for ${callId}`);
  return entry;
}

const titleIsNumber = 'title: is a number: send a string';
const priorityIsUnknown = 'priority: unknown value "urgent"; use one of low, normal, high';

describe.each(modes)('createAgent (langchain) with the META_TOOLS preset (%s)', (mode) => {
  test('the model searches, then runs a tool it found through TOOLMUX_MULTI_EXECUTE_TOOL', async () => {
    const { session, tools, calls } = await setUp(mode);
    expect(tools.map((each) => each.name)).toEqual([
      MetaToolSlug.SEARCH_TOOLS,
      MetaToolSlug.GET_TOOL_SCHEMAS,
      MetaToolSlug.MANAGE_CONNECTIONS,
      MetaToolSlug.MULTI_EXECUTE_TOOL,
      MetaToolSlug.WORKBENCH,
    ]);
    let found: string[] = [];
    const model = fakeModel()
      .respond(
        callTools({
          name: MetaToolSlug.SEARCH_TOOLS,
          args: { queries: [{ use_case: 'create a new task' }] },
          id: 'call_search',
        }),
      )
      .respond((messages) => {
        // the slug comes from what the search returned to the model
        const search = JSON.parse(toolMessage(messages, 'call_search').text);
        found = search.results[0].tools.map((each: { tool_slug: string }) => each.tool_slug);
        const args = { tool_slug: found[0], arguments: { title: 'Write the report', priority: 'high' } };
        return callTools({ name: MetaToolSlug.MULTI_EXECUTE_TOOL, args: { tools: [args] }, id: 'call_run' });
      })
      .respond(new AIMessage('Created the task.'));
    const agent = createAgent({ model, tools });

    const result = await agent.invoke({
      messages: [new HumanMessage('Add a task: write the report, high priority')],
    });

    expect(found[0]).toBe('TASKS_CREATE_TASK');
    expect(calls).toEqual([
      {
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Write the report', priority: 'high' },
        context: expect.objectContaining({
          userId: 'user_1',
          sessionId: session.sessionId,
          callId: 'call_run#0',
        }),
      },
    ]);
    // the tool's result is in what the model got next
    expect(model.callCount).toBe(3);
    const seen = toolMessage(model.calls[2]!.messages, 'call_run');
    expect(seen.status).toBe('success');
    expect(JSON.parse(seen.text)).toMatchObject({
      results: [
        {
          tool_slug: 'TASKS_CREATE_TASK',
          successful: true,
          data: { id: 'task_1', title: 'Write the report' },
        },
      ],
      successful_count: 1,
    });
    expect(result.messages.at(-1)?.text).toBe('Created the task.');
    // every call is in the session's log, under the framework's tool call ids
    const run = await logFor(session, 'call_run#0');
    expect(run).toMatchObject({ toolSlug: 'TASKS_CREATE_TASK', status: 'success' });
    expect((await logFor(session, 'call_run')).toolSlug).toBe(MetaToolSlug.MULTI_EXECUTE_TOOL);
    expect((await logFor(session, 'call_search')).toolSlug).toBe(MetaToolSlug.SEARCH_TOOLS);
    // the ToolResult rides along as the artifact, never sent to the model
    expect((seen.artifact as ToolResult).logId).toBe((await logFor(session, 'call_run')).id);
  });

  test('a preloaded tool is exposed beside the meta-tools and called directly', async () => {
    const { session, tools, calls, tasks } = await setUp(mode, { preload: ['TASKS_LIST_TASKS'] });
    tasks.set('task_9', { id: 'task_9', title: 'Pay rent', done: false });
    expect(tools.map((each) => each.name)).toContain('TASKS_LIST_TASKS');
    const model = fakeModel()
      .respond(callTools({ name: 'TASKS_LIST_TASKS', args: { openOnly: true }, id: 'call_list' }))
      .respond(new AIMessage('You have one open task.'));

    await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('What is open?')] });

    expect(calls).toEqual([
      { slug: 'TASKS_LIST_TASKS', input: { openOnly: true }, context: expect.anything() },
    ]);
    expect(toolMessage(model.calls[1]!.messages, 'call_list').text).toBe(
      '{"tasks":[{"id":"task_9","title":"Pay rent","done":false}]}',
    );
    expect(await logFor(session, 'call_list')).toMatchObject({
      toolSlug: 'TASKS_LIST_TASKS',
      status: 'success',
    });
  });

  test('invalid arguments and a throwing tool reach the model as readable errors, and the loop goes on', async () => {
    const { session, tools, calls } = await setUp(mode);
    const model = fakeModel()
      .respond(
        callTools({ name: MetaToolSlug.SEARCH_TOOLS, args: { queries: 'tasks' }, id: 'call_bad_search' }),
      )
      .respond(
        callTools({
          name: MetaToolSlug.MULTI_EXECUTE_TOOL,
          args: {
            tools: [
              { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 5, priority: 'urgent' } },
              { tool_slug: 'TASKS_SYNC_CALENDAR', arguments: { calendarId: 'work' } },
            ],
          },
          id: 'call_run',
        }),
      )
      .respond(new AIMessage('Sorry, that did not work.'));

    const result = await createAgent({ model, tools }).invoke({
      messages: [new HumanMessage('Sync my tasks')],
    });

    const badSearch = toolMessage(model.calls[1]!.messages, 'call_bad_search');
    expect(badSearch.text).toBe(
      'Error (TOOL_ARGUMENTS_INVALID): Invalid arguments for TOOLMUX_SEARCH_TOOLS: queries: is a string: send an array',
    );
    expect(badSearch.status).toBe('error');
    const run = JSON.parse(toolMessage(model.calls[2]!.messages, 'call_run').text);
    expect(run.results).toEqual([
      expect.objectContaining({
        tool_slug: 'TASKS_CREATE_TASK',
        successful: false,
        error: `Invalid arguments for TASKS_CREATE_TASK: ${titleIsNumber}; ${priorityIsUnknown}`,
      }),
      expect.objectContaining({
        tool_slug: 'TASKS_SYNC_CALENDAR',
        successful: false,
        error: 'TASKS_SYNC_CALENDAR failed: calendar work is unreachable',
      }),
    ]);
    expect(calls.map((call) => call.slug)).toEqual(['TASKS_SYNC_CALENDAR']);
    expect(result.messages.at(-1)?.text).toBe('Sorry, that did not work.');
    expect(await logFor(session, 'call_bad_search')).toMatchObject({
      status: 'error',
      errorCode: 'TOOL_ARGUMENTS_INVALID',
    });
    expect(await logFor(session, 'call_run#1')).toMatchObject({
      status: 'error',
      errorCode: 'TOOL_EXECUTION_FAILED',
    });
  });

  test('with strict: true, arguments sent as strict mode shapes them still run (JSON-string arguments)', async () => {
    const { tools, calls, warnings } = await setUp(mode, { strict: true });
    expect(warnings).toEqual([]);
    const model = fakeModel()
      .respond(
        callTools({
          name: MetaToolSlug.MULTI_EXECUTE_TOOL,
          args: { tools: [{ tool_slug: 'NOTES_SEARCH_NOTES', arguments: '{"query":"rent","filter":null}' }] },
          id: 'call_run',
        }),
      )
      .respond(new AIMessage('Found it.'));

    await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Find my rent note')] });

    expect(calls).toEqual([
      { slug: 'NOTES_SEARCH_NOTES', input: { query: 'rent', limit: 10 }, context: expect.anything() },
    ]);
    expect(JSON.parse(toolMessage(model.calls[1]!.messages, 'call_run').text).successful_count).toBe(1);
  });
});

describe.each(modes)('createAgent (langchain) with the DIRECT_TOOLS preset (%s)', (mode) => {
  test('every enabled tool is exposed, no meta-tool, and the model calls one directly', async () => {
    const { session, tools, calls, toolkits } = await setUp(mode, { preset: SessionPreset.DIRECT_TOOLS });
    const enabled = toolkits
      .filter((toolkit) => toolkit.slug !== 'mail')
      .flatMap((toolkit) => toolkit.tools.map((each) => each.slug));
    expect(tools.map((each) => each.name).sort()).toEqual([...enabled].sort());
    expect(tools.some((each) => each.name.startsWith('TOOLMUX_'))).toBe(false);
    const model = fakeModel()
      .respond(callTools({ name: 'TASKS_CREATE_TASK', args: { title: 'Call the bank' }, id: 'call_create' }))
      .respond(new AIMessage('Done.'));

    await createAgent({ model, tools }).invoke({
      messages: [new HumanMessage('Remind me to call the bank')],
    });

    expect(calls).toEqual([
      {
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Call the bank' },
        context: expect.objectContaining({ callId: 'call_create' }),
      },
    ]);
    expect(toolMessage(model.calls[1]!.messages, 'call_create').text).toBe(
      '{"id":"task_1","title":"Call the bank"}',
    );
    expect(await logFor(session, 'call_create')).toMatchObject({
      toolSlug: 'TASKS_CREATE_TASK',
      status: 'success',
    });
  });

  test('a `__proto__` key in the arguments is not read as fields of its own, as with every other provider', async () => {
    const { tools, calls } = await setUp(mode, { preset: SessionPreset.DIRECT_TOOLS });
    // the model's JSON, parsed: `__proto__` is an own key here; createAgent's copy of the call for
    // its tool node makes it the arguments' prototype
    const args = JSON.parse('{"title": "Pay rent", "__proto__": {"priority": "high", "labels": ["x"]}}');
    const model = fakeModel()
      .respond(callTools({ name: 'TASKS_CREATE_TASK', args, id: 'call_proto' }))
      .respond(new AIMessage('Done.'));

    await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Remind me to pay rent')] });

    expect(calls.map((call) => call.input)).toEqual([{ title: 'Pay rent' }]);
    expect(toolMessage(model.calls[1]!.messages, 'call_proto').text).toBe(
      '{"id":"task_1","title":"Pay rent"}',
    );
  });

  test('invalid arguments and a throwing tool reach the model as readable errors, and the loop goes on', async () => {
    const { session, tools, calls } = await setUp(mode, { preset: SessionPreset.DIRECT_TOOLS });
    const model = fakeModel()
      .respond(
        callTools(
          { name: 'TASKS_CREATE_TASK', args: { title: 5, priority: 'urgent' }, id: 'call_create' },
          { name: 'TASKS_SYNC_CALENDAR', args: { calendarId: 'work' }, id: 'call_sync' },
        ),
      )
      .respond(callTools({ name: 'TASKS_CREATE_TASK', args: { title: 'Sync calendar' }, id: 'call_retry' }))
      .respond(new AIMessage('Created a reminder instead.'));

    const result = await createAgent({ model, tools }).invoke({
      messages: [new HumanMessage('Sync my tasks')],
    });

    const invalid = toolMessage(model.calls[1]!.messages, 'call_create');
    expect(invalid.text).toBe(
      `Error (TOOL_ARGUMENTS_INVALID): Invalid arguments for TASKS_CREATE_TASK: ${titleIsNumber}; ${priorityIsUnknown}`,
    );
    expect(invalid.status).toBe('error');
    const thrown = toolMessage(model.calls[1]!.messages, 'call_sync');
    expect(thrown.text).toBe(
      'Error (TOOL_EXECUTION_FAILED): TASKS_SYNC_CALENDAR failed: calendar work is unreachable',
    );
    expect(thrown.status).toBe('error');
    // the loop went on: the model corrected itself
    expect(calls.map((call) => call.slug)).toEqual(['TASKS_SYNC_CALENDAR', 'TASKS_CREATE_TASK']);
    expect(toolMessage(model.calls[2]!.messages, 'call_retry').text).toBe(
      '{"id":"task_1","title":"Sync calendar"}',
    );
    expect(result.messages.at(-1)?.text).toBe('Created a reminder instead.');
    expect(await logFor(session, 'call_create')).toMatchObject({
      status: 'error',
      errorCode: 'TOOL_ARGUMENTS_INVALID',
    });
  });

  test('with strict: true, the nulls strict mode sends for optional fields mean "absent"', async () => {
    const { tools, calls } = await setUp(mode, { preset: SessionPreset.DIRECT_TOOLS, strict: true });
    const model = fakeModel()
      .respond(
        callTools({
          name: 'TASKS_CREATE_TASK',
          args: { title: 'Water plants', priority: null, labels: null },
          id: 'call_create',
        }),
      )
      .respond(new AIMessage('Done.'));

    await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Water the plants')] });

    expect(calls).toEqual([
      { slug: 'TASKS_CREATE_TASK', input: { title: 'Water plants' }, context: expect.anything() },
    ]);
    expect(toolMessage(model.calls[1]!.messages, 'call_create').status).toBe('success');
  });
});

describe('createAgent (langchain) with the DIRECT_TOOLS preset', () => {
  test("LangChain's own check of the same arguments names no field, inside a stack trace", async () => {
    // why the provider lets the session validate: a plain tool() over the same JSON schema
    const { tools } = await setUp('embedded', { preset: SessionPreset.DIRECT_TOOLS });
    const create = tools.find((each) => each.name === 'TASKS_CREATE_TASK')!;
    const plain = tool(async () => 'ran', {
      name: create.name,
      description: create.description,
      schema: create.schema,
    });
    const model = fakeModel()
      .respond(callTools({ name: create.name, args: { title: 5, priority: 'urgent' }, id: 'call_plain' }))
      .respond(new AIMessage('…'));
    await createAgent({ model, tools: [plain] }).invoke({ messages: [new HumanMessage('Add a task')] });
    const message = toolMessage(model.calls[1]!.messages, 'call_plain');
    expect(message.text).toMatch(
      /^Error invoking tool 'TASKS_CREATE_TASK' with kwargs .* with error: Error: Received tool input did not match expected schema\n {4}at /,
    );
    expect(message.text).not.toContain('title:'); // no field is named
  });
});

const abortCases = modes.flatMap((mode) =>
  [SessionPreset.META_TOOLS, SessionPreset.DIRECT_TOOLS].map((preset) => ({ mode, preset })),
);

describe.each(abortCases)('aborting the run ($preset, $mode)', ({ mode, preset }) => {
  test('agent.invoke(..., { signal }) stops the running tool, logged as TOOL_ABORTED', async () => {
    const { session, tools, calls } = await setUp(mode, { preset });
    const wait = { tool_slug: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 'task_1' } };
    const model = fakeModel().respond(
      preset === SessionPreset.META_TOOLS
        ? callTools({ name: MetaToolSlug.MULTI_EXECUTE_TOOL, args: { tools: [wait] }, id: 'call_wait' })
        : callTools({ name: wait.tool_slug, args: wait.arguments, id: 'call_wait' }),
    );
    const controller = new AbortController();
    // what the tool still returns once the run is gone (LangChain's callbacks see it, the model never)
    const ended: unknown[] = [];

    const run = createAgent({ model, tools }).invoke(
      { messages: [new HumanMessage('Wait for approval')] },
      { signal: controller.signal, callbacks: [{ handleToolEnd: (output) => void ended.push(output) }] },
    );
    await vi.waitFor(
      () => expect(calls.map((call) => call.slug)).toEqual(['TASKS_WAIT_FOR_APPROVAL']),
      untilTestTimeout(),
    );
    controller.abort();

    await expect(run).rejects.toThrow(/abort/i);
    const slug = preset === SessionPreset.META_TOOLS ? MetaToolSlug.MULTI_EXECUTE_TOOL : wait.tool_slug;
    const callId = preset === SessionPreset.META_TOOLS ? 'call_wait#0' : 'call_wait';
    await vi.waitFor(() => expect(ended).toHaveLength(1), untilTestTimeout());
    const late = ended[0] as ToolMessage;
    expect(late).toBeInstanceOf(ToolMessage);
    expect(late.status).toBe('error');
    if (mode === 'embedded') {
      await vi.waitFor(
        async () =>
          expect(await logFor(session, callId)).toMatchObject({
            toolSlug: 'TASKS_WAIT_FOR_APPROVAL',
            status: 'error',
            errorCode: 'TOOL_ABORTED',
          }),
        untilTestTimeout(),
      );
      expect(late.text).toBe(`Error (TOOL_ABORTED): ${slug} was aborted by the caller.`);
      expect((late.artifact as ToolResult).logId).toBe((await logFor(session, 'call_wait')).id);
    } else {
      // the client stopped waiting for the server: it knows no log id (the server logs the call itself)
      expect(late.text).toBe(`Error (TOOL_ABORTED): ${slug} was aborted by the caller.`);
      expect(late.artifact).toEqual({
        successful: false,
        data: null,
        error: `${slug} was aborted by the caller.`,
        code: 'TOOL_ABORTED',
        logId: '',
      });
      // the server saw the request go away, aborted the handler, and logs it a moment later
      await expect
        .poll(() => findLog(session, callId), untilTestTimeout())
        .toMatchObject({ toolSlug: 'TASKS_WAIT_FOR_APPROVAL', status: 'error', errorCode: 'TOOL_ABORTED' });
    }
    await expect
      .poll(() => findLog(session, 'call_wait'), untilTestTimeout())
      .toMatchObject({ toolSlug: slug, status: 'error', errorCode: 'TOOL_ABORTED' });
    expect(model.callCount).toBe(1);
  });
});

describe('createAgent (langchain) on a remote session with a custom tool', () => {
  test('the model finds the custom tool by search and runs it beside a catalog tool in one TOOLMUX_MULTI_EXECUTE_TOOL', async () => {
    // the custom tool's code is here, in the client: only its declaration goes to the server
    const { tool: lookup, ran } = stockLookupTool();
    const { session, tools, calls } = await setUp('remote', {
      toolkits: ['tasks', 'shop'],
      customTools: [lookup],
    });
    expect(session.config.customTools).toEqual(['SHOP_LOOKUP_STOCK']);
    expect(tools.map((each) => each.name)).toEqual([
      MetaToolSlug.SEARCH_TOOLS,
      MetaToolSlug.GET_TOOL_SCHEMAS,
      MetaToolSlug.MANAGE_CONNECTIONS,
      MetaToolSlug.MULTI_EXECUTE_TOOL,
      MetaToolSlug.WORKBENCH,
    ]);
    let found: Array<{ tool_slug: string; toolkit: string }> = [];
    const model = fakeModel()
      .respond(
        callTools({
          name: MetaToolSlug.SEARCH_TOOLS,
          args: { queries: [{ use_case: 'check how many items of a product are in stock' }] },
          id: 'call_search',
        }),
      )
      .respond((messages) => {
        // the slug comes from what the server's search returned to the model
        const search = JSON.parse(toolMessage(messages, 'call_search').text);
        found = search.results[0].tools;
        return callTools({
          name: MetaToolSlug.MULTI_EXECUTE_TOOL,
          args: {
            tools: [
              { tool_slug: found[0]!.tool_slug, arguments: { sku: 'B-200' } },
              { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Restock B-200' } },
            ],
          },
          id: 'call_run',
        });
      })
      .respond(new AIMessage('7 left of B-200; I added a restock task.'));

    const result = await createAgent({ model, tools }).invoke({
      messages: [new HumanMessage('How many B-200 are left? Add a task to restock them.')],
    });

    expect(found[0]).toMatchObject({ tool_slug: 'SHOP_LOOKUP_STOCK', toolkit: 'shop' });
    // the custom handler ran here, the catalog handler on the server, under the same call ids
    expect(ran).toEqual([{ sku: 'B-200', sessionId: session.sessionId, callId: 'call_run#0' }]);
    expect(calls).toEqual([
      {
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Restock B-200' },
        context: expect.objectContaining({
          userId: 'user_1',
          sessionId: session.sessionId,
          callId: 'call_run#1',
        }),
      },
    ]);
    expect(model.callCount).toBe(3);
    const seen = toolMessage(model.calls[2]!.messages, 'call_run');
    expect(seen.status).toBe('success');
    expect(JSON.parse(seen.text)).toMatchObject({
      results: [
        { tool_slug: 'SHOP_LOOKUP_STOCK', successful: true, data: { sku: 'B-200', inStock: 7 } },
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Restock B-200' } },
      ],
      successful_count: 2,
    });
    expect(result.messages.at(-1)?.text).toBe('7 left of B-200; I added a restock task.');
    // the session's log, read from the server, has every call: those that ran here were sent to it
    const logs = (await session.logs()).items;
    expect(logs.map((log) => `${log.toolSlug} ${log.status} ${log.callId}`).sort()).toEqual([
      'SHOP_LOOKUP_STOCK success call_run#0',
      'TASKS_CREATE_TASK success call_run#1',
      'TOOLMUX_MULTI_EXECUTE_TOOL success call_run',
      'TOOLMUX_SEARCH_TOOLS success call_search',
    ]);
    expect(await logFor(session, 'call_run#0')).toMatchObject({
      sessionId: session.sessionId,
      userId: 'user_1',
      toolkit: 'shop',
      input: JSON.stringify({ sku: 'B-200' }),
    });
    expect((seen.artifact as ToolResult).logId).toBe((await logFor(session, 'call_run')).id);
  });
});

describe.each(modes)('other LangChain entry points (%s)', (mode) => {
  test('createReactAgent (@langchain/langgraph/prebuilt) runs a tool round', async () => {
    const { session, tools, calls } = await setUp(mode, { preset: SessionPreset.DIRECT_TOOLS });
    const model = fakeModel()
      .respond(
        callTools({
          name: 'NOTES_CREATE_NOTE',
          args: { text: 'Buy milk', tags: [{ name: 'shopping' }] },
          id: 'call_note',
        }),
      )
      .respond(new AIMessage('Noted.'));

    const result = await createReactAgent({ llm: model, tools }).invoke({
      messages: [new HumanMessage('Note: buy milk')],
    });

    expect(calls).toEqual([
      {
        slug: 'NOTES_CREATE_NOTE',
        input: { text: 'Buy milk', tags: [{ name: 'shopping' }] },
        context: expect.anything(),
      },
    ]);
    expect(toolMessage(model.calls[1]!.messages, 'call_note').text).toBe('{"id":"note_2"}');
    expect(result.messages.at(-1)?.text).toBe('Noted.');
    expect((await logFor(session, 'call_note')).status).toBe('success');
  });

  test('a tool invoked on its own (no tool call) returns the result text', async () => {
    const { tools, session } = await setUp(mode, { preset: SessionPreset.DIRECT_TOOLS });
    const create = tools.find((each) => each.name === 'TASKS_CREATE_TASK')!;
    expect(await create.invoke({ title: 'Plain call' })).toBe('{"id":"task_1","title":"Plain call"}');
    expect(await create.invoke({ title: '' })).toBe(
      'Error (TOOL_ARGUMENTS_INVALID): Invalid arguments for TASKS_CREATE_TASK: title: is empty: send a string of at least 1 character',
    );
    expect((await session.logs()).items).toHaveLength(2);
  });

  describe.each([false, true])('bindTools and the converted definitions (strict: %s)', (strict) => {
    test.each([SessionPreset.META_TOOLS, SessionPreset.DIRECT_TOOLS])('%s', async (preset) => {
      const { tools, warnings, toolkits } = await setUp(mode, { preset, strict });
      const specs = await specsOf(preset, toolkits);
      expect(warnings).toEqual([]);
      // a fake chat model whose bindTools converts the tools as OpenAI-style integrations do
      const bound = new FakeStreamingChatModel({}).bindTools(tools) as unknown as {
        config: { tools: Array<{ function: { name: string; parameters: unknown } }> };
      };
      expect(bound.config.tools.map((definition) => definition.function.name)).toEqual([...specs.keys()]);
      expect(fakeModel().bindTools(tools)).toBeDefined();
      for (const each of tools) {
        const spec = specs.get(each.name)!;
        const metadata = each.metadata!.toolmux as LangChainToolMetadata;
        expect(metadata).toEqual({ toolkit: spec.toolkit, strict });
        const definition = convertToOpenAITool(each, metadata.strict ? { strict: true } : undefined);
        const expected = strict ? strictSchemaOf(spec).schema : spec.inputSchema;
        expect(definition.function.parameters).toEqual(expected);
        expect(definition.function.parameters).not.toBe(expected); // a copy: frameworks may not change core's schema
        expect(Object.entries(definition.function).filter(([key]) => key === 'strict')).toEqual(
          strict ? [['strict', true]] : [],
        );
        expect(definition.function.description).toBe(spec.description);
        expect(
          bound.config.tools.find((bound) => bound.function.name === each.name)!.function.parameters,
        ).toEqual(expected);
      }
    });
  });
});

describe('other LangChain entry points', () => {
  test("LangChain's own validator works on a copy of the schema, never on core's", async () => {
    const { tools, toolkits } = await setUp('embedded', { preset: SessionPreset.DIRECT_TOOLS });
    const spec = (await specsOf(SessionPreset.DIRECT_TOOLS, toolkits)).get('TASKS_CREATE_TASK')!;
    const create = tools.find((each) => each.name === 'TASKS_CREATE_TASK')!;
    await create.invoke({ title: 'Validated by LangChain first' });
    expect(create.schema).toEqual(spec.inputSchema);
    expect(create.schema).not.toBe(spec.inputSchema);
    // @cfworker/json-schema (LangChain's validator) defines hidden properties on every subschema it sees
    expect(Object.getOwnPropertyNames(spec.inputSchema)).not.toContain('__absolute_uri__');
  });
});

describe.each(modes)('createAgent (langchain) with tool modifiers (%s)', (mode) => {
  test('the model gets the modified schema; beforeExecute and afterExecute run around each call it makes', async () => {
    const { session, calls } = await setUp(mode, { preset: SessionPreset.DIRECT_TOOLS });
    const tools = await session.tools({
      modifySchema: ({ slug, schema }) =>
        slug === 'TASKS_CREATE_TASK'
          ? {
              ...schema,
              properties: { title: (schema.properties as Record<string, unknown>).title },
              required: ['title'],
            }
          : schema,
      beforeExecute: ({ slug, toolkit, args }) =>
        slug === 'TASKS_CREATE_TASK' ? { ...args, labels: [toolkit, 'agent'] } : args,
      afterExecute: ({ slug, result }) =>
        slug === 'TASKS_CREATE_TASK' && result.successful ? { ...result, data: 'Created.' } : result,
    });
    const create = tools.find((each) => each.name === 'TASKS_CREATE_TASK')!;
    expect(
      Object.keys((convertToOpenAITool(create).function.parameters as { properties: object }).properties),
    ).toEqual(['title']);
    const model = fakeModel()
      .respond(callTools({ name: 'TASKS_CREATE_TASK', args: { title: 'Renew passport' }, id: 'call_create' }))
      .respond(new AIMessage('Done.'));

    await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Renew my passport')] });

    expect(calls).toEqual([
      {
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Renew passport', labels: ['tasks', 'agent'] },
        context: expect.objectContaining({ callId: 'call_create' }),
      },
    ]);
    expect(toolMessage(model.calls[1]!.messages, 'call_create').text).toBe('Created.');
    // the log keeps what the tool returned
    expect(JSON.parse((await logFor(session, 'call_create')).output)).toEqual({
      id: 'task_1',
      title: 'Renew passport',
    });
  });
});

describe('LangChainProvider property keys', () => {
  test('keys a major model API refuses are sent renamed, and a call with those keys runs the tool with its own', async () => {
    const received: unknown[] = [];
    const { tools } = await setUp('embedded', {
      preset: SessionPreset.DIRECT_TOOLS,
      customTools: [awkwardKeysTool(received)],
    });
    const filter = tools.find((each) => each.name === 'TASKS_FILTER')!;
    // what ChatOpenAI, ChatAnthropic and ChatGoogle send of the tool
    const sent = convertToOpenAITool(filter).function.parameters;
    expect(portableKeyViolations(sent)).toEqual([]);
    const model = fakeModel()
      .respond(
        callTools({
          name: 'TASKS_FILTER',
          args: argumentsAsShown(sent, AWKWARD_KEY_ARGUMENTS) as Record<string, unknown>,
          id: 'call_f',
        }),
      )
      .respond(new AIMessage('Filtered.'));
    const result = await createAgent({ model, tools }).invoke({ messages: [new HumanMessage('Filter')] });
    expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
    expect(toolMessage(result.messages, 'call_f').text).toBe('{"ok":true}');
  });
});
