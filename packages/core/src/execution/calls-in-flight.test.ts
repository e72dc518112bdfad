import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { CallsInFlight } from './calls-in-flight.js';

/** Whether `promise` has settled after the jobs and timers queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

describe('CallsInFlight', () => {
  it('a drain waits for the calls running when it began, not for calls started since (a remote ToolMux stays usable)', async () => {
    const calls = new CallsInFlight();
    const before = [calls.enter('A_TOOL', 'ses_1'), calls.enter('A_TOOL', 'ses_2')];
    const drained = calls.drain(60_000);
    const after = calls.enter('A_TOOL', 'ses_1');
    const later = calls.enter('A_TOOL', 'ses_3');
    expect(await settled(drained)).toBe(false);
    // a call started after the drain answers: it does not count for the drain
    calls.leave(after);
    calls.leave(before[0]!);
    expect(await settled(drained)).toBe(false);
    calls.leave(before[1]!);
    // on a count of all calls it waited for `later` too (60 s, then stopped it)
    expect(await settled(drained)).toBe(true);
    expect(calls.running).toBe(1);
    calls.leave(later);
    expect(calls.running).toBe(0);
  });

  it('stops the handlers still running after the timeout, and one that registers only afterwards at once; not those of later calls', async () => {
    const calls = new CallsInFlight();
    const atTool = calls.enter('A_TOOL', 'ses_1');
    const resolving = calls.enter('A_TOOL', 'ses_1'); // not at its tool yet (its account is being read)
    const stopped: string[] = [];
    atTool.running((timeoutMs) => stopped.push(`running after ${timeoutMs}`));
    const drained = calls.drain(20);
    const later = calls.enter('A_TOOL', 'ses_1');
    later.running(() => stopped.push('later'));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(stopped).toEqual(['running after 20']);
    // it reaches its tool after the stop: stopped as it registers
    resolving.running((timeoutMs) => stopped.push(`resolving after ${timeoutMs}`));
    expect(stopped).toEqual(['running after 20', 'resolving after 20']);
    expect(await settled(drained)).toBe(false);
    calls.leave(atTool);
    calls.leave(resolving);
    expect(await settled(drained)).toBe(true);
    expect(stopped).not.toContain('later');
    calls.leave(later);
  });

  it('does not wait for ever for a stopped call that never answers (its store hangs): close() goes on after a grace', async () => {
    const calls = new CallsInFlight();
    const stuck = calls.enter('A_TOOL', 'ses_1');
    stuck.running(() => {}); // stopping it changes nothing: it never leaves
    // without the grace this waited for ever (the test's 10 s timeout)
    expect(await calls.close(10)).toBe(1);
    expect(calls.running).toBe(1);
  });

  it('refuses calls once closed, naming the tool and the session; a handler that ended is not stopped', async () => {
    const calls = new CallsInFlight();
    const call = calls.enter('A_TOOL', 'ses_1');
    const stopped: number[] = [];
    call.running((timeoutMs) => stopped.push(timeoutMs));
    // its handler ended
    call.stop = undefined;
    const closed = calls.close(0);
    let refused: unknown;
    try {
      calls.enter('B_TOOL', 'ses_2');
    } catch (error) {
      refused = error;
    }
    expect(ToolMuxError.isInstance(refused) && refused.code).toBe('TOOLMUX_CLOSED');
    expect((refused as Error).message).toContain('B_TOOL (session ses_2)');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toEqual([]);
    calls.leave(call);
    await closed;
    expect(calls.running).toBe(0);
  });
});
