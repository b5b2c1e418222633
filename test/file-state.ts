/**
 * Set-up of every file of the `processes` project, which share their workers (isolate: false: each
 * worker imports the harness and the modules under it once, not once per file). What a file changes
 * in the process is put back when it ends, so no file sees another's: environment variables (the
 * child processes a later file starts inherit them) and fake timers.
 */
import { afterAll, vi } from 'vitest';

const env = { ...process.env };

afterAll(() => {
  vi.useRealTimers();
  for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
  Object.assign(process.env, env);
});
