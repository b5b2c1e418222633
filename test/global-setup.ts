/**
 * Build once before any test: integration tests run the compiled commands in dist/, so a test
 * run never exercises stale code, whether it is `npm test` or `npx vitest run FILE` (esbuild: about 2 s).
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
