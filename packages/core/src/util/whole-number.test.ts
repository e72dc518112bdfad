import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { wholeNumberOf } from './whole-number.js';

const rule = {
  name: 'waitMs',
  code: 'CONFIG_INVALID' as const,
  unit: 'milliseconds',
  min: 1,
  max: 10,
  purpose: 'how long',
  leaveOut: 'Leave it out for 5.',
};

describe('wholeNumberOf', () => {
  it('takes every whole number within the bounds', () => {
    for (let value = 1; value <= 10; value++) expect(wholeNumberOf(value, rule)).toBe(value);
    expect(wholeNumberOf(2 ** 40, { ...rule, max: undefined })).toBe(2 ** 40);
  });

  it("refuses anything else with the rule's code (CONFIG_INVALID for an option, INVALID_REQUEST for a call's argument) naming the option, its bounds and the value", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer().filter((value) => value < 1 || value > 10),
          fc.double().filter((value) => !Number.isInteger(value)),
          fc.string(),
          fc.constantFrom(null, true, {}, [], 10n, Number.NaN, 2 ** 53),
        ),
        fc.constantFrom('CONFIG_INVALID' as const, 'INVALID_REQUEST' as const),
        (value, code) => {
          let refusal: unknown;
          try {
            wholeNumberOf(value, { ...rule, code });
          } catch (error) {
            refusal = error;
          }
          expect(ToolMuxError.isInstance(refusal) && refusal.code).toBe(code);
          expect((refusal as ToolMuxError).message).toMatch(
            /^waitMs must be a whole number of milliseconds from 1 to 10 \(how long\); got .+\. Leave it out for 5\.$/s,
          );
          expect((refusal as ToolMuxError).details).toEqual({ min: 1, max: 10 });
        },
      ),
      { numRuns: 500 },
    );
    expect(() => wholeNumberOf(0, { ...rule, max: undefined, show: (bound) => `${bound} ms` })).toThrow(
      'waitMs must be a whole number of milliseconds, 1 ms or more (how long); got number 0. Leave it out for 5.',
    );
  });
});
