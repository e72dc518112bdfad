/**
 * Chooses the ToolIndex ranking parameters on the MetaTool TRAIN split only; it never scores the
 * test split. Coordinate ascent over a grid per parameter, maximizing the mean of recall@5 and nDCG@10.
 * MetaTool tools have one name (slug = name = toolkit), so those three fields share one weight and
 * one length normalization here; the description's weight stays 1 as the reference.
 *
 * It starts from DEFAULT_RANKING, which came out of a run started from k1 1.2, name weight 1, name b
 * 0.5, description b 0.75, synonym weight 0.4 and prefix weight 0.5.
 *
 * Run: `node search-tune.ts` (takes about a minute), then copy the result into DEFAULT_RANKING.
 */
import './search/core-sources.ts';
import { loadMetaTool } from './search/metatool.ts';
import { rankingQuality } from './search/metrics.ts';

const { ToolIndex, DEFAULT_RANKING } = await import('../packages/core/src/search/tool-index.ts');
const { documents, train } = loadMetaTool();

interface Parameters {
  k1: number;
  nameWeight: number;
  nameNormalization: number;
  descriptionNormalization: number;
  synonymWeight: number;
  prefixWeight: number;
  recencyWeight: number;
}

const GRID: Record<keyof Parameters, number[]> = {
  k1: [0.6, 0.9, 1.2, 1.5, 2, 3, 4, 6],
  nameWeight: [0.25, 0.5, 0.75, 1, 1.5, 2, 3],
  nameNormalization: [0, 0.25, 0.5, 0.75, 1],
  descriptionNormalization: [0, 0.25, 0.5, 0.75, 1],
  synonymWeight: [0, 0.2, 0.3, 0.4, 0.5, 0.7],
  prefixWeight: [0, 0.25, 0.5, 0.75],
  recencyWeight: [0.3, 0.4, 0.5, 0.6, 0.7, 1],
};

function objective(parameters: Parameters): number {
  const name = { weight: parameters.nameWeight, lengthNormalization: parameters.nameNormalization };
  const index = new ToolIndex(documents, {
    ranking: {
      k1: parameters.k1,
      fields: {
        slug: name,
        name,
        toolkit: name,
        description: { weight: 1, lengthNormalization: parameters.descriptionNormalization },
      },
      synonymWeight: parameters.synonymWeight,
      prefixWeight: parameters.prefixWeight,
      recencyWeight: parameters.recencyWeight,
    },
  });
  const quality = rankingQuality(
    (query, limit) => index.search(query, { limit }).map(({ slug }) => slug),
    train,
  );
  return (quality.recallAt5 + quality.ndcgAt10) / 2;
}

let best: Parameters = {
  k1: DEFAULT_RANKING.k1,
  nameWeight: DEFAULT_RANKING.fields.name.weight,
  nameNormalization: DEFAULT_RANKING.fields.name.lengthNormalization,
  descriptionNormalization: DEFAULT_RANKING.fields.description.lengthNormalization,
  synonymWeight: DEFAULT_RANKING.synonymWeight,
  prefixWeight: DEFAULT_RANKING.prefixWeight,
  recencyWeight: DEFAULT_RANKING.recencyWeight,
};
let bestScore = objective(best);
console.log(`start ${bestScore.toFixed(4)}`, best);
for (let round = 1; round <= 3; round++) {
  const before = bestScore;
  for (const key of Object.keys(GRID) as (keyof Parameters)[]) {
    for (const value of GRID[key]) {
      if (value === best[key]) continue;
      const candidate = { ...best, [key]: value };
      const score = objective(candidate);
      if (score > bestScore) [best, bestScore] = [candidate, score];
    }
  }
  console.log(`round ${round} ${bestScore.toFixed(4)}`, best);
  if (bestScore === before) break;
}
