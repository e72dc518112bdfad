/**
 * What `run` resolves to, or a failure when it has not settled after a long while. LlamaIndex's agent
 * workflow never settles when one of its steps throws (as its agent does for a tool name it has no tool
 * of): this race only turns such a hang into a failure that says so. It bounds no speed: a scripted run
 * takes milliseconds.
 */
export async function settled<T>(run: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the agent run never settled')), 10_000);
  });
  try {
    return await Promise.race([run, hung]);
  } finally {
    clearTimeout(timer);
  }
}
