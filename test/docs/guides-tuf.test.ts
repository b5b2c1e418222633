/**
 * The tuf sandbox's guides, run as written (test/docs/guide-runner.ts says how): signing rounds,
 * air-gapped keyholders, hardware tokens, fleet certificates and FROST groups, one continuing the
 * other. This replaces the former story test: the signing story, with TLS, is signing-rounds.md.
 */
import { describeSandbox, SANDBOXES } from './sandboxes.js';

describeSandbox('tuf', SANDBOXES.tuf!, 300_000);
