import { type Content, type FunctionDeclaration, GoogleGenAI, type Part } from '@google/genai';
import {
  defineTool,
  defineToolkit,
  geminiSchemaViolations,
  type Session,
  SessionPreset,
  type Toolkit,
  ToolMux,
  ToolMuxError,
} from '@toolmux/core';
import {
  expectCellAnswer,
  findGeminiViolations,
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
import { GoogleProvider, type GoogleTools } from './index.js';

/** A `functionCall` part the scripted model sends (Gemini leaves `id` out on some models). */
type ScriptedCall = { id?: string; name: string; args: Record<string, unknown> };
/** One step of the script: sees the request the SDK sent and answers with function calls (none: "done"). */
type Step = (request: ScriptedRequest) => ScriptedCall[];

/** A `generateContent` response in the Gemini API's wire format. */
function reply(calls: ScriptedCall[]) {
  return {
    candidates: [
      {
        index: 0,
        finishReason: 'STOP',
        content: {
          role: 'model',
          parts: calls.length > 0 ? calls.map((functionCall) => ({ functionCall })) : [{ text: 'done' }],
        },
      },
    ],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
    modelVersion: 'gemini-test',
  };
}

/** The `functionResponse` parts of the request's last content (what the SDK sent back). */
function resultsOf(model: ScriptedModelServer, request: number) {
  const last = (model.requests[request]!.body.contents as Content[]).at(-1)!;
  expect(last.role).toBe('user');
  return last.parts!.map((part) => part.functionResponse!);
}

/** The function-calling loop of Google's documentation, with toolmux running the calls. */
async function loop(
  ai: GoogleGenAI,
  session: Session<GoogleTools, any, Part[]>,
  tools: GoogleTools,
  signal?: AbortSignal,
) {
  const contents: Content[] = [{ role: 'user', parts: [{ text: 'Help me with my tasks' }] }];
  for (let step = 0; step < 6; step++) {
    const response = await ai.models.generateContent({ model: 'gemini-test', contents, config: { tools } });
    if (!response.functionCalls?.length) return response.text;
    contents.push(response.candidates![0]!.content!);
    contents.push({ role: 'user', parts: await session.handleToolCalls(response, { signal }) });
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

async function scriptedClient(steps: Step[]) {
  const model = await startScriptedModelServer([
    ...steps.map((step) => (request: ScriptedRequest) => reply(step(request))),
    () => reply([]),
  ]);
  cleanups.push(() => model.close());
  return { model, ai: new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: model.url } }) };
}

/**
 * A DIRECT_TOOLS session of `toolkit` alone with the Google provider (closed after the test); the
 * provider's warnings go to `warnings` when given.
 */
async function directSession(toolkit: Toolkit, warnings?: string[]) {
  const mux = new ToolMux({
    provider: new GoogleProvider({ logger: { warn: (message) => warnings?.push(message) } }),
    toolkits: [toolkit],
    store: ':memory:',
    logger: silent,
  });
  cleanups.push(() => mux.close());
  const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
  return { session, tools: await session.tools() };
}

async function setUp(
  steps: Step[],
  options: { mode?: (typeof modes)[number]; preset?: SessionPreset; strict?: boolean } = {},
) {
  const provider = new GoogleProvider({
    logger: { warn() {} },
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
  });
  const { session, tools, ...sample } = await samples.session(provider, {
    mode: options.mode,
    preset: options.preset,
    toolkits: ['tasks', 'notes'],
  });
  const { model, ai } = await scriptedClient(steps);
  return {
    ...sample,
    session,
    tools,
    model,
    run: (signal?: AbortSignal) => loop(ai, session, tools, signal),
  };
}

