import type { MockLanguageModelV4 } from 'ai/test';
import * as aiTest from 'ai/test';

/** What the AI SDK passes a model's `doGenerate` (the shape of the newest `ai` major). */
export type CallOptions = Parameters<MockLanguageModelV4['doGenerate']>[0];
/** What a model's `doGenerate` answers (the shape of the newest `ai` major). */
export type GenerateResult = Awaited<ReturnType<MockLanguageModelV4['doGenerate']>>;

type MockClass = new (options: { doGenerate: (options: unknown) => Promise<unknown> }) => unknown;

/**
 * A mock language model for whichever `ai` major is installed (the provider supports several; the
 * version matrix of `.ci/matrix.mjs` runs these tests on each): `MockLanguageModelV4` on ai 7,
 * `V3` on ai 6 (same shapes), `V2` on ai 5, whose `finishReason` is a string and whose usage
 * counts are plain numbers.
 */
export function mockModel(
  doGenerate: (options: CallOptions) => Promise<GenerateResult>,
): MockLanguageModelV4 {
  const mocks = aiTest as unknown as Record<string, MockClass | undefined>;
  const current = mocks.MockLanguageModelV4 ?? mocks.MockLanguageModelV3;
  if (current) {
    return new current({
      doGenerate: doGenerate as (options: unknown) => Promise<unknown>,
    }) as MockLanguageModelV4;
  }
  const v2 = mocks.MockLanguageModelV2;
  if (!v2)
    throw new Error(`ai/test exports no MockLanguageModelV2, V3 or V4: ${Object.keys(aiTest).join(', ')}`);
  return new v2({
    doGenerate: async (options) => {
      const result = await doGenerate(options as CallOptions);
      const input = result.usage.inputTokens.total;
      const output = result.usage.outputTokens.total;
      return {
        ...result,
        finishReason: result.finishReason.unified,
        usage: { inputTokens: input, outputTokens: output, totalTokens: (input ?? 0) + (output ?? 0) },
      };
    },
  }) as MockLanguageModelV4;
}

/**
 * Whether the installed `ai` hands a tool's `strict` flag to the model: ai 6 and later do (language
 * model spec V3); ai 5 (spec V2) has no such field, so a strict-shaped schema goes out without it.
 */
export const SENDS_STRICT = (aiTest as unknown as Record<string, unknown>).MockLanguageModelV2 === undefined;

/** The `strict` the model receives for a tool whose flag is `flag`, on the installed `ai`. */
export function sentStrict(flag: boolean | undefined): boolean | undefined {
  return SENDS_STRICT ? flag : undefined;
}

/** `{ strict: flag }` where the installed `ai` sends the flag, `{}` where it does not (for `toMatchObject`). */
export function strictFieldSent(flag: boolean): { strict?: boolean } {
  return SENDS_STRICT ? { strict: flag } : {};
}
