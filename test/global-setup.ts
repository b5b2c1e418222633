/**
 * Build once before any test: integration tests run the compiled commands in dist/, so a test
 * run never exercises stale code. (`npm test` builds too; this covers `npx vitest run FILE`.)
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