describe('GoogleProvider with the real @google/genai client', () => {
  it.each(modes)(
    'META_TOOLS (%s): the model searches, then runs what it found through TOOLMUX_MULTI_EXECUTE_TOOL',
    async (mode) => {
      let found: string | undefined;
      const { model, run, tools, calls, session } = await setUp(
        [
          () => [
            {
              id: 'fc_search',
              name: 'TOOLMUX_SEARCH_TOOLS',
              args: { queries: [{ use_case: 'create a to-do task' }] },
            },
          ],
          (request) => {
            const response = (request.body.contents as Content[]).at(-1)!.parts![0]!.functionResponse!
              .response!;
            found = (response.output as { results: Array<{ tools: Array<{ tool_slug: string }> }> })
              .results[0]!.tools[0]!.tool_slug;
            // Gemini cannot declare free-form objects: the arguments of each call come as a string of JSON
            const args = JSON.stringify({ title: 'Buy milk', priority: 'high' });
            return [
              {
                id: 'fc_multi',
                name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
                args: { tools: [{ tool_slug: found, arguments: args }] },
              },
            ];
          },
        ],
        { mode },
      );
      expect(await run()).toBe('done');
      const sent = model.requests[0]!;
      expect(sent.url).toMatch(/^\/v1(beta)?\/models\/gemini-test:generateContent/);
      expect(sent.body.tools).toEqual(JSON.parse(JSON.stringify(tools)));
      const declarations = sent.body.tools[0].functionDeclarations as FunctionDeclaration[];
      expect(declarations.map((declaration) => declaration.name).sort()).toEqual([
        'TOOLMUX_GET_TOOL_SCHEMAS',
        'TOOLMUX_MANAGE_CONNECTIONS',
        'TOOLMUX_MULTI_EXECUTE_TOOL',
        'TOOLMUX_SEARCH_TOOLS',
        'TOOLMUX_WORKBENCH',
      ]);
      for (const declaration of declarations) {
        expect(
          geminiSchemaViolations(declaration.parameters as Record<string, unknown>),
          declaration.name,
        ).toEqual([]);
      }
      expect(found).toBe('TASKS_CREATE_TASK');
      expect(calls).toEqual([
        expect.objectContaining({
          slug: 'TASKS_CREATE_TASK',
          input: { title: 'Buy milk', priority: 'high' },
        }),
      ]);
      expect(calls[0]!.context.callId).toBe('fc_multi#0');
      expect(resultsOf(model, 1).map((part) => [part.id, part.name])).toEqual([
        ['fc_search', 'TOOLMUX_SEARCH_TOOLS'],
      ]);
      const [multi] = resultsOf(model, 2);
      expect(multi).toMatchObject({
        id: 'fc_multi',
        name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
        response: {
          output: {
            successful_count: 1,
            results: [
              { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { id: 'task_1', title: 'Buy milk' } },
            ],
          },
        },
      });
      const logged = (await session.logs()).items.map((entry) => [entry.toolSlug, entry.callId]);
      expect(logged).toEqual(
        expect.arrayContaining([
          ['TOOLMUX_SEARCH_TOOLS', 'fc_search'],
          ['TOOLMUX_MULTI_EXECUTE_TOOL', 'fc_multi'],
          ['TASKS_CREATE_TASK', 'fc_multi#0'],
        ]),
      );
    },
  );

  it('DIRECT_TOOLS: parallel calls, with or without ids; failures are functionResponse errors the model reads', async () => {
    const { model, run, calls } = await setUp(
      [
        () => [
          { id: 'fc_a', name: 'TASKS_CREATE_TASK', args: { title: 'A' } },
          { name: 'TASKS_SYNC_CALENDAR', args: { calendarId: 'work' } },
          { id: 'fc_c', name: 'GITHUB_DELETE_REPO', args: {} },
          { id: 'fc_d', name: 'TASKS_CREATE_TASK', args: { priority: 'high' } },
        ],
      ],
      { preset: SessionPreset.DIRECT_TOOLS },
    );
    expect(await run()).toBe('done');
    const results = resultsOf(model, 1);
    expect(results.map((part) => [part.id, part.name])).toEqual([
      ['fc_a', 'TASKS_CREATE_TASK'],
      [undefined, 'TASKS_SYNC_CALENDAR'],
      ['fc_c', 'GITHUB_DELETE_REPO'],
      ['fc_d', 'TASKS_CREATE_TASK'],
    ]);
    expect(results[0]!.response).toEqual({ output: { id: 'task_1', title: 'A' } });
    expect(results[1]!.response).toEqual({
      error: expect.stringMatching(/^Error \(TOOL_EXECUTION_FAILED\): .*calendar work is unreachable/),
    });
    expect(results[2]!.response).toEqual({
      error: expect.stringMatching(/^Error \(TOOL_NOT_FOUND\): .*GITHUB_DELETE_REPO/),
    });
    expect(results[3]!.response).toEqual({
      error: expect.stringMatching(/^Error \(TOOL_ARGUMENTS_INVALID\): .*title/),
    });
    expect(calls.map((call) => [call.slug, call.context.callId])).toEqual([
      ['TASKS_CREATE_TASK', 'fc_a'],
      ['TASKS_SYNC_CALENDAR', undefined],
    ]);
  });

  it.each(modes)(
    'TOOLMUX_WORKBENCH (%s): a cell that threw or reached a limit is an error response holding its answer; one that succeeded is output',
    async (mode) => {
      const { model, run } = await setUp(
        [
          // a tool that fails (fc_failed) is an error response as before
          () => workbenchCellCalls('args', 'fc_failed'),
        ],
        { mode },
      );
      expect(await run()).toBe('done');
      const results = resultsOf(model, 1);
      WORKBENCH_CELL_CASES.forEach((cell, index) => {
        const { id, response } = results[index]!;
        expect(id).toBe(cell.id);
        // a failed cell was sent as output, and the model read it as a success
        expect(Object.keys(response!), id).toEqual([cell.failsWith === undefined ? 'output' : 'error']);
        expectCellAnswer(Object.values(response!)[0], cell);
      });
      expect(results.at(-1)!.response).toEqual({
        error: expect.stringMatching(/^Error \(TOOL_EXECUTION_FAILED\): .*calendar work is unreachable/),
      });
    },
  );

  it('takes strict: false (what it does anyway) and refuses strict: true, which Gemini declarations cannot honour', async () => {
    const plain = await setUp([() => [{ id: 'fc_a', name: 'TASKS_CREATE_TASK', args: { title: 'A' } }]], {
      preset: SessionPreset.DIRECT_TOOLS,
    });
    const { model, run, tools } = await setUp(
      [() => [{ id: 'fc_a', name: 'TASKS_CREATE_TASK', args: { title: 'A' } }]],
      { preset: SessionPreset.DIRECT_TOOLS, strict: false },
    );
    expect(tools).toEqual(plain.tools);
    expect(await run()).toBe('done');
    expect(model.requests[0]!.body.tools).toEqual(JSON.parse(JSON.stringify(tools)));
    expect(resultsOf(model, 1)[0]!.response).toEqual({ output: { id: 'task_1', title: 'A' } });

    let refused: unknown;
    try {
      new GoogleProvider({ strict: true });
    } catch (error) {
      refused = error;
    }
    expect(ToolMuxError.isInstance(refused)).toBe(true);
    expect((refused as ToolMuxError).code).toBe('CONFIG_INVALID');
    expect((refused as ToolMuxError).message).toMatch(
      /strict: true.*no strict mode.*FunctionCallingConfigMode\.VALIDATED/,
    );
  });

  it('passes the abort signal: an aborted call is an error response, logged with its id', async () => {
    const { model, run, calls, session } = await setUp(
      [
        () => [
          { id: 'fc_wait', name: 'TASKS_WAIT_FOR_APPROVAL', args: { taskId: 't1' } },
          { id: 'fc_list', name: 'TASKS_LIST_TASKS', args: {} },
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
    const [wait, list] = resultsOf(model, 1);
    expect(wait!.response).toEqual({ error: expect.stringMatching(/^Error \(TOOL_ABORTED\)/) });
    expect(list!.response).toEqual({ output: { tasks: [] } });
    const logged = (await session.logs()).items.map((entry) => [
      entry.toolSlug,
      entry.callId,
      entry.errorCode,
    ]);
    expect(logged).toEqual(
      expect.arrayContaining([
        ['TASKS_WAIT_FOR_APPROVAL', 'fc_wait', 'TOOL_ABORTED'],
        ['TASKS_LIST_TASKS', 'fc_list', null],
      ]),
    );
  });
});

/** What a Gemini model sends for arguments: the values its declaration takes as JSON strings, encoded. */
function asGeminiSends(args: Record<string, unknown>, slug: string, declarations: FunctionDeclaration[]) {
  const declaration = declarations.find((candidate) => candidate.name === slug)!;
  const encode = (value: unknown, schema: Record<string, any> | undefined): unknown => {
    if (!schema || value === null || value === undefined) return value;
    if (schema.type === 'STRING' && typeof value !== 'string') return JSON.stringify(value);
    if (schema.type === 'ARRAY' && Array.isArray(value))
      return value.map((item) => encode(item, schema.items));
    if (schema.type === 'OBJECT' && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, encode(item, schema.properties?.[key])]),
      );
    }
    return value;
  };
  return encode(args, declaration.parameters as Record<string, any>) as Record<string, unknown>;
}

