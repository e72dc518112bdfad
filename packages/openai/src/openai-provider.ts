import {
  type ExecuteFn,
  formatToolResultForModel,
  type JSONSchema,
  type Logger,
  openaiInputSchemaOf,
  type PropertyKeysMode,
  type Provider,
  parseToolArguments,
  portableArgumentsOf,
  runToolCalls,
  strictSchemaOf,
  type ToolCall,
  type ToolSpec,
  withPortableKeys,
} from '@toolmux/core';
import { checkedProviderOptions, PORTABLE_PROVIDER_OPTION_KINDS } from '@toolmux/core/internal';
import type {
  ChatCompletion,
  ChatCompletionFunctionTool,
  ChatCompletionToolMessageParam,
} from 'openai/resources/chat/completions';
import type { FunctionTool, Response, ResponseInputItem } from 'openai/resources/responses/responses';

/** A tool call of a Chat Completions message. */
type ChatToolCall = NonNullable<ChatCompletion['choices'][number]['message']['tool_calls']>[number];

/** Which OpenAI API the tools are for: Chat Completions or the Responses API. */
export type OpenAIApi = 'chat' | 'responses';

/** What `session.tools()` returns for an API: the `tools` array of its `create()` call. */
export type OpenAITools<A extends OpenAIApi> = A extends 'responses'
  ? FunctionTool[]
  : ChatCompletionFunctionTool[];

/** The model response `session.handleToolCalls()` takes for an API. */
export type OpenAIResponse<A extends OpenAIApi> = A extends 'responses' ? Response : ChatCompletion;

/**
 * What `session.handleToolCalls()` returns for an API: the `tool` messages to append to `messages`
 * (Chat Completions), or the `function_call_output` items to send as `input` (Responses API).
 */
export type OpenAIToolOutputs<A extends OpenAIApi> = A extends 'responses'
  ? ResponseInputItem.FunctionCallOutput[]
  : ChatCompletionToolMessageParam[];

export interface OpenAIProviderOptions<A extends OpenAIApi = 'chat'> {
  /** The API the tools and tool calls are for: `'chat'` (Chat Completions) or `'responses'`. @default 'chat' */
  api?: A;
  /**
   * Hand tools out in OpenAI strict mode (`strict: true`, constrained decoding): each schema is
   * rewritten by toolmux (optional fields become required and nullable, `additionalProperties: false`).
   * A tool whose schema cannot be strict falls back to `strict: false` on its own, with a warning.
   * When `false`, every tool says `strict: false` (the Responses API would otherwise assume strict).
   * @default false
   */
  strict?: boolean;
  /** Receives the warning that lists tools handed out non-strict under `strict: true`. @default console */
  logger?: Pick<Logger, 'warn'>;
  /**
   * `'portable'`: property keys a major model API refuses (Anthropic: `filter[id]`, `first name`,
   * longer than 64 characters, at any depth; Gemini: `page-size` as a parameter name) are handed out
   * renamed, each renamed property's description naming the tool's own key, and `handleToolCalls`
   * reads the model's arguments back to the tool's keys. The client is often pointed at an
   * OpenAI-compatible endpoint for another vendor's model (OpenRouter, Gemini's OpenAI compatibility),
   * where one such key fails every request. `'unchanged'`: keys as the tool has them.
   * @default 'portable'
   */
  propertyKeys?: PropertyKeysMode;
}

/**
 * toolmux provider for the official `openai` SDK: `session.tools()` returns the `tools` array of
 * `openai.chat.completions.create()` (`api: 'chat'`) or `openai.responses.create()` (`api: 'responses'`),
 * and `session.handleToolCalls(response)` runs every function call of the model's response through the
 * session (in parallel, each with its call id) and returns what to send back: `tool` messages, or
 * `function_call_output` items. A failed tool is an error text the model reads, never a throw.
 *
 * @example
 * const mux = new ToolMux({ provider: new OpenAIProvider({ api: 'responses' }), toolkits });
 * const session = await mux.create('user_123', { toolkits: ['github'] });
 * let response = await openai.responses.create({ model, input, tools: await session.tools() });
 * const outputs = await session.handleToolCalls(response);
 * response = await openai.responses.create({ model, previous_response_id: response.id, input: outputs, tools });
 */
/** The options of {@link OpenAIProvider} and what each takes. */
const OPENAI_PROVIDER_OPTION_KINDS = {
  ...PORTABLE_PROVIDER_OPTION_KINDS,
  api: {
    takes: "'chat' (Chat Completions) or 'responses' (the Responses API)",
    test: (value: unknown) => value === 'chat' || value === 'responses',
  },
};

