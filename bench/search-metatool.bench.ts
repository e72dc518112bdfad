/**
 * Tool search benchmark.
 *
 * 1. Quality on MetaTool (199 tools, see search/metatool.ts): a plain BM25 baseline against
 *    `ToolIndex`, on the train split (which tuned `DEFAULT_RANKING`, see search-tune.ts) and on the
 *    test split (never used for tuning), plus what each ToolIndex feature adds on train.
 * 2. Speed on a generated catalog of 10,000 tools: build time and query latency, against a linear
 *    scan of the descriptions with `String.includes`.
 */
import './search/core-sources.ts';
import type { SearchDocument, ToolIndexOptions } from '../packages/core/src/search/tool-index.ts';
import type { LabeledQuery } from './search/metatool.ts';
import { loadMetaTool } from './search/metatool.ts';
import type { Ranker } from './search/metrics.ts';
import { bothInTop5, rankingQuality } from './search/metrics.ts';
import { PlainBm25 } from './search/plain-bm25.ts';
import { generateCatalog } from './search/synthetic-catalog.ts';
import { formatLatency, formatMs, latency, latencyAsync, median, timed } from './search/timing.ts';

const { ToolIndex } = await import('../packages/core/src/search/tool-index.ts');

/** The size of the stand-in embeddings that time hybrid search (a typical small model's). */
const EMBEDDING_DIMENSIONS = 384;

reportQuality();
await reportSpeed();

function reportQuality(): void {
  const { documents, train, test, multiTool } = loadMetaTool();
  console.log(
    `\nMetaTool tool selection: ${documents.length} tools; single-tool queries train ${train.length}, ` +
      `test ${test.length}; ${multiTool.length} two-tool queries\n`,
  );
  console.log('| ranker | split | recall@1 | recall@5 | nDCG@10 | two-tool both in top 5 |');
  console.log('|---|---|---|---|---|---|');
  const plain = new PlainBm25(documents);
  const rankers: [string, Ranker][] = [
    ['plain BM25 (name + description)', (query, limit) => plain.search(query, limit)],
    ['ToolIndex', toolIndexRanker(documents)],
  ];
  for (const [label, rank] of rankers) {
    printQualityRow(label, 'train', rank, train);
    printQualityRow(label, 'test', rank, test, bothInTop5(rank, multiTool));
  }
  console.log('\nWhat each ToolIndex feature adds (train split only):\n');
  console.log('| ranker | split | recall@1 | recall@5 | nDCG@10 | |');
  console.log('|---|---|---|---|---|---|');
  const ablations: [string, ToolIndexOptions][] = [
    ['ToolIndex without synonyms', { synonyms: [] }],
    ['ToolIndex without prefix completion', { ranking: { prefixWeight: 0 } }],
    ['ToolIndex with untuned BM25F (k1 1.2, b 0.75, weights 1)', { ranking: untunedRanking() }],
  ];
  for (const [label, options] of ablations) {
    printQualityRow(label, 'train', toolIndexRanker(documents, options), train);
  }
}