describe('hard schemas (hardSchemaCases)', () => {
  it('are declared in the Gemini subset with nothing lost, and the arguments reach each handler as defined', async () => {
    const originals = new Map(hardSchemaToolkit().toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]));
    const { toolkit, cases, received } = hardSchemaToolkit();
    const warnings: string[] = [];
    const mux = new ToolMux({
      provider: new GoogleProvider({ logger: { warn: (message) => warnings.push(message) } }),
      toolkits: [toolkit],
      store: ':memory:',
      logger: silent,
    });
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const tools = await session.tools();
    const declarations = tools[0].functionDeclarations;
    const { model, ai } = await scriptedClient([
      () =>
        cases.map((entry, index) => ({
          id: `fc_${index}`,
          name: entry.slug,
          args: asGeminiSends(hardSchemaCall(entry, false).args, entry.slug, declarations),
        })),
    ]);
    expect(await loop(ai, session, tools)).toBe('done');
    const sent = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    for (const entry of cases) {
      const declaration = sent.find((candidate) => candidate.name === entry.slug)!;
      expect(
        findGeminiViolations(originals.get(entry.slug)!, declaration.parameters as never),
        entry.slug,
      ).toEqual([]);
      if (entry.shownProperties) {
        const shown = (declaration.parameters as { properties?: object }).properties ?? {};
        expect(Object.keys(shown), entry.slug).toEqual(entry.shownProperties);
      }
      expect(received.get(entry.slug), entry.slug).toEqual([hardSchemaCall(entry, false).received]);
    }
    // the record travelled as a string of JSON, as its declaration asks, and reached the handler as an object
    const modelTurn = (model.requests[1]!.body.contents as Content[]).at(-2)!;
    const recordCall = modelTurn.parts!.find((part) => part.functionCall?.name === 'HARD_RECORD')!
      .functionCall!;
    expect(recordCall.args).toEqual({ id: 'r1', labels: '{"stars":5}' });
    expect(resultsOf(model, 1).every((part) => 'output' in part.response!)).toBe(true);
    expect(warnings).toEqual([]);
  });
});

