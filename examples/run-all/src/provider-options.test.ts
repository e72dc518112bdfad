import { AnthropicProvider } from '@toolmux/anthropic';
import { ClaudeAgentSdkProvider } from '@toolmux/claude-agent-sdk';
import { ToolMuxError } from '@toolmux/core';
import { GoogleProvider } from '@toolmux/google';
import { LangChainProvider } from '@toolmux/langchain';
import { LlamaIndexProvider } from '@toolmux/llamaindex';
import { MastraProvider } from '@toolmux/mastra';
import { OpenAIProvider } from '@toolmux/openai';
import { OpenAIAgentsProvider } from '@toolmux/openai-agents';
import { VercelProvider } from '@toolmux/vercel';
import { describe, expect, it } from 'vitest';

/**
 * Every provider's constructor checks its options, as new ToolMux() does: before, `strict: 'false'`
 * turned strict mode on (a string is truthy), `{ Strict: true }` was ignored, and OpenAIProvider's
 * `api: 'response'` handed the Responses API tools in the Chat Completions shape.
 */
const PROVIDERS: Array<[string, new (options?: never) => unknown, string[]]> = [
  ['VercelProvider', VercelProvider, ['strict', 'logger', 'propertyKeys']],
  ['OpenAIAgentsProvider', OpenAIAgentsProvider, ['strict', 'logger', 'propertyKeys', 'timeoutMs']],
  ['LangChainProvider', LangChainProvider, ['strict', 'logger', 'propertyKeys']],
  ['MastraProvider', MastraProvider, ['strict', 'logger', 'propertyKeys']],
  ['LlamaIndexProvider', LlamaIndexProvider, ['strict', 'logger', 'propertyKeys']],
  ['OpenAIProvider', OpenAIProvider, ['strict', 'logger', 'propertyKeys', 'api']],
  ['AnthropicProvider', AnthropicProvider, ['strict', 'logger']],
  ['GoogleProvider', GoogleProvider, ['strict', 'logger']],
  ['ClaudeAgentSdkProvider', ClaudeAgentSdkProvider, ['serverName', 'logger']],
];

function refusal(make: () => unknown): ToolMuxError {
  try {
    make();
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a ToolMuxError');
}

describe.each(PROVIDERS)('new %s(options)', (name, Provider, options) => {
  const make = (given: unknown) => () => new Provider(given as never);

  it('takes nothing, an empty object, and its options of their kind', () => {
    expect(make(undefined)).not.toThrow();
    expect(make({})).not.toThrow();
    expect(make({ logger: console })).not.toThrow();
    // (GoogleProvider refuses strict: true on purpose: Gemini has no strict mode)
    if (options.includes('strict')) expect(make({ strict: false })).not.toThrow();
  });

  it('refuses an option it does not take, naming the closest one and every option', () => {
    const error = refusal(make({ Logger: console }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      `new ${name}() has no option "Logger". Did you mean "logger"? Its options: ${options.join(', ')}.`,
    );
  });

  it('refuses an option of the wrong kind, and options that are no object', () => {
    const wrong = options.includes('strict') ? { strict: 'false' } : { serverName: 5 };
    const error = refusal(make(wrong));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(new RegExp(`^${name}: (strict|serverName) must be .+; got .+\\.`));
    expect(refusal(make({ logger: { log() {} } })).message).toMatch(
      new RegExp(`^${name}: logger must be a logger: an object with a warn method`),
    );
    for (const given of [null, 'strict', true]) {
      expect(refusal(make(given)).message).toMatch(
        new RegExp(
          `^new ${name}\\(\\) takes an options object \\(\\{ ${options.join(', ')} \\}\\) or nothing`,
        ),
      );
    }
  });
});

it("OpenAIProvider's api is 'chat' or 'responses'", () => {
  const error = refusal(() => new OpenAIProvider({ api: 'response' as never }));
  expect(error.code).toBe('CONFIG_INVALID');
  expect(error.message).toBe(
    "OpenAIProvider: api must be 'chat' (Chat Completions) or 'responses' (the Responses API); got \"response\". Leave it out for its default.",
  );
  expect(new OpenAIProvider({ api: 'responses' }).api).toBe('responses');
});
