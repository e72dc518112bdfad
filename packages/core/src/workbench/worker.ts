import { parentPort } from 'node:worker_threads';
import { type CellLimits, Sandbox, SandboxCallError } from './sandbox.js';
import type { HostReply, ToWorker } from './worker-pool.js';

/**
 * A workbench worker thread: it keeps the QuickJS contexts of many sessions and runs their cells, so
 * that model-written code never runs on the main thread. `toolmux.*` calls go to the main thread as
 * messages and come back as replies.
 */
if (!parentPort) throw new Error('The workbench worker runs only as a worker thread.');
const port = parentPort;

const sandboxes = new Map<string, { sandbox: Sandbox; memoryMb: number }>();
const waiting = new Map<number, (reply: HostReply) => void>();
let nextCall = 0;

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'run':
      void run(message);
      break;
    case 'reply': {
      const settle = waiting.get(message.callId);
      waiting.delete(message.callId);
      settle?.(message.reply);
      break;
    }
    case 'dispose':
      sandboxes.get(message.sessionId)?.sandbox.dispose();
      sandboxes.delete(message.sessionId);
      break;
  }
});

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  let created = false;
  try {
    let entry = sandboxes.get(message.sessionId);
    if (message.fresh || !entry || entry.sandbox.disposed || entry.memoryMb !== message.memoryMb) {
      entry?.sandbox.dispose();
      entry = { sandbox: await Sandbox.create(message.memoryMb), memoryMb: message.memoryMb };
      sandboxes.set(message.sessionId, entry);
      created = true;
    }
    const sandbox = entry.sandbox;
    const limits: CellLimits = message.limits;
    const result = await sandbox.run(
      message.code,
      (operation, args) =>
        new Promise((resolve, reject) => {
          const callId = nextCall++;
          waiting.set(callId, (reply) => {
            if ('error' in reply) reject(new SandboxCallError(reply.error.code, reply.error.message));
            else resolve(reply.value);
          });
          port.postMessage({ type: 'host', runId: message.runId, callId, operation, args });
        }),
      limits,
    );
    if (sandbox.disposed) sandboxes.delete(message.sessionId);
    port.postMessage({ type: 'result', runId: message.runId, result, disposed: sandbox.disposed, created });
  } catch (error) {
    sandboxes.delete(message.sessionId);
    port.postMessage({
      type: 'result',
      runId: message.runId,
      result: {
        result: null,
        logs: [],
        error: {
          code: 'WORKBENCH_MEMORY_LIMIT',
          message: `The workbench could not run the code: ${error instanceof Error ? error.message : String(error)}`,
        },
      },
      disposed: true,
      created,
    });
  }
}