describe('enums of numbers and booleans', () => {
  it('are declared as STRING enums (Gemini refuses enum on any other type) and reach the handler as numbers and booleans', async () => {
    const received: unknown[] = [];
    const toolkit = defineToolkit({
      slug: 'pages',
      description: 'Paged listings',
      tools: [
        defineTool({
          slug: 'PAGES_LIST',
          description: 'List the items of one page.',
          inputSchema: {
            type: 'object',
            properties: {
              pageSize: { type: 'integer', enum: [10, 50, 100] },
              zoom: { type: 'number', enum: [0.5, 1, 2] },
              archived: { const: false },
              sizes: { type: 'array', items: { type: 'integer', enum: [1, 2] } },
            },
            required: ['pageSize'],
          },
          execute: async (input) => {
            received.push(input);
            return { ok: true };
          },
        }),
      ],
    });
    const warnings: string[] = [];
    const { session, tools } = await directSession(toolkit, warnings);
    const args = { pageSize: '50', zoom: '0.5', archived: 'false', sizes: ['2', '1'] };
    const { model, ai } = await scriptedClient([() => [{ id: 'fc_list', name: 'PAGES_LIST', args }]]);
    expect(await loop(ai, session, tools)).toBe('done');
    const sent = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    const parameters = sent.find((declaration) => declaration.name === 'PAGES_LIST')!.parameters!;
    expect(geminiSchemaViolations(parameters as Record<string, unknown>)).toEqual([]);
    expect(parameters.properties!.pageSize).toEqual({
      type: 'STRING',
      format: 'enum',
      enum: ['10', '50', '100'],
    });
    expect(received).toEqual([{ pageSize: 50, zoom: 0.5, archived: false, sizes: [2, 1] }]);
    expect(resultsOf(model, 1)[0]!.response).toEqual({ output: { ok: true } });
    expect(warnings).toEqual([]);
  });
});

describe('parameter names Gemini does not take (a letter or _ first, then a-z, A-Z, 0-9, _; at most 64)', () => {
  it('are declared renamed (distinct, described), and a call with those names reaches the handler with its own', async () => {
    const received: unknown[] = [];
    const long = 'p'.repeat(70);
    const toolkit = defineToolkit({
      slug: 'acme',
      description: 'ACME',
      tools: [
        defineTool({
          slug: 'ACME_SEARCH',
          description: 'Search.',
          inputSchema: {
            type: 'object',
            properties: {
              'filter[id]': { type: 'string', description: 'Only this id' },
              filter_id_: { type: 'string' },
              'page-size': { type: 'integer' },
              '1st': { type: 'string' },
              'user.name': { type: 'string' },
              [long]: { type: 'string' },
              body: { type: 'object', properties: { 'content-type': { type: 'string' } } },
              meta: { type: 'object', additionalProperties: { type: 'string' } },
            },
            required: ['filter[id]'],
          },
          execute: async (input) => {
            received.push(input);
            return { ok: true };
          },
        }),
      ],
    });
    const { session, tools } = await directSession(toolkit);
    const { model, ai } = await scriptedClient([
      (request) => {
        const [declaration] = request.body.tools[0].functionDeclarations as FunctionDeclaration[];
        const properties = declaration!.parameters!.properties!;
        // the model reads each renamed parameter's description to know what it is
        const named = (own: string) =>
          Object.keys(properties).find((key) =>
            properties[key]!.description?.includes(JSON.stringify(own)),
          ) ?? 'missing';
        return [
          {
            id: 'fc_1',
            name: 'ACME_SEARCH',
            args: {
              [named('filter[id]')]: '42',
              filter_id_: 'kept',
              [named('page-size')]: 10,
              [named('1st')]: 'first',
              [named('user.name')]: 'ada',
              [named(long)]: 'long',
              body: { 'content-type': 'text/plain' },
              meta: '{"a":"b"}',
            },
          },
        ];
      },
    ]);
    expect(await loop(ai, session, tools)).toBe('done');
    const [declaration] = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    const parameters = declaration!.parameters!;
    expect(geminiSchemaViolations(parameters as Record<string, unknown>)).toEqual([]);
    const names = Object.keys(parameters.properties!);
    expect(names).toHaveLength(8);
    expect(names.every((name) => /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/.test(name))).toBe(true);
    expect(parameters.required).toEqual([names[0]]);
    expect(parameters.properties![names[0]!]!.description).toBe(
      'Only this id\n\nThe tool\'s own name for this parameter: "filter[id]".',
    );
    // keys of nested objects are not parameter names: declared as they are
    expect(Object.keys(parameters.properties!.body!.properties!)).toEqual(['content-type']);
    expect(received).toEqual([
      {
        'filter[id]': '42',
        filter_id_: 'kept',
        'page-size': 10,
        '1st': 'first',
        'user.name': 'ada',
        [long]: 'long',
        body: { 'content-type': 'text/plain' },
        meta: { a: 'b' },
      },
    ]);
    expect(resultsOf(model, 1)[0]!.response).toEqual({ output: { ok: true } });
  });
});

