import type { CallbackManagerForToolRun } from '@langchain/core/callbacks/manager';
import { AIMessage, ToolMessage } from '@langchain/core/messages';
import type { ToolCall } from '@langchain/core/messages/tool';
import {
  DynamicStructuredTool,
  type StructuredTool,
  type StructuredToolCallInput,
  ToolInputParsingException,
  type ToolReturnType,
  type ToolRunnableConfig,
} from '@langchain/core/tools';
import type { ExecuteFn, JSONSchema, Logger, PropertyKeysMode, Provider, ToolSpec } from '@toolmux/core';
import {
  formatToolResultForModel,
  isErrorForModel,
  openaiInputSchemaOf,
  parseToolArguments,
  portableArgumentsOf,
  strictSchemaOf,
  withPortableKeys,
} from '@toolmux/core';
import { checkedProviderOptions, PORTABLE_PROVIDER_OPTION_KINDS } from '@toolmux/core/internal';

export interface LangChainProviderOptions {
  /**
   * Hand out input schemas rewritten for OpenAI strict mode: optional fields become required and
   * nullable, objects get `additionalProperties: false`. A tool whose schema cannot be strict keeps its
   * non-strict schema, alone, with a warning; `tool.metadata.toolmux.strict` says which one a tool got.
   * LangChain decides strict mode when tools are bound (`bindTools(tools, { strict: true })`,
   * `new ChatOpenAI({ supportsStrictToolCalling: true })`), not per tool.
   * @default false
   */
  strict?: boolean;
  /** Receives the warning for each tool that falls back to a non-strict schema. @default console */
  logger?: Pick<Logger, 'warn'>;
  /**
   * `'portable'`: property keys a major model API refuses (Anthropic: `filter[id]`, `first name`,
   * longer than 64 characters, at any depth; Gemini: `page-size` as a parameter name) are handed out
   * renamed, each renamed property's description naming the tool's own key, and the model's
   * arguments are read back to the tool's keys. `'unchanged'`: keys as the tool has them.
   * @default 'portable'
   */
  propertyKeys?: PropertyKeysMode;
}

/** What every tool of this provider carries in `tool.metadata.toolmux`. */
export interface LangChainToolMetadata {
  toolkit: string;
  /** Whether `tool.schema` is the strict-mode rewrite (only ever with `strict: true`). */
  strict: boolean;
}

/**
 * Session tools as LangChain structured tools, for `createAgent({ tools })` (langchain),
 * `createReactAgent({ tools })` (@langchain/langgraph) and `model.bindTools(tools)`.
 *
 * Each tool's `schema` is a plain JSON Schema copy; arguments are validated by the session, whose
 * message names every bad field. A tool's result reaches the model as a `ToolMessage` whose content is
 * the result as text (`formatToolResultForModel`), with `status: 'error'` for a failed call (and a
 * workbench cell that failed: `isErrorForModel`) and the
 * whole `ToolResult` (with its `logId`) as `artifact`. Tool failures never throw into the agent loop.
 *
 * @example
 * const mux = new ToolMux({ provider: new LangChainProvider(), toolkits });
 * const session = await mux.create('user_123', { toolkits: ['github'] });
 * const agent = createAgent({ model: 'openai:gpt-5-mini', tools: await session.tools() });
 * await agent.invoke({ messages: [{ role: 'user', content: 'Star langchain-ai/langchainjs' }] });
 */
export class LangChainProvider implements Provider<StructuredTool[]> {
  readonly name = 'langchain';
  readonly #strict: boolean;
  readonly #logger: Pick<Logger, 'warn'>;
  readonly #propertyKeys: PropertyKeysMode;

