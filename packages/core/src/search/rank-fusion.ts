/**
 * Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): each ranking gives an item
 * `1 / (k + rank)`, and items are ordered by the sum. Ranks, not scores, are combined, so rankings
 * with incomparable scores (BM25, cosine) fuse without calibration. Ties keep first-seen order.
 *
 * @param rankings best first; an item missing from a ranking gets nothing from it.
 * @param k damps the weight of the top ranks; 60 is the value from the paper.
 */
export function fuseByReciprocalRank(
  rankings: readonly (readonly { slug: string }[])[],
  limit: number,
  k = 60,
): { slug: string; score: number }[] {
  const scores = new Map<string, number>();
  for (const ranking of rankings) {
    ranking.forEach(({ slug }, index) => {
      scores.set(slug, (scores.get(slug) ?? 0) + 1 / (k + index + 1));
    });
  }
  return [...scores]
    .map(([slug, score]) => ({ slug, score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, Math.max(0, limit));
}