describe('a string beside a JSON value sent as a string (string or record, one property of two variants)', () => {
  it('reaches the handler as the string the model sent; JSON text is parsed only where the text is not valid as text', async () => {
    const received: unknown[] = [];
    const toolkit = defineToolkit({
      slug: 'acme',
      description: 'ACME',
      tools: [
        defineTool({
          slug: 'ACME_SEND',
          description: 'Send.',
          inputSchema: {
            type: 'object',
            properties: {
              body: { anyOf: [{ type: 'string' }, { type: 'object', additionalProperties: {} }] },
              http: { type: ['string', 'object'], description: 'request body' },
              slugOrMap: {
                anyOf: [
                  { type: 'string', pattern: '^[a-z]+$' },
                  { type: 'object', additionalProperties: { type: 'number' } },
                ],
              },
              x: {
                anyOf: [
                  {
                    type: 'object',
                    properties: { kind: { const: 'num' }, level: { enum: [1, 2] } },
                    required: ['kind', 'level'],
                  },
                  {
                    type: 'object',
                    properties: { kind: { const: 'text' }, level: { type: 'string' } },
                    required: ['kind', 'level'],
                  },
                ],
              },
            },
          },
          execute: async (input) => {
            received.push(input);
            return { ok: true };
          },
        }),
      ],
    });
    const { session, tools } = await directSession(toolkit);
    const calls: Array<Record<string, unknown>> = [
      { body: '12345', http: 'true', slugOrMap: 'abc', x: { kind: 'text', level: '42' } },
      { body: '{"a":1}', http: '[1,2]', slugOrMap: '{"a":1}', x: { kind: 'num', level: 2 } },
    ];
    const { model, ai } = await scriptedClient([
      () => calls.map((args, index) => ({ id: `fc_${index}`, name: 'ACME_SEND', args })),
    ]);
    expect(await loop(ai, session, tools)).toBe('done');
    const [declaration] = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    expect(geminiSchemaViolations(declaration!.parameters as Record<string, unknown>)).toEqual([]);
    // the level of "num" is declared as a number, not as texts to parse back beside the string of "text"
    expect(declaration!.parameters!.properties!.x!.anyOf![0]!.properties!.level!.type).toBe('INTEGER');
    expect(resultsOf(model, 1).map((part) => part.response)).toEqual([
      { output: { ok: true } },
      { output: { ok: true } },
    ]);
    expect(received).toEqual([
      { body: '12345', http: 'true', slugOrMap: 'abc', x: { kind: 'text', level: '42' } },
      // a string valid as the string variant stays a string; one that is not is parsed
      { body: '{"a":1}', http: '[1,2]', slugOrMap: { a: 1 }, x: { kind: 'num', level: 2 } },
    ]);
  });
});

