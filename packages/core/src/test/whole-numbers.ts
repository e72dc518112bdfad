import fc from 'fast-check';

/** The keys of `T` whose value is a number: a table of them typed `Record<NumberKeys<T>, …>` covers every one. */
export type NumberKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends number ? K : never }[keyof T];

/**
 * Values a whole-number option of these bounds cannot be: below `min`, above `max`, no whole number
 * (1.5, NaN, ±Infinity, 1e20, 2 ** 53), or no number at all ('5', '', null, true, {}, [], 10n), the
 * usual mistakes always among them and any others fast-check finds.
 */
export function notWholeNumberWithin({ min, max }: { min: number; max?: number }): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(
      min - 1,
      -1,
      ...(max === undefined ? [] : [max + 1]),
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      1e20,
      2 ** 53,
      '5',
      '',
      null,
      true,
      {},
      [],
      10n,
    ),
    fc.maxSafeInteger().filter((value) => value < min || (max !== undefined && value > max)),
    fc.double().filter((value) => !Number.isSafeInteger(value)),
    fc.string(),
  );
}
