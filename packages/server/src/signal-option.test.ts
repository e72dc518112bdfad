import type { ExecuteFn, Provider, ToolResult, ToolSpec } from '@toolmux/core';
import { ToolMuxError } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing/index.js';

/**
 * A `signal` option that is not an AbortSignal (a plain object from JavaScript, or what workbench
 * code passes on) is INVALID_REQUEST naming the operation, in both modes: it failed later as a
 * TypeError far from its cause (execute: TOOL_EXECUTION_FAILED "addEventListener is not a function",
 * though the tool never ran).
 */
class CallListProvider
  implements Provider<string[], { calls: Array<{ id: string; name: string }> }, ToolResult[]>
{
  readonly name = 'call-list';
  wrapTools(specs: readonly ToolSpec[]): string[] {
    return specs.map((spec) => spec.slug);
  }
  handleToolCalls(response: { calls: Array<{ id: string; name: string }> }, execute: ExecuteFn) {
    return Promise.all(response.calls.map((call) => execute(call.name, {}, { callId: call.id })));
  }
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(async () => {
  await server.close();
});

async function refusal(run: () => Promise<unknown>): Promise<ToolMuxError> {
  try {
    await run();
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return error;
    throw new Error(`expected a ToolMuxError, got ${String(error)}`);
  }
  throw new Error('expected a ToolMuxError, got a result');
}

describe.each(['embedded', 'remote'] as const)('a signal that is not an AbortSignal (%s)', (mode) => {
  it.each([
    ['an object', {}],
    ['null', null],
    ['a string', 'abort'],
  ])('is refused with INVALID_REQUEST by every operation that takes one: %s', async (_, bad) => {
    const signal = bad as unknown as AbortSignal;
    const mux =
      mode === 'embedded'
        ? server.embedded
        : server.remote(new CallListProvider() as unknown as Provider<unknown>);
    const session = await mux.create('signal-user', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const operations: Array<[string, () => Promise<unknown>]> = [
      ['execute()', () => session.execute('TASKS_LIST_TASKS', {}, { signal })],
      ['waitForConnections()', () => session.waitForConnections(['tasks'], { timeoutMs: 10, signal })],
      ['proxyExecute()', () => session.proxyExecute({ toolkit: 'tasks', endpoint: '/tasks', signal })],
      ['connectedAccounts.refresh()', () => mux.connectedAccounts.refresh('ca_unknown', { signal })],
      ['tools.execute()', () => mux.tools.execute('TASKS_LIST_TASKS', { userId: 'signal-user', signal })],
    ];
    if (mode === 'remote') {
      operations.push([
        'handleToolCalls()',
        () =>
          session.handleToolCalls({ calls: [{ id: 'c1', name: 'TASKS_LIST_TASKS' }] } as never, { signal }),
      ]);
    }
    for (const [operation, run] of operations) {
      const error = await refusal(run);
      expect([operation, error.code]).toEqual([operation, 'INVALID_REQUEST']);
      expect(error.message).toContain(`${operation} takes signal as an AbortSignal`);
    }
    // nothing ran, nothing was logged
    expect((await session.logs()).items).toEqual([]);
  });
});
