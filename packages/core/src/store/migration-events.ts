import { channel } from 'node:diagnostics_channel';
import type { Dialect } from './migrations.js';

/**
 * The diagnostics channel on which a store announces each migration as it starts applying it (after
 * it took the migration lock and read what the database has applied, so the database has answered):
 * `toolmux serve` logs them, and a migration under way is not the unanswering database that its
 * startup deadline is for (see `startupTimeoutMs`).
 */
export const MIGRATION_CHANNEL = 'toolmux:store:migration';

/** A migration the store starts applying. */
export interface MigrationEvent {
  dialect: Dialect;
  version: number;
  name: string;
  /** PostgreSQL builds its indexes `CONCURRENTLY` (a large table: see `IndexChange`). */
  concurrently: boolean;
  /** The database had no migration applied: a new one, being made (not an upgrade). */
  fresh: boolean;
}

const migrations = channel(MIGRATION_CHANNEL);

/** Publishes `event` on {@link MIGRATION_CHANNEL} (nothing is made when no one listens). */
export function announceMigration(event: MigrationEvent): void {
  if (migrations.hasSubscribers) migrations.publish(event);
}
