import { describe, expect, it } from 'vitest';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import {
  ConnectionWaitScope,
  type ToolkitConnectionState,
  waitResultJson,
  waitUntilSettled,
} from './connection-waiter.js';

/**
 * ConnectionWaitScope: the server's sessions belong to one, which it ends when it begins to shut down,
 * so that each connection wait answers with how the toolkits stand instead of holding the drain.
 */

const quiet = { debug() {}, warn() {}, error() {} };
const pending: ToolkitConnectionState = { status: 'PENDING', message: 'The user has not finished yet.' };

/** A wait of 60 s on one toolkit that stays PENDING, counting its reads. */
function wait(options: { store?: object; signal?: AbortSignal; scope?: ConnectionWaitScope } = {}) {
  const reads = { count: 0 };
  const result = waitUntilSettled({
    store: options.store ?? {},
    toolkits: ['mail'],
    read: async () => {
      reads.count++;
      return pending;
    },
    timeoutMs: 60_000,
    signal: options.signal,
    scope: options.scope,
  });
  return { result, reads };
}

/** Resolves once `check` holds, polling every 10 ms. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('a connection wait in a ConnectionWaitScope', () => {
  it('answers at once when the scope ends, with what it reads then (timed out, PENDING)', async () => {
    const scope = new ConnectionWaitScope();
    const { result, reads } = wait({ scope });
    await until(() => scope.size === 1 && reads.count >= 1);
    const readsBefore = reads.count;
    const ended = Date.now();
    scope.end();
    const answer = await result;
    expect(Date.now() - ended).toBeLessThan(5_000);
    expect(answer).toEqual({ toolkits: { mail: pending }, timedOut: true });
    // the read in flight, or one more, is the one answered
    expect(reads.count - readsBefore).toBeLessThanOrEqual(1);
    expect(scope.size).toBe(0);
    expect(waitResultJson(answer).next_steps).toContain(
      'the server is shutting down, so the wait ended before its timeout',
    );
  });

  it('reads once and answers when it starts after the scope ended', async () => {
    const scope = new ConnectionWaitScope();
    scope.end();
    const { result, reads } = wait({ scope });
    expect(await result).toEqual({ toolkits: { mail: pending }, timedOut: true });
    expect(reads.count).toBe(1);
    expect(scope.size).toBe(0);
  });

  it('leaves waits outside the scope, and an abort still rejects a wait inside it', async () => {
    const scope = new ConnectionWaitScope();
    const controller = new AbortController();
    const outside = wait({ signal: controller.signal });
    const inside = new AbortController();
    const aborted = wait({ signal: inside.signal, scope });
    await until(() => scope.size === 1 && outside.reads.count >= 1);
    inside.abort(new Error('the client went away'));
    await expect(aborted.result).rejects.toThrow('the client went away');
    scope.end();
    let settled = false;
    const done = () => {
      settled = true;
    };
    outside.result.then(done, done);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    controller.abort(new Error('done'));
    await expect(outside.result).rejects.toThrow('done');
  });

  it("a session's waits belong to the scope that adopted the session; another object of the same session is not adopted", async () => {
    const scope = new ConnectionWaitScope();
    const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: ':memory:', logger: quiet });
    try {
      const adopted = await mux.create('user_adopted', { toolkits: ['mail'] });
      const own = await mux.use(adopted.sessionId);
      scope.adopt(adopted);
      await adopted.authorize('mail');
      const controller = new AbortController();
      const theirs = adopted.waitForConnections(['mail'], { timeoutMs: 60_000 });
      const mine = own.waitForConnections(['mail'], { timeoutMs: 60_000, signal: controller.signal });
      await until(() => scope.size === 1);
      scope.end();
      expect(await theirs).toMatchObject({ timedOut: true, toolkits: { mail: { status: 'PENDING' } } });
      // the application's own session object (resumed by itself) keeps waiting
      let settled = false;
      mine.then(
        () => (settled = true),
        () => (settled = true),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(settled).toBe(false);
      controller.abort(new Error('done'));
      await expect(mine).rejects.toThrow('done');
    } finally {
      await mux.close();
    }
  });
});
