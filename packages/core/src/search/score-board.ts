/** A document id with its score. */
export interface ScoredDocument {
  document: number;
  score: number;
}

/**
 * Scratch space for ranking one query: score per document id, and the ids that got any score, so
 * that only those are ranked and reset. One board serves query after query; `takeTop` clears it.
 */
export class ScoreBoard {
  #scores = new Float64Array(0);
  #scored = new Int32Array(0);
  #scoredCount = 0;

  /** Makes room for document ids below `documentCount`. */
  reserve(documentCount: number): void {
    if (this.#scores.length >= documentCount) return;
    const capacity = Math.max(documentCount, this.#scores.length * 2);
    const scores = new Float64Array(capacity);
    scores.set(this.#scores);
    const scored = new Int32Array(capacity);
    scored.set(this.#scored);
    this.#scores = scores;
    this.#scored = scored;
  }

  /** Adds `amount` (positive) to a document's score. */
  add(document: number, amount: number): void {
    if (!(amount > 0)) return;
    if (this.#scores[document] === 0) this.#scored[this.#scoredCount++] = document;
    this.#scores[document]! += amount;
  }

  /** Raises a document's score to `amount` (positive) when it is lower. */
  raise(document: number, amount: number): void {
    if (!(amount > 0)) return;
    const score = this.#scores[document]!;
    if (score === 0) this.#scored[this.#scoredCount++] = document;
    if (amount > score) this.#scores[document] = amount;
  }

  /** Adds every score of this board to `board`'s, and clears this one; `each` is told every document. */
  addTo(board: ScoreBoard, each?: (document: number) => void): void {
    for (let index = 0; index < this.#scoredCount; index++) {
      const document = this.#scored[index]!;
      board.add(document, this.#scores[document]!);
      each?.(document);
    }
    this.#clear();
  }

  /** Multiplies each scored document's score by `factor(document)` (positive). */
  rescale(factor: (document: number) => number): void {
    for (let index = 0; index < this.#scoredCount; index++) {
      const document = this.#scored[index]!;
      this.#scores[document]! *= factor(document);
    }
  }

  /**
   * The `limit` best documents that `accept` lets through, best first, and clears the board (also
   * when `accept` throws). Documents of one score come in `tieOrder` (negative when `document` comes
   * first), by default lower id first. `accept` is only asked about documents that would make the list.
   */
  takeTop(
    limit: number,
    accept?: (document: number) => boolean,
    tieOrder?: (document: number, other: number) => number,
  ): ScoredDocument[] {
    try {
      const best = limit > 0 ? this.#best(limit, accept, tieOrder) : [];
      return best.map((document) => ({ document, score: this.#scores[document]! }));
    } finally {
      this.#clear();
    }
  }

  #best(
    limit: number,
    accept: ((document: number) => boolean) | undefined,
    tieOrder: ((document: number, other: number) => number) | undefined,
  ): number[] {
    const best: number[] = [];
    const outranks = (document: number, other: number) => {
      const score = this.#scores[document]!;
      const otherScore = this.#scores[other]!;
      if (score !== otherScore) return score > otherScore;
      return tieOrder ? tieOrder(document, other) < 0 : document < other;
    };
    for (let index = 0; index < this.#scoredCount; index++) {
      const document = this.#scored[index]!;
      if (best.length === limit && !outranks(document, best[limit - 1]!)) continue;
      if (accept && !accept(document)) continue;
      // inserted where it belongs in `best` (best first), which keeps at most `limit` entries
      let position = best.length;
      while (position > 0 && outranks(document, best[position - 1]!)) position--;
      best.splice(position, 0, document);
      if (best.length > limit) best.pop();
    }
    return best;
  }

  #clear(): void {
    for (let index = 0; index < this.#scoredCount; index++) this.#scores[this.#scored[index]!] = 0;
    this.#scoredCount = 0;
  }
}
