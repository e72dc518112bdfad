import { didYouMean, type NameMatcher } from './closest-names.js';
import { kindOf } from './range-words.js';
import { leadingText, quotedString } from './stored-text.js';
import { type Voice, wantedWords } from './voice.js';

/**
 * The words of a refused value that both a zod schema's issues and a JSON Schema's (Ajv's errors)
 * are told in: what is wrong and what to send, without the path (the caller puts it before them).
 * A value from outside is shown only where its words say so (an unknown value of a list), quoted
 * and cut to {@link MAX_SHOWN_CHARS}.
 */

/** The most characters of a value from outside that a refusal quotes. */
export const MAX_SHOWN_CHARS = 100;

/**
 * A value as a refusal shows it: JSON, a string cut to {@link MAX_SHOWN_CHARS} first (never inside a
 * surrogate pair) and quoted with its control characters escaped.
 */
export function refusedValue(value: unknown): string {
  if (typeof value === 'string') return quotedString(leadingText(value, MAX_SHOWN_CHARS));
  if (typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** One allowed value as a list names it: a string as it is, anything else as JSON. */
function listedValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** Past this many characters, a list of allowed values is named by its first values and its count. */
const ALLOWED_VALUES_CHARS = 600;

const choices = new WeakMap<readonly unknown[], string>();

/**
 * What to send of a list of values: `"fast"` for one, `one of a, b, c` for several, and for a long
 * list (an enum of thousands of ids) its first values and how many there are: `one of the 5,000
 * values the schema lists, such as a, b, c, …`. Written once per list (an enum's list is the same
 * for each of a check's issues).
 */
export function choiceWords(values: readonly unknown[]): string {
  if (values.length === 1) return refusedValue(values[0]);
  let words = choices.get(values);
  if (words !== undefined) return words;
  const shown: string[] = [];
  let length = 0;
  for (const value of values) {
    const text = listedValue(value);
    length += text.length + 2;
    if (length > ALLOWED_VALUES_CHARS) break;
    shown.push(text);
  }
  words =
    shown.length === values.length
      ? `one of ${shown.join(', ')}`
      : `one of the ${values.length.toLocaleString('en')} values the schema lists, such as ${shown.join(', ')}, …`;
  choices.set(values, words);
  return words;
}

/**
 * A value not among the allowed ones: `unknown value "c"; use one of a, b. Did you mean "a"?` (an
 * object or array is not shown: it may hold anything, credentials too); `is required: …` where no
 * value is. `names`: the allowed values' texts to find the closest of (a kept matcher for a long
 * list), or nothing to give no hint. A tool's result (`voice` output) is told what its output schema
 * asks for, without a hint: `unknown value "c" where the output schema asks for one of a, b.`
 */
export function unknownValueWords(
  got: unknown,
  values: readonly unknown[],
  names?: Iterable<string> | NameMatcher,
  voice: Voice = 'arguments',
): string {
  const use = choiceWords(values);
  const fault =
    got === undefined
      ? 'is missing'
      : typeof got === 'object' && got !== null
        ? `is ${Array.isArray(got) ? 'an array' : 'an object'}`
        : `unknown value ${refusedValue(got)}`;
  if (voice === 'output') return `${wantedWords(fault, use, voice)}.`;
  if (got === undefined) return `is required: ${use}.`;
  if (typeof got === 'object' && got !== null) return `${fault}: use ${use}.`;
  const hint = typeof got === 'string' && names !== undefined ? didYouMean(got, names) : '';
  return `${fault}; use ${use}.${hint}`;
}

/**
 * A value of another type: `is a string: send a number`; a number that is not finite or not whole
 * where `expected` is (`wantsInteger`) an integer: `is not a whole number: send an integer`.
 * `showNumbers`: the number is shown (`(got 1.5)`), only where no number is a secret.
 */
export function typeMismatchWords(
  got: unknown,
  expected: string,
  options: { wantsInteger: boolean; showNumbers: boolean; voice?: Voice },
): string {
  const number = options.showNumbers && typeof got === 'number' ? ` (got ${got})` : '';
  // NaN and ±Infinity are numbers to typeof, and JSON has none of them: "is a number: send a number"
  // said nothing
  const fault =
    typeof got === 'number' && !Number.isFinite(got)
      ? `is not a finite number${number}`
      : options.wantsInteger && typeof got === 'number'
        ? `is not a whole number${number}`
        : `is ${kindOf(got)}`;
  return wantedWords(fault, expected, options.voice);
}

/** A number not a multiple of `divisor`. */
export function multipleOfWords(divisor: string, voice?: Voice): string {
  return wantedWords(`is not a multiple of ${divisor}`, `a multiple of ${divisor}`, voice);
}

/** Text that does not match a schema's regular expression. */
export function patternWords(pattern: string, voice?: Voice): string {
  return wantedWords(`does not match the pattern ${pattern}`, 'text that matches it', voice);
}

/** A value that matches none of a union's forms, `expected` (what they take) when known. */
export function noFormWords(got: unknown, expected: string | undefined, voice?: Voice): string {
  return expected === undefined
    ? wantedWords('matches none of the forms this field takes', 'one of them (see the schema)', voice)
    : wantedWords(`is ${kindOf(got)} that matches none of the forms this field takes`, expected, voice);
}

/** A value a check refused whose words say nothing more precise. */
export const NOT_VALID_WORDS = 'is not valid: send a value this field accepts (see the schema)';

/** {@link NOT_VALID_WORDS} in `voice`. */
export function notValidWords(voice?: Voice): string {
  return wantedWords('is not valid', 'a value this field accepts (see the schema)', voice);
}
