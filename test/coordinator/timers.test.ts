/**
 * The coordinator's periodic work (coordinator/timers.ts), on a clock the test moves: each job
 * runs every interval and sees the clock's time; a job still running misses its turn rather than
 * piling up; a job that fails (at once or later) is logged and runs again next turn; close stops
 * every job and waits for the one under way.
 */
import { describe, expect, it } from 'vitest';
import { Timers, type Clock } from '../../coordinator/timers.js';

/** A clock that moves only when told; due intervals fire in time order. */
class ManualClock implements Clock {
  t = 1_000_000;
  private next = 1;
  private readonly timers = new Map<number, { fn: () => void; ms: number; due: number }>();
  now(): number {
    return this.t;
  }
  setInterval(fn: () => void, ms: number): number {
    const id = this.next++;
    this.timers.set(id, { fn, ms, due: this.t + ms });
    return id;
  }
  clearInterval(h: unknown): void {
    this.timers.delete(h as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Move `ms` forward, firing each interval as it falls due (and letting its promises settle). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.values()].filter((x) => x.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!due) break;
      this.t = due.due;
      due.due += due.ms;
      due.fn();
      await flush();
    }
    this.t = end;
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('Timers', () => {
  it('runs each job every interval, with the clock time', async () => {
    const clock = new ManualClock();
    const timers = new Timers(clock);
    const seen: [string, number][] = [];
    timers.every('a', 100, (now) => void seen.push(['a', now.getTime() - 1_000_000]));
    timers.every('b', 250, (now) => void seen.push(['b', now.getTime() - 1_000_000]));
    await clock.advance(99);
    expect(seen).toEqual([]);
    await clock.advance(401);
    expect(seen).toEqual([
      ['a', 100],
      ['a', 200],
      ['b', 250],
      ['a', 300],
      ['a', 400],
      ['a', 500],
      ['b', 500],
    ]);
    expect(timers.list()).toEqual([
      { name: 'a', intervalMs: 100 },
      { name: 'b', intervalMs: 250 },
    ]);
    expect(timers.now().getTime()).toBe(clock.t);
    await timers.close();
  });

  it('does not start a job again while it is still running: the turns in between are skipped', async () => {
    const clock = new ManualClock();
    const timers = new Timers(clock);
    let started = 0;
    let release!: () => void;
    timers.every('slow', 10, async () => {
      started++;
      await new Promise<void>((r) => (release = r));
    });
    await clock.advance(10);
    expect(started).toBe(1);
    await clock.advance(100); // ten turns while it runs
    expect(started).toBe(1);
    release();
    await flush();
    await clock.advance(10);
    expect(started).toBe(2);
    release();
    await timers.close();
  });

  it('logs a job that fails, at once or later, and runs it again at its next turn', async () => {
    const clock = new ManualClock();
    const lines: string[] = [];
    const timers = new Timers(clock, (l) => lines.push(l));
    let syncRuns = 0;
    let asyncRuns = 0;
    timers.every('throws', 10, () => {
      syncRuns++;
      throw new Error('boom');
    });
    timers.every('rejects', 10, async () => {
      asyncRuns++;
      await flush();
      throw new Error('later');
    });
    await clock.advance(30);
    expect(syncRuns).toBe(3);
    expect(asyncRuns).toBe(3);
    expect(lines.filter((l) => l.startsWith('periodic job throws failed: Error: boom'))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('periodic job rejects failed: Error: later'))).toHaveLength(3);
    await timers.close();
  });

  it('runs a job on demand, as its turn would', async () => {
    const clock = new ManualClock();
    const timers = new Timers(clock);
    let runs = 0;
    timers.every('job', 1000, () => void runs++);
    await timers.run('job');
    expect(runs).toBe(1);
    expect(() => timers.run('nope')).toThrow(/no job named nope/);
    await timers.close();
  });

  it('refuses a duplicate name, a bad interval, and new jobs once closed', async () => {
    const timers = new Timers(new ManualClock());
    timers.every('x', 10, () => undefined);
    expect(() => timers.every('x', 10, () => undefined)).toThrow(/scheduled already/);
    expect(() => timers.every('y', 0, () => undefined)).toThrow(/not a positive number/);
    expect(() => timers.every('z', Number.NaN, () => undefined)).toThrow(/not a positive number/);
    await timers.close();
    expect(() => timers.every('w', 10, () => undefined)).toThrow(/closed/);
  });

  it('close stops every timer and waits for the run under way', async () => {
    const clock = new ManualClock();
    const timers = new Timers(clock);
    let done = false;
    let runs = 0;
    let release!: () => void;
    timers.every('job', 10, async () => {
      runs++;
      await new Promise<void>((r) => (release = r));
      done = true;
    });
    await clock.advance(10);
    let closed = false;
    const closing = timers.close().then(() => (closed = true));
    await flush();
    expect(closed).toBe(false);
    expect(clock.pending).toBe(0);
    release();
    await closing;
    expect(done).toBe(true);
    await clock.advance(100);
    expect(runs).toBe(1);
  });
});
