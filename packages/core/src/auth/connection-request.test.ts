import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import type { ConnectedAccountStatusRecord, ConnectionStatus } from '../store/types.js';
import { ConnectionRequest } from './connection-request.js';

function request(statuses: Array<ConnectionStatus | undefined>, expiresInMs = 60_000) {
  let reads = 0;
  const handle = new ConnectionRequest(
    {
      id: 'cr_1',
      connectedAccountId: 'ca_1',
      toolkit: 'octo',
      redirectUrl: 'https://auth.example.com/authorize?state=s',
      expiresAt: new Date(Date.now() + expiresInMs),
    },
    async (id): Promise<ConnectedAccountStatusRecord | undefined> => {
      const status = statuses[Math.min(reads++, statuses.length - 1)];
      return status === undefined
        ? undefined
        : { id, status, statusReason: 'access_denied: no', version: reads, toolkit: 'octo' };
    },
  );
  return { handle, reads: () => reads };
}

async function code(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  expect(ToolMuxError.isInstance(error)).toBe(true);
  return (error as ToolMuxError).code;
}

describe('ConnectionRequest.waitForConnection', () => {
  it('polls until ACTIVE, first quickly, then less often', async () => {
    const { handle, reads } = request(['INITIATED', 'INITIATED', 'INITIATED', 'ACTIVE']);
    const started = Date.now();
    expect(await handle.waitForConnection(5_000)).toEqual({ id: 'ca_1', status: 'ACTIVE', toolkit: 'octo' });
    expect(reads()).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100 + 150 + 225 - 30);
  });

  it('rejects on FAILED, EXPIRED, REVOKED and a deleted account', async () => {
    expect(await code(request(['INITIATED', 'FAILED']).handle.waitForConnection(5_000))).toBe(
      'CONNECTION_FAILED',
    );
    expect(await code(request(['EXPIRED']).handle.waitForConnection(5_000))).toBe('CONNECTION_EXPIRED');
    expect(await code(request(['REVOKED']).handle.waitForConnection(5_000))).toBe('CONNECTION_EXPIRED');
    expect(await code(request([undefined]).handle.waitForConnection(5_000))).toBe(
      'CONNECTED_ACCOUNT_NOT_FOUND',
    );
  });

  it('rejects when the request expires, and on timeout', async () => {
    expect(await code(request(['INITIATED'], 150).handle.waitForConnection(5_000))).toBe(
      'CONNECTION_REQUEST_EXPIRED',
    );
    expect(await code(request(['INITIATED']).handle.waitForConnection(200))).toBe('CONNECTION_TIMEOUT');
  });

  it('serializes without its reader', () => {
    const { handle } = request(['ACTIVE']);
    expect(JSON.parse(JSON.stringify(handle))).toEqual({
      id: 'cr_1',
      connectedAccountId: 'ca_1',
      toolkit: 'octo',
      redirectUrl: 'https://auth.example.com/authorize?state=s',
      expiresAt: handle.expiresAt.toISOString(),
    });
  });
});
