/**
 * The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", 1980), with the two
 * departures of Porter's own reference implementation (`bli` → `ble`, `logi` → `log`) and the
 * invariant words of its successor Porter2 (so `news` does not become `new`).
 *
 * Terms: a word is `[C](VC){m}[V]`, where C is a run of consonants, V a run of vowels, and `m` its
 * measure. `y` is a vowel when it follows a consonant.
 */

type SuffixRule = readonly [suffix: string, replacement: string];

/** Words that look inflected but are not (from Porter2's exception list). */
const INVARIANT_WORDS = new Set(['news', 'atlas', 'cosmos', 'bias', 'andes']);

const STEP_2_RULES = longestFirst([
  ['ational', 'ate'],
  ['tional', 'tion'],
  ['enci', 'ence'],
  ['anci', 'ance'],
  ['izer', 'ize'],
  ['bli', 'ble'],
  ['alli', 'al'],
  ['entli', 'ent'],
  ['eli', 'e'],
  ['ousli', 'ous'],
  ['ization', 'ize'],
  ['ation', 'ate'],
  ['ator', 'ate'],
  ['alism', 'al'],
  ['iveness', 'ive'],
  ['fulness', 'ful'],
  ['ousness', 'ous'],
  ['aliti', 'al'],
  ['iviti', 'ive'],
  ['biliti', 'ble'],
  ['logi', 'log'],
]);

const STEP_3_RULES = longestFirst([
  ['icate', 'ic'],
  ['ative', ''],
  ['alize', 'al'],
  ['iciti', 'ic'],
  ['ical', 'ic'],
  ['ful', ''],
  ['ness', ''],
]);

const STEP_4_SUFFIXES = longestFirst(
  [
    ...['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'ion'],
    ...['ou', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize'],
  ].map((suffix): SuffixRule => [suffix, '']),
);

/**
 * The Porter stem of a lower-case word: `connections`, `connected` and `connecting` all become
 * `connect`. Words of two letters or fewer and words with characters outside `a`–`z` are returned
 * unchanged.
 *
 * @example
 * stem('repositories'); // 'repositori'
 * stem('repository'); // 'repositori'
 */
export function stem(word: string): string {
  if (word.length <= 2 || INVARIANT_WORDS.has(word) || !/^[a-z]+$/.test(word)) return word;
  let result = step1c(step1b(step1a(word)));
  result = applyFirstRule(result, STEP_2_RULES, (base) => measure(base) > 0);
  result = applyFirstRule(result, STEP_3_RULES, (base) => measure(base) > 0);
  result = applyFirstRule(result, STEP_4_SUFFIXES, isStep4Base);
  return step5b(step5a(result));
}

/** Plurals: `caresses` → `caress`, `ponies` → `poni`, `cats` → `cat`. */
function step1a(word: string): string {
  if (word.endsWith('sses') || word.endsWith('ies')) return word.slice(0, -2);
  if (word.endsWith('ss') || !word.endsWith('s')) return word;
  return word.slice(0, -1);
}

/** Past tense and gerunds: `agreed` → `agree`, `motoring` → `motor`, `hopping` → `hop`. */
function step1b(word: string): string {
  if (word.endsWith('eed')) return measure(word.slice(0, -3)) > 0 ? word.slice(0, -1) : word;
  for (const suffix of ['ed', 'ing']) {
    if (!word.endsWith(suffix)) continue;
    const base = word.slice(0, -suffix.length);
    return hasVowel(base) ? restoreAfterStep1b(base) : word;
  }
  return word;
}

/** Repairs a base left by step 1b: `conflat` → `conflate`, `hopp` → `hop`, `fil` → `file`. */
function restoreAfterStep1b(base: string): string {
  if (base.endsWith('at') || base.endsWith('bl') || base.endsWith('iz')) return `${base}e`;
  if (endsWithDoubleConsonant(base) && !/[lsz]$/.test(base)) return base.slice(0, -1);
  if (measure(base) === 1 && endsConsonantVowelConsonant(base)) return `${base}e`;
  return base;
}

/** Terminal `y` after a vowel-bearing base: `happy` → `happi`, but `sky` stays. */
function step1c(word: string): string {
  return word.endsWith('y') && hasVowel(word.slice(0, -1)) ? `${word.slice(0, -1)}i` : word;
}

/** Step 4 removes a suffix when the base has measure above one; `ion` only after `s` or `t`. */
function isStep4Base(base: string, suffix: string): boolean {
  return measure(base) > 1 && (suffix !== 'ion' || base.endsWith('s') || base.endsWith('t'));
}

/** A final `e`: `probate` → `probat`, `cease` → `ceas`, but `rate` stays. */
function step5a(word: string): string {
  if (!word.endsWith('e')) return word;
  const base = word.slice(0, -1);
  const baseMeasure = measure(base);
  const removable = baseMeasure > 1 || (baseMeasure === 1 && !endsConsonantVowelConsonant(base));
  return removable ? base : word;
}

/** A final double `l`: `controll` → `control`, but `roll` stays. */
function step5b(word: string): string {
  return word.endsWith('ll') && measure(word) > 1 ? word.slice(0, -1) : word;
}

/**
 * Applies the rule with the longest suffix the word ends with, if its base satisfies `accepts`.
 * Only that rule is tried: when its condition fails, the word is left unchanged.
 */
function applyFirstRule(
  word: string,
  rules: readonly SuffixRule[],
  accepts: (base: string, suffix: string) => boolean,
): string {
  for (const [suffix, replacement] of rules) {
    if (!word.endsWith(suffix)) continue;
    const base = word.slice(0, -suffix.length);
    return accepts(base, suffix) ? base + replacement : word;
  }
  return word;
}

function longestFirst(rules: SuffixRule[]): readonly SuffixRule[] {
  return rules.sort((a, b) => b[0].length - a[0].length);
}

function isConsonant(word: string, index: number): boolean {
  switch (word[index]) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
      return false;
    case 'y':
      return index === 0 || !isConsonant(word, index - 1);
    default:
      return true;
  }
}

/** The number of vowel-to-consonant transitions, `m` in `[C](VC){m}[V]`. */
function measure(word: string): number {
  let count = 0;
  let previousIsVowel = false;
  for (let index = 0; index < word.length; index++) {
    const isVowel = !isConsonant(word, index);
    if (previousIsVowel && !isVowel) count++;
    previousIsVowel = isVowel;
  }
  return count;
}

function hasVowel(word: string): boolean {
  for (let index = 0; index < word.length; index++) {
    if (!isConsonant(word, index)) return true;
  }
  return false;
}

function endsWithDoubleConsonant(word: string): boolean {
  const last = word.length - 1;
  return last > 0 && word[last] === word[last - 1] && isConsonant(word, last);
}

/** Ends consonant-vowel-consonant, the last not `w`, `x` or `y` (`hop`, `fil`, but not `snow`). */
function endsConsonantVowelConsonant(word: string): boolean {
  const last = word.length - 1;
  return (
    last >= 2 &&
    isConsonant(word, last - 2) &&
    !isConsonant(word, last - 1) &&
    isConsonant(word, last) &&
    !/[wxy]$/.test(word)
  );
}
