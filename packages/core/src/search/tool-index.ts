import { ToolMuxError } from '../errors.js';
import { runSteps, type Steps } from '../util/slices.js';
import { leadingText } from '../util/stored-text.js';
import type { EmbedFunction } from './embeddings.js';
import { DocumentEmbeddings, dotProduct } from './embeddings.js';
import type { FieldScoring } from './inverted-index.js';
import { InvertedIndex } from './inverted-index.js';
import { fuseByReciprocalRank } from './rank-fusion.js';
import type { ScoredDocument } from './score-board.js';
import { ScoreBoard } from './score-board.js';
import type { SynonymMap } from './synonyms.js';
import { buildSynonymMap, DEFAULT_SAME_ACTIONS, DEFAULT_SYNONYMS, RECENCY_WORDS } from './synonyms.js';
import { foldText, spelledOut, splitWords, tokenize, tokenizeToolText } from './tokenize.js';

export type { EmbedFunction } from './embeddings.js';
export type { FieldScoring } from './inverted-index.js';

/** A tool as the search index sees it. */
export interface SearchDocument {
  /** The unique tool slug, e.g. `GITHUB_CREATE_ISSUE`; results name tools by it. */
  slug: string;
  name: string;
  description: string;
  /** The toolkit slug, e.g. `github`. */
  toolkit: string;
  /** The toolkit's display name, e.g. `GitHub`. */
  toolkitName?: string;
  /**
   * The tool's input parameters (top-level properties of its input schema); `required` when the
   * schema requires it.
   */
  parameters: readonly { name: string; description?: string; required?: boolean }[];
  /**
   * The tool changes nothing (its `readOnlyHint`), or it may delete or overwrite data (its
   * `destructiveHint`): of tools a query's words score alike, those that change nothing come first and
   * those that may destroy last (see {@link ToolIndex.search}).
   */
  readOnly?: boolean;
  destructive?: boolean;
  tags?: readonly string[];
  /**
   * Words for what the tool's toolkit handles that its tools' text may not say (`Toolkit.keywords`),
   * e.g. `email`, `mail`, `inbox` for each Gmail tool. They name the toolkit's main object: the tools
   * that act on it (those whose slug names the object that most of the toolkit's tools in the index
   * name, `message` of GMAIL_LIST_MESSAGES, however many `add()` or `extend()` calls brought them) hold
   * them twice. A query word among them is the
   * object of the request: a tool that does not hold it weighs less (see
   * {@link RankingParameters.withoutKeywordWeight}).
   */
  toolkitKeywords?: readonly string[];
}

const SEARCH_FIELDS = [
  'slug',
  'name',
  'description',
  'parameters',
  'toolkit',
  'tags',
  'action',
  'keywords',
] as const;

/**
 * Search reads at most this many characters of a query (a use case and its known fields): a task in
 * words is far shorter, and every further word costs the event loop its stemming, so a model's (or a
 * client's) megabyte of query text would hold every other request for as long (REST's
 * `POST /sessions/:id/search` takes at most this many).
 */
export const MAX_QUERY_CHARS = 2_000;

/**
 * The index reads at most this many characters of each text of a tool: its description, its
 * parameters' names and descriptions together, its tags together (a declared tool's description
 * takes at most this many through REST; a third-party MCP server's or a custom tool's parameter
 * descriptions are bounded by nothing else).
 */
export const MAX_FIELD_CHARS = 8_192;

/**
 * The fields of a {@link SearchDocument} that ranking weighs separately. `action` is not given but
 * read from the slug: its first word after the toolkit's name, the verb of the tool (`post` of
 * `SLACK_POST_MESSAGE`), so that a query's verb finds the tool that does it before tools whose text
 * only mentions it. `keywords` are the toolkit's ({@link SearchDocument.toolkitKeywords}), on each of
 * its tools (twice on those that act on its main object), so that a query that names what the toolkit
 * handles by a word its tools do not use (`emails`, `inbox`, `ticket`) finds that toolkit's tools,
 * and among them the ones for that object (LINEAR_LIST_ISSUES for "list my tickets").
 */
export type SearchField = (typeof SEARCH_FIELDS)[number];

/** The knobs of lexical ranking. */
export interface RankingParameters {
  /** BM25 saturation: how quickly repeats of a term stop adding to the score. */
  k1: number;
  /** BM25F weight and length normalization per field. */
  fields: Readonly<Record<SearchField, Readonly<FieldScoring>>>;
  /** A synonym's weight relative to the query word it stands in for (0 turns synonyms off). */
  synonymWeight: number;
  /** The weight of an indexed word that completes a partial query word, such as `githu` (0 turns it off). */
  prefixWeight: number;
  /**
   * The weight of a query word that says how recent (`latest`, `newest`, `recent`, `last`, `current`,
   * `today`), and of its synonyms relative to it: such words seldom tell tools apart (1 weighs them
   * as any other word).
   */
  recencyWeight: number;
  /**
   * What a tool's score is multiplied by for each word of the query that is one of a toolkit's
   * keywords (`mail`, `ticket`: the object the request is about) and that the tool does not hold,
   * itself or by a synonym, in any field (1 turns this off).
   */
  withoutKeywordWeight: number;
}

