import {
  type BaseTool,
  type ChatMessage,
  type ChatResponse,
  type ChatResponseChunk,
  type LLMChatParamsNonStreaming,
  type LLMChatParamsStreaming,
  type LLMMetadata,
  ToolCallLLM,
} from '@llamaindex/core/llms';
import { parseToolArguments } from '@toolmux/core';

/** A tool call of a name the agent has no tool of: that name, and the input as the model sent it. */
interface UnknownToolCall {
  name: string;
  input: unknown;
}

/**
 * The input object of each call that {@link answerUnknownToolCalls} handed to a toolmux tool, and the
 * call the model made: LlamaIndex's agents pass a tool call's input object on to the tool as it is.
 */
export const unknownCalls = new WeakMap<object, UnknownToolCall>();

/** The metadata object of every tool the provider made (`tool.bind()` copies share it). */
export const toolmuxMetadata = new WeakSet<object>();

/**
 * The LLM for LlamaIndex's `agent()` and `multiAgent()` (`@llamaindex/workflow`), made safe for a model
 * that calls a tool name the agent has no tool of, as models do with toolmux: a slug found with
 * `TOOLMUX_SEARCH_TOOLS` called directly, or a name misspelt. For such a call LlamaIndex's agent throws
 * `Tools not found: <name>` inside its workflow step, and its workflow passes that error on to no one:
 * `run()` never settles (and Node reports an unhandled rejection, which ends a process that has no
 * handler for them).
 *
 * The returned LLM hands such a call to one of the agent's toolmux tools, which runs it through the
 * session under the name the model called (the session of the first toolmux tool among the agent's
 * tools): a tool of the session runs; for any other name the model reads toolmux's answer
 * (`Error (TOOL_NOT_FOUND): There is no tool '<name>'. Did you mean …? Use TOOLMUX_SEARCH_TOOLS to find
 * the right slug.`), the call is logged with its id, and the run goes on. The messages it sends the model
 * show the call under its own name and input; LlamaIndex's events and the agent's memory name the toolmux
 * tool that ran it. Without a toolmux tool among the agent's tools, calls pass as they are. Only streamed
 * answers are changed (the agents stream); `exec()` without a stream answers an unknown name itself.
 *
 * @example
 * const assistant = agent({
 *   llm: answerUnknownToolCalls(openai({ model: 'gpt-5-mini' })),
 *   tools: await session.tools(),
 * });
 */
export function answerUnknownToolCalls(llm: ToolCallLLM): ToolCallLLM {
  return new UnknownToolCallsLLM(llm);
}

class UnknownToolCallsLLM extends ToolCallLLM {
  readonly #llm: ToolCallLLM;

  constructor(llm: ToolCallLLM) {
    super();
    this.#llm = llm;
  }

  get metadata(): LLMMetadata {
    return this.#llm.metadata;
  }

  get supportToolCall(): boolean {
    return this.#llm.supportToolCall;
  }

  chat(params: LLMChatParamsStreaming): Promise<AsyncIterable<ChatResponseChunk>>;
  chat(params: LLMChatParamsNonStreaming): Promise<ChatResponse>;
  async chat(
    params: LLMChatParamsStreaming | LLMChatParamsNonStreaming,
  ): Promise<AsyncIterable<ChatResponseChunk> | ChatResponse> {
    const messages = params.messages.map(asTheModelSentIt);
    // the agents stream; without a stream, LlamaIndex's exec() answers an unknown name itself
    if (params.stream !== true) return this.#llm.chat({ ...params, messages });
    const chunks = await this.#llm.chat({ ...params, messages });
    const answer = unknownCallsAnswer(params.tools ?? []);
    return answer ? answeredChunks(chunks, answer) : chunks;
  }
}

type Options = ChatMessage['options'];
type Answer = (options: Options) => Options;

/**
 * What turns the tool calls of names `tools` has none of into calls of the first toolmux tool among
 * them (by its name, with an input object of their own that the tool runs under the called name);
 * `undefined` when `tools` has no toolmux tool.
 */
function unknownCallsAnswer(tools: readonly BaseTool[]): Answer | undefined {
  const target = tools.find((tool) => toolmuxMetadata.has(tool.metadata))?.metadata.name;
  if (target === undefined) return undefined;
  const known = new Set(tools.map((tool) => tool.metadata.name));
  return (options) => {
    const calls = toolCallsOf(options);
    if (!calls?.some((call) => !known.has(call.name))) return options;
    return {
      ...options,
      toolCall: calls.map((call) => {
        if (known.has(call.name)) return call;
        const input = inputObjectOf(call.input);
        unknownCalls.set(input, { name: call.name, input: call.input });
        return { ...call, name: target, input };
      }),
    };
  };
}

async function* answeredChunks(
  chunks: AsyncIterable<ChatResponseChunk>,
  answer: Answer,
): AsyncIterable<ChatResponseChunk> {
  for await (const chunk of chunks) {
    const options = answer(chunk.options);
    yield options === chunk.options ? chunk : { ...chunk, options };
  }
}

/** A message with each handed-over tool call under the name and input the model sent. */
function asTheModelSentIt(message: ChatMessage): ChatMessage {
  const calls = toolCallsOf(message.options);
  if (!calls?.some((call) => unknownCallOf(call.input))) return message;
  const toolCall = calls.map((call) => {
    const unknown = unknownCallOf(call.input);
    return unknown ? { ...call, name: unknown.name, input: unknown.input } : call;
  });
  return { ...message, options: { ...message.options, toolCall } };
}

type ToolCallEntry = { name: string; input: unknown; id: string };

function toolCallsOf(options: Options): ToolCallEntry[] | undefined {
  if (typeof options !== 'object' || options === null || !('toolCall' in options)) return undefined;
  return Array.isArray(options.toolCall) ? (options.toolCall as ToolCallEntry[]) : undefined;
}

function unknownCallOf(input: unknown): UnknownToolCall | undefined {
  return typeof input === 'object' && input !== null ? unknownCalls.get(input) : undefined;
}

/**
 * The input object the tool gets: the model's arguments (JSON text parsed as the session's other
 * paths parse it), or, for text that is not a JSON object, `{ rawInput }` as LlamaIndex's agents make it.
 */
function inputObjectOf(input: unknown): object {
  const args = typeof input === 'string' ? parseToolArguments(input) : input;
  return typeof args === 'object' && args !== null ? args : { rawInput: input };
}
