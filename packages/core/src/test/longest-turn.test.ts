import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { longestTurn, turnReport } from './longest-turn.js';

/** Holds the thread for `ms` of its CPU time. */
function busy(ms: number): void {
  const start = process.threadCpuUsage();
  for (;;) {
    const now = process.threadCpuUsage(start);
    if ((now.user + now.system) / 1000 >= ms) return;
  }
}

/** A turn after this promise settles, so that work runs in a turn of its own. */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('longestTurn', () => {
  it('charges a turn its own work: a turn held 60 ms measures at least 55 ms', async () => {
    const measured = await longestTurn(async () => {
      await nextTurn();
      busy(60);
      await nextTurn();
      return 'done';
    });
    expect(measured.value).toBe('done');
    expect(measured.turnMs, turnReport(measured)).toBeGreaterThanOrEqual(55);
  });

  it('charges the longest turn, not the sum: six turns of 10 ms measure under 30 ms', async () => {
    const measured = await longestTurn(async () => {
      for (let turn = 0; turn < 6; turn++) {
        await nextTurn();
        busy(10);
      }
    }, 30);
    expect(measured.turnMs, turnReport(measured)).toBeGreaterThanOrEqual(9);
    expect(measured.turnMs, turnReport(measured)).toBeLessThan(30);
  });

  it("does not charge the garbage collector's pause to the turn it fell in", async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // a live heap of ~2 million small objects makes a full collection take a while
    const live = Array.from({ length: 2_000_000 }, (_, index) => ({ index }));
    const measured = await longestTurn(async () => {
      await nextTurn();
      busy(2);
      gc();
      gc();
      await nextTurn();
    });
    expect(live.length).toBe(2_000_000);
    expect(measured.withGcMs, turnReport(measured)).toBeGreaterThan(20);
    expect(measured.turnMs, turnReport(measured)).toBeLessThan(15);
  });
});
