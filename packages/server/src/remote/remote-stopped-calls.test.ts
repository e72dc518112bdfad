import { defineTool, type Session, type ToolMux, type ToolResult } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * The calls a client-side call makes under its `ctx.signal` (as a multi-execute the client runs
 * does) that toolmux stopped, not their caller: in remote mode they say why, as embedded, both the
 * one the server ran and the one that was never sent.
 */
const sample = createSampleToolkits();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: sample.toolkits });
});
afterAll(() => server.close());

/**
 * A custom tool (its timeout 300 ms) that makes a call of its session the server runs, under its own
 * `ctx.signal`, and once that call is answered another one: `made` holds both answers.
 */
function relayTool(session: () => Session) {
  const made: { running?: Promise<ToolResult>; after?: Promise<ToolResult> } = {};
  const tool = defineTool({
    slug: 'SHOP_RELAY_WAIT',
    toolkit: 'shop',
    description: 'Waits for a task approval on the server, then lists the tasks.',
    inputSchema: z.object({}),
    timeoutMs: 300,
    execute: async (_input, context) => {
      made.running = session().execute(
        'TASKS_WAIT_FOR_APPROVAL',
        { taskId: 't1' },
        { signal: context.signal },
      );
      await made.running;
      made.after = session().execute('TASKS_LIST_TASKS', {}, { signal: context.signal });
      return made.after;
    },
  });
  return { tool, made };
}

describe('calls stopped by the timeout of the call they ran in', () => {
  const because = 'because the SHOP_RELAY_WAIT call it ran in did not finish within its timeout of 300 ms';
  it.each<[string, () => ToolMux]>([
    ['remote', () => server.remote()],
    ['embedded', () => server.embedded],
  ])('say so, not "aborted by the caller" (%s)', async (_mode, muxOf) => {
    let session: Session | undefined;
    const { tool, made } = relayTool(() => session!);
    session = await muxOf().create('user_relay', {
      toolkits: ['tasks'],
      experimental: { customTools: [tool] },
    });
    const outer = await session.execute('SHOP_RELAY_WAIT', {});
    expect(outer.code).toBe('TOOL_TIMEOUT');
    expect(await made.running).toMatchObject({
      successful: false,
      code: 'TOOL_ABORTED',
      error: `TASKS_WAIT_FOR_APPROVAL was stopped ${because}.`,
    });
    const after = await made.after!;
    expect(after).toMatchObject({
      successful: false,
      code: 'TOOL_ABORTED',
      error: `TASKS_LIST_TASKS was stopped before it started, ${because}.`,
    });
    // the call never sent is logged (here, or by the client's upload) with those words
    const deadline = Date.now() + 10_000;
    let logged: string | null | undefined;
    while (logged === undefined && Date.now() < deadline) {
      const { items } = await session.logs();
      logged = items.find((entry) => entry.id === after.logId)?.errorMessage;
      if (logged === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(logged).toBe(after.error);
  });
});
