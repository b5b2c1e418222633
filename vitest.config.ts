import path from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// In-process tests of the logic: no child process, no dist/, no state kept between files, so the
// files share one module graph per worker (isolate: false) instead of importing it again each time.
const UNIT = ['test/protocol/**/*.test.ts', 'test/coordinator/**/*.test.ts', 'test/architecture.test.ts'];

/**
 * The longest files, longest first (file time measured on the 2-core machine, docs/benchmarks.md's
 * test-suite section). Without a cache of past runs (a fresh clone, as `.ci/run` is) vitest starts
 * the largest files first, and the guides' files are a few lines each: the longest file then
 * started last and ran alone while the other worker idled. Files not listed follow in vitest's order.
 */
const LONGEST_FIRST = [
  'test/docs/guides-tuf.test.ts',
  'test/integration/crash.test.ts',
  'test/integration/page-browser.test.ts',
  'test/integration/living.test.ts',
  'test/integration/frost-metadata.test.ts',
  'test/integration/pkcs11.test.ts',
  'test/integration/cert-issuer.test.ts',
  'test/integration/fuzz.test.ts',
  'test/integration/frost.test.ts',
  'test/integration/rounds.test.ts',
  'test/integration/garage-sign.test.ts',
  'test/docs/guides-ota.test.ts',
  'test/integration/certificates.test.ts',
  'test/integration/frost-subsets.test.ts',
  'test/integration/signer-trust.test.ts',
  'test/integration/delegated-rounds.test.ts',
];

/** vitest's order (project by project), with the LONGEST_FIRST files moved to the front of theirs, in that order. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.indexOf(path.relative(f.project.config.root, f.moduleId).split(path.sep).join('/'));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    const projects = [...new Set(sorted.map((f) => f.project.name))];
    return projects.flatMap((p) => sorted.filter((f) => f.project.name === p).sort((a, b) => rank(a) - rank(b)));
  }
}

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and servers; two workers fit the 2-core machine.
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, isolate: false } },
      {
        extends: true,
        test: {
          name: 'processes',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...UNIT],
          globalSetup: ['test/global-setup.ts'],
          // one module graph per worker, as the unit project; test/file-state.ts puts back what a file changes
          isolate: false,
          setupFiles: ['test/file-state.ts'],
        },
      },
    ],
  },
});
