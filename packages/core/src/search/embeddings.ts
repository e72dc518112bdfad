import { ToolMuxError } from '../errors.js';

/** Turns texts into embedding vectors, one per text and in the same order (any model, any size). */
export type EmbedFunction = (texts: string[]) => Promise<number[][]>;

/**
 * The embeddings of an index's documents: embedded on first use, in batches, then kept. Documents
 * added later are embedded by the next call; concurrent callers share the calls in flight.
 */
export class DocumentEmbeddings {
  readonly #embed: EmbedFunction;
  readonly #batchSize: number;
  readonly #texts: string[] = [];
  readonly #vectors: Float32Array[] = [];
  /** The size of the first vector seen; every later one must match it. */
  #dimensions: number | undefined;
  #batchInFlight: Promise<void> | undefined;
  /** The embeddings this one was forked from, and how many of their documents it starts with. */
  #base: { embeddings: DocumentEmbeddings; count: number } | undefined;

  constructor(embed: EmbedFunction, batchSize: number) {
    this.#embed = embed;
    this.#batchSize = Math.max(1, Math.floor(batchSize));
  }

  /** A copy that shares these documents' vectors (embedded once, by whichever asks first) and adds its own. */
  fork(): DocumentEmbeddings {
    const copy = new DocumentEmbeddings(this.#embed, this.#batchSize);
    copy.#base = { embeddings: this, count: this.#texts.length + (this.#base?.count ?? 0) };
    return copy;
  }

  /** Queues the texts of new documents, in document-id order. */
  add(texts: readonly string[]): void {
    for (const text of texts) this.#texts.push(text);
  }

  /** Unit vectors of all queued documents, indexed by document id. */
  async vectors(): Promise<readonly Float32Array[]> {
    const base = this.#base ? (await this.#base.embeddings.vectors()).slice(0, this.#base.count) : [];
    while (this.#vectors.length < this.#texts.length) {
      this.#batchInFlight ??= this.#embedNextBatch().finally(() => {
        this.#batchInFlight = undefined;
      });
      await this.#batchInFlight;
    }
    return this.#base ? [...base, ...this.#vectors] : this.#vectors;
  }

  /** The unit vector of a query, of the same size as the documents'. */
  async embedQuery(query: string): Promise<Float32Array> {
    const [vector] = await this.#embedChecked([query]);
    return vector!;
  }

  async #embedNextBatch(): Promise<void> {
    const start = this.#vectors.length;
    const vectors = await this.#embedChecked(this.#texts.slice(start, start + this.#batchSize));
    for (const vector of vectors) this.#vectors.push(vector);
  }

  async #embedChecked(texts: string[]): Promise<Float32Array[]> {
    const vectors = await this.#embed(texts);
    if (!Array.isArray(vectors) || vectors.length !== texts.length) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `The embed function returned ${Array.isArray(vectors) ? vectors.length : 'no'} vectors for ${texts.length} texts; it must return one vector per text, in order.`,
      });
    }
    for (const vector of vectors) this.#checkDimensions(vector);
    return vectors.map(toUnitVector);
  }

  #checkDimensions(vector: readonly number[]): void {
    this.#dimensions ??= vector.length;
    if (vector.length !== this.#dimensions) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `The embed function returned vectors of ${this.#dimensions} and ${vector.length} dimensions; all must have the same size.`,
      });
    }
  }
}

/** The dot product of two vectors of equal size; for unit vectors, their cosine similarity. */
export function dotProduct(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let index = 0; index < a.length; index++) sum += a[index]! * b[index]!;
  return sum;
}

function toUnitVector(vector: readonly number[]): Float32Array {
  let squares = 0;
  for (const value of vector) squares += value * value;
  const norm = Math.sqrt(squares);
  return Float32Array.from(vector, (value) => (norm > 0 ? value / norm : 0));
}
