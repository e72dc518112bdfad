import { describe, expect, it } from 'vitest';
import type { ExecutionLogRecord } from '../store/types.js';
import { newId } from '../util/ids.js';
import { ExecutionLogWriter } from './log-writer.js';

const quiet = { debug() {}, warn() {}, error() {} };

function entry(sessionId: string): ExecutionLogRecord {
  return {
    id: newId('log'),
    sessionId,
    userId: 'user_1',
    toolSlug: 'ECHO_ECHO',
    toolkit: 'echo',
    connectedAccountId: null,
    callId: null,
    status: 'success',
    errorCode: null,
    errorMessage: null,
    durationMs: 1,
    input: '{}',
    output: '{}',
    createdAt: new Date(),
  };
}

/** A sink whose writes wait until the test releases them, one by one. */
function heldSink() {
  const stored: string[] = [];
  const held: Array<() => void> = [];
  return {
    stored,
    release: () => held.shift()?.(),
    insertLogs: (records: readonly ExecutionLogRecord[]) =>
      new Promise<void>((resolve) =>
        held.push(() => {
          stored.push(...records.map((record) => record.sessionId!));
          resolve();
        }),
      ),
  };
}

const settled = (promise: Promise<void>) => {
  const state = { done: false };
  void promise.then(() => {
    state.done = true;
  });
  return state;
};
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('ExecutionLogWriter.flushSession', () => {
  it("does not wait for other sessions' writes", async () => {
    const sink = heldSink();
    const writer = new ExecutionLogWriter(sink, quiet);
    writer.write(entry('ses_b'));
    const all = settled(writer.flush()); // ses_b's batch is being written, and held
    await writer.flushSession('ses_a'); // nothing of ses_a is pending: resolves at once
    expect(all.done).toBe(false);
    sink.release();
    await turn();
    expect(all.done).toBe(true);
  });

  it("waits for the session's own entries, queued or being written (in order behind earlier batches)", async () => {
    const sink = heldSink();
    const writer = new ExecutionLogWriter(sink, quiet);
    writer.write(entry('ses_b'));
    void writer.flush();
    writer.write(entry('ses_a')); // queued behind ses_b's batch
    const queued = settled(writer.flushSession('ses_a'));
    await turn();
    expect(queued.done).toBe(false);
    sink.release(); // ses_b's batch
    await turn();
    expect(queued.done).toBe(false);
    const inFlight = settled(writer.flushSession('ses_a')); // ses_a's batch is being written now
    sink.release();
    await turn();
    expect(queued.done && inFlight.done).toBe(true);
    expect(sink.stored).toEqual(['ses_b', 'ses_a']);
    await writer.flushSession('ses_a'); // written: nothing to wait for
  });
});