  constructor(options?: LangChainProviderOptions) {
    const {
      strict = false,
      logger = console,
      propertyKeys = 'portable',
    } = checkedProviderOptions(options, 'LangChainProvider', PORTABLE_PROVIDER_OPTION_KINDS);
    this.#strict = strict;
    this.#logger = logger;
    this.#propertyKeys = propertyKeys;
  }

  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): StructuredTool[] {
    const mode = this.#propertyKeys;
    return tools.map((spec) => {
      const { schema, strict } = this.#schemaOf(spec);
      const shown = plainCopyOf(withPortableKeys(spec, schema, mode));
      return new SessionTool(spec, shown, strict, (slug, args, options) =>
        execute(slug, portableArgumentsOf(spec, args, mode), options),
      );
    });
  }

  /**
   * Not strict: the schema OpenAI takes (it refuses a whole request over a pattern with lookaround or
   * an array without items, and `ChatOpenAI` sends schemas as they are); the session still checks
   * each call against the tool's own schema.
   */
  #schemaOf(spec: ToolSpec): { schema: JSONSchema; strict: boolean } {
    if (!this.#strict) return { schema: openaiInputSchemaOf(spec), strict: false };
    const shaped = strictSchemaOf(spec);
    if (shaped.strict) return shaped;
    this.#logger.warn(
      `toolmux: ${spec.slug} cannot use strict mode (${shaped.reason}); it keeps its non-strict schema.`,
    );
    return { schema: openaiInputSchemaOf(spec), strict: false };
  }
}

const copies = new WeakMap<JSONSchema, JSONSchema>();

/**
 * The schema handed to LangChain: a plain JSON copy (own enumerable keys only, so no hidden
 * `~standard` marker that LangChain would take for a Standard Schema), so that what LangChain does to
 * it (its validator marks every subschema) never reaches core's schemas. Core keeps one schema object
 * per tool, so the copy is made once per tool, not once per session.
 */
function plainCopyOf(schema: JSONSchema): JSONSchema {
  let copy = copies.get(schema);
  if (!copy) {
    copy = plainJson(schema) as JSONSchema;
    copies.set(schema, copy);
  }
  return copy;
}

function plainJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainJson);
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = plainJson((value as Record<string, unknown>)[key]);
  return copy;
}

/**
 * The schema LangChain's own check of a call's arguments gets (see `SessionTool.call`): one that
 * takes any value.
 */
const ANY_VALUE: JSONSchema = {};

/**
 * One session tool. LangChain checks JSON-schema arguments itself before the tool runs, and all the
 * model would read of a failure is "Received tool input did not match expected schema" inside a stack
 * trace. When that check fails, the call goes to the session anyway: its validation names each bad
 * field (or accepts what LangChain's stricter `format` checks refused), and the call is logged.
 *
 * LangChain's check (`@cfworker/json-schema`) runs a schema's `pattern`s with JavaScript's
 * backtracking `RegExp` on the event loop, against the model's text: `^(a+)+$` against 24 `a`s and a
 * `!` held it 0.19 s, twice that for each more. The session's own check runs them in linear time (or
 * on a worker thread within a budget), and decides the call whatever LangChain's says, so LangChain's
 * is given a schema that takes any value; the model still sees the tool's schema.
 */
class SessionTool extends DynamicStructuredTool<JSONSchema> {
  constructor(spec: ToolSpec, schema: JSONSchema, strict: boolean, execute: ExecuteFn) {
    const metadata: { toolmux: LangChainToolMetadata } = { toolmux: { toolkit: spec.toolkit, strict } };
    super({
      name: spec.slug,
      description: spec.description,
      schema,
      metadata,
      func: async (args: unknown, _runManager?: CallbackManagerForToolRun, config?: ToolRunnableConfig) => {
        const toolCall = config?.toolCall;
        const result = await execute(spec.slug, args, { callId: toolCall?.id, signal: config?.signal });
        const content = formatToolResultForModel(result);
        if (!toolCall?.id) return content;
        const status = isErrorForModel(result) ? 'error' : 'success';
        return new ToolMessage({
          content,
          tool_call_id: toolCall.id,
          name: spec.slug,
          status,
          artifact: result,
        });
      },
    });
  }

