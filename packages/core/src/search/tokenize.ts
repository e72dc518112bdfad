import { stem } from './stem.js';

/**
 * English function words that carry no meaning for tool search (the NLTK list, with its
 * contraction stubs such as `don` from `don't`, plus `please`).
 */
const STOP_WORDS = new Set(
  [
    'a about above after again against ain all am an and any are aren as at be because been before being',
    'below between both but by can could couldn did didn do does doesn doing don down during each few for',
    'from further had hadn has hasn have haven having he her here hers herself him himself his how i if in',
    'into is isn it its itself just ll me mightn more most mustn my myself needn no nor not now of off on',
    'once only or other our ours ourselves out over own please re same shan she should shouldn so some',
    'such than that the their theirs them themselves then there these they this those through to too under',
    'until up ve very was wasn we were weren what when where which while who whom why will with won',
    'wouldn would you your yours yourself yourselves',
  ]
    .join(' ')
    .split(' '),
);

/**
 * Words that are one word for search: an abbreviation and the word it stands for (`repo` and
 * `repository`). Unlike synonyms, which are related words searched at a lower weight, each is read as
 * the first word of its group, in tools and queries alike: a query's `repos` is the `repositories` of
 * a tool's name as much as the `repo` of its parameters. An abbreviation of two words (`pr`, `pull
 * request`) is read as the first of them, the one that tells it apart (`request` alone is any HTTP
 * tool's): "open a PR" finds the tools named `…_PULL_REQUEST`, and `GITHUB_CREATE_PR` is found by
 * "pull request", while a text that says "PR" is as long for ranking as before. "Did you mean" hints
 * spell it out whole ({@link spelledOut}).
 */
export const EQUIVALENT_WORDS: readonly (readonly string[])[] = [
  ['repository', 'repo'],
  ['organization', 'org'],
  ['document', 'doc'],
  ['database', 'db'],
  ['application', 'app'],
  ['directory', 'dir'],
  ['information', 'info'],
  ['configuration', 'config'],
  ['message', 'msg'],
  ['image', 'img'],
  ['picture', 'pic'],
  ['pull request', 'pr'],
];

/**
 * Each abbreviation of {@link EQUIVALENT_WORDS}, and its plural, (lower case) → the word it stands
 * for: `repo` → `repository`, `repos` → `repositories`.
 */
const SPELLED_OUT = new Map(
  EQUIVALENT_WORDS.flatMap(([word, ...abbreviations]) =>
    abbreviations.flatMap((abbreviation) => [
      [abbreviation, word!],
      [`${abbreviation}s`, word!.endsWith('y') ? `${word!.slice(0, -1)}ies` : `${word}s`],
    ]),
  ),
);

/**
 * `name` with each word that is an abbreviation search reads as a word (see {@link EQUIVALENT_WORDS})
 * spelled out, in the word's case: `GITHUB_LIST_REPOS` → `GITHUB_LIST_REPOSITORIES`,
 * `slack-send-msg` → `slack-send-message`, `GITHUB_MERGE_PR` → `GITHUB_MERGE_PULL_REQUEST` (words of
 * two with the name's first separator); `name` itself when it has none. For "did you mean" hints
 * of tool slugs, which a model writes as it would say them.
 */
export function spelledOut(name: string): string {
  const separator = /[_\- ]/.exec(name)?.[0] ?? '_';
  return name.replace(/[A-Za-z]+/g, (word) => {
    const spelled = SPELLED_OUT.get(word.toLowerCase())?.replaceAll(' ', separator);
    if (spelled === undefined) return word;
    if (word === word.toUpperCase()) return spelled.toUpperCase();
    return word[0] === word[0]!.toUpperCase() ? spelled[0]!.toUpperCase() + spelled.slice(1) : spelled;
  });
}

/** Runs of letters and digits; everything else (space, `_`, `-`, `.`, `&`, ...) separates words. */
const WORD_RUN = /[\p{L}\p{N}]+/gu;
/**
 * The parts of one run: `HTMLParser` → `HTML`, `Parser`; `AI2sql` → `AI`, `2`, `sql`; an abbreviation's
 * plural is one part, `PRs` → `PRs` (not `P`, `Rs`).
 */
const RUN_PART = /\p{Lu}{2,}s(?!\p{Ll})|\p{Lu}+(?!\p{Ll})|\p{Lu}?\p{Ll}+|\p{N}+|[\p{Lo}\p{Lm}]+/gu;
/** A run that splits no further: lower-case letters only (the common case). */
const PLAIN_RUN = /^\p{Ll}+$/u;

