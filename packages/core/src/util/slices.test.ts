import { afterEach, describe, expect, it, vi } from 'vitest';
import { SLICE_MS, WorkSlice } from './slices.js';

afterEach(() => vi.restoreAllMocks());

describe('WorkSlice', () => {
  it('is due once it has worked SLICE_MS, and a pause lets waiting callbacks run and starts a new slice', async () => {
    let now = 1_000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const slice = new WorkSlice();
    now += SLICE_MS - 1;
    expect(slice.due()).toBe(false);
    now += 1;
    expect(slice.due()).toBe(true);
    let ran = false;
    setImmediate(() => {
      ran = true;
    });
    await slice.pause();
    expect(ran).toBe(true);
    expect(slice.due()).toBe(false);
  });

  it('breathe() does not leave the turn when the slice is not due', async () => {
    vi.spyOn(performance, 'now').mockReturnValue(5_000);
    const slice = new WorkSlice();
    let ran = false;
    setImmediate(() => {
      ran = true;
    });
    await slice.breathe();
    expect(ran).toBe(false);
  });
});
