import { describe, expect, it, vi } from 'vitest';
import { untilTestTimeout } from './until-test-timeout.js';

describe('untilTestTimeout', () => {
  it('bounds a wait by the running test timeout, less a second', () => {
    expect(untilTestTimeout()).toEqual({ timeout: 19_000, interval: 20 });
  });

  it('follows a test timeout of its own', { timeout: 45_000 }, () => {
    expect(untilTestTimeout().timeout).toBe(44_000);
  });

  it('lets vi.waitFor wait past its 1 s default', async () => {
    const ready = Date.now() + 1500;
    // a condition that holds only after the default would have given up
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThanOrEqual(ready), untilTestTimeout());
  });
});
