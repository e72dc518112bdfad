/**
 * The adversarial payloads of the large-request benches (issue "Hardening", item 2): each makes a
 * value of about `bytes` of JSON that once made redaction or serialisation slow — one long string,
 * deep nesting, a very wide object, an array of records — with "auth" and secret-looking keys in it.
 */
export const adversarialPayloads: Record<string, (bytes: number) => unknown> = {
  'a string of "auth" repeated': (bytes) => ({ text: 'auth'.repeat(Math.floor(bytes / 4)) }),
  // 120 levels (the arguments' depth limit is 128), each with keys holding "auth" beside the next one
  'keys with "auth", nested 120 deep': (bytes) => {
    const siblings = Math.max(1, Math.floor(bytes / 120 / 40));
    let value: unknown = 'bottom';
    for (let level = 0; level < 120; level++) {
      const level_: Record<string, unknown> = {};
      for (let index = 0; index < siblings; index++) level_[`author_${level}_${index}`] = 'auth auth auth';
      level_[`authority_${level}`] = value;
      value = level_;
    }
    return { nested: value };
  },
  'many keys with "auth"': (bytes) =>
    Object.fromEntries(
      Array.from({ length: Math.floor(bytes / 40) }, (_, index) => [
        `author_${index}_x`,
        `auth value ${index} auth`,
      ]),
    ),
  // a string of the index of each item, if anything lists the array's keys
  'an array of single digits': (bytes) => ({
    digits: Array.from({ length: Math.floor(bytes / 2) }, (_, index) => index % 10),
  }),
  'secret-looking keys in an array': (bytes) =>
    Array.from({ length: Math.floor(bytes / 60) }, (_, index) => ({
      token: `tok_${index}`,
      name: 'auth auth auth auth',
    })),
};

/** The payloads at one size, by name. */
export function payloadsOf(bytes: number): Record<string, () => unknown> {
  return Object.fromEntries(
    Object.entries(adversarialPayloads).map(([name, make]) => [name, () => make(bytes)]),
  );
}
