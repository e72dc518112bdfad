export type { TestPostgresStore } from './postgres.js';
export {
  createTestPostgresStore,
  createTestPostgresUrl,
  postgresAvailable,
  postgresSkipReason,
  testPostgresUrl,
  withTestDatabase,
} from './postgres.js';
export type { RecordedCall } from './sample-toolkits.js';
export { createSampleToolkits } from './sample-toolkits.js';