export class OpenAIProvider<A extends OpenAIApi = 'chat'>
  implements Provider<OpenAITools<A>, OpenAIResponse<A>, OpenAIToolOutputs<A>>
{
  readonly name = 'openai';
  readonly api: A;
  readonly strict: boolean;
  readonly propertyKeys: PropertyKeysMode;
  readonly #logger: Pick<Logger, 'warn'>;
  /**
   * The tool last handed out under each slug: what `handleToolCalls` reads renamed property keys
   * back by when it is called without the session's specs (a caller of its own).
   */
  readonly #specs = new Map<string, ToolSpec>();

  constructor(options?: OpenAIProviderOptions<A>) {
    const {
      api = 'chat' as A,
      strict = false,
      logger = console,
      propertyKeys = 'portable',
    } = checkedProviderOptions(options, 'OpenAIProvider', OPENAI_PROVIDER_OPTION_KINDS);
    this.api = api;
    this.strict = strict;
    this.propertyKeys = propertyKeys;
    this.#logger = logger;
  }

  wrapTools(specs: readonly ToolSpec[], _execute: ExecuteFn): OpenAITools<A> {
    const fallbacks: string[] = [];
    const responses = this.api === 'responses';
    const tools = specs.map((spec) => {
      this.#specs.set(spec.slug, spec);
      let parameters: JSONSchema = openaiInputSchemaOf(spec);
      let strict = false;
      if (this.strict) {
        const shaped = strictSchemaOf(spec);
        if (shaped.strict) {
          parameters = shaped.schema;
          strict = true;
        } else fallbacks.push(`${spec.slug}: ${shaped.reason}`);
      }
      parameters = withPortableKeys(spec, parameters, this.propertyKeys);
      return responses
        ? ({
            type: 'function',
            name: spec.slug,
            description: spec.description,
            parameters,
            strict,
          } as FunctionTool)
        : ({
            type: 'function',
            function: { name: spec.slug, description: spec.description, parameters, strict },
          } as ChatCompletionFunctionTool);
    });
    if (fallbacks.length > 0) {
      this.#logger.warn(
        `toolmux: ${fallbacks.length} tool(s) cannot use OpenAI strict mode and are handed out with strict: false (arguments are still validated):\n  ${fallbacks.join('\n  ')}`,
      );
    }
    return tools as OpenAITools<A>;
  }

  /**
   * Runs the function calls of a Chat Completions or Responses API response. Property keys handed out
   * renamed (`propertyKeys: 'portable'`) are read back as the tool's own keys before a call runs, by
   * `tools` (the session's specs by slug) or else by the tool last handed out under the slug.
   */
  async handleToolCalls(
    response: OpenAIResponse<A>,
    execute: ExecuteFn,
    tools?: ReadonlyMap<string, ToolSpec>,
  ): Promise<OpenAIToolOutputs<A>> {
    const withOwnKeys = (call: ToolCall): ToolCall => {
      const spec = tools?.get(call.name) ?? this.#specs.get(call.name);
      return spec
        ? { ...call, arguments: portableArgumentsOf(spec, call.arguments, this.propertyKeys) }
        : call;
    };
    if (isChatCompletion(response)) {
      const toolCalls = response.choices[0]?.message.tool_calls ?? [];
      const calls: ToolCall[] = toolCalls.map((call) => withOwnKeys(toolCallOf(call)));
      const results = await runToolCalls(calls, execute);
      return results.map(
        (result, index): ChatCompletionToolMessageParam => ({
          role: 'tool',
          tool_call_id: toolCalls[index]!.id,
          content: formatToolResultForModel(result),
        }),
      ) as OpenAIToolOutputs<A>;
    }
    const functionCalls = response.output.filter((item) => item.type === 'function_call');
    const results = await runToolCalls(
      functionCalls.map((call) =>
        withOwnKeys({ id: call.call_id, name: call.name, arguments: parseToolArguments(call.arguments) }),
      ),
      execute,
    );
    return results.map(
      (result, index): ResponseInputItem.FunctionCallOutput => ({
        type: 'function_call_output',
        call_id: functionCalls[index]!.call_id,
        output: formatToolResultForModel(result),
      }),
    ) as OpenAIToolOutputs<A>;
  }
}

/**
 * A Chat Completions tool call as toolmux runs it. A call with a `function` member is a function call
 * whatever its `type` says: some OpenAI-compatible servers leave `type` out. One with neither a
 * `function` nor a `custom` member names no tool, and answers as a call of an unknown tool.
 */
function toolCallOf(call: ChatToolCall): ToolCall {
  const given = call as {
    function?: { name: string; arguments: string } | null;
    custom?: { name: string; input: string } | null;
  };
  if (typeof given.function === 'object' && given.function !== null) {
    return {
      id: call.id,
      name: given.function.name,
      arguments: parseToolArguments(given.function.arguments),
    };
  }
  if (typeof given.custom === 'object' && given.custom !== null) {
    return { id: call.id, name: given.custom.name, arguments: given.custom.input };
  }
  return { id: call.id, name: '', arguments: {} };
}

/** A Chat Completions response (`object: 'chat.completion'`), as opposed to a Responses API one. */
function isChatCompletion(response: ChatCompletion | Response): response is ChatCompletion {
  return 'choices' in response;
}
