/**
 * "Did you mean" hints: the known names closest to an unknown one. The unknown name comes from
 * outside (a model's tool slug, a key or value of a request), and a session may know tens of
 * thousands of names, so the work of one hint is bounded whatever the two are:
 *
 * - the names are lower-cased, sorted and their common prefixes counted once ({@link NameMatcher},
 *   which a catalog and a session keep): the edit distance of a name reuses the rows of the table it
 *   shares with the name before it, as a walk down a trie would;
 * - only the band of the table that can stay within the limit is computed (a cell off the diagonal
 *   by more than the limit is past it), a name whose table rows are all past the limit is given up
 *   at that row, and so are the names after it that share that prefix;
 * - the limit shrinks to the distance of the last of the names kept, once there are enough of them;
 * - the walk starts at the names that share the longest prefix with the unknown name (a typo keeps
 *   its toolkit's prefix), and stops after {@link SUGGESTION_WORK_LIMIT} units of work: a name looked
 *   at, a row or a cell of the table, each a unit; a look for the unknown name inside a name, 8.
 *   Until then the answer is the one the full edit distance of every name gives.
 */

/** The most work one hint does (see the module's comment): well under a millisecond. */
export const SUGGESTION_WORK_LIMIT = 200_000;

/** What a look for the inside of a name counts for ({@link SUGGESTION_WORK_LIMIT}). */
const CONTAINS_WORK = 8;

const FAR = 0x3fffffff;

/** The work of one {@link NameMatcher.closest}, for tests and benchmarks. */
export interface SuggestionWork {
  /** Units of work, as {@link SUGGESTION_WORK_LIMIT} counts them. */
  units: number;
  /** Cells of the edit-distance table computed. */
  cells: number;
  /** Whether every name was considered (false: the work limit cut the walk short). */
  complete: boolean;
}

/** A growable Int32Array. */
function grown(array: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  if (size <= array.length) return array;
  const next = new Int32Array(Math.max(size, array.length * 2));
  next.set(array);
  return next;
}

