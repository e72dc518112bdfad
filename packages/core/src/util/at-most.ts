/**
 * Runs `work` for every item, at most `limit` at once, in the order given: each of `limit` workers
 * takes the next item as soon as its last one is done, so one slow item holds up only its own worker.
 * `work` must not reject (each caller handles its own item's failure): every item is worked on
 * whatever became of the others.
 */
export async function forEachAtMost<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
