import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClaimSlots, claimPosting, SHARED_LENGTH } from './shared-state.js';

/** What the test does next: the main thread posts, takes back or ends a cell; the worker reads a message. */
type Step =
  | { kind: 'post'; run: number }
  | { kind: 'withdraw'; run: number }
  | { kind: 'finish'; run: number }
  | { kind: 'deliver'; pick: number };

const RUNS = 4;
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('post' as const), run: fc.nat({ max: RUNS - 1 }) }),
  fc.record({ kind: fc.constant('withdraw' as const), run: fc.nat({ max: RUNS - 1 }) }),
  fc.record({ kind: fc.constant('finish' as const), run: fc.nat({ max: RUNS - 1 }) }),
  fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat({ max: 7 }) }),
);

describe('ClaimSlots and claimPosting (the cells posted to a workbench worker)', () => {
  it('a cell starts at most once, and only from its current posting, whatever the order of posts, take-backs and late messages', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const state = new Int32Array(new SharedArrayBuffer(SHARED_LENGTH * 4));
        const slots = new ClaimSlots(state);
        /** The main thread's view of each run: waiting to be posted, posted (slot and token), started, ended. */
        const runs = Array.from({ length: RUNS }, () => ({
          posting: undefined as { slot: number; token: number; id: number } | undefined,
          started: false,
          ended: false,
          starts: 0,
        }));
        /** Messages on their way to the worker, in any order (the worker may read any of them late). */
        const messages: Array<{ run: number; slot: number; token: number; id: number }> = [];
        /** Postings counted by the test (not by their tokens): which one a message belongs to. */
        let postings = 0;
        for (const next of steps) {
          if (next.kind === 'post') {
            const run = runs[next.run]!;
            if (run.posting || run.ended) continue;
            const posting = slots.post();
            if (!posting) continue;
            run.posting = { ...posting, id: ++postings };
            messages.push({ run: next.run, ...run.posting });
          } else if (next.kind === 'withdraw') {
            const run = runs[next.run]!;
            if (!run.posting || run.ended) continue;
            expect(slots.claimed(run.posting.slot, run.posting.token)).toBe(run.started);
            const taken = slots.withdraw(run.posting.slot, run.posting.token);
            // taken back exactly when the worker has not started it
            expect(taken).toBe(!run.started);
            if (taken) {
              slots.release(run.posting.slot);
              run.posting = undefined;
            }
          } else if (next.kind === 'finish') {
            const run = runs[next.run]!;
            if (!run.started || run.ended || !run.posting) continue;
            slots.release(run.posting.slot);
            run.posting = undefined;
            run.ended = true;
          } else if (messages.length > 0) {
            const [message] = messages.splice(next.pick % messages.length, 1);
            const run = runs[message!.run]!;
            const current = run.posting?.id === message!.id && !run.started;
            const started = claimPosting(state, message!.slot, message!.token);
            // only the current posting of a cell not started yet starts it
            expect(started).toBe(current);
            if (started) {
              run.started = true;
              run.starts++;
            }
          }
        }
        for (const run of runs) expect(run.starts).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2_000 },
    );
  });

  it('a cell taken back and posted again into the same slot gets a new token: its first message cannot start it', () => {
    const state = new Int32Array(new SharedArrayBuffer(SHARED_LENGTH * 4));
    const slots = new ClaimSlots(state);
    const first = slots.post()!;
    expect(slots.withdraw(first.slot, first.token)).toBe(true);
    slots.release(first.slot);
    const second = slots.post()!;
    expect(second.slot).toBe(first.slot);
    expect(second.token).not.toBe(first.token);
    expect(claimPosting(state, first.slot, first.token)).toBe(false);
    expect(claimPosting(state, second.slot, second.token)).toBe(true);
    expect(slots.withdraw(second.slot, second.token)).toBe(false);
  });
});
