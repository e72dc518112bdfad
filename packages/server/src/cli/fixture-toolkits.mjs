// A toolkits module for the CLI tests: `toolmux serve --toolkits ./fixture-toolkits.mjs`.
import { createSampleToolkits } from '@toolmux/core/test';

export const toolkits = createSampleToolkits().toolkits;