describe('enums and consts whose values are not all strings', () => {
  it('are declared as STRING enums of texts and reach the handler as the values they stand for, "1" and 1 apart', async () => {
    const received: unknown[] = [];
    const toolkit = defineToolkit({
      slug: 'mixed',
      description: 'Mixed enums',
      tools: [
        defineTool({
          slug: 'MIXED_SET',
          description: 'Set options.',
          // as zod writes z.enum(), z.union() of z.literal()s, .nullable() and z.literal([…])
          inputSchema: {
            type: 'object',
            properties: {
              mode: { type: 'string', enum: ['auto', 'manual'] },
              level: {
                anyOf: [
                  { type: 'string', const: 'auto' },
                  { type: 'number', const: 1 },
                  { type: 'boolean', const: true },
                ],
              },
              size: {
                anyOf: [
                  {
                    anyOf: [
                      { type: 'string', const: '1' },
                      { type: 'number', const: 1 },
                    ],
                  },
                  { type: 'null' },
                ],
              },
              preset: { enum: ['none', 0] },
              scope: {
                type: 'object',
                properties: {
                  depth: {
                    anyOf: [
                      { type: 'string', const: 'all' },
                      { type: 'number', const: 2 },
                    ],
                  },
                },
                required: ['depth'],
              },
              steps: {
                type: 'array',
                items: {
                  anyOf: [
                    { type: 'string', const: 'skip' },
                    { type: 'number', const: 0 },
                  ],
                },
              },
            },
            required: ['mode', 'level', 'size', 'scope', 'steps'],
          },
          execute: async (input) => {
            received.push(input);
            return { ok: true };
          },
        }),
        defineTool({
          slug: 'MIXED_JSON',
          description: 'Set raw options.',
          inputSchema: {
            type: 'object',
            properties: {
              mixedEnum: { enum: ['a', 1, true, null] },
              ambiguous: { enum: ['1', 1] },
              shape: { const: { mode: 'fast' } },
              pair: { enum: [[1, 2], 'none'] },
            },
          },
          execute: async (input) => {
            received.push(input);
            return { ok: true };
          },
        }),
      ],
    });
    const warnings: string[] = [];
    const { session, tools } = await directSession(toolkit, warnings);
    const calls: ScriptedCall[] = [
      {
        id: 'fc_set',
        name: 'MIXED_SET',
        args: {
          mode: 'auto',
          level: '1',
          size: '"1"',
          preset: '0',
          scope: { depth: '2' },
          steps: ['skip', '0'],
        },
      },
      {
        id: 'fc_set_2',
        name: 'MIXED_SET',
        args: { mode: 'manual', level: 'true', size: '1', scope: { depth: 'all' }, steps: [] },
      },
      {
        id: 'fc_set_3',
        name: 'MIXED_SET',
        args: { mode: 'auto', level: 'auto', size: null, scope: { depth: '2' }, steps: [] },
      },
      {
        id: 'fc_json',
        name: 'MIXED_JSON',
        args: { mixedEnum: '1', ambiguous: '"1"', shape: '{"mode":"fast"}', pair: '[1,2]' },
      },
      { id: 'fc_json_2', name: 'MIXED_JSON', args: { mixedEnum: 'a', ambiguous: '1', pair: 'none' } },
      { id: 'fc_json_3', name: 'MIXED_JSON', args: { mixedEnum: null } },
    ];
    const { model, ai } = await scriptedClient([() => calls]);
    expect(await loop(ai, session, tools)).toBe('done');

    const sent = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    const parametersOf = (name: string) => sent.find((declaration) => declaration.name === name)!.parameters!;
    for (const name of ['MIXED_SET', 'MIXED_JSON'])
      expect(geminiSchemaViolations(parametersOf(name) as Record<string, unknown>)).toEqual([]);
    const set = parametersOf('MIXED_SET').properties!;
    expect(set.mode).toEqual({ type: 'STRING', format: 'enum', enum: ['auto', 'manual'] });
    expect(set.level).toEqual({ type: 'STRING', format: 'enum', enum: ['auto', '1', 'true'] });
    expect(set.size).toEqual({
      type: 'STRING',
      format: 'enum',
      nullable: true,
      enum: ['"1"', '1'],
      description: 'Values in double quotes are text: "1" is the text 1.',
    });
    expect(set.steps!.items).toEqual({ type: 'STRING', format: 'enum', enum: ['skip', '0'] });
    expect(parametersOf('MIXED_JSON').properties!.mixedEnum).toEqual({
      type: 'STRING',
      format: 'enum',
      nullable: true,
      enum: ['a', '1', 'true'],
    });

    expect(received).toEqual([
      { mode: 'auto', level: 1, size: '1', preset: 0, scope: { depth: 2 }, steps: ['skip', 0] },
      { mode: 'manual', level: true, size: 1, scope: { depth: 'all' }, steps: [] },
      { mode: 'auto', level: 'auto', size: null, scope: { depth: 2 }, steps: [] },
      { mixedEnum: 1, ambiguous: '1', shape: { mode: 'fast' }, pair: [1, 2] },
      { mixedEnum: 'a', ambiguous: 1, pair: 'none' },
      { mixedEnum: null },
    ]);
    expect(resultsOf(model, 1).map((result) => result.response)).toEqual(
      calls.map(() => ({ output: { ok: true } })),
    );
    expect(warnings).toEqual([]);
  });
});