/**
 * The default ranking. `k1`, the weights and length normalizations of slug, name, toolkit and
 * description, and the synonym and prefix weights were chosen by coordinate search on the training
 * split of the MetaTool tool-selection benchmark (`bench/search-tune.ts`), where slug, name and
 * toolkit are all the plugin name and so share one value. MetaTool tools have no parameters or
 * tags: parameters weigh a quarter of a description word, chosen on the built-in toolkits' labelled
 * queries (`packages/toolkits/test/*-queries.json`): their text is long and generic, and the same
 * parameters (`owner`, `repo`, `page`) recur on most tools of a toolkit, so at half a word the `repo`
 * of thirty GitHub tools outweighed the name of GITHUB_LIST_MY_REPOSITORIES for "list my repos".
 * Tags weigh as much as a name word. The action (the slug's verb, see `SearchField`) weighs one and a
 * half description words, without length normalization (it is one word), chosen on the same
 * labelled queries (1 and 2 ranked alike, 3 worse; MetaTool slugs have none): without it, "post a
 * message to a slack channel" ranked SLACK_DELETE_MESSAGE, whose description says "posted", first.
 * Recency words weigh half a word, chosen on the MetaTool training split (0.3 to 0.6 ranked all but
 * alike, 1 worse: "the most recent news" found the tools whose descriptions say "latest").
 * A toolkit's keywords weigh 0.6 of a description word, held twice by the tools that act on the
 * toolkit's main object, and a tool without a keyword word of the query counts half
 * (`withoutKeywordWeight`), chosen on the labelled queries, the plain phrasings and the requests that
 * name a toolkit's objects by such a word (`packages/toolkits/test/noun-queries.json`). Before, a
 * keyword weighed a description word on every tool of its toolkit alike, and the request's verb
 * decided between toolkits: "check my mail" ranked SLACK_ADD_REACTION first (its description's
 * `white_check_mark` holds "check", a word two tools have, against `mail`, which fifteen Gmail tools
 * have), and "list my tickets" LINEAR_LIST_WORKFLOW_STATES (every LINEAR_LIST_ tool held `list` and
 * `ticket` alike). A keyword counted once, or missing keywords not weighed less, left one of the two
 * wrong; keywords at a full word held twice took two labelled queries from the first place (GitHub's
 * "tag the issue with the bug label", `bug` being Linear's keyword, and "find websites similar to
 * stripe.com", `website` being Firecrawl's), a missing keyword at 0.4 the second; at 0.6 it left
 * SLACK_ADD_REACTION first. Weighing toolkits' names so as well took MetaTool's
 * recall@1 from 0.454 to 0.424 (its toolkit is the tool's own name); MetaTool tools have no keywords.
 * The toolkit's description is not read as keywords: its verbs (`search`, `read`, `send`) drew every
 * query of such a verb to the toolkits that list it (labelled recall@1 0.81 to 0.67).
 */
export const DEFAULT_RANKING: Readonly<RankingParameters> = {
  k1: 3,
  fields: {
    slug: { weight: 0.75, lengthNormalization: 0.25 },
    name: { weight: 0.75, lengthNormalization: 0.25 },
    description: { weight: 1, lengthNormalization: 0.25 },
    parameters: { weight: 0.25, lengthNormalization: 0.5 },
    toolkit: { weight: 0.75, lengthNormalization: 0.25 },
    tags: { weight: 0.75, lengthNormalization: 0.25 },
    action: { weight: 1.5, lengthNormalization: 0 },
    keywords: { weight: 0.6, lengthNormalization: 0.25 },
  },
  synonymWeight: 0.3,
  prefixWeight: 0.25,
  recencyWeight: 0.5,
  withoutKeywordWeight: 0.5,
};

/** Options of {@link ToolIndex}. */
export interface ToolIndexOptions {
  /** Overrides of the ranking parameters, merged over {@link DEFAULT_RANKING} field by field. */
  ranking?: {
    k1?: number;
    fields?: Partial<Record<SearchField, Partial<FieldScoring>>>;
    synonymWeight?: number;
    prefixWeight?: number;
    recencyWeight?: number;
    withoutKeywordWeight?: number;
  };
  /**
   * Groups of interchangeable words for query expansion; `[]` turns expansion off.
   * @default DEFAULT_SYNONYMS
   */
  synonyms?: readonly (readonly string[])[];
  /**
   * Groups of verbs for one and the same action: a query word of a group also searches the others, at
   * its own weight; `[]` turns this off.
   * @default DEFAULT_SAME_ACTIONS
   */
  sameActions?: readonly (readonly string[])[];
  /** An embedding model. With it, {@link ToolIndex.searchHybrid} also ranks by meaning. */
  embed?: EmbedFunction;
  /**
   * Documents per `embed` call when the documents are embedded.
   * @default 100
   */
  embedBatchSize?: number;
}

/** Options of {@link ToolIndex.search} and {@link ToolIndex.searchHybrid}. */
export interface ToolSearchOptions {
  /**
   * The most results to return.
   * @default 10
   */
  limit?: number;
  /** Only tools whose slug passes are returned, e.g. the tools a session may use. */
  filter?: (slug: string) => boolean;
  /**
   * The text that, when it is a tool's slug or name, ranks that tool first (see
   * {@link ToolIndex.search}). A session passes its use case alone, without the known fields it adds
   * to the query.
   * @default the query
   */
  exactQuery?: string;
}

