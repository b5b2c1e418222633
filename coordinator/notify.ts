/**
 * Keyholders and coordinators are told: webhooks fed by a durable outbox. Every notification
 * comes from an audited event (store.ts `onAudit`): its deliveries are inserted in the transaction
 * that writes the audit row, so an event is committed with its notifications or not at all. A
 * delivery job POSTs each due row, and on failure schedules the next attempt with exponential
 * backoff and full jitter; rows survive restarts, so each event reaches each webhook at least once
 * (receivers de-duplicate on X-Quorum-Event-Id). Each request carries X-Quorum-Signature:
 * sha256=<HMAC-SHA256 of the body with the webhook's secret>. Secrets are stored in the database
 * (owner-only, like the rest of it), never listed, logged or audited; URLs are shown without their
 * path, which for Slack-style webhooks is itself a secret. A delivery never blocks a round.
 */
import crypto from 'node:crypto';
import { QuorumError } from '../protocol/errors.js';
import type { Store } from './store.js';

export type NotifyErrorCode =
  | 'WEBHOOK_INVALID' // a URL that is not http(s), an unknown event name or format
  | 'WEBHOOK_UNKNOWN'; // no webhook with that id

export class NotifyError extends QuorumError<NotifyErrorCode> {}

/** The events a webhook can ask for. */
export const NOTIFY_EVENTS = [
  'round.opened',
  'signature.accepted',
  'round.released',
  'round.expiring', // an open round's deadline is within 24 h
  'round.expired',
  'round.cancelled',
  'role.expiring', // the coordinator opened a renewal round
  'release.refused',
  'refresh.failed',
  'auth.failures', // repeated failed authentications from one source
  'test', // quorum notify test
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
export const NOTIFY_FORMATS = ['json', 'slack'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** The notifications an audited event makes. */
export function notificationsOf(event: string, data: Record<string, unknown>): NotifyEvent[] {
  switch (event) {
    case 'round.opened':
      return data.by === 'coordinator' && !data.linked ? ['round.opened', 'role.expiring'] : ['round.opened'];
    case 'signature.accepted':
    case 'round.released':
    case 'round.expiring':
    case 'round.expired':
    case 'round.cancelled':
    case 'release.refused':
      return [event];
    case 'online.refresh_failed':
      return ['refresh.failed'];
    case 'auth.failed':
      return data.aggregated ? ['auth.failures'] : [];
    default:
      return [];
  }
}

/** One line a person reads (the slack format's text). */
export function summaryOf(serverId: string, event: NotifyEvent, d: Record<string, unknown>): string {
  const s = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v));
  const what: Record<NotifyEvent, () => string> = {
    'round.opened': () => `round ${s(d.round)} opened (${s(d.role)} v${s(d.version)}): ${s(d.reason)}`,
    'signature.accepted': () => `${s(d.keyholder)} signed round ${s(d.round)}`,
    'round.released': () => `round ${s(d.round)} released (${s(d.role)} v${s(d.version)})`,
    'round.expiring': () => `round ${s(d.round)} reaches its deadline ${s(d.deadline)} within 24 hours`,
    'round.expired': () => `round ${s(d.round)} expired at its deadline ${s(d.deadline)}`,
    'round.cancelled': () => `round ${s(d.round)} cancelled: ${s(d.reason)}`,
    'role.expiring': () =>
      `${s(d.role)} is due for renewal: the coordinator opened round ${s(d.round)} (${s(d.reason)})`,
    'release.refused': () => `release of ${s(d.round)} refused: ${s((d.errors as unknown[] | undefined)?.[0] ?? '')}`,
    'refresh.failed': () => `online refresh failed: ${s(d.error)}`,
    'auth.failures': () => `${s(d.count)} failed ${s(d.kind)} authentications from ${s(d.source)}`,
    test: () => 'test notification',
  };
  return `quorum ${serverId}: ${what[event]()}`;
}

/** A URL as shown in listings and logs: scheme, host and port only. */
export function redactUrl(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}

