/**
 * Units of time and the one parser of durations and instants that both command lines and the
 * coordinator use: a duration is a whole number and a unit (`90s`, `30m`, `48h`, `7d`), an
 * instant is RFC 3339 (`2026-01-31T12:00:00Z`).
 */

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** How long a round, certificate round or DKG ceremony stays open unless its --deadline says otherwise. */
export const DEFAULT_DEADLINE_MS = 7 * DAY_MS;

const UNITS: Record<string, number> = { s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };

/** `90s`, `30m`, `48h`, `7d` in milliseconds; null for anything else (no sign, no fraction, no bare number). */
export function parseDuration(s: string): number | null {
  const m = /^(\d{1,9})([smhd])$/.exec(s);
  return m ? Number(m[1]) * UNITS[m[2]!]! : null;
}

/** RFC 3339 (a date, a time and a zone; fractions of a second allowed). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 instant; null for anything else, including impossible dates (month 13, February 30). */
export function parseTime(s: string): Date | null {
  if (!RFC3339.test(s)) return null;
  const t = new Date(s);
  if (Number.isNaN(t.getTime())) return null;
  // Date rolls 2026-02-30 over to March: the day it kept must be the day written (in the zone written).
  const zone = /([+-])(\d{2}):(\d{2})$/.exec(s);
  const offset = zone ? (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3])) * MINUTE_MS : 0;
  return new Date(t.getTime() + offset).toISOString().slice(0, 10) === s.slice(0, 10) ? t : null;
}
