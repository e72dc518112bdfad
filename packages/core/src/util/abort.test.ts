import { describe, expect, it } from 'vitest';
import { settlesWithin, withDeadline } from './abort.js';

describe('withDeadline', () => {
  it('answers with the promise when it settles in time, and leaves no timer behind', async () => {
    const before = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    await expect(withDeadline(Promise.resolve(7), 60_000, () => new Error('late'))).resolves.toBe(7);
    await expect(
      withDeadline(Promise.reject(new Error('own')), 60_000, () => new Error('late')),
    ).rejects.toThrow('own');
    expect(process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length).toBe(before);
  });

  it('rejects with what late() makes once the time has passed, and ignores a later outcome', async () => {
    let settle!: (value: string) => void;
    const pending = new Promise<string>((resolve) => {
      settle = resolve;
    });
    const late = new Error('did not answer within 20 ms');
    await expect(withDeadline(pending, 20, () => late)).rejects.toBe(late);
    settle('too late');
  });
});

describe('settlesWithin', () => {
  it('is true for a promise that rejects in time and false for one that does not settle', async () => {
    expect(await settlesWithin(Promise.reject(new Error('x')), 1000)).toBe(true);
    expect(await settlesWithin(new Promise(() => {}), 10)).toBe(false);
  });
});
