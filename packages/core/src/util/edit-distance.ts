/**
 * The edit distance between `a` and `b`: insertions, deletions, substitutions and swaps of two
 * adjacent characters, each one edit (the optimal string alignment distance), so that the usual
 * typos (`isue`, `craete`, `prot`) are one edit from what was meant. Time is the product of the
 * lengths and memory is linear in `b`: callers compute it only for strings whose lengths are close
 * (the distance is at least their difference), see `closestNames` and the server's `didYouMean`.
 */
export function editDistance(a: string, b: string): number {
  // three rows of the table: two back (for a swap), one back, and the one being filled
  let twoBack = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, twoBack[j - 2]! + 1);
      }
      current[j] = best;
    }
    [twoBack, previous, current] = [previous, current, twoBack];
  }
  return previous[b.length]!;
}
