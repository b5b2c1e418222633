import { configDefaults, defineConfig } from 'vitest/config';

// In-process tests of the logic: no child process, no dist/, no state kept between files, so the
// files share one module graph per worker (isolate: false) instead of importing it again each time.
const UNIT = ['test/protocol/**/*.test.ts', 'test/coordinator/**/*.test.ts', 'test/architecture.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and servers; two workers fit the 2-core machine.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, isolate: false } },
      {
        extends: true,
        test: {
          name: 'processes',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...UNIT],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
