import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MetaToolSlug, ToolMux } from '@toolmux/core';
import { type McpToolkit, mcpToolkit } from '@toolmux/toolkits';
import { generateText, stepCountIs } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallOptions, mockModel } from './test-model.js';
import { VercelProvider } from './vercel-provider.js';

const require = createRequire(import.meta.url);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The bin script of an npm package, run with this Node (no npx, works offline). */
function binOf(name: string): string {
  const manifest = require(`${name}/package.json`) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : Object.values(manifest.bin)[0]!;
  return join(dirname(require.resolve(`${name}/package.json`)), bin);
}

describe('an MCP server mounted as a toolkit (mcpToolkit, @modelcontextprotocol/server-everything)', () => {
  let everything: McpToolkit;

  beforeAll(async () => {
    everything = await mcpToolkit({
      slug: 'everything',
      command: process.execPath,
      args: [binOf('@modelcontextprotocol/server-everything'), 'stdio'],
    });
  });
  afterAll(async () => {
    await everything.close();
  });

  it('runs in a Vercel AI SDK agent loop: the model searches, then calls the MCP tool through the meta-tools', async () => {
    const vercelMux = new ToolMux({
      provider: new VercelProvider(),
      toolkits: [everything],
      store: ':memory:',
      logger: quiet,
    });
    const session = await vercelMux.create('user_mcp', { toolkits: ['everything'] });
    const prompts: CallOptions[] = [];
    const usage = {
      inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: 5, text: 5, reasoning: undefined },
    };
    const script = [
      { toolName: MetaToolSlug.SEARCH_TOOLS, input: { queries: [{ use_case: 'add two numbers' }] } },
      {
        toolName: MetaToolSlug.MULTI_EXECUTE_TOOL,
        input: { tools: [{ tool_slug: 'EVERYTHING_GET_SUM', arguments: { a: 19, b: 23 } }] },
      },
    ];
    const model = mockModel(async (options) => {
      prompts.push(options);
      const call = script[prompts.length - 1];
      if (!call) {
        return {
          content: [{ type: 'text', text: 'done' }],
          finishReason: { unified: 'stop', raw: 'stop' },
          usage,
          warnings: [],
        };
      }
      return {
        content: [
          {
            type: 'tool-call',
            toolCallId: `call_${prompts.length}`,
            toolName: call.toolName,
            input: JSON.stringify(call.input),
          },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage,
        warnings: [],
      };
    });
    await generateText({
      model,
      tools: await session.tools(),
      stopWhen: stepCountIs(4),
      prompt: 'What is 19 + 23?',
    });
    const toolOutput = (options: CallOptions | undefined) => JSON.stringify(options?.prompt.at(-1)?.content);
    expect(toolOutput(prompts[1])).toContain('EVERYTHING_GET_SUM');
    expect(toolOutput(prompts[2])).toContain('The sum of 19 and 23 is 42.');
    const logs = (await session.logs()).items.map((log) => log.toolSlug);
    expect(logs).toContain('EVERYTHING_GET_SUM');
    await vercelMux.close();
  });
});
