/**
 * The baseline: textbook BM25 (k1 = 1.2, b = 0.75) over one field, name + description, with the
 * simplest tokenizer (lower-case, split at anything but letters and digits; no stemming, no stop
 * words). Scores every document for every query.
 */
export class PlainBm25 {
  readonly #k1 = 1.2;
  readonly #b = 0.75;
  readonly #slugs: string[];
  readonly #termCounts: Map<string, number>[];
  readonly #lengths: number[];
  readonly #averageLength: number;
  readonly #documentFrequencies = new Map<string, number>();

  constructor(documents: readonly { slug: string; name: string; description: string }[]) {
    this.#slugs = documents.map((document) => document.slug);
    this.#termCounts = documents.map(({ name, description }) =>
      countTerms(simpleTokens(`${name} ${description}`)),
    );
    this.#lengths = this.#termCounts.map((counts) =>
      [...counts.values()].reduce((sum, count) => sum + count, 0),
    );
    this.#averageLength =
      this.#lengths.reduce((sum, length) => sum + length, 0) / Math.max(1, documents.length);
    for (const counts of this.#termCounts) {
      for (const term of counts.keys()) {
        this.#documentFrequencies.set(term, (this.#documentFrequencies.get(term) ?? 0) + 1);
      }
    }
  }

  /** Slugs of the `limit` best documents, best first; documents matching no query term are left out. */
  search(query: string, limit: number): string[] {
    const terms = simpleTokens(query);
    return this.#termCounts
      .map((counts, document) => ({ document, score: this.#score(terms, counts, this.#lengths[document]!) }))
      .filter(({ score }) => score > 0)
      .sort((a, b) => b.score - a.score || a.document - b.document)
      .slice(0, limit)
      .map(({ document }) => this.#slugs[document]!);
  }

  #score(terms: readonly string[], counts: ReadonlyMap<string, number>, length: number): number {
    let score = 0;
    const documentCount = this.#slugs.length;
    for (const term of terms) {
      const count = counts.get(term);
      if (!count) continue;
      const frequency = this.#documentFrequencies.get(term)!;
      const idf = Math.log(1 + (documentCount - frequency + 0.5) / (frequency + 0.5));
      const norm = this.#k1 * (1 - this.#b + (this.#b * length) / this.#averageLength);
      score += (idf * count * (this.#k1 + 1)) / (count + norm);
    }
    return score;
  }
}

function simpleTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

function countTerms(terms: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
  return counts;
}
