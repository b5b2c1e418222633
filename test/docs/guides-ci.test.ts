/** The CI verification guide, run as written in its own sandbox (test/docs/guide-runner.ts says how). */
import { describeSandbox, SANDBOXES } from './sandboxes.js';

describeSandbox('ci', SANDBOXES.ci!, 120_000);