export interface WebhookView {
  id: number;
  url: string;
  events: string[];
  format: NotifyFormat;
  hasSecret: boolean;
  createdAt: string;
  pending: number;
  failed: number;
  delivered: number;
  lastError: string | null;
}

export interface OutboxOptions {
  serverId: string;
  log: (line: string) => void;
  /** First retry delay (ms); doubles per attempt up to maxDelayMs, each drawn with full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Attempts before a delivery is given up (state failed, shown by quorum status). */
  maxAttempts?: number;
  /** ms a receiver has to answer. */
  timeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

/** A delivery's signature header value. */
export function signatureOf(secret: string, body: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class Outbox {
  private readonly o: Required<OutboxOptions>;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    o: OutboxOptions,
  ) {
    this.o = {
      baseDelayMs: 2000,
      maxDelayMs: 3_600_000,
      maxAttempts: 25,
      timeoutMs: 10_000,
      now: () => Date.now(),
      random: Math.random,
      ...o,
    };
    // Queued in the audit row's transaction.
    store.onAudit = (event, data, seq, at) => {
      const kinds = notificationsOf(event, data);
      if (kinds.length) this.enqueue(kinds, data, `${this.o.serverId}-${seq}`, at);
    };
  }

  private enqueue(kinds: NotifyEvent[], data: Record<string, unknown>, eventId: string, at: string, only?: number) {
    let queued = 0;
    for (const w of this.store.webhooks()) {
      if (only !== undefined && w.id !== only) continue;
      kinds.forEach((kind, i) => {
        if (kind !== 'test' && w.events.length && !w.events.includes(kind)) return;
        const id = i === 0 ? eventId : `${eventId}.${kind}`;
        const body =
          w.format === 'slack'
            ? JSON.stringify({ text: summaryOf(this.o.serverId, kind, data) })
            : JSON.stringify({ id, event: kind, at, serverId: this.o.serverId, data });
        this.store.queueDelivery({ eventId: id, webhook: w.id, event: kind, body, at, nextAt: this.o.now() });
        queued++;
      });
    }
    // Deliver once the transaction has committed.
    if (queued) setImmediate(() => void this.deliverDue());
  }

  // --- administration -------------------------------------------------------------------------

  add(req: { url: string; events?: string[]; format?: string; secret?: string }): WebhookView {
    let u: URL;
    try {
      u = new URL(req.url);
    } catch {
      throw new NotifyError(
        'WEBHOOK_INVALID',
        `${JSON.stringify(req.url)} is not a URL; give an http:// or https:// URL`,
      );
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new NotifyError('WEBHOOK_INVALID', `a webhook URL must be http:// or https://, not ${u.protocol}`);
    if (u.username || u.password)
      throw new NotifyError('WEBHOOK_INVALID', 'a webhook URL must not carry a user or password; use --secret-file');
    const events = req.events ?? [];
    for (const e of events)
      if (!(NOTIFY_EVENTS as readonly string[]).includes(e))
        throw new NotifyError(
          'WEBHOOK_INVALID',
          `unknown event ${JSON.stringify(e)}; the events: ${NOTIFY_EVENTS.join(', ')}`,
        );
    const format = req.format ?? 'json';
    if (!(NOTIFY_FORMATS as readonly string[]).includes(format))
      throw new NotifyError('WEBHOOK_INVALID', `format must be json or slack, not ${JSON.stringify(format)}`);
    if (req.secret !== undefined && req.secret.length < 16)
      throw new NotifyError('WEBHOOK_INVALID', 'a webhook secret must be at least 16 characters');
    return this.store.tx(() => {
      const id = this.store.insertWebhook({
        url: u.href,
        events,
        format: format as NotifyFormat,
        secret: req.secret ?? null,
        at: new Date().toISOString(),
      });
      this.store.audit('notify.added', { webhook: id, url: redactUrl(u.href), events, format, signed: !!req.secret });
      return this.view(id)!;
    });
  }

  remove(id: number): void {
    this.store.tx(() => {
      if (!this.store.removeWebhook(id, new Date().toISOString()))
        throw new NotifyError('WEBHOOK_UNKNOWN', `no webhook ${id}; quorum notify list shows them`);
      this.store.audit('notify.removed', { webhook: id });
    });
  }

  /** Queue a test notification to webhook `id`; its event id. */
  test(id: number): string {
    if (!this.view(id)) throw new NotifyError('WEBHOOK_UNKNOWN', `no webhook ${id}; quorum notify list shows them`);
    const eventId = `${this.o.serverId}-test-${crypto.randomBytes(6).toString('hex')}`;
    this.store.tx(() => this.enqueue(['test'], { webhook: id }, eventId, new Date().toISOString(), id));
    return eventId;
  }

  view(id: number): WebhookView | null {
    const w = this.store.webhook(id);
    if (!w) return null;
    return {
      id: w.id,
      url: redactUrl(w.url),
      events: w.events,
      format: w.format,
      hasSecret: w.secret !== null,
      createdAt: w.created_at,
      ...this.store.deliveryCounts(id),
      lastError: this.store.lastDeliveryError(id),
    };
  }

  list(): WebhookView[] {
    return this.store.webhooks().map((w) => this.view(w.id)!);
  }

  // --- delivery -------------------------------------------------------------------------------

  /** Deliver every due row (one pass at a time; a call during a pass makes one more pass). */
  deliverDue(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.closed);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.store.onAudit = null;
    await this.running;
  }

  private async pass(): Promise<void> {
    const due = this.store.dueDeliveries(this.o.now(), 100);
    // Send them all, then record the outcomes in one transaction (one fsync per pass, not per row).
    const outcomes = await Promise.all(
      due.map(async (d) => {
        const attempt = d.attempts + 1;
        let error: string | null = null;
        try {
          const res = await fetch(d.url, {
            method: 'POST',
            redirect: 'manual',
            signal: AbortSignal.timeout(this.o.timeoutMs),
            headers: {
              'content-type': 'application/json',
              'user-agent': 'uptane-quorum',
              'x-quorum-event': d.event,
              'x-quorum-event-id': d.event_id,
              'x-quorum-delivery-attempt': String(attempt),
              ...(d.secret ? { 'x-quorum-signature': signatureOf(d.secret, d.body) } : {}),
            },
            body: d.body,
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.status < 200 || res.status > 299) error = `HTTP ${res.status}`;
        } catch (e) {
          const c = (e as { cause?: { code?: string } }).cause?.code;
          error = c ?? (e as Error).name;
        }
        return { d, attempt, error };
      }),
    );
    if (this.closed) return; // not recorded: sent again after the restart (at least once)
    const lines: string[] = [];
    this.store.tx(() => {
      const at = new Date().toISOString();
      for (const { d, attempt, error } of outcomes) {
        if (!error) {
          this.store.deliveryDone(d.seq, attempt, at);
          continue;
        }
        const giveUp = attempt >= this.o.maxAttempts;
        // Exponential backoff with full jitter: a random delay up to base * 2^(attempt-1), capped.
        const cap = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
        const delay = Math.max(this.o.baseDelayMs / 2, Math.floor(this.o.random() * cap));
        this.store.deliveryFailed(d.seq, { attempts: attempt, nextAt: this.o.now() + delay, error, giveUp, at });
        lines.push(
          `webhook ${d.webhook} (${redactUrl(d.url)}): delivery of ${d.event} ${d.event_id} failed (${error}), ` +
            (giveUp
              ? `given up after ${attempt} attempts`
              : `attempt ${attempt}; retrying in ${Math.round(delay / 1000)} s`),
        );
      }
    });
    for (const l of lines) this.o.log(l);
  }

  /** For quorum status: deliveries waiting and given up, and the last error. */
  summary(): { webhooks: number; pending: number; failed: number; lastError: string | null } {
    const { pending, failed } = this.store.deliveryCounts();
    return {
      webhooks: this.store.webhooks().length,
      pending,
      failed,
      lastError: this.store.lastDeliveryError(),
    };
  }
}
