import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import type { ConnectionRequestKind } from '../store/types.js';
import { ConnectionRequest, type ConnectionRequestProgress } from './connection-request.js';

/** A request whose reads return `answers` in turn (the last one from then on). */
function request(
  answers: Array<ConnectionRequestProgress | undefined>,
  kind: ConnectionRequestKind = 'oauth2',
) {
  let reads = 0;
  const handle = new ConnectionRequest(
    {
      id: 'cr_1',
      kind,
      connectedAccountId: kind === 'oauth2' ? 'ca_1' : null,
      toolkit: 'octo',
      redirectUrl: 'https://tools.example.com/connect/cr_1',
      expiresAt: new Date(Date.now() + 60_000),
    },
    async () => answers[Math.min(reads++, answers.length - 1)],
  );
  return { handle, reads: () => reads };
}

const pending: ConnectionRequestProgress = { status: 'PENDING', connectedAccountId: null };

async function code(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  expect(ToolMuxError.isInstance(error)).toBe(true);
  return (error as ToolMuxError).code;
}

describe('ConnectionRequest.waitForConnection', () => {
  it('polls until COMPLETED, first quickly, then less often, and resolves with the account', async () => {
    const { handle, reads } = request([
      pending,
      pending,
      pending,
      { status: 'COMPLETED', connectedAccountId: 'ca_new' },
    ]);
    const started = Date.now();
    expect(await handle.waitForConnection(5_000)).toEqual({
      id: 'ca_new',
      status: 'ACTIVE',
      toolkit: 'octo',
    });
    expect(reads()).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100 + 150 + 225 - 30);
  });

  it('resolves for a credentials request once the account exists', async () => {
    const { handle } = request([pending, { status: 'COMPLETED', connectedAccountId: 'ca_key' }], 'fields');
    expect(handle.connectedAccountId).toBeNull();
    expect(await handle.waitForConnection(5_000)).toEqual({
      id: 'ca_key',
      status: 'ACTIVE',
      toolkit: 'octo',
    });
  });

  it('rejects on FAILED with the reason, on EXPIRED, and when the request was deleted', async () => {
    const failed = request([
      pending,
      { status: 'FAILED', connectedAccountId: 'ca_1', statusReason: 'access_denied: no' },
    ]);
    const error = await failed.handle.waitForConnection(5_000).catch((rejected: ToolMuxError) => rejected);
    expect((error as ToolMuxError).code).toBe('CONNECTION_FAILED');
    expect((error as ToolMuxError).message).toContain('access_denied: no');
    expect(
      await code(
        request([{ status: 'EXPIRED', connectedAccountId: null }], 'fields').handle.waitForConnection(5_000),
      ),
    ).toBe('CONNECTION_REQUEST_EXPIRED');
    expect(await code(request([undefined]).handle.waitForConnection(5_000))).toBe(
      'CONNECTION_REQUEST_NOT_FOUND',
    );
  });

  it('rejects on timeout, naming the request', async () => {
    const error = await request([pending])
      .handle.waitForConnection(200)
      .catch((rejected: ToolMuxError) => rejected);
    expect((error as ToolMuxError).code).toBe('CONNECTION_TIMEOUT');
    expect((error as ToolMuxError).message).toContain('cr_1');
  });

  it('serializes without its reader', () => {
    const { handle } = request([pending], 'fields');
    expect(JSON.parse(JSON.stringify(handle))).toEqual({
      id: 'cr_1',
      kind: 'fields',
      connectedAccountId: null,
      reconnectOf: null,
      toolkit: 'octo',
      redirectUrl: 'https://tools.example.com/connect/cr_1',
      expiresAt: handle.expiresAt.toISOString(),
    });
  });
});
