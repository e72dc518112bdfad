import type { LanguageModel as MastraLanguageModel } from '@mastra/core/llm';
import type { InputProcessor, ProcessInputStepArgs, ProcessInputStepResult } from '@mastra/core/processors';

/**
 * What the tools of a `MastraProvider` have as `toModelOutput` (the same function for all): how the
 * processor tells, in a step's tools, the toolmux tools from the agent's others.
 */
export const toolmuxToolMarks = new WeakSet<object>();

/** The id of the processor {@link answerUnparsedToolArguments} returns. */
export const UNPARSED_TOOL_ARGUMENTS_PROCESSOR_ID = 'toolmux-unparsed-tool-arguments';

/**
 * A Mastra input processor (`new Agent({ inputProcessors: [answerUnparsedToolArguments()] })`) so that
 * every call of a toolmux tool reaches the session, in `agent.generate()` and `agent.stream()` alike,
 * whatever the agent's model (a model id, an AI SDK model, a model chosen per request).
 *
 * Mastra parses a call's arguments before any tool sees them. Arguments it cannot hand over it answers
 * itself (`Tool "<name>" received invalid arguments — the provided JSON could not be parsed.`), and
 * the session never hears of the call (no execution log entry): `null`, and, where the model's call
 * came without streamed argument text, empty arguments `""` (which several OpenAI-compatible servers
 * send for a tool without parameters: such a call never runs) and any text that is not JSON. Where the
 * argument text was streamed it runs text that is not JSON as `{}` instead, and an array as an object
 * of its indexes (`[1]` as `{"0":1}`).
 *
 * At each step the processor hands Mastra the model's calls of toolmux tools in a form Mastra passes on
 * as it is, read as `parseToolArguments` (`@toolmux/core`) reads them for every other provider: empty
 * (or blank) arguments and `null` as `{}`, so the call runs; any other text that is not a JSON object
 * or value Mastra keeps (arrays, text that is not JSON) as a JSON string of that text, so the session
 * answers `Error (TOOL_ARGUMENTS_INVALID): The arguments of <slug> are not valid JSON (<why>): …` (or
 * `… are a string (…), not a JSON object`) and logs the call. It does so by handing Mastra, for the
 * step, the step's model with its responses rewritten; calls of the agent's other tools and arguments
 * Mastra takes as they are stay untouched. Argument text streamed for a toolmux tool's call reaches
 * the stream when the call's arguments are complete (at once), as Mastra reads it only then.
 *
 * @example
 * const agent = new Agent({
 *   id: 'assistant',
 *   name: 'Assistant',
 *   instructions: 'Use the tools.',
 *   model: 'openai/gpt-5-mini',
 *   tools: await session.tools(),
 *   inputProcessors: [answerUnparsedToolArguments()],
 * });
 */
export function answerUnparsedToolArguments(): InputProcessor {
  return {
    id: UNPARSED_TOOL_ARGUMENTS_PROCESSOR_ID,
    name: 'toolmux: calls of toolmux tools whose arguments Mastra cannot pass on reach the session',
    processInputStep: ({ model, tools }: ProcessInputStepArgs): ProcessInputStepResult | undefined => {
      const names = toolmuxToolNames(tools);
      if (names.size === 0) return undefined;
      const target = wrappedModels.get(model) ?? model;
      // the models Mastra runs (a v1 model is the legacy AI SDK 4 kind, which a step cannot be handed)
      if (!['v2', 'v3', 'v4'].includes(target.specificationVersion)) return undefined;
      return { model: answeringModel(target, names) };
    },
  };
}

/** The names (as the model calls them) of the toolmux tools among a step's tools. */
function toolmuxToolNames(tools: Record<string, unknown> | undefined): Set<string> {
  const names = new Set<string>();
  for (const [name, tool] of Object.entries(tools ?? {})) {
    const mark = (tool as { toModelOutput?: unknown } | null)?.toModelOutput;
    if (typeof mark === 'function' && toolmuxToolMarks.has(mark)) names.add(name);
  }
  return names;
}

/** The models the processor handed out, to the model each wraps (a later step wraps that one again). */
const wrappedModels = new WeakMap<object, MastraLanguageModel>();