async function reportSpeed(): Promise<void> {
  const { documents, queries } = generateCatalog({ toolCount: 10_000, queryCount: 1_000 });
  const toolkits = new Set(documents.map((document) => document.toolkit));
  console.log(
    `\nSpeed: ${documents.length} generated tools in ${toolkits.size} toolkits, ${queries.length} queries\n`,
  );

  const buildTimes = Array.from({ length: 5 }, () => timed(() => new ToolIndex(documents)));
  console.log(`build: ${formatMs(median(buildTimes))} median of 5 (first ${formatMs(buildTimes[0]!)})`);

  const index = new ToolIndex(documents);
  const visibleToolkits = new Set([...toolkits].filter((_, position) => position % 3 === 0));
  const visibleSlugs = new Set(documents.filter((d) => visibleToolkits.has(d.toolkit)).map((d) => d.slug));
  const scan = linearScan(documents);
  const searchLatency = latency(queries, (query) => index.search(query, { limit: 10 }));
  const filteredLatency = latency(queries, (query) =>
    index.search(query, { limit: 10, filter: (slug) => visibleSlugs.has(slug) }),
  );
  const scanLatency = latency(queries, scan);
  console.log(`ToolIndex.search, limit 10: ${formatLatency(searchLatency)}`);
  console.log(`  with a session filter (a third of the toolkits): ${formatLatency(filteredLatency)}`);
  console.log(`linear scan, String.includes per query word: ${formatLatency(scanLatency)}`);
  console.log(
    `  ToolIndex.search is ${(scanLatency.mean / searchLatency.mean).toFixed(0)}x faster on average`,
  );

  const hybridIndex = new ToolIndex(documents, { embed: fakeEmbed });
  await hybridIndex.searchHybrid(queries[0]!); // embeds the documents
  const hybridLatency = await latencyAsync(queries.slice(0, 200), (query) => hybridIndex.searchHybrid(query));
  console.log(
    `ToolIndex.searchHybrid, stand-in ${EMBEDDING_DIMENSIONS}-dimension embeddings (cosine over every tool and ` +
      `fusion; no model time): ${formatLatency(hybridLatency)}`,
  );

  const customTools = generateCatalog({ toolCount: 25, seed: 7 }).documents.map((document) => ({
    ...document,
    slug: `CUSTOM_${document.slug}`,
  }));
  // a session with custom tools: a new index over catalog + custom tools, without touching the catalog's
  const extendTime = timed(() => index.extend(customTools).search(queries[0]!));
  const rebuildTime = timed(() => new ToolIndex([...documents, ...customTools]).search(queries[0]!));
  console.log(
    `session index with 25 custom tools, first search included: extend ${formatMs(extendTime)} vs rebuild ` +
      `${formatMs(rebuildTime)} (${(rebuildTime / extendTime).toFixed(0)}x)`,
  );
  const addTime = timed(() => index.add(customTools));
  const firstQueryTime = timed(() => index.search(queries[0]!));
  console.log(
    `add 25 custom tools: ${formatMs(addTime)}; first search after it (refreshes length statistics): ${formatMs(firstQueryTime)}\n`,
  );
}

function toolIndexRanker(documents: readonly SearchDocument[], options: ToolIndexOptions = {}): Ranker {
  const index = new ToolIndex(documents, options);
  return (query, limit) => index.search(query, { limit }).map(({ slug }) => slug);
}

function untunedRanking(): ToolIndexOptions['ranking'] {
  const field = { weight: 1, lengthNormalization: 0.75 };
  const fields = {
    slug: field,
    name: field,
    description: field,
    parameters: field,
    toolkit: field,
    tags: field,
  };
  return { k1: 1.2, fields };
}

function printQualityRow(
  label: string,
  split: string,
  rank: Ranker,
  queries: readonly LabeledQuery[],
  twoToolBothInTop5?: number,
): void {
  const { recallAt1, recallAt5, ndcgAt10 } = rankingQuality(rank, queries);
  const cells = [recallAt1, recallAt5, ndcgAt10].map((value) => value.toFixed(3));
  const twoTool = twoToolBothInTop5 === undefined ? '' : twoToolBothInTop5.toFixed(3);
  console.log(`| ${label} | ${split} | ${cells.join(' | ')} | ${twoTool} |`);
}

/** The obvious search without an index: count the query words each description contains. */
function linearScan(documents: readonly SearchDocument[]): (query: string) => string[] {
  const descriptions = documents.map((document) => document.description.toLowerCase());
  return (query) => {
    const words = query
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter((word) => word.length > 2);
    const matches = descriptions.map(
      (description) => words.filter((word) => description.includes(word)).length,
    );
    return matches
      .map((count, position) => ({ count, position }))
      .filter(({ count }) => count > 0)
      .sort((a, b) => b.count - a.count || a.position - b.position)
      .slice(0, 10)
      .map(({ position }) => documents[position]!.slug);
  };
}

/** Stands in for an embedding model: a pseudo-random vector seeded by a hash of the text (FNV-1a). */
async function fakeEmbed(texts: string[]): Promise<number[][]> {
  return texts.map((text) => {
    let state = [...text].reduce(
      (hash, character) => Math.imul(hash ^ character.charCodeAt(0), 16_777_619),
      2_166_136_261,
    );
    return Array.from({ length: EMBEDDING_DIMENSIONS }, () => {
      state = Math.imul(state ^ (state >>> 13), 1_597_334_677);
      return (state >>> 0) / 4_294_967_296 - 0.5;
    });
  });
}
