import { type CallbackManager, Settings } from '@llamaindex/core/global';
import { FunctionTool } from '@llamaindex/core/tools';
import {
  type ExecuteFn,
  formatToolResultForModel,
  type JSONSchema,
  type Logger,
  openaiInputSchemaOf,
  type PropertyKeysMode,
  type Provider,
  plainJsonCopy,
  portableArgumentsOf,
  StrictSchemas,
  type ToolResult,
  type ToolSpec,
  withPortableKeys,
} from '@toolmux/core';
import { checkedProviderOptions, PORTABLE_PROVIDER_OPTION_KINDS } from '@toolmux/core/internal';
import { toolmuxMetadata, unknownCalls } from './unknown-tool-calls.js';

/**
 * What a tool of this provider accepts as its bound argument (`tool.bind({ signal })`, LlamaIndex's way
 * to hand a tool more than its input): the signal that aborts the running tool.
 */
export interface LlamaIndexToolContext {
  /** Aborts the running tool: the session stops it and logs `TOOL_ABORTED`. */
  signal?: AbortSignal;
}

/** A session tool as a LlamaIndex `FunctionTool`. */
export type LlamaIndexTool = FunctionTool<unknown, Promise<string>, LlamaIndexToolContext>;

export interface LlamaIndexProviderOptions {
  /**
   * Hand out input schemas rewritten for OpenAI strict mode: optional fields become required and
   * nullable, objects get `additionalProperties: false`. A tool whose schema cannot be strict keeps its
   * non-strict schema, alone, with a warning. Whether the model is asked for strict tool calls is up to
   * the LlamaIndex LLM class, not the tool.
   * @default false
   */
  strict?: boolean;
  /** Receives the warning that lists tools that keep a non-strict schema. @default console */
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

/**
 * Session tools as LlamaIndex.TS `FunctionTool`s, for `agent({ tools })` and `multiAgent()` from
 * `@llamaindex/workflow` (or `llamaindex`), or any LLM's `chat({ tools })`.
 *
 * Each tool runs through the session (validation, accounts, timeout, execution log). The model reads the
 * tool's data on success, and `Error (CODE): message` on failure: a failing tool never throws into the
 * agent loop. The model's tool call id is taken from LlamaIndex's `llm-tool-call` event; LlamaIndex's
 * agents hand tools no abort signal, so bind one: `tools.map((tool) => tool.bind({ signal }))`.
 * LlamaIndex's agents never settle when the model calls a tool name they have no tool of: give them
 * the LLM wrapped in `answerUnknownToolCalls()`, and the session answers such a call.
 *
 * @example
 * const mux = new ToolMux({ provider: new LlamaIndexProvider(), toolkits });
 * const session = await mux.create('user_123', { toolkits: ['github'] });
 * const llm = answerUnknownToolCalls(openai({ model: 'gpt-5-mini' }));
 * const assistant = agent({ llm, tools: await session.tools() });
 * const result = await assistant.run('Star the octocat/hello-world repository');
 */
export class LlamaIndexProvider implements Provider<LlamaIndexTool[]> {
  readonly name = 'llamaindex';
  readonly strict: boolean;
  readonly propertyKeys: PropertyKeysMode;
  readonly #strict: StrictSchemas;

  constructor(options?: LlamaIndexProviderOptions) {
    const {
      strict = false,
      logger = console,
      propertyKeys = 'portable',
    } = checkedProviderOptions(options, 'LlamaIndexProvider', PORTABLE_PROVIDER_OPTION_KINDS);
    this.strict = strict;
    this.propertyKeys = propertyKeys;
    this.#strict = new StrictSchemas(strict, logger);
  }