/**
 * `model` with the tool calls of its responses (both `doGenerate` and `doStream` of a model Mastra
 * resolved answer a stream) made passable. A proxy, so Mastra still knows the model for its own (it
 * takes a step's model as it is only then) and every other member works on the model itself.
 */
function answeringModel(model: MastraLanguageModel, names: ReadonlySet<string>): MastraLanguageModel {
  const call =
    (method: 'doGenerate' | 'doStream') =>
    async (options: unknown): Promise<unknown> => {
      const result = (await (model[method] as (options: unknown) => Promise<unknown>)(options)) as {
        stream?: unknown;
        content?: unknown;
      };
      let answer: Record<string, unknown> = result;
      if (Array.isArray(result.content))
        answer = { ...answer, content: result.content.map((part) => passable(part, names)) };
      if (result.stream instanceof ReadableStream)
        answer = { ...answer, stream: passableStream(result.stream, names) };
      return answer;
    };
  const doGenerate = call('doGenerate');
  const doStream = call('doStream');
  const proxy = new Proxy(model, {
    get(target, key) {
      if (key === 'doGenerate') return doGenerate;
      if (key === 'doStream') return doStream;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  wrappedModels.set(proxy, model);
  return proxy;
}

type Part = { type?: unknown; toolName?: unknown; input?: unknown; id?: unknown; delta?: unknown };

/** A `tool-call` part of a toolmux tool, with arguments Mastra passes on; any other part as it is. */
function passable<T>(part: T, names: ReadonlySet<string>): T {
  const call = part as Part;
  if (call?.type !== 'tool-call' || !names.has(call.toolName as string) || passesAsIs(call.input))
    return part;
  return { ...part, input: passableText(call.input) };
}

/**
 * The stream with its toolmux tools' calls made passable. Mastra reads a call whose argument text was
 * streamed (`tool-input-delta`s between `tool-input-start` and `tool-input-end`) from that text, so the
 * text of a toolmux tool's call is held until its end and sent on as it was, or, where Mastra would
 * not pass it on, as one delta of the passable text.
 */
function passableStream(stream: ReadableStream, names: ReadonlySet<string>): ReadableStream {
  const held = new Map<unknown, Part[]>();
  return stream.pipeThrough(
    new TransformStream<unknown, unknown>({
      transform(chunk, controller) {
        const part = chunk as Part;
        if (part?.type === 'tool-input-start' && names.has(part.toolName as string)) {
          held.set(part.id, []);
        } else if (part?.type === 'tool-input-delta' && held.has(part.id)) {
          held.get(part.id)!.push(part);
          return;
        } else if (part?.type === 'tool-input-end' && held.has(part.id)) {
          const deltas = held.get(part.id)!;
          held.delete(part.id);
          const text = deltas.map((delta) => (typeof delta.delta === 'string' ? delta.delta : '')).join('');
          if (text === '' || passesAsIs(text)) {
            for (const delta of deltas) controller.enqueue(delta);
          } else {
            controller.enqueue({ ...deltas[0], delta: passableText(text) });
          }
        }
        controller.enqueue(passable(chunk, names));
      },
      flush(controller) {
        for (const deltas of held.values()) for (const delta of deltas) controller.enqueue(delta);
      },
    }),
  );
}

/**
 * Whether Mastra hands `input` to the tool as the session would read it: JSON text of an object
 * (not an array, which Mastra turns into an object of its indexes) or of a value other than `null`.
 */
function passesAsIs(input: unknown): boolean {
  if (typeof input !== 'string') return false;
  try {
    const value: unknown = JSON.parse(input);
    return value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/**
 * Arguments Mastra would not pass on, as JSON text it passes on as what `parseToolArguments` reads them
 * as: `{}` for empty text, none or `null`; other text as a JSON string of it; a value that is not text
 * (a model of the application's own) as its JSON, or its text where it has none, read as above.
 */
function passableText(input: unknown): string {
  if (input === null || input === undefined) return '{}';
  if (typeof input === 'string') {
    if (input.trim() === '') return '{}';
    try {
      if (JSON.parse(input) === null) return '{}';
    } catch {
      // not JSON: the session is shown it as text
    }
    return JSON.stringify(input);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch {
    // not JSON data: the session is shown its text
  }
  text ??= String(input);
  return passesAsIs(text) ? text : passableText(text);
}