/** One ranked tool; a higher score is a better match (scores compare within one result list only). */
export interface ToolSearchResult {
  slug: string;
  score: number;
}

/** Query words shorter than this are not completed by prefix. */
const MIN_PREFIX_LENGTH = 3;
/** The most indexed words one partial query word expands to. */
const MAX_PREFIX_COMPLETIONS = 10;
/** The most tools one slug or name ranks first (a name many tools share says little). */
const MAX_EXACT_TOOLS = 32;
/** How many results of each ranking hybrid search fuses, at least. */
const HYBRID_CANDIDATES = 50;

const DEFAULT_SYNONYM_MAP = buildSynonymMap(DEFAULT_SYNONYMS);
const DEFAULT_SAME_ACTION_MAP = buildSynonymMap(DEFAULT_SAME_ACTIONS);
const RECENCY_TERMS = new Set(RECENCY_WORDS.flatMap(tokenize));

/**
 * A search index over tools: ranks them for a natural-language use case. Lexical ranking is BM25F
 * over the tool's slug, name, description, parameters, toolkit and tags, with stemming, identifier
 * splitting (`GITHUB_STAR_REPO`, `createIssue`), synonym expansion and completion of partial words.
 * With an `embed` function, {@link ToolIndex.searchHybrid} fuses it with embedding similarity.
 *
 * @example
 * const index = new ToolIndex(documents);
 * const [best] = index.search('star a repository', { limit: 5 });
 * best?.slug; // 'GITHUB_STAR_REPO'
 */
export class ToolIndex {
  readonly #ranking: RankingParameters;
  readonly #synonyms: SynonymMap;
  readonly #sameActions: SynonymMap;
  readonly #board = new ScoreBoard();
  /** Scratch for the terms that stand in for one query word: the best of them counts. */
  readonly #alternatives = new ScoreBoard();
  readonly #options: ToolIndexOptions;
  #index: InvertedIndex;
  #slugs: string[] = [];
  #documentIds = new Map<string, number>();
  /**
   * The tools by their slug and by their name as {@link exactKey} writes them (at most
   * {@link MAX_EXACT_TOOLS} each): a query that is one of them ranks those tools first. The lists are
   * never changed, only replaced, so that an index made by `extend()` shares them with its base.
   */
  #bySlug = new Map<string, readonly number[]>();
  #byName = new Map<string, readonly number[]>();
  /**
   * The tools by the words of their slug as {@link nameWordsKey} writes them, with and without the
   * toolkit's: a query of those words and no others ranks those tools first, after {@link #bySlug} and
   * {@link #byName}.
   */
  #byNameWords = new Map<string, readonly number[]>();
  #embeddings: DocumentEmbeddings | undefined;
  /** The terms of the indexed toolkits' keywords: a query word among them names a toolkit's objects. */
  #keywordTerms = new Set<string>();
  /** Per document, how many of a query's keyword words it holds (scratch of {@link #score}, kept at 0). */
  #keywordHits = new Uint16Array(0);
  /**
   * Per document, what it does to the world (0 changes nothing, 1 may change something, 2 may delete
   * or overwrite) and how many parameters it requires: of tools of one score, the first is the one
   * that does least and asks least (see {@link #tieOrder}).
   */
  #effects: number[] = [];
  #requiredCounts: number[] = [];
  /**
   * The tools by what they act on, their toolkit and an object term ({@link objectKey}): a toolkit's
   * tools on the object one of them names by a word handle that word too. Lists this index made are in
   * {@link #ownObjectLists}; others are its base's, copied before this index adds to them.
   */
  #byObject = new Map<string, number[]>();
  #ownObjectLists = new Set<string>();
  /** Per document, its keys in {@link #byObject}. */
  #objectKeysOf: (readonly string[])[] = [];
  /**
   * Per document, the number of the last keyword word of a query it holds or handles (scratch of
   * {@link #score}; query words are numbered on from one search to the next).
   */
  #heldWord = new Float64Array(0);
  #wordNumber = 0;
  /**
   * Per toolkit whose tools have keywords, how many of its indexed tools act on each object term:
   * its main object ({@link mainObjectOf}) is read from all of them, whichever batch each came in.
   */
  #objectCounts = new Map<string, Map<string, number>>();
  /**
   * Per document, 1 when it acts on its toolkit's main object (its keywords then count twice, see
   * {@link InvertedIndex.repeatField}); made on the first search after tools are added, since a later
   * batch can change a toolkit's main object.
   */
  #onMainObject: Uint8Array | undefined;
  /** The toolkits by their main object (made with {@link #onMainObject}). */
  #byMainObject = new Map<string, string[]>();

