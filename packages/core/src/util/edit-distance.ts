/**
 * The edit distance between `a` and `b`: insertions, deletions, substitutions and swaps of two
 * adjacent characters, each one edit (the optimal string alignment distance), so that the usual
 * typos (`isue`, `craete`, `prot`) are one edit from what was meant. Time is the product of the
 * lengths and memory is linear in `b`: for strings from outside, callers want
 * {@link editDistanceWithin} (the server's `didYouMean`) or a `NameMatcher` (`closestNames`), whose
 * work is bounded by a limit on the distance.
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

/**
 * {@link editDistance} when it is at most `limit`, otherwise `limit + 1`: only the cells within
 * `limit` of the diagonal are computed (one further off is more than `limit` edits), and the work
 * stops at the first row past the limit, so the time is at most the shorter length times
 * `2 × limit + 1`, whatever the longer one is.
 */
export function editDistanceWithin(a: string, b: string, limit: number): number {
  const k = Math.max(0, Math.floor(limit));
  if (Math.abs(a.length - b.length) > k) return k + 1;
  if (a.length > b.length) [a, b] = [b, a];
  const far = k + 1;
  const width = b.length + 1;
  // three rows of the table, each the cells within k of the diagonal (the others read as `far`)
  let twoBack = new Array<number>(width).fill(far);
  let previous = new Array<number>(width).fill(far);
  let current = new Array<number>(width).fill(far);
  for (let j = 0; j <= Math.min(k, b.length); j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const low = Math.max(0, i - k);
    const high = Math.min(b.length, i + k);
    if (low > 0) current[low - 1] = far;
    let least = far;
    for (let j = low; j <= high; j++) {
      let best: number;
      if (j === 0) best = i;
      else {
        best = Math.min(
          previous[j]! + 1,
          j > low ? current[j - 1]! + 1 : far,
          previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
          best = Math.min(best, twoBack[j - 2]! + 1);
        }
      }
      current[j] = Math.min(best, far);
      least = Math.min(least, current[j]!);
    }
    if (high < b.length) current[high + 1] = far;
    if (least > k) return far;
    [twoBack, previous, current] = [previous, current, twoBack];
  }
  return previous[b.length]!;
}
