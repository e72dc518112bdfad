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
  #batchInFlight: Promise<void> | undefined;

  constructor(embed: EmbedFunction, batchSize: number) {
    this.#embed = embed;
    this.#batchSize = Math.max(1, Math.floor(batchSize));
  }

  /** Queues the texts of new documents, in document-id order. */
  add(texts: readonly string[]): void {
    this.#texts.push(...texts);
  }

  /** Unit vectors of all queued documents, indexed by document id. */
  async vectors(): Promise<readonly Float32Array[]> {
    while (this.#vectors.length < this.#texts.length) {
      this.#batchInFlight ??= this.#embedNextBatch().finally(() => {
        this.#batchInFlight = undefined;
      });
      await this.#batchInFlight;
    }
    return this.#vectors;
  }

  /** The unit vector of a query. */
  async embedQuery(query: string): Promise<Float32Array> {
    const [vector] = await this.#embedChecked([query]);
    return vector!;
  }

  async #embedNextBatch(): Promise<void> {
    const start = this.#vectors.length;
    const vectors = await this.#embedChecked(this.#texts.slice(start, start + this.#batchSize));
    this.#vectors.push(...vectors);
  }

  async #embedChecked(texts: string[]): Promise<Float32Array[]> {
    const vectors = await this.#embed(texts);
    if (!Array.isArray(vectors) || vectors.length !== texts.length) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `The embed function returned ${Array.isArray(vectors) ? vectors.length : 'no'} vectors for ${texts.length} texts; it must return one vector per text, in order.`,
      });
    }
    return vectors.map(toUnitVector);
  }
}

/** The dot product of two unit vectors is their cosine similarity. */
export function cosineOfUnitVectors(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) {
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `The embed function returned vectors of ${a.length} and ${b.length} dimensions; all must have the same size.`,
    });
  }
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
