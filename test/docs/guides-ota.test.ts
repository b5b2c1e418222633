/** The OTA Connect guide, run as written in its own sandbox (test/docs/guide-runner.ts says how). */
import { describeSandbox, SANDBOXES } from './sandboxes.js';

describeSandbox('ota', SANDBOXES.ota!, 300_000);