function commonPrefix(a: string, b: string): number {
  const end = Math.min(a.length, b.length);
  let i = 0;
  while (i < end && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** The first position of `sorted` whose entry is not before `key`. */
function lowerBound(sorted: readonly string[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * A set of known names, made ready for {@link closest} hints: lower-cased, sorted (or in the given
 * order, for a list used once), with the prefix each shares with the one before it.
 */
export class NameMatcher {
  /** The names as given, by their index in the given order. */
  readonly #names: readonly string[];
  /** Lower-cased, in walk order. */
  readonly #lower: string[];
  /** For each entry in walk order, its index in the given order (which breaks ties). */
  readonly #index: Int32Array;
  /** For each entry in walk order, the length of the prefix it shares with the entry before it. */
  readonly #shared: Int32Array;
  /** Positions (in walk order) by length, then index: for names that hold the unknown one. */
  readonly #byLength: Int32Array;
  readonly #maxLength: number;
  readonly #sorted: boolean;
  readonly #respell: ((name: string) => string) | undefined;

  private constructor(
    names: readonly string[],
    lower: string[],
    index: Int32Array,
    shared: Int32Array,
    byLength: Int32Array,
    sorted: boolean,
    respell?: (name: string) => string,
  ) {
    this.#respell = respell;
    this.#names = names;
    this.#lower = lower;
    this.#index = index;
    this.#shared = shared;
    this.#byLength = byLength;
    this.#sorted = sorted;
    let maxLength = 0;
    for (const name of lower) maxLength = Math.max(maxLength, name.length);
    this.#maxLength = maxLength;
  }

  /**
   * Names kept for many hints (a catalog's, a session's): sorted once, O(n log n). With `respell`,
   * an unknown name is also looked for as `respell` writes it (a tool slug with its abbreviations
   * spelled out: `GITHUB_GET_REPO` as `GITHUB_GET_REPOSITORY`), and what that finds comes first at
   * the same distance (the work limit applies to each look).
   */
  static sorted(names: Iterable<string>, options?: { respell?: (name: string) => string }): NameMatcher {
    return NameMatcher.#of([...names], true, options?.respell);
  }

  /** Names for one hint: in their order, O(n). */
  static inOrder(names: Iterable<string>): NameMatcher {
    return NameMatcher.#of([...names], false);
  }

  static #of(names: string[], sorted: boolean, respell?: (name: string) => string): NameMatcher {
    const lowered = names.map((name) => name.toLowerCase());
    const order = Array.from({ length: names.length }, (_, index) => index);
    if (sorted) {
      order.sort((a, b) => {
        const x = lowered[a]!;
        const y = lowered[b]!;
        return x < y ? -1 : x > y ? 1 : a - b;
      });
    }
    const lower = order.map((index) => lowered[index]!);
    const shared = new Int32Array(lower.length);
    for (let p = 1; p < lower.length; p++) shared[p] = commonPrefix(lower[p - 1]!, lower[p]!);
    return new NameMatcher(
      names,
      lower,
      Int32Array.from(order),
      shared,
      NameMatcher.#lengthOrder(lower, order),
      sorted,
      respell,
    );
  }

  /** Positions of `lower` by length, then by index: a counting sort, O(n + longest). */
  static #lengthOrder(lower: readonly string[], index: ArrayLike<number>): Int32Array {
    const positionOf = new Int32Array(lower.length);
    for (let p = 0; p < lower.length; p++) positionOf[index[p]!] = p;
    let longest = 0;
    for (const name of lower) longest = Math.max(longest, name.length);
    const starts = new Int32Array(longest + 2);
    for (const name of lower) starts[name.length + 1]!++;
    for (let length = 1; length < starts.length; length++) starts[length]! += starts[length - 1]!;
    const byLength = new Int32Array(lower.length);
    // in the order of the index, so that names of one length keep it
    for (const p of positionOf) byLength[starts[lower[p]!.length]!++] = p;
    return byLength;
  }

  /** Those of the names `keep` keeps (a session's visible tools of its catalog's), in O(n). */
  subset(keep: (name: string) => boolean): NameMatcher {
    const lower: string[] = [];
    const index: number[] = [];
    const shared: number[] = [];
    const newPosition = new Int32Array(this.#lower.length).fill(-1);
    let run = 0;
    for (let p = 0; p < this.#lower.length; p++) {
      run = lower.length === 0 ? 0 : Math.min(run, this.#shared[p]!);
      if (!keep(this.#names[this.#index[p]!]!)) continue;
      newPosition[p] = lower.length;
      lower.push(this.#lower[p]!);
      index.push(this.#index[p]!);
      shared.push(run);
      run = FAR;
    }
    const byLength = new Int32Array(lower.length);
    let next = 0;
    for (const p of this.#byLength) if (newPosition[p]! >= 0) byLength[next++] = newPosition[p]!;
    return new NameMatcher(
      this.#names,
      lower,
      Int32Array.from(index),
      Int32Array.from(shared),
      byLength,
      this.#sorted,
      this.#respell,
    );
  }

  /**
   * Up to `max` known names close to `name`, closest first (ties in the given order): within a third
   * of its length (at least 2 edits, the optimal string alignment distance of `editDistance`), or
   * containing it (as many edits as the extra characters). At most {@link SUGGESTION_WORK_LIMIT}
   * units of work (`work` says how much was done).
   */
  closest(
    name: string,
    max = 3,
    work: SuggestionWork = { units: 0, cells: 0, complete: true },
    limit = SUGGESTION_WORK_LIMIT,
  ): string[] {
    const found = this.#closestEntries(name, max, work, limit);
    const respelled = this.#respell?.(name);
    if (respelled !== undefined && respelled !== name) {
      const first = { ...work };
      // what the name spelled out finds goes first, at the same distance
      const merged = [...this.#closestEntries(respelled, max, work, limit), ...found].sort(
        (a, b) => a.distance - b.distance,
      );
      work.units += first.units;
      work.cells += first.cells;
      work.complete &&= first.complete;
      const names: string[] = [];
      for (const { index } of merged) {
        const known = this.#names[index]!;
        if (names.length < max && !names.includes(known)) names.push(known);
      }
      return names;
    }
    return found.map((entry) => this.#names[entry.index]!);
  }

  /** {@link closest} of one spelling of the name: the names kept, with their distances. */
  #closestEntries(
    name: string,
    max: number,
    work: SuggestionWork,
    limit: number,
  ): Array<{ distance: number; index: number }> {
    work.units = 0;
    work.cells = 0;
    work.complete = true;
    const count = this.#lower.length;
    if (max <= 0 || count === 0) return [];
    // a name longer than every known one by more than its limit is near none and inside none (and
    // lower-casing cannot shorten it, so this holds for its lower-cased form too)
    if (name.length - this.#maxLength > Math.max(2, Math.floor(name.length / 3))) return [];
    const target = name.toLowerCase();
    const targetLength = target.length;
    const threshold = Math.max(2, Math.floor(targetLength / 3));
    const kept: Array<{ distance: number; index: number }> = [];
    const keep = (distance: number, index: number) => {
      const worst = kept[max - 1];
      if (worst && (distance > worst.distance || (distance === worst.distance && index > worst.index)))
        return;
      let at = kept.length;
      while (at > 0) {
        const before = kept[at - 1]!;
        if (before.distance < distance || (before.distance === distance && before.index < index)) break;
        at--;
      }
      kept.splice(at, 0, { distance, index });
      if (kept.length > max) kept.pop();
    };
    const budget = { units: 0 };
    const finished = this.#nearby(target, threshold, max, kept, keep, budget, limit, work);
    if (finished && kept.length < max) this.#holding(target, threshold, max, kept, budget, limit);
    work.units = budget.units;
    work.complete = finished && budget.units <= limit;
    return kept;
  }

  /**
   * The names within `threshold` edits of `target` (banded edit distance over the shared prefixes,
   * see the module's comment). False when the work limit stopped it.
   */
  #nearby(
    target: string,
    threshold: number,
    max: number,
    kept: Array<{ distance: number; index: number }>,
    keep: (distance: number, index: number) => void,
    budget: { units: number },
    limit: number,
    work: SuggestionWork,
  ): boolean {
    const lower = this.#lower;
    const shared = this.#shared;
    const count = lower.length;
    const targetLength = target.length;
    const targetCodes = new Uint16Array(targetLength);
    for (let j = 0; j < targetLength; j++) targetCodes[j] = target.charCodeAt(j);
    // the rows of the table kept for the current prefix, a stack: row i has the cells of columns
    // from[i]..to[i] at start[i] in `cells`, the least of them least[i]
    const rowsWanted = Math.min(this.#maxLength, targetLength + threshold) + 2;
    let start = new Int32Array(Math.min(rowsWanted, 128));
    let from = new Int32Array(start.length);
    let to = new Int32Array(start.length);
    let least = new Int32Array(start.length);
    let cells = new Int32Array(256);
    // row 0: the distance of the empty prefix is the number of target characters
    to[0] = Math.min(targetLength, threshold);
    cells = grown(cells, to[0] + 1);
    for (let j = 0; j <= to[0]; j++) cells[j] = j;
    let units = budget.units + to[0] + 1;
    let computed = 0;

    // start at the names that share the longest prefix with the target
    let first = 0;
    if (this.#sorted) {
      const at = lowerBound(lower, target);
      const prefix = Math.max(
        at > 0 ? commonPrefix(lower[at - 1]!, target) : 0,
        at < count ? commonPrefix(lower[at]!, target) : 0,
      );
      first = prefix > 0 ? lowerBound(lower, target.slice(0, prefix)) : 0;
      units += 2 * Math.ceil(Math.log2(count + 1));
    }

    /** Rows 0..valid are those of the last name computed; run: the prefix it shares with this one. */
    let valid = 0;
    let run = 0;
    /** The row at which the last name computed went past the limit (names sharing it are too). */
    let givenUpAt = FAR;
    let finished = true;
    names: for (let step = 0; step < count; step++) {
      const p = first + step < count ? first + step : first + step - count;
      run = step === 0 || p === 0 ? 0 : Math.min(run, shared[p]!);
      if (++units > limit) {
        finished = false;
        break;
      }
      if (run >= givenUpAt) continue;
      const candidate = lower[p]!;
      const length = candidate.length;
      const bound = kept.length < max ? threshold : kept[max - 1]!.distance;
      if (Math.abs(length - targetLength) > bound) continue;
      // this name's rows: those it shares with the last name computed, then its own
      let depth = Math.min(valid, run);
      valid = depth;
      run = FAR;
      givenUpAt = FAR;
      if (least[depth]! > bound) {
        givenUpAt = depth;
        continue;
      }
      while (depth < length) {
        const i = depth + 1;
        const low = Math.max(0, i - bound);
        const high = Math.min(targetLength, i + bound);
        const width = Math.max(0, high - low + 1);
        if (i >= start.length) {
          const size = Math.min(rowsWanted, start.length * 2);
          start = grown(start, size);
          from = grown(from, size);
          to = grown(to, size);
          least = grown(least, size);
        }
        // the row above, and the one above it (for a swap), read as FAR off their columns
        const upStart = start[i - 1]!;
        const upFrom = from[i - 1]!;
        const upTo = to[i - 1]!;
        const offset = upStart + Math.max(0, upTo - upFrom + 1);
        start[i] = offset;
        from[i] = low;
        to[i] = high;
        units += 1 + width;
        computed += width;
        cells = grown(cells, offset + width);
        const twoStart = i > 1 ? start[i - 2]! : 0;
        const twoFrom = i > 1 ? from[i - 2]! : 1;
        const twoTo = i > 1 ? to[i - 2]! : 0;
        const code = candidate.charCodeAt(i - 1);
        const before = i > 1 ? candidate.charCodeAt(i - 2) : -1;
        let rowLeast = FAR;
        let left = FAR;
        for (let j = low; j <= high; j++) {
          let value: number;
          if (j === 0) value = i;
          else {
            const up = j <= upTo && j >= upFrom ? cells[upStart + j - upFrom]! : FAR;
            const diagonal = j - 1 <= upTo && j - 1 >= upFrom ? cells[upStart + j - 1 - upFrom]! : FAR;
            value = up < left ? up + 1 : left + 1;
            const replaced = diagonal + (code === targetCodes[j - 1] ? 0 : 1);
            if (replaced < value) value = replaced;
            if (j > 1 && code === targetCodes[j - 2] && before === targetCodes[j - 1]) {
              const swapped =
                j - 2 <= twoTo && j - 2 >= twoFrom ? cells[twoStart + j - 2 - twoFrom]! + 1 : FAR;
              if (swapped < value) value = swapped;
            }
            if (value > FAR) value = FAR;
          }
          cells[offset + j - low] = value;
          left = value;
          if (value < rowLeast) rowLeast = value;
        }
        least[i] = rowLeast;
        depth = i;
        valid = i;
        if (rowLeast > bound) {
          // past the limit: so is every name that begins with these i characters
          givenUpAt = i;
          continue names;
        }
        if (units > limit) {
          finished = false;
          break names;
        }
      }
      const lastFrom = from[length]!;
      const distance =
        targetLength >= lastFrom && targetLength <= to[length]!
          ? cells[start[length]! + targetLength - lastFrom]!
          : FAR;
      if (distance <= bound) keep(distance, this.#index[p]!);
    }
    budget.units = units;
    work.cells += computed;
    return finished;
  }

  /**
   * The names that hold `target` and are longer than it by more than `threshold` (closer ones are
   * {@link nearby}'s), shortest first, until there are `max` names kept.
   */
  #holding(
    target: string,
    threshold: number,
    max: number,
    kept: Array<{ distance: number; index: number }>,
    budget: { units: number },
    limit: number,
  ): void {
    const byLength = this.#byLength;
    const lower = this.#lower;
    const shortest = target.length + threshold + 1;
    let low = 0;
    let high = byLength.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (lower[byLength[middle]!]!.length < shortest) low = middle + 1;
      else high = middle;
    }
    for (let at = low; at < byLength.length && kept.length < max; at++) {
      budget.units += CONTAINS_WORK;
      if (budget.units > limit) return;
      const p = byLength[at]!;
      if (lower[p]!.includes(target)) {
        kept.push({ distance: lower[p]!.length - target.length, index: this.#index[p]! });
      }
    }
  }
}

/**
 * Up to `max` known names close to `name`, for "did you mean" hints: within a third of its length
 * (at least 2 edits), or containing it. Pass a {@link NameMatcher} kept for the names when they are
 * many or asked often; a plain list is made ready for this one hint (linear in its size).
 */
export function closestNames(name: string, candidates: Iterable<string> | NameMatcher, max = 3): string[] {
  const matcher = candidates instanceof NameMatcher ? candidates : NameMatcher.inOrder(candidates);
  return matcher.closest(name, max);
}

/** " Did you mean "A" or "B"?" for {@link closestNames}, or '' when none is close. */
export function didYouMean(name: string, candidates: Iterable<string> | NameMatcher): string {
  const close = closestNames(name, candidates);
  return close.length > 0 ? ` Did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : '';
}
