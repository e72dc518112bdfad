import { MetaToolSlug, ToolMux } from '@toolmux/core';
import { createGmailLikeToolkit } from '@toolmux/core/test';
import { generateText, stepCountIs } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { VercelProvider } from './index.js';
import { type CallOptions, type GenerateResult, mockModel } from './test-model.js';

const usage: GenerateResult['usage'] = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};
const silent = { debug() {}, warn() {}, error() {} };

/** The text of the first tool result in the last message of a prompt. */
function lastToolResult(options: CallOptions): string {
  const last = options.prompt.at(-1);
  if (last?.role !== 'tool') throw new Error('no tool result in the prompt');
  const part = last.content.find((item) => item.type === 'tool-result');
  if (part?.type !== 'tool-result' || part.output.type !== 'text') throw new Error('no text tool result');
  return part.output.value;
}

function toolCall(step: number, toolName: string, input: unknown): GenerateResult {
  return {
    content: [{ type: 'tool-call', toolCallId: `call_${step}`, toolName, input: JSON.stringify(input) }],
    finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
    usage,
    warnings: [],
  };
}

let mux: ToolMux<VercelProvider> | undefined;
afterEach(async () => {
  await mux?.close();
  mux = undefined;
});

describe('several accounts per toolkit in the AI SDK agent loop', () => {
  it('the model is told it must choose, reads the aliases in the search result, and sends from the one the user meant', async () => {
    const gmail = createGmailLikeToolkit({ 'key-work': 'ada@work.example', 'key-home': 'ada@home.example' });
    mux = new ToolMux({
      provider: new VercelProvider(),
      toolkits: [gmail.toolkit],
      store: ':memory:',
      logger: silent,
    });
    const config = await mux.authConfigs.create('gmail', { type: 'api_key' });
    await mux.connectedAccounts.create('ada', config.id, { apiKey: 'key-work' }, { alias: 'work' });
    await mux.connectedAccounts.create('ada', config.id, { apiKey: 'key-home' }, { alias: 'personal' });
    const session = await mux.create('ada', {
      authConfigs: { gmail: config.id },
      multiAccount: { enable: true, requireExplicitSelection: true },
    });

    const seen: { mustChoose?: boolean; aliases?: string[]; nextSteps?: string; reply?: unknown } = {};
    const model = mockModel(async (options) => {
      const step = options.prompt.filter((message) => message.role === 'assistant').length + 1;
      if (step === 1) {
        return toolCall(step, MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: 'send an email' }] });
      }
      if (step === 2) {
        // the model reads which accounts there are, and that it must pick one
        const search = JSON.parse(lastToolResult(options)) as {
          results: Array<{ tools: Array<{ tool_slug: string }> }>;
          toolkit_connections: Array<{
            toolkit: string;
            accounts?: Array<{ id: string; alias: string | null }>;
            account_selection_required?: boolean;
          }>;
          next_steps: string;
        };
        const connection = search.toolkit_connections.find((entry) => entry.toolkit === 'gmail')!;
        seen.mustChoose = connection.account_selection_required;
        seen.aliases = (connection.accounts ?? []).map((account) => account.alias ?? account.id);
        seen.nextSteps = search.next_steps;
        // the user asked for their work mailbox: the alias that says so
        const chosen = seen.aliases.find((alias) => alias.includes('work'));
        const slug = search.results[0]!.tools.find((tool) =>
          tool.tool_slug.endsWith('SEND_EMAIL'),
        )!.tool_slug;
        return toolCall(step, MetaToolSlug.MULTI_EXECUTE_TOOL, {
          tools: [
            {
              tool_slug: slug,
              arguments: { to: 'grace@example.com', subject: 'Report', body: 'Attached.' },
              account: chosen,
            },
          ],
        });
      }
      seen.reply = JSON.parse(lastToolResult(options));
      return {
        content: [{ type: 'text', text: 'Sent from your work mailbox.' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage,
        warnings: [],
      };
    });

    const result = await generateText({
      model,
      tools: await session.tools(),
      stopWhen: stepCountIs(5),
      system:
        'The user has several Gmail accounts; when the tools say you must choose one, pick the one the user asked for.',
      prompt: 'Send Grace the report from my work email.',
    });

    expect(result.text).toBe('Sent from your work mailbox.');
    expect(seen.mustChoose).toBe(true);
    expect(seen.aliases?.sort()).toEqual(['personal', 'work']);
    expect(seen.nextSteps).toContain('you must choose');
    expect(seen.reply).toMatchObject({
      results: [{ successful: true, data: { sent: true, from: 'ada@work.example' } }],
    });
    expect(gmail.sent).toEqual([{ from: 'ada@work.example', to: 'grace@example.com', subject: 'Report' }]);
    // without the alias the same call is refused, naming the aliases to choose from
    const refused = await session.execute('GMAIL_SEND_EMAIL', {
      to: 'x@example.com',
      subject: 's',
      body: 'b',
    });
    expect(refused.code).toBe('ACCOUNT_SELECTION_REQUIRED');
    expect(refused.error).toMatch(/"work".*"personal"|"personal".*"work"/);
  });
});
