import type { ScoreBoard } from './score-board.js';

/** How one field counts in BM25F. */
export interface FieldScoring {
  /** Multiplies the field's term frequencies before saturation. */
  weight: number;
  /** BM25's `b` for the field: 0 ignores its length, 1 divides by its length relative to the average. */
  lengthNormalization: number;
}

/**
 * Bits per field in a posting's packed term counts; counts above the largest value (15) are capped,
 * which BM25's saturation makes all but equal to a higher count.
 */
const COUNT_BITS = 4;
const MAX_COUNT = (1 << COUNT_BITS) - 1;
/**
 * Fields whose counts fit into one 32-bit integer, read unsigned (`>>>`): a count of the last field
 * sets the top bit.
 */
const MAX_FIELDS = Math.floor(32 / COUNT_BITS);

/**
 * An inverted index over documents with several text fields, ranked with BM25F (Robertson,
 * Zaragoza and Taylor, "Simple BM25 extension to multiple weighted fields", 2004): a term's count in
 * each field is weighted and divided by that field's normalized length, the fields are summed, and
 * the sum is saturated once, `idf · tf (k1 + 1) / (k1 + tf)`.
 *
 * A term's posting list holds the ids of the documents containing it and, per document, the term's
 * count in every field packed into one integer ({@link COUNT_BITS} bits per field). Scoring a term
 * touches only its postings.
 */
export class InvertedIndex {
  readonly #fields: readonly FieldScoring[];
  readonly #k1: number;
  #termIds = new Map<string, number>();
  #postingDocuments: number[][] = [];
  #postingCounts: number[][] = [];
  /** Posting lists shared with the index this one was forked from: copied before the first write. */
  #sharedPostings: Set<number> | undefined;
  /** Per document, the length (in terms) of each field. */
  #fieldLengths: number[] = [];
  #fieldLengthTotals: number[];
  #documentCount = 0;
  /** Per document and field, `weight / (1 - b + b · length / average length)`; rebuilt after adds. */
  #fieldFactors: Float64Array | undefined;
  /** Every term in code-unit order, for prefix lookups; rebuilt after new terms arrive. */
  #sortedTerms: string[] | undefined;
  /** A field whose terms count twice, and its length too, in the documents marked 1 (see {@link repeatField}). */
  #repeated: { field: number; documents: Uint8Array } | undefined;

  constructor(fields: readonly FieldScoring[], k1: number) {
    if (fields.length > MAX_FIELDS) {
      throw new RangeError(`An InvertedIndex holds at most ${MAX_FIELDS} fields.`);
    }
    this.#fields = fields;
    this.#k1 = k1;
    this.#fieldLengthTotals = fields.map(() => 0);
  }

