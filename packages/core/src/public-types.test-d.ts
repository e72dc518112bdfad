import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  defineTool,
  type FailedToolResult,
  type PlainProvider,
  type PlainTool,
  type Session,
  type SessionConfig,
  type SuccessfulToolResult,
  type Tool,
  ToolMux,
  type ToolMuxApi,
  ToolMuxError,
  type ToolMuxErrorCode,
  type ToolMuxOptions,
  type ToolResult,
} from './index.js';

describe('ToolResult', () => {
  it('is discriminated by successful: a success has data and no error, a failure an error and no data', () => {
    const result = {} as ToolResult<{ id: string }>;
    if (result.successful) {
      expectTypeOf(result).toEqualTypeOf<SuccessfulToolResult<{ id: string }>>();
      expectTypeOf(result.data).toEqualTypeOf<{ id: string }>();
      expectTypeOf(result.error).toEqualTypeOf<null>();
    } else {
      expectTypeOf(result).toEqualTypeOf<FailedToolResult>();
      expectTypeOf(result.data).toEqualTypeOf<null>();
      expectTypeOf(result.error).toEqualTypeOf<string>();
      expectTypeOf(result.code).toEqualTypeOf<ToolMuxErrorCode | undefined>();
    }
  });

  it('is what session.execute() and a plain tool return', async () => {
    const session = await new ToolMux({ store: ':memory:' }).create('user_1');
    expectTypeOf(session.execute('GITHUB_GET_ME', {})).resolves.toEqualTypeOf<ToolResult>();
    expectTypeOf<ReturnType<PlainTool['execute']>>().toEqualTypeOf<Promise<ToolResult>>();
  });

  it('refuses a result that says two things at once', () => {
    // @ts-expect-error a failed result has no data
    const failedWithData: ToolResult = { successful: false, data: { id: 1 }, error: 'no', logId: '' };
    // @ts-expect-error a successful result has no error
    const succeededWithError: ToolResult = { successful: true, data: 1, error: 'no', logId: '' };
    void failedWithData;
    void succeededWithError;
  });
});

describe('ToolMux', () => {
  it('defaults to the plain provider, also where a user names its options or API', async () => {
    expectTypeOf<ToolMuxOptions>().toEqualTypeOf<ToolMuxOptions<PlainProvider>>();
    expectTypeOf<ToolMuxApi>().toEqualTypeOf<ToolMuxApi<PlainProvider>>();
    const options: ToolMuxOptions = { store: ':memory:' };
    const mux = new ToolMux(options);
    expectTypeOf(mux).toEqualTypeOf<ToolMux<PlainProvider>>();
    const session = await mux.create('user_1');
    expectTypeOf(session.tools()).resolves.toEqualTypeOf<PlainTool[]>();
    expectTypeOf(session).toExtend<Session<PlainTool[]>>();
    // the plain provider has no handleToolCalls: nothing can be passed to it
    expectTypeOf(session.handleToolCalls).parameter(0).toBeNever();
  });
});

describe('ToolMuxError', () => {
  it('has a code users can switch on exhaustively', () => {
    const error = new ToolMuxError({ code: 'SESSION_NOT_FOUND', message: 'gone' });
    expectTypeOf(error.code).toEqualTypeOf<ToolMuxErrorCode>();
    // a union of literals, not string: a switch over it can be exhaustive
    expectTypeOf<string>().not.toExtend<ToolMuxErrorCode>();
    expectTypeOf<'SESSION_NOT_FOUND'>().toExtend<ToolMuxErrorCode>();
    // @ts-expect-error not a code
    new ToolMuxError({ code: 'NO_SUCH_CODE', message: 'x' });
    const thrown: unknown = error;
    if (ToolMuxError.isInstance(thrown)) expectTypeOf(thrown).toEqualTypeOf<ToolMuxError>();
  });
});

describe('defineTool', () => {
  it('infers the input from a zod schema and checks the output against the output schema', () => {
    const tool = defineTool({
      slug: 'ACME_GET_ORDER',
      description: 'Get an order',
      inputSchema: z.object({ orderId: z.string(), limit: z.number().optional() }),
      outputSchema: z.object({ status: z.string() }),
      execute: async (input, context) => {
        expectTypeOf(input).toEqualTypeOf<{ orderId: string; limit?: number | undefined }>();
        expectTypeOf(context.userId).toBeString();
        expectTypeOf(context.signal).toEqualTypeOf<AbortSignal>();
        return { status: 'shipped' };
      },
    });
    expectTypeOf(tool).toEqualTypeOf<
      Tool<{ orderId: string; limit?: number | undefined }, { status: string }>
    >();
    expectTypeOf(tool).toExtend<Tool>();
    defineTool({
      slug: 'ACME_BAD',
      description: 'Returns the wrong shape',
      inputSchema: z.object({}),
      outputSchema: z.object({ status: z.string() }),
      // @ts-expect-error status is a string
      execute: async () => ({ status: 1 }),
    });
  });

  it('refuses a Standard Schema of values that are not objects, which a model cannot pass as arguments', () => {
    const execute = async () => null;
    // @ts-expect-error a string is not an object of arguments
    defineTool({ slug: 'ACME_S', description: 'd', inputSchema: z.string(), execute });
    // @ts-expect-error nor is an array
    defineTool({ slug: 'ACME_A', description: 'd', inputSchema: z.array(z.string()), execute });
    // @ts-expect-error nor a value that may be missing
    defineTool({ slug: 'ACME_O', description: 'd', inputSchema: z.object({}).optional(), execute });
    defineTool({ slug: 'ACME_R', description: 'd', inputSchema: z.record(z.string(), z.number()), execute });
    defineTool({
      slug: 'ACME_D',
      description: 'd',
      inputSchema: z.object({ when: z.string().optional(), tags: z.array(z.string()) }),
      execute: async (input) => {
        expectTypeOf(input).toEqualTypeOf<{ when?: string | undefined; tags: string[] }>();
        return null;
      },
    });
  });

  it('takes a JSON Schema, with the input an object of unknown values', () => {
    defineTool({
      slug: 'ACME_JSON',
      description: 'JSON Schema input',
      inputSchema: { type: 'object', properties: { id: { type: 'string' } } },
      execute: (input) => {
        expectTypeOf(input).toEqualTypeOf<Record<string, unknown>>();
        return null;
      },
    });
  });
});

describe('SessionConfig', () => {
  it('takes enable or disable, not both, and tools as slugs or tags, not both', () => {
    const config: SessionConfig = {
      toolkits: { disable: ['exa'] },
      tools: { github: { tags: { enable: ['readOnlyHint'] } }, gmail: { disable: ['GMAIL_SEND_EMAIL'] } },
    };
    // @ts-expect-error enable and disable together
    const both: SessionConfig = { toolkits: { enable: ['github'], disable: ['exa'] } };
    // @ts-expect-error enable and disable together, for the tools of a toolkit
    const bothTools: SessionConfig = { tools: { github: { enable: ['GITHUB_GET_ME'], disable: ['X'] } } };
    const slugsAndTags: SessionConfig['tools'] = {
      // @ts-expect-error tool slugs and tags together
      github: { enable: ['GITHUB_GET_ME'], tags: ['readOnlyHint'] },
    };
    void [config, both, bothTools, slugsAndTags];
  });
});