  constructor(documents: Iterable<SearchDocument> = [], options: ToolIndexOptions = {}) {
    this.#options = options;
    this.#ranking = mergeRanking(options.ranking);
    this.#synonyms = options.synonyms ? buildSynonymMap(options.synonyms) : DEFAULT_SYNONYM_MAP;
    this.#sameActions = options.sameActions ? buildSynonymMap(options.sameActions) : DEFAULT_SAME_ACTION_MAP;
    const fields = SEARCH_FIELDS.map((field) => this.#ranking.fields[field]);
    this.#index = new InvertedIndex(fields, this.#ranking.k1);
    this.#embeddings = options.embed
      ? new DocumentEmbeddings(options.embed, options.embedBatchSize ?? 100)
      : undefined;
    this.add(documents);
  }

  /** The number of indexed tools. */
  get size(): number {
    return this.#slugs.length;
  }

  /**
   * Adds tools, for example a session's custom tools. Cheap: only the new tools are tokenized;
   * length statistics are refreshed on the next search.
   *
   * @throws ToolMuxError `INVALID_REQUEST` when a slug is already indexed.
   */
  add(documents: Iterable<SearchDocument>): void {
    runSteps(this.addSteps([...documents]));
  }

  /**
   * @internal {@link add} as steps, one tool per step, twice (a few thousand tools are tens of milliseconds
   * of tokenizing): `Catalog.searchIndex()` runs them a slice at a time, on an index no search sees
   * before it is complete.
   */
  *addSteps(documents: readonly SearchDocument[]): Steps<void> {
    this.#assertNewSlugs(documents);
    const texts: string[] = [];
    for (const document of documents) {
      const terms = fieldTerms(document);
      const id = this.#index.add(terms);
      for (const term of terms[KEYWORDS_FIELD]!) this.#keywordTerms.add(term);
      this.#countObjects(document);
      this.#effects.push(document.readOnly ? 0 : document.destructive ? 2 : 1);
      this.#requiredCounts.push(document.parameters.filter((parameter) => parameter.required).length);
      this.#documentIds.set(document.slug, id);
      this.#listUnder(this.#bySlug, exactKey(document.slug), id);
      this.#listUnder(this.#byName, exactKey(document.name), id);
      for (const key of slugWordKeys(document)) this.#listUnder(this.#byNameWords, key, id);
      this.#slugs.push(document.slug);
      if (this.#embeddings) texts.push(embeddingText(document));
      yield;
    }
    this.#board.reserve(this.#slugs.length);
    this.#alternatives.reserve(this.#slugs.length);
    if (this.#keywordHits.length < this.#slugs.length) {
      this.#keywordHits = new Uint16Array(Math.max(this.#slugs.length, this.#keywordHits.length * 2));
      this.#heldWord = new Float64Array(this.#keywordHits.length);
    }
    this.#embeddings?.add(texts);
    this.#onMainObject = undefined;
  }

  /** Lists a new document (the next one) under its objects, and counts them for its toolkit when it has keywords. */
  #countObjects(document: SearchDocument): void {
    const terms = [...new Set(objectTerms(document))];
    const id = this.#objectKeysOf.length;
    const keys = terms.map((term) => objectKey(document.toolkit, term));
    this.#objectKeysOf.push(keys);
    for (const key of keys) {
      const own = this.#ownObjectLists.has(key);
      const list = own ? this.#byObject.get(key)! : [...(this.#byObject.get(key) ?? [])];
      list.push(id);
      this.#byObject.set(key, list);
      this.#ownObjectLists.add(key);
    }
    if (!document.toolkitKeywords?.length) return;
    const counts = this.#objectCounts.get(document.toolkit) ?? new Map<string, number>();
    this.#objectCounts.set(document.toolkit, counts);
    for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
  }

  /**
   * Marks the documents that act on their toolkit's main object, their keywords to count twice, when
   * tools were added since the last search (linear in the number of tools).
   */
  #markMainObjects(): void {
    if (this.#onMainObject) return;
    const main = new Map<string, string>();
    for (const [toolkit, counts] of this.#objectCounts) {
      const object = mainObjectOf(counts);
      if (object !== undefined) main.set(toolkit, object);
    }
    this.#byMainObject = new Map();
    for (const [toolkit, object] of main)
      this.#byMainObject.set(object, [...(this.#byMainObject.get(object) ?? []), toolkit]);
    // the tools on each main object are listed under it already (a tool of the toolkit without
    // keywords may be among them: its keyword field is empty, so doubling it changes nothing)
    const flags = new Uint8Array(this.#slugs.length);
    for (const [toolkit, object] of main) {
      for (const document of this.#byObject.get(objectKey(toolkit, object)) ?? []) flags[document] = 1;
    }
    this.#onMainObject = flags;
    this.#index.repeatField(KEYWORDS_FIELD, flags);
  }

  /**
   * A new index holding this one's tools plus `documents` (a session's custom tools), leaving this one
   * unchanged. Only the new tools are tokenized and embedded; the rest is shared or copied, so a
   * session with a few custom tools does not index (or embed) the whole catalog again.
   */
  extend(documents: Iterable<SearchDocument>): ToolIndex {
    return runSteps(this.extendSteps([...documents]));
  }

  /** @internal {@link extend} as steps: one new tool per step. */
  *extendSteps(documents: readonly SearchDocument[]): Steps<ToolIndex> {
    const copy = new ToolIndex([], this.#options);
    copy.#index = this.#index.fork();
    copy.#slugs = [...this.#slugs];
    copy.#documentIds = new Map(this.#documentIds);
    copy.#bySlug = new Map(this.#bySlug);
    copy.#byName = new Map(this.#byName);
    copy.#byNameWords = new Map(this.#byNameWords);
    copy.#embeddings = this.#embeddings?.fork();
    copy.#keywordTerms = new Set(this.#keywordTerms);
    copy.#effects = [...this.#effects];
    copy.#requiredCounts = [...this.#requiredCounts];
    copy.#byObject = new Map(this.#byObject);
    copy.#objectKeysOf = [...this.#objectKeysOf];
    copy.#objectCounts = new Map(
      [...this.#objectCounts].map(([toolkit, counts]) => [toolkit, new Map(counts)]),
    );
    yield* copy.addSteps(documents);
    return copy;
  }

  /**
   * Ranks tools for a use case by their words (synchronous, no model). Only tools that share a word,
   * a synonym or a completed partial word with the query are returned; an empty query returns none.
   *
   * A query that is a tool's slug or name (`exactQuery` when given; trimmed, in any case, with `_`,
   * `-` and spaces alike: `GITHUB_CREATE_ISSUE`, `github create issue`, `Github Create Issue`) ranks
   * that tool first, before the tools whose words match it better; so does a slug written as one word
   * of the query (`run GITHUB_CREATE_ISSUE for this`), after those. Such a tool's score is made
   * higher than the best of the others. A query of the words of a tool's slug and no others, with or
   * without its toolkit's, in any order and form (`create a pull request`, `create a PR`, `pull
   * requests: create` for GITHUB_CREATE_PULL_REQUEST), ranks it first too, right after those: by
   * words alone, a tool whose description says them more (GITHUB_CREATE_PULL_REQUEST_REVIEW) came first.
   *
   * Tools the query's words score alike (those matched by a toolkit's keyword alone, "check my mail")
   * come in an order that means something for the request, not the order they were added in: first
   * those that change nothing ({@link SearchDocument.readOnly}), last those that may delete or
   * overwrite, then those that require fewer parameters (what the query did not give), then by slug.
   */
  search(query: string, options: ToolSearchOptions = {}): ToolSearchResult[] {
    const limit = Math.floor(options.limit ?? 10);
    if (!(limit > 0)) return [];
    const text = leadingText(query, MAX_QUERY_CHARS);
    this.#score(text);
    const ranked = this.#results(this.#board.takeTop(limit, this.#accept(options.filter), this.#tieOrder));
    return this.#exactFirst(ranked, this.#exactMatches(text, options, limit), limit);
  }

  /**
   * Ranks tools by words and by meaning: fuses the lexical ranking with the cosine similarity of
   * embeddings by reciprocal rank. Documents are embedded once, on first use; each call embeds the
   * query. Without an `embed` function this is {@link ToolIndex.search}.
   */
  async searchHybrid(query: string, options: ToolSearchOptions = {}): Promise<ToolSearchResult[]> {
    if (!this.#embeddings) return this.search(query, options);
    const limit = Math.floor(options.limit ?? 10);
    const { filter } = options;
    if (!(limit > 0) || query.trim() === '') return [];
    const [documentVectors, queryVector] = await Promise.all([
      this.#embeddings.vectors(),
      this.#embeddings.embedQuery(leadingText(query, MAX_QUERY_CHARS)),
    ]);
    const candidates = Math.max(limit, HYBRID_CANDIDATES);
    const lexical = this.search(query, { limit: candidates, filter });
    documentVectors.forEach((vector, document) => {
      this.#board.add(document, dotProduct(vector, queryVector));
    });
    const semantic = this.#results(this.#board.takeTop(candidates, this.#accept(filter)));
    const exact = this.#exactMatches(leadingText(query, MAX_QUERY_CHARS), options, limit);
    return this.#exactFirst(fuseByReciprocalRank([lexical, semantic], limit), exact, limit);
  }

  /**
   * The tools `query` names exactly (see {@link search}), best first, that `filter` lets through, at
   * most `limit`: those whose slug it is, then whose name it is, then whose slug's words it is, then
   * those whose slug is a word of it. Linear in the query's length: four look-ups of the whole and one
   * of each word holding a `_` or a `-`, each list at most {@link MAX_EXACT_TOOLS} long.
   */
  #exactMatches(query: string, options: ToolSearchOptions, limit: number): number[] {
    const found: number[] = [];
    const seen = new Set<number>();
    const take = (list: readonly number[] | undefined) => {
      for (const document of list ?? []) {
        if (found.length >= limit) return;
        if (seen.has(document)) continue;
        seen.add(document);
        if (options.filter && !options.filter(this.#slugs[document]!)) continue;
        found.push(document);
      }
    };
    const exactQuery = leadingText(options.exactQuery ?? query, MAX_QUERY_CHARS);
    const whole = exactKey(exactQuery);
    if (whole !== '') {
      take(this.#bySlug.get(whole));
      take(this.#byName.get(whole));
      // GitHub is git, hub and github: the slug's GITHUB is the last of them alone
      const words = spelledOut(exactQuery);
      take(this.#byNameWords.get(nameWordsKey(tokenize(words))));
      take(this.#byNameWords.get(nameWordsKey(tokenize(words.toLowerCase()))));
    }
    for (const word of foldText(query).split(/\s+/)) {
      if (found.length >= limit) break;
      const slug = withoutPunctuationAround(word);
      if (slug.includes('_') || slug.includes('-')) take(this.#bySlug.get(exactKey(slug)));
    }
    return found;
  }

  /** `ranked` with the `exact` tools first, at most `limit`; their scores above the others'. */
  #exactFirst(ranked: ToolSearchResult[], exact: readonly number[], limit: number): ToolSearchResult[] {
    if (exact.length === 0) return ranked;
    const slugs = exact.map((document) => this.#slugs[document]!);
    const named = new Set(slugs);
    const rest = ranked.filter((result) => !named.has(result.slug));
    const top = (rest[0]?.score ?? 0) + slugs.length;
    return [...slugs.map((slug, at) => ({ slug, score: top - at })), ...rest].slice(0, limit);
  }

  /** Adds `document` to the list of `key` in `lists` (a new list: an extended index shares them). */
  #listUnder(lists: Map<string, readonly number[]>, key: string, document: number): void {
    if (key === '') return;
    const list = lists.get(key) ?? [];
    if (list.length < MAX_EXACT_TOOLS) lists.set(key, [...list, document]);
  }

  /** Checks a whole batch before adding any of it, so that a failed `add` changes nothing. */
  #assertNewSlugs(documents: readonly SearchDocument[]): void {
    const slugs = new Set<string>();
    for (const { slug } of documents) {
      if (this.#documentIds.has(slug) || slugs.has(slug)) {
        throw new ToolMuxError({
          code: 'INVALID_REQUEST',
          message: `Tool ${slug} is already in the search index; tool slugs must be unique.`,
        });
      }
      slugs.add(slug);
    }
  }

  /**
   * Scores the query's terms onto the board. The terms that stand in for one query word (its
   * synonyms, the completions of a partial word) are alternatives: a tool gets the best of them, not
   * their sum, so that a tool whose text holds three synonyms of `list` does not outrank one that says
   * `list` itself. A query word that is a toolkit's keyword names what the request is about: the
   * object decides the toolkit, the verb the tool within it, so a tool that holds neither the word
   * nor a synonym of it has its score multiplied by {@link RankingParameters.withoutKeywordWeight}
   * (for each such word it lacks), and a rare verb in another toolkit's description ("check" in
   * SLACK_ADD_REACTION's `white_check_mark`) no longer outweighs the object ("check my mail"). The
   * tools of a toolkit that act on what one of its tools names by the word itself handle it too, and
   * are not weighed down: GitHub's issues are bugs (GITHUB_CREATE_ISSUE says "report a bug", and `bug`
   * is Linear's keyword), so "close the bug in the github repo" weighs GITHUB_CLOSE_ISSUE fully.
   */
  #score(query: string): void {
    const terms = tokenize(query);
    this.#markMainObjects();
    const named = this.#standInsNotNeeded(terms);
    try {
      this.#scoreWords(terms);
    } finally {
      for (const document of named) this.#onMainObject![document] = 1;
    }
  }

  /**
   * Where the query names a toolkit's main object by the tools' own word (`message` of Slack's
   * SLACK_*_MESSAGE tools in "react to the chat message"), its keywords need not stand for it: the
   * tools on it hold their keywords once for this query (marked 2, see
   * {@link InvertedIndex.repeatField}), so that the object is not counted again through a keyword
   * word (`chat`) and outweighs the request's other words. Returns those tools, to mark 1 again after.
   */
  #standInsNotNeeded(terms: readonly string[]): number[] {
    const tools: number[] = [];
    if (this.#byMainObject.size === 0) return tools;
    for (const term of new Set(terms)) {
      for (const toolkit of this.#byMainObject.get(term) ?? []) {
        for (const document of this.#byObject.get(objectKey(toolkit, term)) ?? []) {
          if (this.#onMainObject![document] !== 1) continue;
          this.#onMainObject![document] = 2;
          tools.push(document);
        }
      }
    }
    return tools;
  }

  /** {@link #score} once the tools on a main object are marked. */
  #scoreWords(terms: readonly string[]): void {
    let keywordWords = 0;
    /** The tools that handle a keyword word: their hits are reset also when the board holds none of them. */
    const handling: number[] = [];
    const countHit = (document: number) => {
      if (this.#heldWord[document] === this.#wordNumber) return;
      this.#heldWord[document] = this.#wordNumber;
      this.#keywordHits[document]!++;
    };
    for (const { termIds, keyword, own } of this.#queryWords(terms)) {
      if (termIds.size === 1 && !keyword) {
        for (const [termId, weight] of termIds) this.#index.score(termId, weight, this.#board);
        continue;
      }
      for (const [termId, weight] of termIds) this.#index.score(termId, weight, this.#alternatives, true);
      if (keyword) {
        keywordWords++;
        this.#wordNumber++;
        for (const document of this.#handlers(own!)) {
          countHit(document);
          handling.push(document);
        }
      }
      this.#alternatives.addTo(this.#board, keyword ? countHit : undefined);
    }
    if (keywordWords === 0) return;
    const { withoutKeywordWeight } = this.#ranking;
    this.#board.rescale((document) => {
      const missed = keywordWords - this.#keywordHits[document]!;
      this.#keywordHits[document] = 0;
      return withoutKeywordWeight ** missed;
    });
    for (const document of handling) this.#keywordHits[document] = 0;
  }

  /**
   * The tools that act on an object that a tool whose slug, name or description holds `termId` acts
   * on, of that tool's toolkit: those that handle what the word names, whether or not their own text
   * says it. A word in a parameter's description only (an `email` parameter of a chat tool) is not
   * what the tool is about.
   */
  *#handlers(termId: number): Generator<number> {
    const keys = new Set<string>();
    for (const holder of this.#index.documentsWith(termId, ABOUT_FIELDS)) {
      for (const key of this.#objectKeysOf[holder]!) {
        if (keys.has(key)) continue;
        keys.add(key);
        yield* this.#byObject.get(key)!;
      }
    }
  }

  /**
   * The index's term ids for each word of a query (its terms, `tokenize`d once for the whole search), each with its weight: 1 for the word itself and the
   * verbs of its action ({@link ToolIndexOptions.sameActions}), less for its synonyms and completions,
   * all of them less for a recency word. A term is searched once, for the word that weighs it most.
   */
  #queryWords(
    terms: readonly string[],
  ): { termIds: Map<number, number>; keyword: boolean; own: number | undefined }[] {
    const weights = new Map<number, { weight: number; word: number }>();
    const raise = (termId: number | undefined, weight: number, word: number) => {
      if (termId !== undefined && weight > (weights.get(termId)?.weight ?? 0)) {
        weights.set(termId, { weight, word });
      }
    };
    const { synonymWeight, prefixWeight, recencyWeight } = this.#ranking;
    terms.forEach((term, word) => {
      const termId = this.#index.termId(term);
      const own = RECENCY_TERMS.has(term) ? recencyWeight : 1;
      raise(termId, own, word);
      for (const same of this.#sameActions.get(term) ?? []) raise(this.#index.termId(same), own, word);
      if (termId === undefined && prefixWeight > 0 && term.length >= MIN_PREFIX_LENGTH) {
        for (const completion of this.#index.termIdsWithPrefix(term, MAX_PREFIX_COMPLETIONS)) {
          raise(completion, own * prefixWeight, word);
        }
      }
      if (synonymWeight > 0) {
        for (const synonym of this.#synonyms.get(term) ?? []) {
          raise(this.#index.termId(synonym), own * synonymWeight, word);
        }
      }
    });
    const words = terms.map(() => new Map<number, number>());
    for (const [termId, { weight, word }] of weights) words[word]!.set(termId, weight);
    return words
      .map((word, at) => ({
        termIds: word,
        keyword: this.#keywordTerms.has(terms[at]!),
        own: this.#index.termId(terms[at]!),
      }))
      .filter((word) => word.termIds.size > 0);
  }

  /** The order of tools of one score (see {@link search}): a total order, slugs being unique. */
  readonly #tieOrder = (document: number, other: number): number =>
    this.#effects[document]! - this.#effects[other]! ||
    this.#requiredCounts[document]! - this.#requiredCounts[other]! ||
    (this.#slugs[document]! < this.#slugs[other]! ? -1 : 1);

  #accept(filter: ((slug: string) => boolean) | undefined): ((document: number) => boolean) | undefined {
    return filter && ((document) => filter(this.#slugs[document]!));
  }

  #results(top: readonly ScoredDocument[]): ToolSearchResult[] {
    return top.map(({ document, score }) => ({ slug: this.#slugs[document]!, score }));
  }
}

/**
 * `word` without what may surround a slug written in a sentence: quotes, brackets, a comma, a full
 * stop (everything but letters and digits at either end).
 */
function withoutPunctuationAround(word: string): string {
  const isWordChar = (at: number) => /[\p{L}\p{N}]/u.test(word[at]!);
  let start = 0;
  let end = word.length;
  while (start < end && !isWordChar(start)) start++;
  while (end > start && !isWordChar(end - 1)) end--;
  return word.slice(start, end);
}

/**
 * A slug or a name as a query that names it exactly is compared: folded as search folds all text
 * ({@link foldText}: `ＧＩＴＨＵＢ＿…` is `GITHUB_…`, zero-width characters are dropped), trimmed,
 * lower-cased, each run of `_`, `-` and white space one space (`GITHUB_CREATE_ISSUE`, `github-create-issue` and
 * `Github Create Issue` are `github create issue`). Reads at most {@link MAX_FIELD_CHARS}.
 */
export function exactKey(text: string): string {
  return foldText(leadingText(text, MAX_FIELD_CHARS))
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ')
    .trim();
}

/**
 * The key of a set of terms for {@link ToolIndex}'s name-words look-up: each term once, sorted, so
 * that the order and repeats of the words do not matter.
 */
function nameWordsKey(terms: readonly string[]): string {
  return [...new Set(terms)].sort().join(' ');
}

/**
 * The keys ({@link nameWordsKey}) a tool is found under by the words of its slug, abbreviations spelled
 * out (`PR` is `pull request`): all of them, and those that are not its toolkit's (`create pull
 * request` of GITHUB_CREATE_PULL_REQUEST); none for a slug that is only the toolkit's name.
 */
function slugWordKeys(document: SearchDocument): string[] {
  const terms = tokenize(spelledOut(leadingText(document.slug, MAX_FIELD_CHARS)));
  const toolkitTerms = new Set(tokenize(leadingText(document.toolkit, MAX_FIELD_CHARS)));
  const own = terms.filter((term) => !toolkitTerms.has(term));
  if (own.length === 0) return [];
  const keys = [nameWordsKey(terms)];
  if (own.length < terms.length) keys.push(nameWordsKey(own));
  return keys;
}

const KEYWORDS_FIELD = SEARCH_FIELDS.indexOf('keywords');
/** The fields that say what a tool is about (see {@link ToolIndex.#handlers}). */
const ABOUT_FIELDS = (['slug', 'name', 'description'] as const).map((field) => SEARCH_FIELDS.indexOf(field));

/**
 * The object of a tool: the terms of its slug that are neither its toolkit's nor its action's
 * (`issue` of `LINEAR_LIST_ISSUES`, `workflow` and `state` of `LINEAR_LIST_WORKFLOW_STATES`).
 */
function objectTerms(document: SearchDocument): string[] {
  const toolkitTerms = tokenize(
    `${leadingText(document.toolkit, MAX_FIELD_CHARS)} ${leadingText(document.toolkitName ?? '', MAX_FIELD_CHARS)}`,
  );
  const action = new Set(actionTerms(document, toolkitTerms));
  return tokenize(spelledOut(leadingText(document.slug, MAX_FIELD_CHARS))).filter(
    (term) => !toolkitTerms.includes(term) && !action.has(term),
  );
}

/** The key of a toolkit's object term in {@link ToolIndex}'s tools by object. */
function objectKey(toolkit: string, term: string): string {
  return `${toolkit}\n${term}`;
}

/**
 * A toolkit's main object, from how many of its tools act on each object term ({@link objectTerms}):
 * the term more of them act on than on any other, at least two (`issue` of Linear, `message` of
 * Gmail, `page` of Notion); none when two terms tie or no term recurs. It depends on the counts only,
 * not on the order or the batches the tools came in.
 */
function mainObjectOf(counts: ReadonlyMap<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  let secondCount = 0;
  for (const [term, count] of counts) {
    if (count > bestCount) [best, bestCount, secondCount] = [term, count, bestCount];
    else if (count > secondCount) secondCount = count;
  }
  return bestCount >= 2 && bestCount > secondCount ? best : undefined;
}

/**
 * The terms of each search field of a document, in {@link SEARCH_FIELDS} order (its toolkit's keywords
 * count twice at search time when it acts on the toolkit's main object, see {@link mainObjectOf}).
 */
function fieldTerms(document: SearchDocument): string[][] {
  const keywords = termsWithin(document.toolkitKeywords ?? [], MAX_FIELD_CHARS);
  const toolkitTerms = tokenize(leadingText(document.toolkit, MAX_FIELD_CHARS));
  const toolkitNameTerms = tokenize(leadingText(document.toolkitName ?? '', MAX_FIELD_CHARS)).filter(
    (term) => !toolkitTerms.includes(term),
  );
  return [
    tokenizeToolText(leadingText(document.slug, MAX_FIELD_CHARS)),
    tokenizeToolText(leadingText(document.name, MAX_FIELD_CHARS)),
    tokenizeToolText(leadingText(document.description, MAX_FIELD_CHARS)),
    termsWithin(
      document.parameters.flatMap((parameter) => [parameter.name, parameter.description ?? '']),
      MAX_FIELD_CHARS,
    ),
    [...toolkitTerms, ...toolkitNameTerms],
    termsWithin(document.tags ?? [], MAX_FIELD_CHARS),
    actionTerms(document, [...toolkitTerms, ...toolkitNameTerms]),
    keywords,
  ];
}

/**
 * The action of a tool, the field `action`: the first term of its slug that is not the toolkit's
 * (`post` of `SLACK_POST_MESSAGE`, `get` of `GITHUB_GET_FILE_CONTENTS`; `unstar` and `star` of
 * `GITHUB_UNSTAR_REPOSITORY`, as {@link tokenizeToolText} reads it); none when the slug is the
 * toolkit's name.
 */
function actionTerms(document: SearchDocument, toolkitTerms: readonly string[]): string[] {
  for (const word of splitWords(leadingText(document.slug, MAX_FIELD_CHARS))) {
    const terms = tokenizeToolText(word);
    if (terms.length > 0 && !toolkitTerms.includes(terms[0]!)) return terms;
  }
  return [];
}

/** The terms of `texts` in order, reading at most `budget` characters of them in all. */
function termsWithin(texts: readonly string[], budget: number): string[] {
  const terms: string[] = [];
  let left = budget;
  for (const text of texts) {
    if (left <= 0) break;
    const read = leadingText(text, left);
    left -= read.length + 1;
    for (const term of tokenizeToolText(read)) terms.push(term);
  }
  return terms;
}

/** What an embedding model reads for a tool. */
function embeddingText(document: SearchDocument): string {
  return `${document.toolkitName ?? document.toolkit} / ${document.name}: ${leadingText(document.description, MAX_FIELD_CHARS)}`;
}

function mergeRanking(overrides: ToolIndexOptions['ranking'] = {}): RankingParameters {
  const fields = Object.fromEntries(
    SEARCH_FIELDS.map((field) => [field, { ...DEFAULT_RANKING.fields[field], ...overrides.fields?.[field] }]),
  ) as Record<SearchField, FieldScoring>;
  return {
    k1: overrides.k1 ?? DEFAULT_RANKING.k1,
    fields,
    synonymWeight: overrides.synonymWeight ?? DEFAULT_RANKING.synonymWeight,
    prefixWeight: overrides.prefixWeight ?? DEFAULT_RANKING.prefixWeight,
    recencyWeight: overrides.recencyWeight ?? DEFAULT_RANKING.recencyWeight,
    withoutKeywordWeight: overrides.withoutKeywordWeight ?? DEFAULT_RANKING.withoutKeywordWeight,
  };
}