  /** Adds a document, given as the terms of each field in the order of the index's fields; returns its id. */
  add(fieldTerms: readonly (readonly string[])[]): number {
    const document = this.#documentCount++;
    const packedCounts = new Map<number, number>();
    this.#fields.forEach((_, field) => {
      const terms = fieldTerms[field] ?? [];
      this.#fieldLengths.push(terms.length);
      this.#fieldLengthTotals[field]! += terms.length;
      const shift = field * COUNT_BITS;
      for (const term of terms) {
        const termId = this.#intern(term);
        const packed = packedCounts.get(termId) ?? 0;
        if (((packed >>> shift) & MAX_COUNT) < MAX_COUNT) packedCounts.set(termId, packed + (1 << shift));
      }
    });
    for (const [termId, packed] of packedCounts) {
      if (this.#sharedPostings?.delete(termId)) {
        this.#postingDocuments[termId] = [...this.#postingDocuments[termId]!];
        this.#postingCounts[termId] = [...this.#postingCounts[termId]!];
      }
      this.#postingDocuments[termId]!.push(document);
      this.#postingCounts[termId]!.push(packed);
    }
    this.#fieldFactors = undefined;
    return document;
  }

  /**
   * A copy that can take more documents without changing this index: the term table and lengths are
   * copied, posting lists are shared until the copy adds to them. Much cheaper than indexing again.
   */
  fork(): InvertedIndex {
    const copy = new InvertedIndex(this.#fields, this.#k1);
    copy.#termIds = new Map(this.#termIds);
    copy.#postingDocuments = [...this.#postingDocuments];
    copy.#postingCounts = [...this.#postingCounts];
    copy.#sharedPostings = new Set(this.#postingDocuments.keys());
    copy.#fieldLengths = [...this.#fieldLengths];
    copy.#fieldLengthTotals = [...this.#fieldLengthTotals];
    copy.#documentCount = this.#documentCount;
    copy.#sortedTerms = this.#sortedTerms;
    return copy;
  }

  /**
   * Makes field `field` of each document that `documents` marks 1 count as if its terms were there
   * twice (its length too), as `add` with them twice would, but changeable after the documents are
   * added; replaces the previous call's. A document marked 2 has the length but counts its terms once
   * (`documents` may change between 1 and 2 from one search to the next).
   */
  repeatField(field: number, documents: Uint8Array): void {
    this.#repeated = { field, documents };
    this.#fieldFactors = undefined;
  }

  /** The documents that contain a term in one of `fields` (indexes of the index's fields), in the order they were added. */
  *documentsWith(termId: number, fields: readonly number[]): Generator<number> {
    const mask = fields.reduce((bits, field) => bits | (MAX_COUNT << (field * COUNT_BITS)), 0);
    const documents = this.#postingDocuments[termId]!;
    const counts = this.#postingCounts[termId]!;
    for (let index = 0; index < documents.length; index++) {
      if ((counts[index]! & mask) !== 0) yield documents[index]!;
    }
  }

  /** The id of an indexed term, `undefined` when no document contains it. */
  termId(term: string): number | undefined {
    return this.#termIds.get(term);
  }

  /** Ids of up to `limit` indexed terms that are longer than `prefix` and start with it. */
  termIdsWithPrefix(prefix: string, limit: number): number[] {
    this.#sortedTerms ??= [...this.#termIds.keys()].sort();
    const terms = this.#sortedTerms;
    const ids: number[] = [];
    for (let index = lowerBound(terms, prefix); index < terms.length && ids.length < limit; index++) {
      const term = terms[index]!;
      if (!term.startsWith(prefix)) break;
      if (term !== prefix) ids.push(this.#termIds.get(term)!);
    }
    return ids;
  }

  /**
   * Adds a term's BM25F score, times `weight`, to every document that contains the term (with
   * `best`, raises the document's score to it instead).
   */
  score(termId: number, weight: number, board: ScoreBoard, best = false): void {
    const documents = this.#postingDocuments[termId]!;
    const counts = this.#postingCounts[termId]!;
    const factors = this.#currentFieldFactors();
    const fieldCount = this.#fields.length;
    const k1 = this.#k1;
    const scale = weight * this.#idf(documents.length) * (k1 + 1);
    const repeated = this.#repeated;
    for (let index = 0; index < documents.length; index++) {
      const document = documents[index]!;
      const offset = document * fieldCount;
      let frequency = 0;
      for (let packed = counts[index]!, field = 0; packed !== 0; packed >>>= COUNT_BITS, field++) {
        frequency += (packed & MAX_COUNT) * factors[offset + field]!;
      }
      if (repeated !== undefined && repeated.documents[document] === 1) {
        const field = repeated.field;
        frequency += ((counts[index]! >>> (field * COUNT_BITS)) & MAX_COUNT) * factors[offset + field]!;
      }
      if (best) board.raise(document, (scale * frequency) / (k1 + frequency));
      else board.add(document, (scale * frequency) / (k1 + frequency));
    }
  }

  /** Inverse document frequency, the always-positive variant `ln(1 + (N - n + 0.5) / (n + 0.5))`. */
  #idf(documentFrequency: number): number {
    return Math.log(1 + (this.#documentCount - documentFrequency + 0.5) / (documentFrequency + 0.5));
  }

  #intern(term: string): number {
    let termId = this.#termIds.get(term);
    if (termId === undefined) {
      termId = this.#postingDocuments.length;
      this.#termIds.set(term, termId);
      this.#postingDocuments.push([]);
      this.#postingCounts.push([]);
      this.#sortedTerms = undefined;
    }
    return termId;
  }

  #currentFieldFactors(): Float64Array {
    this.#fieldFactors ??= this.#computeFieldFactors();
    return this.#fieldFactors;
  }

  #computeFieldFactors(): Float64Array {
    const fieldCount = this.#fields.length;
    const totals = [...this.#fieldLengthTotals];
    const repeated = this.#repeated;
    const times = (index: number) => {
      const field = index % fieldCount;
      const twice = field === repeated?.field && repeated.documents[(index - field) / fieldCount] !== 0;
      return twice ? 2 : 1;
    };
    if (repeated !== undefined) {
      for (let index = repeated.field; index < this.#fieldLengths.length; index += fieldCount) {
        if (times(index) === 2) totals[repeated.field]! += this.#fieldLengths[index]!;
      }
    }
    const averages = totals.map((total) => total / Math.max(1, this.#documentCount));
    const factors = new Float64Array(this.#fieldLengths.length);
    for (let index = 0; index < factors.length; index++) {
      const field = index % fieldCount;
      const { weight, lengthNormalization } = this.#fields[field]!;
      const average = averages[field]!;
      const length = this.#fieldLengths[index]! * times(index);
      // An empty field holds no term; a factor of 0 also avoids dividing by 0 when b is 1.
      factors[index] =
        length === 0 ? 0 : weight / (1 - lengthNormalization + (lengthNormalization * length) / average);
    }
    return factors;
  }
}

/** The first index whose term is not less than `value`. */
function lowerBound(sorted: readonly string[], value: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
