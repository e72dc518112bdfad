import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import type { Session } from '../session.js';
import { recordingLogger } from '../test/recording-logger.js';
import { relayToolkit } from '../test/relay-tool.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import type { ToolResult } from './result.js';

const dir = mkdtempSync(join(tmpdir(), 'toolmux-nested-stops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Cell = { result: unknown; notice?: string };

/**
 * A ToolMux (its store a file) with the sample toolkits and `RELAY_WAIT` (its timeout `timeoutMs`),
 * whose handler makes `call` of the session under its own `ctx.signal`, as a meta-tool does with the
 * calls it makes; `made()` is that call's answer, once the handler ran.
 */
async function relaying(
  name: string,
  timeoutMs: number,
  call: (session: Session, signal: AbortSignal) => Promise<ToolResult>,
) {
  const sample = createSampleToolkits();
  let session!: Session;
  const { toolkit, last } = relayToolkit((signal) => call(session, signal), timeoutMs);
  const store = join(dir, `${name}.db`);
  const mux = new ToolMux({ toolkits: [...sample.toolkits, toolkit], store, logger: recordingLogger() });
  session = await mux.create('user_1', { toolkits: ['tasks', 'relay'], workbench: { timeoutMs: 30_000 } });
  const started = () =>
    vi.waitFor(() => expect(sample.calls.map((each) => each.slug)).toContain('TASKS_WAIT_FOR_APPROVAL'), {
      timeout: 20_000,
    });
  return { mux, session, store, started, made: () => last.made! };
}

/** Log entries of `sessionId` stored in `store`, read by a ToolMux of their own (the first is closed). */
async function entriesOf(store: string, sessionId: string) {
  const reader = new ToolMux({ toolkits: [], store, logger: recordingLogger() });
  try {
    return (await reader.logs.list({ sessionId })).items;
  } finally {
    await reader.close();
  }
}

const WAIT_ARGS = { taskId: 't1' };

describe('a call made under the signal of a call that toolmux stopped says why (no caller aborted it)', () => {
  it('the call it ran in reached its own timeout: it names that call and its timeout', async () => {
    const relay = await relaying('timeout', 300, (session, signal) =>
      session.execute('TASKS_WAIT_FOR_APPROVAL', WAIT_ARGS, { signal }),
    );
    const outer = await relay.session.execute('RELAY_WAIT', {});
    expect(outer.code).toBe('TOOL_TIMEOUT');
    const inner = await relay.made();
    const message =
      'TASKS_WAIT_FOR_APPROVAL was stopped because the RELAY_WAIT call it ran in did not finish within its timeout of 300 ms.';
    expect(inner).toMatchObject({ successful: false, code: 'TOOL_ABORTED', error: message });
    await relay.mux.close();
    const entries = await entriesOf(relay.store, relay.session.sessionId);
    expect(entries.find((entry) => entry.id === inner.logId)).toMatchObject({
      errorCode: 'TOOL_ABORTED',
      errorMessage: message,
    });
  });

  it('mux.close() stopped the call it ran in: it says so, and names the time close() waited', async () => {
    const relay = await relaying('close', 60_000, (session, signal) =>
      session.execute('TASKS_WAIT_FOR_APPROVAL', WAIT_ARGS, { signal }),
    );
    const outer = relay.session.execute('RELAY_WAIT', {});
    await relay.started();
    await relay.mux.close({ timeoutMs: 100 });
    expect((await outer).code).toBe('TOOL_ABORTED');
    const inner = await relay.made();
    const message =
      'TASKS_WAIT_FOR_APPROVAL was stopped because its ToolMux was closed, and the RELAY_WAIT call it ran in ran on past the 100 ms that close() waits for calls in flight.';
    expect(inner).toMatchObject({ successful: false, code: 'TOOL_ABORTED', error: message });
    const entries = await entriesOf(relay.store, relay.session.sessionId);
    expect(entries.find((entry) => entry.id === inner.logId)?.errorMessage).toBe(message);
  });

  it('a workbench call stopped so: its answer, its own calls (carried on) and its next cell notice say why', async () => {
    const relay = await relaying('workbench', 1_500, (session, signal) =>
      session.execute(
        MetaToolSlug.WORKBENCH,
        { code: "await toolmux.execute('TASKS_WAIT_FOR_APPROVAL', { taskId: 't1' })" },
        { signal },
      ),
    );
    const outer = await relay.session.execute('RELAY_WAIT', {});
    expect(outer.code).toBe('TOOL_TIMEOUT');
    const cell = await relay.made();
    const because = 'because the RELAY_WAIT call it ran in did not finish within its timeout of 1500 ms';
    expect(cell).toMatchObject({
      code: 'TOOL_ABORTED',
      error: `${MetaToolSlug.WORKBENCH} was stopped ${because}.`,
    });
    const next = (await relay.session.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' })).data as Cell;
    expect(next.notice).toContain(`(${MetaToolSlug.WORKBENCH} was stopped ${because})`);
    await relay.mux.close();
    const entries = await entriesOf(relay.store, relay.session.sessionId);
    expect(entries.find((entry) => entry.toolSlug === 'TASKS_WAIT_FOR_APPROVAL')).toMatchObject({
      parentId: cell.logId,
      errorCode: 'TOOL_ABORTED',
      errorMessage: `TASKS_WAIT_FOR_APPROVAL was stopped ${because}.`,
    });
  });
});