  wrapTools(specs: readonly ToolSpec[], execute: ExecuteFn): LlamaIndexTool[] {
    listenForToolCalls();
    const strict = this.#strict.shape(specs);
    const tools = specs.map((spec, index) => {
      const shaped = strict[index];
      // not strict: the schema OpenAI takes (it refuses a whole request over a pattern with lookaround
      // or an array without items, and LlamaIndex's OpenAI LLM sends schemas as they are); the session
      // still checks each call against the tool's own schema
      const schema = shaped?.strict ? shaped.schema : openaiInputSchemaOf(spec);
      return functionTool(spec, schema, this.propertyKeys, execute);
    });
    return tools;
  }
}

function functionTool(
  spec: ToolSpec,
  schema: JSONSchema,
  mode: PropertyKeysMode,
  execute: ExecuteFn,
): LlamaIndexTool {
  const slug = spec.slug;
  const run = async (input: unknown, context?: LlamaIndexToolContext): Promise<string> => {
    listenForToolCalls();
    // LlamaIndex announces the call (with its id) in a microtask queued just before it called the tool
    await undefined;
    const inputObject = typeof input === 'object' && input !== null ? input : undefined;
    const callId = inputObject && callIds.get(inputObject);
    // a call answerUnknownToolCalls() handed this tool runs under the name the model called
    const name = (inputObject && unknownCalls.get(inputObject)?.name) ?? slug;
    // keys renamed for this tool are read back for this tool only, not for a call of another name
    const args = name === slug ? portableArgumentsOf(spec, input, mode) : input;
    return answerOf(await execute(name, args, { callId, signal: context?.signal }));
  };
  // the schema is copied once per schema object (core keeps one per tool), not once per session
  const parameters = plainCopyOf(withPortableKeys(spec, schema, mode));
  const metadata = { name: slug, description: spec.description, parameters };
  toolmuxMetadata.add(metadata);
  return FunctionTool.from<unknown, LlamaIndexToolContext>(run, metadata as never) as LlamaIndexTool;
}

/** The tool call id of each call's input object, from LlamaIndex's `llm-tool-call` event. */
const callIds = new WeakMap<object, string>();
const listening = new WeakSet<CallbackManager>();

/**
 * Listens to the `llm-tool-call` events of the callback manager in effect (`Settings.callbackManager`,
 * the global one or the one `Settings.withCallbackManager()` set for this run), when the tools are made
 * and at each call. LlamaIndex's agents dispatch the event with the model's tool call and the very input
 * object they then pass to the tool; an event dispatched before anyone listened to that manager (the
 * first call of a run-scoped manager the tools were not made under) is gone, and that call has no id.
 */
function listenForToolCalls(): void {
  const manager = Settings.callbackManager;
  if (listening.has(manager)) return;
  listening.add(manager);
  manager.on('llm-tool-call', (event) => {
    const { toolCall } = event.detail;
    if (typeof toolCall.input === 'object' && toolCall.input !== null && toolCall.id) {
      callIds.set(toolCall.input, toolCall.id);
    }
  });
}

const copies = new WeakMap<JSONSchema, JSONSchema>();

/**
 * A plain JSON copy of a schema (no hidden `~standard` marker), so nothing LlamaIndex does reaches core;
 * made once per schema object, so later sessions' tools share it.
 */
function plainCopyOf(schema: JSONSchema): JSONSchema {
  let copy = copies.get(schema);
  if (!copy) {
    copy = plainJsonCopy(schema) as JSONSchema;
    copies.set(schema, copy);
  }
  return copy;
}

/**
 * What the tool answers LlamaIndex: toolmux's text for the model (the data as JSON on success,
 * `Error (CODE): message` on failure), always a string. LlamaIndex's agents refuse outputs with a `null`
 * anywhere in them (`assertIsJSONValue`), and show the model every output as `JSON.stringify(output)`
 * with each `"…"` pair's quotes removed, which would leave stray backslashes in JSON text: its double
 * quotes are made single.
 */
function answerOf(result: ToolResult): string {
  return formatToolResultForModel(result).replaceAll('"', "'");
}
