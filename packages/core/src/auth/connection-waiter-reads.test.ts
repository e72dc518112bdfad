import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import {
  endConnectionWaits,
  endSessionConnectionWaits,
  type ToolkitConnectionState,
  waitUntilSettled,
} from './connection-waiter.js';

/**
 * A wait whose read is still in flight when it ends (its session deleted in this process, the ToolMux
 * closing) ends at once, not when the read answers: on PostgreSQL the delete's own notification wakes
 * the wait into a read just as the delete commits, and a slow database would hold the ended wait.
 */
describe('a wait ended while it reads', () => {
  const pending: ToolkitConnectionState = { status: 'PENDING', message: 'waiting' };

  /** A wait of session `ses_1` whose first read answers PENDING and whose later reads never answer. */
  function waitWithStuckRead(store: object) {
    let reads = 0;
    let secondRead: () => void = () => undefined;
    const reading = new Promise<void>((resolve) => {
      secondRead = resolve;
    });
    const wait = waitUntilSettled({
      store,
      toolkits: ['mail'],
      read: () => {
        reads++;
        if (reads === 1) return Promise.resolve(pending);
        secondRead();
        return new Promise<never>(() => undefined);
      },
      // the first wake comes from this "notification" at once
      watch: (onChange) => {
        setImmediate(onChange);
        return { ready: Promise.resolve(true), live: () => true, close: () => undefined };
      },
      timeoutMs: 60_000,
      session: { id: 'ses_1', exists: () => Promise.resolve(true) },
    });
    let outcome: unknown;
    const settled = wait.then(
      () => 'resolved',
      (error: unknown) => {
        outcome = error;
        return 'rejected';
      },
    );
    return { reading, settled, outcome: () => outcome };
  }

  const nextCheck = () => new Promise((resolve) => setImmediate(resolve));

  it('ends with SESSION_NOT_FOUND at once when its session is deleted here', async () => {
    const store = {};
    const { reading, settled, outcome } = waitWithStuckRead(store);
    await reading;
    endSessionConnectionWaits(store, 'ses_1');
    await nextCheck();
    expect(outcome()).toBeDefined();
    expect(await settled).toBe('rejected');
    expect(ToolMuxError.isInstance(outcome()) && (outcome() as ToolMuxError).code).toBe('SESSION_NOT_FOUND');
  });

  it('ends with TOOL_ABORTED at once when its ToolMux closes', async () => {
    const store = {};
    const { reading, settled, outcome } = waitWithStuckRead(store);
    await reading;
    endConnectionWaits(store);
    await nextCheck();
    expect(outcome()).toBeDefined();
    expect(await settled).toBe('rejected');
    expect(ToolMuxError.isInstance(outcome()) && (outcome() as ToolMuxError).code).toBe('TOOL_ABORTED');
  });
});
