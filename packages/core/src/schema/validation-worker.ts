import { parentPort } from 'node:worker_threads';
import type { JSONSchema } from '../catalog/types.js';
import { errorMessage, ToolMuxError, type ToolMuxErrorCode } from '../errors.js';
import { nullPlanOf } from './nulls.js';
import { type CompiledDocument, compileDocument } from './validate.js';
import type { FromValidationThread, ToValidationThread } from './validation-thread.js';

/** The documents this thread compiled (or could not: why), by key, until the main thread forgets them. */
const documents = new Map<number, CompiledDocument | { code: ToolMuxErrorCode; message: string }>();

function answerTo(message: Exclude<ToValidationThread, { type: 'forget' }>): FromValidationThread {
  if (message.type === 'nullPlan') {
    return { id: message.id, plan: nullPlanOf(JSON.parse(message.text) as JSONSchema) };
  }
  let compiled = documents.get(message.key);
  if (compiled === undefined) {
    if (message.text === undefined) {
      return {
        id: message.id,
        error: { code: 'INTERNAL_ERROR', message: 'the schema validation thread was not sent the schema' },
      };
    }
    try {
      compiled = compileDocument(JSON.parse(message.text) as JSONSchema, message.slug, message.which);
    } catch (error) {
      compiled = ToolMuxError.isInstance(error)
        ? { code: error.code, message: error.message }
        : { code: 'INTERNAL_ERROR', message: errorMessage(error) };
    }
    documents.set(message.key, compiled);
    // the main thread's budget of the check starts now, apart from the compile's
    if ('check' in compiled)
      parentPort!.postMessage({ id: message.id, compiled: true } satisfies FromValidationThread);
  }
  if (!('check' in compiled)) return { id: message.id, error: compiled };
  // sent as JSON text: the value is answered as JSON text too (see `ValidationThread.check`)
  const result = compiled.check(JSON.parse(message.json));
  return result.success
    ? { id: message.id, result: { success: true, value: undefined }, valueJson: JSON.stringify(result.value) }
    : { id: message.id, result };
}

parentPort!.on('message', (message: ToValidationThread) => {
  if (message.type === 'forget') documents.delete(message.key);
  else parentPort!.postMessage(answerTo(message));
});