describe('boolean subschemas (true: any value, false: none), as MCP servers send them', () => {
  it('are declared (true as a JSON string, a false property left out) and the call reaches the handler', async () => {
    const received: unknown[] = [];
    const toolkit = defineToolkit({
      slug: 'alerts',
      description: 'Alert rules',
      tools: [
        defineTool({
          slug: 'ALERTS_CREATE_RULE',
          description: 'Create an alert rule.',
          // as grafana/mcp-grafana writes Go's interface{} fields: `"model": true`
          inputSchema: {
            type: 'object',
            properties: {
              title: { type: 'string' },
              model: true,
              legacy: false,
              labels: { type: 'array', items: true },
              threshold: { anyOf: [true, { type: 'number' }] },
            },
            required: ['title', 'model'],
          },
          execute: async (input) => {
            received.push(input);
            return { ok: true };
          },
        }),
      ],
    });
    const { session, tools } = await directSession(toolkit);
    const { model, ai } = await scriptedClient([
      () => [
        {
          id: 'fc_rule',
          name: 'ALERTS_CREATE_RULE',
          args: {
            title: 'CPU',
            model: '{"expr":"cpu > 90","for":5}',
            labels: ['"team"', '3'],
            threshold: '"high"',
          },
        },
      ],
    ]);
    expect(await loop(ai, session, tools)).toBe('done');

    const [declaration] = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    const parameters = declaration!.parameters! as Record<string, unknown>;
    expect(geminiSchemaViolations(parameters)).toEqual([]);
    expect(Object.keys(declaration!.parameters!.properties!)).toEqual([
      'title',
      'model',
      'labels',
      'threshold',
    ]);
    expect(declaration!.parameters!.required).toEqual(['title', 'model']);
    expect(received).toEqual([
      { title: 'CPU', model: { expr: 'cpu > 90', for: 5 }, labels: ['team', 3], threshold: 'high' },
    ]);
    expect(resultsOf(model, 1).map((result) => result.response)).toEqual([{ output: { ok: true } }]);
  });
});

describe('two sessions of one GoogleProvider', () => {
  it('decode the arguments of a tool both have by their own declaration, whichever declared last', async () => {
    // the same custom tool slug, declared differently in each session: an integer enum (a STRING enum
    // for Gemini, read back as a number) and a string enum of the same texts (kept a string)
    const received: Record<string, unknown[]> = { numbers: [], strings: [] };
    const pageTool = (kind: 'numbers' | 'strings') =>
      defineTool({
        slug: 'PAGE_SIZE',
        description: 'Set the page size.',
        inputSchema: {
          type: 'object',
          properties: {
            size:
              kind === 'numbers'
                ? { type: 'integer', enum: [10, 50] }
                : { type: 'string', enum: ['10', '50'] },
            filter: kind === 'numbers' ? { type: 'object' } : { type: 'string' },
          },
          required: ['size', 'filter'],
        },
        execute: async (input) => {
          received[kind]!.push(input);
          return { ok: true };
        },
      });
    const mux = new ToolMux({
      provider: new GoogleProvider({ logger: { warn() {} } }),
      toolkits: [],
      store: ':memory:',
      logger: silent,
    });
    cleanups.push(() => mux.close());
    const numbers = await mux.create('user_1', {
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      experimental: { customTools: [pageTool('numbers')] },
    });
    const strings = await mux.create('user_2', {
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      experimental: { customTools: [pageTool('strings')] },
    });
    const numberTools = await numbers.tools();
    const stringTools = await strings.tools();
    const slugOf = (tools: GoogleTools) =>
      tools[0]!.functionDeclarations!.find((declaration) => declaration.name?.endsWith('PAGE_SIZE'))!.name!;
    // each session's call, after the other session's tools() (the order a server handles them in)
    const numberCall = { name: slugOf(numberTools), args: { size: '50', filter: '{"open":true}' } };
    const stringCall = { name: slugOf(stringTools), args: { size: '50', filter: '{"open":true}' } };
    for (const [session, tools, call] of [
      [numbers, numberTools, numberCall],
      [strings, stringTools, stringCall],
      [numbers, await numbers.tools(), numberCall],
    ] as const) {
      const { ai } = await scriptedClient([() => [{ id: 'fc_page', ...call }]]);
      expect(await loop(ai, session, tools)).toBe('done');
    }
    expect(received.numbers).toEqual([
      { size: 50, filter: { open: true } },
      { size: 50, filter: { open: true } },
    ]);
    expect(received.strings).toEqual([{ size: '50', filter: '{"open":true}' }]);
  });
});

/**
 * A `notes` toolkit of one tool, `slug`, of `inputSchema`, answering `{ ok: true }`, and the inputs
 * its handler received.
 */
function notesToolOf(slug: string, description: string, inputSchema: Record<string, unknown>) {
  const received: unknown[] = [];
  const toolkit = defineToolkit({
    slug: 'notes',
    description: 'Notes',
    tools: [
      defineTool({
        slug,
        description,
        inputSchema,
        execute: async (input) => {
          received.push(input);
          return { ok: true };
        },
      }),
    ],
  });
  return { toolkit, received };
}

