import type {
  AgentOutputItem,
  Model,
  ModelProvider,
  ModelRequest,
  ModelResponse,
  StreamEvent,
} from '@openai/agents-core';
import { parseToolArguments } from '@toolmux/core';

/**
 * The `parameters` object of every function tool the provider made, as the SDK serializes it into a
 * model request (`SerializedFunctionTool.parameters` is the tool's own object): how a model response's
 * calls are told to be calls of toolmux tools, whatever else the agent has.
 */
export const toolmuxParameters = new WeakSet<object>();

/**
 * The `Model` (or `ModelProvider`) for `new Agent({ model })`, `run()` and `new Runner({ modelProvider })`,
 * made so that calls of toolmux tools whose arguments the SDK cannot parse reach the session.
 *
 * The SDK's runner parses a function call's arguments with `JSON.parse` before any tool sees them;
 * for arguments that are not JSON it answers the model itself ("An error occurred while parsing tool
 * arguments. Please try again with valid JSON.") and the session never hears of the call: no
 * execution log entry. That includes the empty arguments `""` that several OpenAI-compatible servers
 * (and models bridged from other APIs) send for a tool without parameters, whose call then never runs,
 * and arguments sent as a JSON object instead of text (llama.cpp's `llama-server` did so by default),
 * which the SDK's model classes hand over as they are.
 *
 * The returned model hands the runner such calls of toolmux tools in a form it parses, as
 * `parseToolArguments` (`@toolmux/core`) reads them for every other provider: empty (or blank)
 * arguments as `{}`, so the call runs; arguments that are not text as their JSON (an object runs as the call's
 * arguments); any other text as a JSON string of that text, so the session
 * answers `Error (TOOL_ARGUMENTS_INVALID): The arguments of <slug> are not valid JSON (<why>): …`
 * and logs the call. The conversation keeps the call with those arguments. Calls of other tools, and
 * arguments that parse, are left as they are.
 *
 * @example
 * const agent = new Agent({
 *   name: 'Assistant',
 *   model: answerUnparsedToolArguments(new OpenAIChatCompletionsModel(client, 'my-model')),
 *   tools: await session.tools(),
 * });
 * // or, for model names: new Runner({ modelProvider: answerUnparsedToolArguments(new OpenAIProvider()) })
 */
export function answerUnparsedToolArguments(model: Model): Model;
export function answerUnparsedToolArguments(provider: ModelProvider): ModelProvider;
export function answerUnparsedToolArguments(model: Model | ModelProvider): Model | ModelProvider {
  if ('getModel' in model && typeof model.getModel === 'function') {
    const provider = model;
    return {
      getModel: async (name?: string) => answerUnparsedToolArguments(await provider.getModel(name)),
    };
  }
  return new UnparsedToolArgumentsModel(model as Model);
}

class UnparsedToolArgumentsModel implements Model {
  readonly #model: Model;

  constructor(model: Model) {
    this.#model = model;
  }

  get supportsPromptModelSelection(): boolean | undefined {
    return this.#model.supportsPromptModelSelection;
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    const response = await this.#model.getResponse(request);
    const output = parsableOutput(response.output, request);
    return output === response.output ? response : { ...response, output };
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
    for await (const event of this.#model.getStreamedResponse(request)) {
      if (event.type !== 'response_done') {
        yield event;
        continue;
      }
      const output = parsableOutput(event.response.output, request);
      yield output === event.response.output ? event : { ...event, response: { ...event.response, output } };
    }
  }

  getRetryAdvice(...args: Parameters<NonNullable<Model['getRetryAdvice']>>) {
    return this.#model.getRetryAdvice?.(...args);
  }
}

/** `output` with the arguments of toolmux tools' calls made parsable; `output` itself if none needed it. */
function parsableOutput<T extends AgentOutputItem>(output: T[], request: ModelRequest): T[] {
  let ours: Set<string> | undefined;
  let changed = false;
  const items = output.map((item): T => {
    if (item.type !== 'function_call' || parses(item.arguments)) return item;
    ours ??= toolmuxToolKeys(request);
    if (!ours.has(toolKey(item.namespace, item.name))) return item;
    changed = true;
    return { ...item, arguments: parsableText(item.arguments) };
  });
  return changed ? items : output;
}

/** Whether the runner parses `text`: JSON text (arguments that are not text never are). */
function parses(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Arguments the runner cannot parse, as JSON text it parses into what `parseToolArguments` reads
 * them as: `{}` for empty text or none; other text as a JSON string of it; a value that is not text
 * (an OpenAI-compatible server's JSON object where the API has text, which the model classes hand
 * over untouched) as its JSON.
 */
function parsableText(args: unknown): string {
  try {
    const text = JSON.stringify(parseToolArguments(args));
    if (text !== undefined) return text;
  } catch {
    // not JSON data (a model of the application's own); the session is shown it as text
  }
  return JSON.stringify(String(args));
}

/** The toolmux function tools of a request, by namespace and name (as the model calls them). */
function toolmuxToolKeys(request: ModelRequest): Set<string> {
  const keys = new Set<string>();
  for (const tool of request.tools) {
    if (tool.type === 'function' && toolmuxParameters.has(tool.parameters))
      keys.add(toolKey(tool.namespace, tool.name));
  }
  return keys;
}

function toolKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}\u0000${name}`;
}