/** The same three for ASCII text, which most tool text is; they run faster. */
const ASCII_WORD_RUN = /[A-Za-z0-9]+/g;
const ASCII_RUN_PART = /[A-Z]{2,}s(?![a-z])|[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;
const ASCII_PLAIN_RUN = /^[a-z]+$/;

/** Text with this needs the Unicode patterns and folding (see {@link foldText}). */
const NON_ASCII = /[\u0080-\uffff]/;
/**
 * What folding removes: combining marks (accents, once decomposed) and default-ignorable code points
 * (zero-width space and joiners, soft hyphen, variation selectors, bidi controls), which render as
 * nothing and would split or hide a word.
 */
const FOLDED_AWAY = /[\p{M}\p{Default_Ignorable_Code_Point}]/gu;
/** An apostrophe and the letters after it: `Father's` → `Father`, `don't` → `don`. */
const APOSTROPHE_SUFFIX = /['’]\p{L}*/gu;

/**
 * Word → term, memoized: a catalog repeats the same few thousand words many times. Cleared when
 * full, so that the words of a long-running server's queries cannot grow it without bound.
 */
const memoizedTerms = new Map<string, string>();
const MAX_MEMOIZED_TERMS = 100_000;

/**
 * Splits text into lower-case words the way tool names are written: at spaces and punctuation,
 * at `_` and `-` of slugs, and inside camelCase and letter-digit runs. A run that splits into parts
 * also yields itself whole, so `GitHub` matches both `github` and `git hub`. Text is folded first
 * ({@link foldText}): full-width letters are plain ones, accents and zero-width characters are removed.
 *
 * @example
 * splitWords('GITHUB_STAR_REPO'); // ['github', 'star', 'repo']
 * splitWords('createPullRequest'); // ['create', 'pull', 'request', 'createpullrequest']
 */
export function splitWords(text: string): string[] {
  const ascii = !NON_ASCII.test(text);
  const cleaned = withoutApostropheSuffixes(ascii ? text : foldText(text));
  const words: string[] = [];
  for (const run of cleaned.match(ascii ? ASCII_WORD_RUN : WORD_RUN) ?? []) {
    if ((ascii ? ASCII_PLAIN_RUN : PLAIN_RUN).test(run)) {
      words.push(run);
      continue;
    }
    const parts = run.match(ascii ? ASCII_RUN_PART : RUN_PART) ?? [run];
    for (const part of parts) words.push(part.toLowerCase());
    if (parts.length > 1) words.push(run.toLowerCase());
  }
  return words;
}

/**
 * The search terms of a text: its words (see {@link splitWords}) without stop words and single
 * letters, each reduced to its Porter stem. Documents and queries go through the same function.
 *
 * @example
 * tokenize('Sends an email to the recipients'); // ['send', 'email', 'recipi']
 */
export function tokenize(text: string): string[] {
  return termsOfWords(text, false);
}

/**
 * The terms of a tool's text ({@link tokenize}), where a word that undoes an action is that action
 * too: `GITHUB_UNSTAR_REPOSITORY` is also found as "star" in its name, so "delete a star from a
 * repository" finds it before `GITHUB_STAR_REPOSITORY` (its description says "remove"). Not for
 * queries: "unarchive" must not find the tools that archive.
 */
export function tokenizeToolText(text: string): string[] {
  return termsOfWords(text, true);
}

/** The terms of `text`'s words; with `undone`, `un` and an {@link UNDOABLE} action is that action too. */
function termsOfWords(text: string, undone: boolean): string[] {
  const terms: string[] = [];
  for (const word of splitWords(text)) {
    const term = termOf(word);
    if (term !== '') terms.push(term);
    if (undone && word.startsWith('un') && UNDOABLE.has(word.slice(2))) terms.push(termOf(word.slice(2)));
  }
  return terms;
}

/**
 * Actions whose undoing tool APIs name `un` and the action (`unstar`, `unsubscribe`, `unarchive`, …).
 * Not words whose `un` form is mostly a state (`unread`, `unsaved`, `unselected`): "list unread
 * messages" is not about reading.
 */
const UNDOABLE = new Set([
  'star',
  'subscribe',
  'follow',
  'watch',
  'archive',
  'pin',
  'mute',
  'block',
  'lock',
  'assign',
  'like',
  'link',
  'publish',
  'share',
  'install',
  'register',
  'schedule',
  'label',
  'tag',
  'snooze',
  'hide',
  'merge',
  'react',
  'bookmark',
  'favorite',
  'flag',
  'delete',
  'approve',
]);

/**
 * The stem of each word of {@link EQUIVALENT_WORDS} → the stem of the first word of its group (of
 * that group's first word, for words that stand for two: `pr` → `pull`).
 */
const EQUIVALENT_STEMS = new Map(
  EQUIVALENT_WORDS.flatMap(([word, ...others]) => {
    const first = stem(word!.split(' ')[0]!);
    return others.map((other) => [stem(other), first]);
  }),
);

/**
 * The stem of a word (of the word it abbreviates, see {@link EQUIVALENT_WORDS}), or `''` for a stop
 * word or a single letter; memoized.
 */
function termOf(word: string): string {
  let term = memoizedTerms.get(word);
  if (term === undefined) {
    const stemmed = STOP_WORDS.has(word) || (word.length === 1 && !/\d/.test(word)) ? '' : stem(word);
    term = EQUIVALENT_STEMS.get(stemmed) ?? stemmed;
    if (memoizedTerms.size >= MAX_MEMOIZED_TERMS) memoizedTerms.clear();
    memoizedTerms.set(word, term);
  }
  return term;
}

/**
 * Text as search compares it, the same for tools and queries: in Unicode compatibility form (NFKD),
 * so that full-width `ｓｅｎｄ`, `＿`, ligatures and the like are their plain letters and signs, without
 * accents and without the code points that render as nothing (zero-width space, soft hyphen, …).
 * ASCII text is returned as it is.
 *
 * @example
 * foldText('ＧＭＡＩＬ＿ＳＥＮＤ'); // 'GMAIL_SEND'
 * foldText('Café\u200b crème'); // 'Cafe creme'
 */
export function foldText(text: string): string {
  return NON_ASCII.test(text) ? text.normalize('NFKD').replace(FOLDED_AWAY, '') : text;
}

function withoutApostropheSuffixes(text: string): string {
  return text.includes("'") || text.includes('’') ? text.replace(APOSTROPHE_SUFFIX, '') : text;
}
