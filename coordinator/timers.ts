/**
 * The coordinator's periodic work, in one place: each job runs every `intervalMs` by a clock that
 * tests replace. A job still running when its next turn comes is not started again (turns are
 * skipped, never queued up), and a job that fails is logged and runs again at its next turn. The
 * jobs today: the signer heartbeat and the expiry of what passed its deadline; scheduled work
 * (online-role refresh, renewal rounds, an outbox) registers here too.
 */
import fs from 'node:fs';

export interface Clock {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/**
 * A clock whose time is read from `file` (an RFC 3339 time or ms since the epoch) at every
 * reading; timers still run in real time. For tests only: `quorum serve --unsafe-test-clock FILE`
 * is the one way to get it, never the environment. An unreadable file keeps the last time read.
 */
export function fileClock(file: string): Clock {
  let last = Date.now();
  return {
    now: () => {
      try {
        const s = fs.readFileSync(file, 'utf8').trim();
        const t = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
        if (Number.isFinite(t)) last = t;
      } catch {
        // mid-rewrite or removed: the last time read
      }
      return last;
    },
    setInterval: systemClock.setInterval,
    clearInterval: systemClock.clearInterval,
  };
}

export type Job = (now: Date) => void | Promise<void>;

interface Scheduled {
  intervalMs: number;
  job: Job;
  handle: unknown;
  running: Promise<void> | null;
}

export class Timers {
  private readonly jobs = new Map<string, Scheduled>();
  private closed = false;

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** The clock's time. */
  now(): Date {
    return new Date(this.clock.now());
  }

  /** Run `job` every `intervalMs` ms, first one interval from now. */
  every(name: string, intervalMs: number, job: Job): void {
    if (this.closed) throw new Error(`timers are closed; cannot add ${name}`);
    if (this.jobs.has(name)) throw new Error(`a job named ${name} is scheduled already`);
    if (!(intervalMs > 0)) throw new Error(`job ${name}: interval ${intervalMs} ms is not a positive number`);
    const s: Scheduled = { intervalMs, job, handle: null, running: null };
    s.handle = this.clock.setInterval(() => void this.turn(name, s), intervalMs);
    this.jobs.set(name, s);
  }

  /** Run job `name` now, as its turn would (nothing if it is running already); resolves when it is done. */
  run(name: string): Promise<void> {
    const s = this.jobs.get(name);
    if (!s) throw new Error(`no job named ${name}`);
    return this.turn(name, s);
  }

  /** The scheduled jobs and their intervals (ms). */
  list(): { name: string; intervalMs: number }[] {
    return [...this.jobs].map(([name, s]) => ({ name, intervalMs: s.intervalMs }));
  }

  /** Stop every job's timer; resolves once the runs under way are done. */
  async close(): Promise<void> {
    this.closed = true;
    const running: Promise<void>[] = [];
    for (const s of this.jobs.values()) {
      this.clock.clearInterval(s.handle);
      if (s.running) running.push(s.running);
    }
    this.jobs.clear();
    await Promise.all(running);
  }

  private turn(name: string, s: Scheduled): Promise<void> {
    if (s.running) return s.running;
    let done = false;
    const run = (async () => {
      try {
        await s.job(this.now());
      } catch (e) {
        this.log(`periodic job ${name} failed: ${(e as Error).stack ?? String(e)}`);
      } finally {
        done = true;
        s.running = null;
      }
    })();
    // A job that threw at once is over already (its finally ran before this line).
    if (!done) s.running = run;
    return run;
  }
}
