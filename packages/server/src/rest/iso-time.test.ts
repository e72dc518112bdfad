import { describe, expect, it } from 'vitest';
import { isoTime } from './iso-time.js';

describe('isoTime', () => {
  it('writes what toISOString() writes, in and across minutes, before 1970 and beyond year 9999', () => {
    const starts = [
      Date.UTC(2026, 11, 2, 7, 4, 21, 581),
      Date.UTC(1969, 11, 31, 23, 59, 59, 999),
      Date.UTC(1900, 0, 1),
      Date.UTC(-271, 5, 6, 1, 2, 3, 4),
      Date.UTC(10_000, 0, 1),
      Date.UTC(99_999, 11, 31, 23, 59, 0),
      0,
      8.64e15 - 120_000,
      -8.64e15,
    ];
    // steps that stay in the minute, cross it forwards and backwards, and every millisecond digit count
    const steps = [0, 1, 9, 10, 99, 100, 999, 1000, 59_999, 60_000, -1, -60_001, 7, 3_600_000, 86_400_000];
    let checked = 0;
    for (const start of starts) {
      let time = start;
      for (const step of [...steps, ...[...steps].reverse()]) {
        time += step;
        if (Math.abs(time) > 8.64e15) continue;
        const date = new Date(time);
        expect(isoTime(date), String(time)).toBe(date.toISOString());
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it('throws on an invalid date, like toISOString()', () => {
    isoTime(new Date(0));
    expect(() => isoTime(new Date(Number.NaN))).toThrow(RangeError);
  });
});
