import type { AuthConfigRecord, ConnectedAccountRecord, ConnectionRequestRecord } from '../store/types.js';
import { newId } from '../util/ids.js';

/** Records of the auth tables for store tests: fixed values, changed by `overrides`. */

export function authConfig(overrides: Partial<AuthConfigRecord> = {}): AuthConfigRecord {
  return {
    id: newId('ac'),
    toolkit: 'github',
    type: 'oauth2',
    createdBy: 'user',
    settings: { clientId: 'client_1', scopes: ['repo', 'read:user'], name: 'Ünïcode app' },
    secret: { keyId: '0011223344556677', ciphertext: 'v1.c2VhbGVk' },
    createdAt: new Date('2025-03-01T10:00:00.123Z'),
    updatedAt: new Date('2025-03-01T10:00:00.123Z'),
    ...overrides,
  };
}

export function account(overrides: Partial<ConnectedAccountRecord> = {}): ConnectedAccountRecord {
  return {
    id: newId('ca'),
    userId: 'user_1',
    toolkit: 'github',
    authConfigId: 'ac_none',
    status: 'ACTIVE',
    statusReason: null,
    secret: { keyId: '0011223344556677', ciphertext: 'v1.YWNjb3VudA' },
    expiresAt: new Date('2025-03-01T11:00:00.456Z'),
    version: 1,
    refreshLeaseUntil: null,
    connectedAt: new Date('2025-03-01T10:00:00.789Z'),
    createdAt: new Date('2025-03-01T10:00:00.000Z'),
    updatedAt: new Date('2025-03-01T10:00:00.000Z'),
    alias: null,
    ...overrides,
  };
}

export function connectionRequest(overrides: Partial<ConnectionRequestRecord> = {}): ConnectionRequestRecord {
  return {
    id: newId('cr'),
    kind: 'oauth2',
    connectedAccountId: 'ca_none',
    userId: 'user_1',
    toolkit: 'github',
    authConfigId: 'ac_none',
    stateHash: newId('state'),
    secret: { keyId: '0011223344556677', ciphertext: 'v1.dmVyaWZpZXI' },
    callbackUrl: 'https://app.example.com/connected?x=1',
    redirectUri: 'https://tools.example.com/auth/callback',
    status: 'PENDING',
    expiresAt: new Date('2025-03-01T10:10:00.000Z'),
    usedAt: null,
    createdAt: new Date('2025-03-01T10:00:00.000Z'),
    alias: null,
    maxAccounts: null,
    replacedAt: null,
    reconnectOf: null,
    ...overrides,
  };
}
