import { z } from 'zod';

import { type Bound, FORMAT_NOUNS, formatMismatch, rangeWords } from './range-words.js';
import {
  multipleOfWords,
  NOT_VALID_WORDS,
  noFormWords,
  patternWords,
  typeMismatchWords,
} from './refusal-words.js';

type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;
type CheckDef = { check?: string; value?: unknown; inclusive?: boolean } & Record<string, unknown>;

/** zod's English default messages: a message equal to its own is zod's, any other its author's. */
const englishMessage = z.locales.en().localeError;

/** Whether `issue` carries zod's default English message ("Too small: expected array to have >=1 items"). */
export function hasZodDefaultMessage(issue: Issue, got: unknown): boolean {
  let english: ReturnType<typeof englishMessage>;
  try {
    english = englishMessage({ ...issue, input: got } as unknown as Parameters<typeof englishMessage>[0]);
  } catch {
    // an issue without the fields its code has (another library's of zod's codes) is not zod's
    return false;
  }
  const text = typeof english === 'string' ? english : english?.message;
  return text === issue.message;
}

/** The definitions of the checks a schema makes. */
const checksOf = (schema: Schema | undefined): CheckDef[] =>
  ((schema?._zod.def as { checks?: Array<{ _zod: { def: CheckDef } }> } | undefined)?.checks ?? []).map(
    (check) => check._zod.def,
  );

/** The bounds the schema's own checks set (`.min()`, `.max()`, `.length()`, `.gt()`, …). */
function boundsOf(schema: Schema | undefined): { lower?: Bound; upper?: Bound } {
  const bounds: { lower?: Bound; upper?: Bound } = {};
  for (const def of checksOf(schema)) {
    const inclusive = def.inclusive !== false;
    if (def.check === 'greater_than') bounds.lower = [Number(def.value), inclusive];
    else if (def.check === 'less_than') bounds.upper = [Number(def.value), inclusive];
    else if (def.check === 'min_length' || def.check === 'min_size')
      bounds.lower = [Number(def.minimum), true];
    else if (def.check === 'max_length' || def.check === 'max_size')
      bounds.upper = [Number(def.maximum), true];
    else if (def.check === 'length_equals' || def.check === 'size_equals') {
      const size = Number(def.length ?? def.size);
      bounds.lower = [size, true];
      bounds.upper = [size, true];
    }
  }
  return bounds;
}

/**
 * The words of a `too_small` / `too_big` issue: what is wrong and what to send, with both bounds the
 * schema sets (`has 0 items: send an array of 1 to 50 items`).
 */
function sizeWords(
  issue: Extract<Issue, { code: 'too_small' | 'too_big' }>,
  got: unknown,
  schema: Schema | undefined,
  showNumbers: boolean,
): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? issue.minimum : issue.maximum);
  const own: Bound = [bound, issue.inclusive !== false];
  const bounds = boundsOf(schema);
  // the bound crossed, or a tighter one the schema also sets (an integer's safe range beside `.max(10)`)
  const tighter = (set: Bound | undefined, lowerBound: boolean) =>
    set !== undefined && (lowerBound ? set[0] >= own[0] : set[0] <= own[0]) ? set : own;
  const lower = small ? tighter(bounds.lower, true) : bounds.lower;
  const upper = small ? bounds.upper : tighter(bounds.upper, false);
  const integer =
    issue.origin === 'int' || checksOf(schema).some((check) => /int/.test(String(check.format ?? '')));
  return rangeWords({ origin: issue.origin, small, bound, lower, upper, got, integer, showNumbers });
}

/** The words of an `invalid_format` issue of a string. */
function formatWords(issue: Extract<Issue, { code: 'invalid_format' }>): string {
  const detail = issue as { prefix?: string; suffix?: string; includes?: string; pattern?: string };
  switch (issue.format) {
    case 'starts_with':
      return `does not start with ${JSON.stringify(detail.prefix)}: send text that starts with it`;
    case 'ends_with':
      return `does not end with ${JSON.stringify(detail.suffix)}: send text that ends with it`;
    case 'includes':
      return `does not include ${JSON.stringify(detail.includes)}: send text that includes it`;
    case 'regex':
      return patternWords(String(detail.pattern));
    default: {
      const noun = FORMAT_NOUNS[issue.format] ?? `text in the ${issue.format} format`;
      return formatMismatch(noun);
    }
  }
}

/**
 * An issue that still carries zod's default English message, in words that say what is wrong and
 * what to send (without the field, which the caller puts before it); undefined for a message its
 * author wrote. `expected` says what a type or union wanted (see `expectationOf`).
 */
export function wordZodDefault(
  issue: Issue,
  got: unknown,
  schema: Schema | undefined,
  options: { showNumbers: boolean; expected?: string },
): string | undefined {
  if (!hasZodDefaultMessage(issue, got)) return undefined;
  switch (issue.code) {
    case 'too_small':
    case 'too_big':
      return sizeWords(issue, got, schema, options.showNumbers);
    case 'invalid_type': {
      const expected =
        options.expected ?? (issue.expected === 'int' ? 'an integer' : `a ${String(issue.expected)}`);
      return typeMismatchWords(got, expected, {
        wantsInteger: issue.expected === 'int',
        showNumbers: options.showNumbers,
      });
    }
    case 'invalid_format':
      return formatWords(issue);
    case 'not_multiple_of': {
      return multipleOfWords(String(issue.divisor));
    }
    case 'invalid_key':
    case 'invalid_element': {
      const [inner] = issue.issues;
      const where = issue.code === 'invalid_key' ? 'a key' : 'an item';
      // a key is shown as unknown keys are; an item of a Map or Set is not
      const shownAs = issue.code === 'invalid_key' ? issue.path.at(-1) : undefined;
      const innerWords = inner && wordZodDefault(inner, shownAs, undefined, { showNumbers: false });
      return `has ${where} that ${innerWords ?? `is not valid (${inner?.message ?? 'see the schema'})`}`;
    }
    case 'invalid_union':
      return noFormWords(got, options.expected);
    default:
      return NOT_VALID_WORDS;
  }
}
