import { packageTestConfig } from '../../vitest.shared.js';

export default packageTestConfig('examples', { testTimeout: 120_000 });
