import { Agent, type FunctionTool, type Model, type ModelProvider, Runner, type Tool } from '@openai/agents';
import { type Session, ToolMux, type ToolSpec } from '@toolmux/core';
import { describe, expectTypeOf, it } from 'vitest';
import { answerUnparsedToolArguments, OpenAIAgentsProvider } from './index.js';

describe('OpenAIAgentsProvider types', () => {
  it('types session.tools() as FunctionTool[]', async () => {
    const mux = new ToolMux({ provider: new OpenAIAgentsProvider({ strict: true }), store: ':memory:' });
    expectTypeOf(mux).toEqualTypeOf<ToolMux<OpenAIAgentsProvider>>();
    const session = await mux.create('user_1');
    expectTypeOf(session).toEqualTypeOf<Session<FunctionTool[]>>();
    expectTypeOf(await session.tools()).toEqualTypeOf<FunctionTool[]>();
    expectTypeOf(await (await mux.use(session.sessionId)).tools()).toEqualTypeOf<FunctionTool[]>();
  });

  it('fits Agent tools, whatever the agent context type', async () => {
    const mux = new ToolMux({ provider: new OpenAIAgentsProvider() });
    const tools = await (await mux.create('user_1')).tools();
    expectTypeOf(tools).toExtend<Tool[]>();
    expectTypeOf(tools).toExtend<Tool<{ userId: string }>[]>();
    new Agent({ name: 'plain', tools });
    new Agent<{ userId: string }>({ name: 'with context', tools: [...tools] });
  });

  it('takes one options object', () => {
    expectTypeOf(OpenAIAgentsProvider).constructorParameters.toEqualTypeOf<
      [
        options?: {
          strict?: boolean;
          logger?: { warn(message: string): void };
          propertyKeys?: 'portable' | 'unchanged';
          timeoutMs?: number | ((tool: ToolSpec) => number | undefined);
        },
      ]
    >();
    // @ts-expect-error strict is a boolean
    new OpenAIAgentsProvider({ strict: 'yes' });
    // @ts-expect-error a time limit is a number of milliseconds
    new OpenAIAgentsProvider({ timeoutMs: '30s' });
    new OpenAIAgentsProvider({ timeoutMs: (tool) => (tool.toolkit === 'toolmux' ? undefined : 30_000) });
  });

  it('answerUnparsedToolArguments() returns what it is given: a Model or a ModelProvider', () => {
    const model = {} as Model;
    const provider = {} as ModelProvider;
    expectTypeOf(answerUnparsedToolArguments(model)).toEqualTypeOf<Model>();
    expectTypeOf(answerUnparsedToolArguments(provider)).toEqualTypeOf<ModelProvider>();
    new Agent({ name: 'wrapped', model: answerUnparsedToolArguments(model) });
    new Runner({ modelProvider: answerUnparsedToolArguments(provider) });
    // @ts-expect-error a model name is resolved by a ModelProvider: wrap that instead
    answerUnparsedToolArguments('gpt-5-mini');
  });
});
