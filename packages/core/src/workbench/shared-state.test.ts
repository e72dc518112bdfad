import { describe, expect, it } from 'vitest';
import { WaitChooser } from './shared-state.js';

/** The next `count` choices of a chooser. */
const next = (chooser: WaitChooser, count: number) => Array.from({ length: count }, () => chooser.busy());

describe('WaitChooser', () => {
  it('tries idle, then busy, then keeps the faster way, and still tries the other one wait in `probe`', () => {
    const chooser = new WaitChooser(200, 4);
    expect(chooser.busy()).toBe(false);
    chooser.record(false, 90);
    expect(chooser.busy()).toBe(true);
    chooser.record(true, 20);
    // Busy is faster: busy, except every fourth wait.
    expect(next(chooser, 8)).toEqual([true, false, true, true, true, false, true, true]);
  });

  it('turns to idle when busy waits get slower than idle ones (the CPUs are shared), and back when they get faster', () => {
    const chooser = new WaitChooser(200, 4);
    chooser.record(false, 60);
    chooser.record(true, 20);
    for (let index = 0; index < 10; index++) chooser.record(true, 150);
    expect(next(chooser, 4).filter(Boolean)).toHaveLength(1);
    for (let index = 0; index < 10; index++) chooser.record(true, 10);
    expect(next(chooser, 4).filter(Boolean)).toHaveLength(3);
  });

  it('waits idle when busy is not clearly faster (answers slower than the spin), and never busy with a limit of 0', () => {
    const slow = new WaitChooser(200, 4);
    slow.record(false, 1_000);
    slow.record(true, 960);
    expect(next(slow, 8).filter(Boolean)).toHaveLength(2);
    const off = new WaitChooser(0, 4);
    off.record(false, 1_000);
    off.record(true, 10);
    expect(next(off, 8).some(Boolean)).toBe(false);
  });
});
