import { type Voice, wantedWords } from './voice.js';

const plural = (count: number, unit: string) =>
  `${count.toLocaleString('en')} ${unit}${count === 1 ? '' : 's'}`;

/** A value's kind in words, as a JSON body holds it: `a string`, `an array`, `null`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

const SIZE_UNITS: Record<string, [noun: string, unit: string]> = {
  string: ['a string', 'character'],
  array: ['an array', 'item'],
  set: ['a Set', 'item'],
  file: ['a file', 'byte'],
  object: ['an object', 'key'],
};

/** A bound: its value, and whether the value itself is within it (`.min(1)`: yes; `.gt(0)`: no). */
export type Bound = [value: number, inclusive: boolean];

/**
 * What is wrong with a value past a bound, and what to send, with both bounds its schema sets: a
 * size (`has 0 items: send an array of 1 to 50 items`, `is too long: send a string of at most 20
 * characters`) or a number or date (`is too large: send an integer from 1 to 5`). `origin` is what
 * the bounds are of (a zod issue's: `string`, `array`, `set`, `file`, `object` for its keys;
 * `number`, `int`, `bigint`, `date`); `bound` the one crossed, when the schema's own are not known.
 */
export function rangeWords(options: {
  origin: string;
  small: boolean;
  bound: number;
  lower: Bound | undefined;
  upper: Bound | undefined;
  got: unknown;
  integer: boolean;
  showNumbers: boolean;
  /** Whose value it is: a tool's result is told what its output schema asks for (see `wantedWords`). */
  voice?: Voice;
}): string {
  const { origin, small, bound, lower, upper, got, showNumbers, voice } = options;
  const sized = SIZE_UNITS[origin];
  if (sized) {
    const [noun, unit] = sized;
    // a length is a whole number: "more than 0" is "at least 1"
    const least = lower && (lower[1] ? lower[0] : lower[0] + 1);
    const most = upper && (upper[1] ? upper[0] : upper[0] - 1);
    const size =
      least !== undefined && least === most
        ? `exactly ${plural(least, unit)}`
        : least !== undefined && most !== undefined
          ? `${least.toLocaleString('en')} to ${plural(most, unit)}`
          : least !== undefined
            ? `at least ${plural(least, unit)}`
            : `at most ${plural(most ?? bound, unit)}`;
    // an array's length says nothing secret; a string's length may hint at a credential's
    const wrong =
      Array.isArray(got) || got instanceof Set
        ? `has ${plural(Array.isArray(got) ? got.length : got.size, 'item')}`
        : unit === 'key' && typeof got === 'object' && got !== null
          ? `has ${plural(Object.keys(got).length, 'key')}`
          : typeof got === 'string' && got.length === 0
            ? 'is empty'
            : `is too ${small ? 'short' : 'long'}`;
    return wantedWords(wrong, `${noun} of ${size}`, voice);
  }
  const isDate = origin === 'date';
  const show = (value: number) => (isDate ? new Date(value).toISOString() : value.toLocaleString('en'));
  const integer = options.integer;
  const noun = isDate ? 'a date' : integer ? 'an integer' : 'a number';
  const limits: string[] = [];
  // an integer's implicit safe range is no bound its author chose: named only when it is the one crossed
  const chosen = (limit: Bound | undefined, crossed: boolean) =>
    limit !== undefined && (crossed || Math.abs(limit[0]) < Number.MAX_SAFE_INTEGER);
  if (lower && upper && lower[1] && upper[1] && chosen(lower, small) && chosen(upper, !small))
    limits.push(`from ${show(lower[0])} to ${show(upper[0])}`);
  else {
    if (lower && chosen(lower, small))
      limits.push(
        `${lower[1] ? (isDate ? 'on or after' : 'of at least') : isDate ? 'after' : 'greater than'} ${show(lower[0])}`,
      );
    if (upper && chosen(upper, !small))
      limits.push(
        `${upper[1] ? (isDate ? 'on or before' : 'of at most') : isDate ? 'before' : 'less than'} ${show(upper[0])}`,
      );
  }
  const shown =
    showNumbers && (typeof got === 'number' || typeof got === 'bigint') ? ` (got ${String(got)})` : '';
  return wantedWords(
    `is too ${isDate ? (small ? 'early' : 'late') : small ? 'small' : 'large'}${shown}`,
    `${noun} ${limits.join(' and ')}`,
    voice,
  );
}

/** What a string of each format is, in words (and an example where it helps). */
export const FORMAT_NOUNS: Record<string, string> = {
  email: 'an email address',
  url: 'a URL such as https://example.com/path',
  uuid: 'a UUID',
  guid: 'a GUID',
  datetime: 'an ISO 8601 date and time such as 2026-01-31T12:00:00Z',
  date: 'an ISO 8601 date such as 2026-01-31',
  time: 'an ISO 8601 time such as 12:00:00',
  duration: 'an ISO 8601 duration such as PT5M',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  base64: 'base64 text',
  base64url: 'base64url text',
  jwt: 'a JSON Web Token',
};

/** What is wrong with text not in a format, and what to send: `is not a valid email address: send an email address`. */
export function formatMismatch(noun: string): string {
  return `is not ${noun.replace(/^an? /, 'a valid ').replace(/ such as .*/, '')}: send ${noun}`;
}