  override async call<
    TArg extends StructuredToolCallInput<JSONSchema>,
    TConfig extends ToolRunnableConfig | undefined,
  >(
    arg: TArg,
    configArg?: TConfig,
    tags?: string[],
  ): Promise<ToolReturnType<NonNullable<TArg>, TConfig, unknown>> {
    // arguments that are missing or text (a model class that left a call's so, or a call
    // answerUnparsedToolArguments() took from `invalid_tool_calls`) are read as every other provider
    // reads them: LangChain's own check threw on `undefined` (`Instances of "undefined" type are not
    // supported`), and the session never saw the call. `invoke()` hands a tool call's arguments here.
    if (isToolCall(arg)) {
      if (isUnparsed(arg.args)) arg = { ...arg, args: parseToolArguments(arg.args) } as TArg;
    } else if (isUnparsed(arg)) {
      arg = parseToolArguments(arg) as TArg;
    }
    try {
      // LangChain checks the arguments against `this.schema` before its first await: for that check
      // only, the schema takes any value (see the class's comment); what the model is shown is kept
      const shown = this.schema;
      this.schema = ANY_VALUE;
      let called: Promise<ToolReturnType<NonNullable<TArg>, TConfig, unknown>>;
      try {
        called = super.call(arg, configArg, tags);
      } finally {
        this.schema = shown;
      }
      return await called;
    } catch (error) {
      if (!(error instanceof ToolInputParsingException)) throw error;
      const config: ToolRunnableConfig = {
        ...configArg,
        toolCall: isToolCall(arg) ? arg : configArg?.toolCall,
      };
      const output = await this.func(isToolCall(arg) ? arg.args : arg, undefined, config);
      return output as ToolReturnType<NonNullable<TArg>, TConfig, unknown>;
    }
  }
}

/** Arguments that are not (yet) a JSON value: missing, or text. */
function isUnparsed(args: unknown): boolean {
  return args === undefined || args === null || typeof args === 'string';
}

function isToolCall(value: unknown): value is ToolCall {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'tool_call';
}

/**
 * A `createAgent()` middleware (langchain's `wrapModelCall`) so that calls of toolmux tools whose
 * arguments the chat model could not parse reach the session:
 * `createAgent({ model, tools, middleware: [answerUnparsedToolArguments()] })`.
 *
 * LangChain's chat model classes parse a call's arguments as they read the response; arguments that are
 * not JSON (empty arguments `""`, which several OpenAI-compatible servers send for a tool without
 * parameters, JSON cut off at the token limit) make the call an `invalid_tool_calls` entry, which
 * `createAgent()` never runs: the run ends there, the model is told nothing and the session never sees
 * the call. This middleware moves such calls of toolmux tools into the response's `tool_calls`, with
 * their text read as `parseToolArguments` reads it for every other provider: empty (or blank) as `{}`,
 * so the call runs; any other text as it is, answered with `Error (TOOL_ARGUMENTS_INVALID): The
 * arguments of <slug> are not valid JSON (<why>): …` and logged. Invalid calls of other tools are left
 * as they are.
 */
export function answerUnparsedToolArguments(): UnparsedToolArgumentsMiddleware {
  return {
    // langchain's createMiddleware() brand (a registered symbol), so this package needs no `langchain`
    [Symbol.for('AgentMiddleware')]: true,
    name: 'ToolmuxUnparsedToolArguments',
    async wrapModelCall(request, handler) {
      const response = await handler(request);
      if (!AIMessage.isInstance(response) || !response.invalid_tool_calls?.length) return response;
      const ours = new Set(request.tools.flatMap((each) => (each instanceof SessionTool ? [each.name] : [])));
      const answered = response.invalid_tool_calls.filter(
        (call) => call.name !== undefined && ours.has(call.name),
      );
      if (answered.length === 0) return response;
      return new AIMessage({
        content: response.content,
        id: response.id,
        name: response.name,
        additional_kwargs: response.additional_kwargs,
        response_metadata: response.response_metadata,
        usage_metadata: response.usage_metadata,
        tool_calls: [
          ...response.tool_calls!,
          ...answered.map((call) => ({
            type: 'tool_call' as const,
            id: call.id,
            name: call.name!,
            // the text as the model sent it: SessionTool.call reads it (empty as {})
            args: (call.args ?? '') as unknown as Record<string, unknown>,
          })),
        ],
        invalid_tool_calls: response.invalid_tool_calls.filter((call) => !answered.includes(call)),
      });
    },
  };
}

/** What {@link answerUnparsedToolArguments} returns: a langchain `AgentMiddleware` for `createAgent({ middleware })`. */
export interface UnparsedToolArgumentsMiddleware {
  readonly name: string;
  wrapModelCall<R extends { tools: readonly unknown[] }>(
    request: R,
    handler: (request: R) => AIMessage | Promise<AIMessage>,
  ): Promise<AIMessage>;
}
