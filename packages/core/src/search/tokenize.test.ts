import { describe, expect, it } from 'vitest';
import { stem } from './stem.js';
import { splitWords, tokenize } from './tokenize.js';

describe('splitWords', () => {
  it('splits UPPER_SNAKE slugs, snake_case and kebab-case at their separators', () => {
    expect(splitWords('GITHUB_STAR_REPO')).toEqual(['github', 'star', 'repo']);
    expect(splitWords('total_query_meta_search_engine')).toEqual([
      'total',
      'query',
      'meta',
      'search',
      'engine',
    ]);
    expect(splitWords('google-calendar.create-event')).toEqual(['google', 'calendar', 'create', 'event']);
  });

  it('splits camelCase, acronyms and digits, and keeps the whole run too', () => {
    expect(splitWords('createPullRequest')).toEqual(['create', 'pull', 'request', 'createpullrequest']);
    expect(splitWords('HTMLParser')).toEqual(['html', 'parser', 'htmlparser']);
    expect(splitWords('PDF&URLTool')).toEqual(['pdf', 'url', 'tool', 'urltool']);
    expect(splitWords('AI2sql')).toEqual(['ai', '2', 'sql', 'ai2sql']);
    expect(splitWords('GitHub')).toEqual(['git', 'hub', 'github']);
  });

  it("keeps an abbreviation's plural one word (PRs, URLs, IDs), also in a run", () => {
    // before, the lower-case s took the last capital: PRs was p, rs and prs
    expect(splitWords('open PRs')).toEqual(['open', 'prs']);
    expect(splitWords('list URLs and IDs')).toEqual(['list', 'urls', 'and', 'ids']);
    expect(splitWords('getPRsByUser')).toEqual(['get', 'prs', 'by', 'user', 'getprsbyuser']);
    expect(splitWords('ＰＲｓ')).toEqual(['prs']);
  });

  it('drops punctuation, possessives and accents', () => {
    expect(splitWords("Father's Day: gifts, cards & more!")).toEqual([
      'father',
      'day',
      'gifts',
      'cards',
      'more',
    ]);
    expect(splitWords('Café crème')).toEqual(['cafe', 'creme']);
  });

  it('reads full-width and other compatibility forms as their plain letters, and drops zero-width characters', () => {
    expect(splitWords('ｓｅｎｄ ｅｍａｉｌ')).toEqual(['send', 'email']);
    expect(splitWords('ＧＭＡＩＬ＿ＳＥＮＤ＿ＥＭＡＩＬ')).toEqual(['gmail', 'send', 'email']);
    expect(splitWords('ﬁle the ｒｅｐｏ')).toEqual(['file', 'the', 'repo']);
    // zero-width space, zero-width joiner, soft hyphen, word joiner and a variation selector inside words
    expect(splitWords('se\u200bnd an e\u00admail to the re\u200dpo\u2060 owner\ufe0f')).toEqual([
      'send',
      'an',
      'email',
      'to',
      'the',
      'repo',
      'owner',
    ]);
    expect(tokenize('ｓｅｎｄ ａｎ ｅｍａｉｌ')).toEqual(tokenize('send an email'));
  });

  it('keeps letters of other scripts', () => {
    expect(splitWords('東京 weather')).toEqual(['東京', 'weather']);
  });
});

describe('tokenize', () => {
  it('removes stop words and single letters, and stems', () => {
    expect(tokenize("Don't send an email to the recipients")).toEqual(['send', 'email', 'recipi']);
    expect(tokenize('iOS')).toEqual(['os', 'io']);
  });

  it('gives inflections of a word the same term', () => {
    expect(new Set(['create', 'creates', 'created', 'creating'].flatMap(tokenize))).toEqual(
      new Set(['creat']),
    );
    expect(tokenize('repositories')).toEqual(tokenize('Repository'));
    expect(tokenize('GMAIL_SEND_EMAILS')).toEqual(tokenize('gmail sending email'));
  });

  it('returns nothing for empty or stop-word-only text', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize('  ,.; ')).toEqual([]);
    expect(tokenize('what is it that you can do for me')).toEqual([]);
  });
});

describe('stem', () => {
  it.each([
    ['caresses', 'caress'],
    ['ponies', 'poni'],
    ['cats', 'cat'],
    ['agreed', 'agre'],
    ['motoring', 'motor'],
    ['sing', 'sing'],
    ['conflated', 'conflat'],
    ['hopping', 'hop'],
    ['falling', 'fall'],
    ['filing', 'file'],
    ['happy', 'happi'],
    ['sky', 'sky'],
    ['relational', 'relat'],
    ['digitizer', 'digit'],
    ['hopeful', 'hope'],
    ['goodness', 'good'],
    ['replacement', 'replac'],
    ['adoption', 'adopt'],
    ['generalizations', 'gener'],
    ['oscillators', 'oscil'],
    ['controll', 'control'],
    ['roll', 'roll'],
  ])('follows Porter (1980): %s → %s', (word, expected) => {
    expect(stem(word)).toBe(expected);
  });

  it('conflates a word family', () => {
    const family = ['connect', 'connected', 'connecting', 'connection', 'connections'];
    expect(family.map(stem)).toEqual(family.map(() => 'connect'));
  });

  it('leaves invariant words, short words and non-letters alone', () => {
    expect(stem('news')).toBe('news');
    expect(stem('is')).toBe('is');
    expect(stem('mp3s')).toBe('mp3s');
  });
});
