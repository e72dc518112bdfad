import type { LabeledQuery } from './metatool.ts';

/** Any tool search under test: the slugs of the best `limit` tools for a query, best first. */
export type Ranker = (query: string, limit: number) => string[];

/** Quality of single-tool rankings, each in [0, 1]. */
export interface RankingQuality {
  recallAt1: number;
  recallAt5: number;
  ndcgAt10: number;
}

/**
 * Recall@1 and @5 (the right tool ranked first / in the top five) and nDCG@10, which for one
 * relevant tool at rank r is `1 / log2(r + 1)`, 0 when it ranks below ten.
 */
export function rankingQuality(rank: Ranker, queries: readonly LabeledQuery[]): RankingQuality {
  let top1 = 0;
  let top5 = 0;
  let ndcg = 0;
  for (const { query, tools } of queries) {
    const position = rank(query, 10).indexOf(tools[0]!);
    if (position === 0) top1++;
    if (position >= 0 && position < 5) top5++;
    if (position >= 0) ndcg += 1 / Math.log2(position + 2);
  }
  const count = Math.max(1, queries.length);
  return { recallAt1: top1 / count, recallAt5: top5 / count, ndcgAt10: ndcg / count };
}

/** The share of two-tool queries with both tools in the top five. */
export function bothInTop5(rank: Ranker, queries: readonly LabeledQuery[]): number {
  const hits = queries.filter(({ query, tools }) => {
    const top = rank(query, 5);
    return tools.every((tool) => top.includes(tool));
  }).length;
  return hits / Math.max(1, queries.length);
}