describe('required names without a property ("ghost"), which Gemini refuses a whole request over', () => {
  it('are left out of required with a warning naming the tool and name, and each call is still checked against the tool’s schema', async () => {
    // valid JSON Schema: `ghost` must be there, of any value; `meta.owner` too
    const { toolkit, received } = notesToolOf('NOTES_TAG', 'Tag a note.', {
      type: 'object',
      properties: {
        title: { type: 'string' },
        meta: { type: 'object', properties: { color: { type: 'string' } }, required: ['owner'] },
      },
      required: ['title', 'ghost'],
    });
    const warnings: string[] = [];
    const { session, tools } = await directSession(toolkit, warnings);
    const { model, ai } = await scriptedClient([
      () => [{ id: 'fc_without', name: 'NOTES_TAG', args: { title: 'Draft', meta: { color: 'red' } } }],
      () => [
        {
          id: 'fc_with',
          name: 'NOTES_TAG',
          args: { title: 'Draft', ghost: 3, meta: { color: 'red', owner: 'ann' } },
        },
      ],
    ]);
    expect(await loop(ai, session, tools)).toBe('done');

    const [declaration] = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    const parameters = declaration!.parameters! as Record<string, any>;
    // what Gemini takes: before, `required` named properties the declaration does not have
    expect(geminiSchemaViolations(parameters)).toEqual([]);
    expect(parameters.required).toEqual(['title']);
    expect(parameters.properties.meta.required).toBeUndefined();
    expect(parameters.description).toContain('Also required: "ghost"');
    expect(warnings).toEqual([
      expect.stringContaining(
        'NOTES_TAG: $.meta: requires "owner", which properties does not declare; left out of required, as Gemini refuses a required name without a property; $: requires "ghost"',
      ),
    ]);
    // the session checks the calls against the tool's own schema, which requires both
    expect(resultsOf(model, 1)[0]!.response).toEqual({
      error: expect.stringMatching(/^Error \(TOOL_ARGUMENTS_INVALID\): .*ghost/),
    });
    expect(resultsOf(model, 2)[0]!.response).toEqual({ output: { ok: true } });
    expect(received).toEqual([{ title: 'Draft', ghost: 3, meta: { color: 'red', owner: 'ann' } }]);
  });

  it('a nested object of required names and no properties is a JSON string naming them, and each call is checked against the tool’s schema', async () => {
    // valid JSON Schema: `filter` is an object that must have `field` and `value`, of any value
    const { toolkit, received } = notesToolOf('NOTES_FIND', 'Find notes.', {
      type: 'object',
      properties: {
        filter: { type: 'object', description: 'Which notes.', required: ['field', 'value'] },
        scores: {
          type: 'object',
          required: ['min'],
          additionalProperties: { type: 'number' },
        },
        any: { required: ['kind'] },
      },
      required: ['filter'],
    });
    const warnings: string[] = [];
    const { session, tools } = await directSession(toolkit, warnings);
    const { model, ai } = await scriptedClient([
      () => [{ id: 'fc_short', name: 'NOTES_FIND', args: { filter: '{"field":"tag"}' } }],
      () => [
        {
          id: 'fc_whole',
          name: 'NOTES_FIND',
          args: { filter: '{"field":"tag","value":"red"}', scores: '{"min":1,"max":2}', any: '{"kind":3}' },
        },
      ],
    ]);
    expect(await loop(ai, session, tools)).toBe('done');

    const [declaration] = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    const parameters = declaration!.parameters! as Record<string, any>;
    expect(geminiSchemaViolations(parameters)).toEqual([]);
    expect(parameters.required).toEqual(['filter']);
    // the model is told which keys the object must have: before, only "a JSON object"
    expect(parameters.properties.filter).toEqual({
      type: 'STRING',
      description:
        'Which notes. Write a JSON object with the keys "field", "value" (required) as a JSON string.',
    });
    expect(parameters.properties.scores.description).toBe(
      'Write a JSON object whose values are number, with the key "min" (required), as a JSON string.',
    );
    expect(parameters.properties.any.description).toBe(
      'An object there must have the key "kind" (required). Write any JSON value as a JSON string.',
    );
    expect(warnings).toEqual([]);
    // the session checks the calls against the tool's own schema, which requires both keys
    expect(resultsOf(model, 1)[0]!.response).toEqual({
      error: expect.stringMatching(/^Error \(TOOL_ARGUMENTS_INVALID\): .*filter.*value/),
    });
    expect(resultsOf(model, 2)[0]!.response).toEqual({ output: { ok: true } });
    expect(received).toEqual([
      { filter: { field: 'tag', value: 'red' }, scores: { min: 1, max: 2 }, any: { kind: 3 } },
    ]);
  });

  it('a tool of required names only is declared without parameters, with a warning', async () => {
    const { toolkit } = notesToolOf('NOTES_PING', 'Ping.', { type: 'object', required: ['ghost'] });
    const warnings: string[] = [];
    const { tools } = await directSession(toolkit, warnings);
    expect(tools[0]!.functionDeclarations![0]!.parameters).toBeUndefined();
    expect(warnings).toEqual([
      expect.stringContaining(
        'NOTES_PING: $: requires "ghost", which properties does not declare; Gemini declares no parameters for this tool',
      ),
    ]);
  });
});
