import { editDistanceWithin } from '@toolmux/core/internal';

/**
 * The candidate closest to `input` (case-insensitive), when it is close enough to be a typo: at most
 * a third of the candidate's length away (at least 1, at most 3 edits), or a prefix of it. The edit
 * distance is at least the difference in length, so it is computed only where that is within the
 * limit, and only the cells within it (`editDistanceWithin`): an input of any length costs no more
 * than its lower-casing.
 */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const wanted = input.toLowerCase();
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    const limit = Math.min(3, Math.max(1, Math.floor(candidate.length / 3)));
    let score: number;
    if (lower.startsWith(wanted) && wanted.length >= 3) score = 0.5;
    else if (Math.abs(lower.length - wanted.length) > limit) continue;
    else score = editDistanceWithin(wanted, lower, limit);
    if (score <= limit && (!best || score < best.score)) best = { candidate, score };
  }
  return best?.candidate;
}
