/**
 * The admin API's handlers: one per route of admin-api.ts (the compiler checks that each route
 * has one and that it answers what the route's schema says). Each gets its request already
 * checked (http.ts); those that change state run in the context's queue and tell the connected
 * signers what changed.
 */
import crypto from 'node:crypto';
import { binLines, metadataChanges } from '../protocol/changes.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import { CLOSE_CODES } from '../protocol/wire.js';
import { DEFAULT_DEADLINE_MS, parseTime } from '../protocol/time.js';
import type { AdminHandlers, TargetsChange } from './admin-api.js';
import {
  approversOf,
  cancelCertRound,
  certRoundView,
  createFleetCa,
  listCertRounds,
  openCertRound,
} from './certificates.js';
import type { ServerContext } from './context.js';
import {
  cancelCeremony,
  ceremonyOf,
  dkgStatus,
  groupOf,
  groupProblem,
  openFleetCaCeremony,
  openRoleKeyCeremony,
  purposeOf,
  recordIdentity,
} from './frost.js';
import { HttpError } from './http.js';
import { certificateExpiryOf, delegatedExpiryOf, expiryOf } from './living.js';
import {
  applyDelegations,
  checkOtaTargets,
  delegatedBase,
  proposeBinned,
  proposeRoot,
  proposeTargets,
} from './proposals.js';
import { BinsChangeSchema, findDelegation, hashBinsOf, type BinsChange } from './delegated.js';
import { delegatedFileName } from '../protocol/delegations.js';
import {
  RoundError,
  cancelRound,
  enrollKeyholder,
  listRounds,
  openRound,
  repoState,
  submitSignature,
} from './rounds.js';
import { addViewer, listViewers, removeViewer } from './sessions.js';
import { roundBins, verifyAuditChain, type RoundRow } from './store.js';

/** An RFC 3339 deadline of a request, or BODY_INVALID. */
function deadlineOf(d: string | undefined): Date | undefined {
  if (d === undefined) return undefined;
  const t = parseTime(d);
  if (!t) throw new HttpError('BODY_INVALID', `deadline ${JSON.stringify(d)} is not an RFC 3339 time`);
  return t;
}

/** What the admin routes tell the rest of the server (the status page's sessions). */
export interface AdminHooks {
  /** Viewer `name`'s credential was removed: end its sessions. */
  viewerRemoved?: (name: string) => void;
}

export function adminHandlers(ctx: ServerContext, hooks: AdminHooks = {}): AdminHandlers {
  const { store, log, signers } = ctx;

  return {
    status: () => {
      const st = repoState(store);
      const rel = store.latestRelease();
      return {
        serverId: ctx.serverId,
        dialect: st.dialect,
        rootVersion: st.root ? (st.root.signed.version as number) : null,
        targetsVersion: st.targets ? (st.targets.signed.version as number) : null,
        targetsBase: st.targetsBase,
        openRounds: store.rounds('open').map((r) => ctx.roundInfo(r)),
        expiry: expiryOf(store, ctx.policy, ctx.now()),
        notify: ctx.outbox.summary(),
        keyholders: store.keyholders().map((k) => ({
          name: k.name,
          fingerprint: k.fingerprint,
          algorithm: k.algorithm,
          connected: signers.isConnected(k.name),
        })),
        release: rel
          ? {
              seq: rel.seq,
              role: rel.role,
              version: rel.version,
              released_at: rel.released_at,
              round_id: rel.round_id,
            }
          : null,
      };
    },

    'keyholders.list': () =>
      store.keyholders().map((k) => ({
        name: k.name,
        fingerprint: k.fingerprint,
        algorithm: k.algorithm,
        enrolledAt: k.enrolled_at,
      })),

    'keyholders.add': ({ body }) =>
      ctx.serial(() => {
        const k = enrollKeyholder(store, body.name, body.publicKey);
        return { name: k.name, fingerprint: k.fingerprint, algorithm: k.algorithm };
      }),

    'keyholders.identity': ({ params, body }) => ctx.serial(() => recordIdentity(store, params.name, body.identityKey)),

    'keyholders.remove': ({ params }) =>
      ctx.serial(() => {
        if (!store.removeKeyholder(params.name, new Date().toISOString()))
          throw new RoundError('KEYHOLDER_UNKNOWN', `no enrolled keyholder ${params.name}`);
        store.audit('keyholder.removed', { name: params.name });
        signers.disconnect(params.name, CLOSE_CODES.keyholderRemoved, 'keyholder removed');
        return { removed: params.name };
      }),

    // The newest page, oldest first (a JSON array, as before pages); older pages with ?before=ID.
    'rounds.list': ({ query }) => listRounds(store, query).rounds,

    'rounds.open': ({ body: b, raw }) =>
      ctx.serial(async () => {
        const st = repoState(store);
        let signed: Record<string, unknown>;
        // zod's copies drop a `__proto__` key; the body as parsed (and validated) keeps it as data.
        const given = raw as { signed?: Record<string, unknown>; targets?: { add?: TargetsChange['add'] } };
        const delegation = b.delegated !== undefined ? findDelegation(st.files, b.delegated, st.dialect) : undefined;
        const base = delegation ? delegatedBase(delegation) : undefined;
        const bins = b.role === 'targets' && !b.delegated && !b.signed ? hashBinsOf(store) : null;
        let binsChange: BinsChange | undefined;
        if (b.signed) signed = given.signed!;
        else if (bins) {
          ({ signed, bins: binsChange } = proposeBinned(
            st,
            bins,
            { ...b.targets, add: given.targets?.add },
            ctx.onlinePublic ?? undefined,
          ));
        } else if (b.role === 'targets') {
          signed = proposeTargets(st, { ...b.targets, add: given.targets?.add }, undefined, base);
          applyDelegations(store, st.dialect, signed, b.targets ?? {}, ctx.onlinePublic ?? undefined);
        } else signed = proposeRoot(store, st, b.root ?? {}, ctx.onlinePublic ?? undefined);
        if (b.role === 'targets') checkOtaTargets(store, st, signed, base);
        const r = openRound(store, {
          role: b.role,
          reason: b.reason,
          // An empty deadline is none (the default), as it always was here.
          deadline: (b.deadline ? deadlineOf(b.deadline) : undefined) ?? new Date(Date.now() + DEFAULT_DEADLINE_MS),
          signed,
          baseVersion: b.baseVersion,
          online: ctx.onlinePublic ?? undefined,
          resignTargets: b.resignTargets,
          ...(b.delegated !== undefined ? { delegated: b.delegated } : {}),
          ...(binsChange ? { bins: binsChange } : {}),
        });
        const ri = ctx.roundInfo(r);
        log(`opened ${r.id}${r.linked_round ? ` with ${r.linked_round}` : ''}: ${b.reason}`);
        signers.broadcast({ type: 'round.opened', round: ri });
        if (r.linked_round)
          signers.broadcast({ type: 'round.opened', round: ctx.roundInfo(store.round(r.linked_round)!) });
        return { round: ri, signed: r.signed_json };
      }),

    'rounds.get': ({ params }) => {
      const r = store.round(params.id);
      if (!r) throw new RoundError('ROUND_NOT_FOUND', `no round ${params.id}`);
      return { round: ctx.roundInfo(r), signed: r.signed_json };
    },

    'rounds.summary': ({ params }) => {
      const r = store.round(params.id);
      if (!r) throw new RoundError('ROUND_NOT_FOUND', `no round ${params.id}`);
      const to = JSON.parse(r.signed_json) as Record<string, unknown>;
      const from = releasedBefore(ctx, r);
      return {
        sha256: crypto.createHash('sha256').update(r.canonical).digest('hex'),
        version: { from: from ? Number(from.version) : null, to: r.version },
        expires: { from: from ? String(from.expires) : null, to: String(to.expires) },
        changes: [
          ...metadataChanges(r.role, ctx.dialect, from, to),
          ...(r.bins_json ? binLines(roundBins(r, BinsChangeSchema)!) : []),
        ],
      };
    },

    // Everything an air-gapped signer needs: the round, its payload, the released roots and targets.
    'rounds.export': ({ params }) => {
      const r = store.round(params.id);
      if (!r) throw new RoundError('ROUND_NOT_FOUND', `no round ${params.id}`);
      const st = repoState(store);
      return {
        format: 'uptane-quorum-round-v1' as const,
        serverId: ctx.serverId,
        dialect: st.dialect,
        ...ctx.payloadOf(r),
        ...ctx.released(0),
      };
    },

    'rounds.cancel': ({ params, body }) =>
      ctx.serial(() => {
        const r = cancelRound(store, params.id, body.reason);
        signers.broadcast({ type: 'round.updated', round: ctx.roundInfo(r) });
        return { round: ctx.roundInfo(r) };
      }),

    'rounds.addSignature': ({ params, body }) =>
      ctx.serial(async () => {
        submitSignature(store, { round: params.id, ...body });
        signers.broadcast({ type: 'round.updated', round: ctx.roundInfo(store.round(params.id)!) });
        await ctx.release(params.id);
        return { round: ctx.roundInfo(store.round(params.id)!) };
      }),

    'cas.list': () =>
      store.cas().map((c) => ({
        name: c.name,
        kind: c.kind,
        holder: c.holder,
        fingerprint: c.issuer_fingerprint,
        algorithm: c.algorithm,
        approvers: approversOf(c),
        approvals: c.approvals_threshold,
        issued: c.chain_pem !== null,
        createdAt: c.created_at,
        ...(c.retired_at ? { retiredFrom: c.retired_from, retiredAt: c.retired_at } : {}),
      })),

    'cas.create': ({ body: b }) =>
      ctx.serial(async () => {
        const r = await createFleetCa(store, { ...b, deadline: deadlineOf(b.deadline) });
        log(`opened certificate round ${r.id}: fleet root CA ${b.name} held by ${b.holder}: ${b.reason}`);
        signers.broadcast({ type: 'cert.opened', round: ctx.certInfo(r) });
        return certRoundView(store, r);
      }),

    'cas.createFrost': ({ body: b }) =>
      ctx.serial(() => {
        const r = openFleetCaCeremony(store, { ...b, deadline: deadlineOf(b.deadline) });
        const ceremony = ceremonyOf(r);
        log(
          `opened DKG ceremony ${r.id} for FROST fleet root CA ${b.name} (${ceremony.threshold} of ` +
            `${ceremony.participants.map((p) => p.name).join(', ')}): ${b.reason}`,
        );
        ctx.announceDkg(r.id, { toParticipants: () => ({ type: 'frost.dkg.open', ceremony }) });
        return dkgStatus(store, r.id, null);
      }),

    'frost.groups': () =>
      store.frostCeremonies().map((r) => {
        const { name, kind } = purposeOf(r);
        const { threshold, participants } = ceremonyOf(r);
        const problem = r.state === 'done' ? groupProblem(store, r) : null;
        return {
          ceremony: r.id,
          name,
          kind,
          state: r.state,
          groupPublicKey: groupOf(r)?.groupPublicKey ?? null,
          threshold,
          participants: participants.map((p) => p.name),
          failure: r.failure,
          transcript: r.transcript_digest,
          ...(problem ? { refused: problem } : {}),
        };
      }),

    'frost.createGroup': ({ body: b }) =>
      ctx.serial(() => {
        const r = openRoleKeyCeremony(store, { ...b, deadline: deadlineOf(b.deadline) });
        const ceremony = ceremonyOf(r);
        log(
          `opened DKG ceremony ${r.id} for FROST group ${b.name} (${ceremony.threshold} of ` +
            `${ceremony.participants.map((p) => p.name).join(', ')}): ${b.reason}`,
        );
        ctx.announceDkg(r.id, { toParticipants: () => ({ type: 'frost.dkg.open', ceremony }) });
        return dkgStatus(store, r.id, null);
      }),

    'frost.ceremonies': () =>
      store.frostCeremonies().map((r) => ({
        id: r.id,
        state: r.state,
        createdAt: r.created_at,
        groupPublicKey: groupOf(r)?.groupPublicKey ?? null,
        failure: r.failure,
      })),

    'frost.ceremony': ({ params }) => dkgStatus(store, params.id, null),

    'frost.cancelCeremony': ({ params, body }) =>
      ctx.serial(() => {
        const ev = cancelCeremony(store, params.id, body.reason);
        ctx.announceDkg(params.id, ev);
        return dkgStatus(store, params.id, null);
      }),

    'certs.list': ({ query }) => listCertRounds(store, query).rounds,

    'certs.issue': ({ body: b }) =>
      ctx.serial(async () => {
        const csrBytes = Buffer.from(b.csr, 'base64');
        const csr = csrBytes.subarray(0, 32).toString('latin1').includes('-----BEGIN')
          ? csrBytes.toString('utf8')
          : csrBytes;
        const r = await openCertRound(store, { ...b, csr, deadline: deadlineOf(b.deadline) });
        log(`opened certificate round ${r.id}: ${b.profile} from CA ${b.ca}: ${b.reason}`);
        signers.broadcast({ type: 'cert.opened', round: ctx.certInfo(r) });
        return certRoundView(store, r);
      }),

    'certs.get': ({ params }) => certRoundView(store, certRound(ctx, params.id)),

    'certs.cancel': ({ params, body }) => {
      const r = certRound(ctx, params.id);
      return ctx.serial(() => {
        const c = cancelCertRound(store, r.id, body.reason);
        signers.broadcast({ type: 'cert.updated', round: ctx.certInfo(c) });
        return certRoundView(store, c);
      });
    },

    'releases.list': ({ query }) =>
      store.releases({ before: query.before, limit: query.limit ?? WIRE_LIMITS.pageDefault }).map((rel) => ({
        seq: rel.seq,
        role: rel.role,
        version: rel.version,
        releasedAt: rel.released_at,
        roundId: rel.round_id,
        files: Object.entries(store.releaseFiles(rel.seq))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, bytes]) => ({
            name,
            version: versionOf(bytes),
            length: bytes.length,
            sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
          })),
      })),

    'audit.list': ({ query }) => {
      const head = store.auditHead();
      return {
        total: head?.seq ?? 0,
        head: head ?? null,
        events: store
          .auditPage({ before: query.before, limit: query.limit ?? WIRE_LIMITS.pageDefault, round: query.round })
          .map((e) => ({
            seq: e.seq,
            at: e.at,
            event: e.event,
            data: JSON.parse(e.data) as Record<string, unknown>,
            hash: e.hash,
          })),
      };
    },

    'viewers.list': () => listViewers(store),

    'viewers.add': ({ body }) =>
      ctx.serial(() => {
        const v = addViewer(store, body.name);
        log(`added status page viewer ${v.name}`);
        return v;
      }),

    'viewers.remove': ({ params }) =>
      ctx.serial(() => {
        removeViewer(store, params.name);
        hooks.viewerRemoved?.(params.name);
        log(`removed status page viewer ${params.name}`);
        return { removed: params.name };
      }),

    'audit.verify': () => {
      const rows = store.auditRows();
      const broken = verifyAuditChain(rows);
      return { ok: !broken, events: rows.length, broken };
    },

    'living.check': async () => {
      const refreshed = await ctx.refreshOnline();
      return { refreshed, renewals: await ctx.renewExpiring() };
    },

    'notify.list': () => ctx.outbox.list(),
    'notify.add': ({ body }) => ctx.serial(() => ctx.outbox.add(body)),
    'notify.remove': ({ params }) =>
      ctx.serial(() => {
        const id = webhookId(params.id);
        ctx.outbox.remove(id);
        return { removed: id };
      }),
    'notify.test': ({ params }) => ctx.serial(() => ({ eventId: ctx.outbox.test(webhookId(params.id)) })),

    expiry: () => {
      const at = ctx.now();
      return {
        at: at.toISOString(),
        roles: expiryOf(store, ctx.policy, at),
        delegated: delegatedExpiryOf(store, at),
        certificates: certificateExpiryOf(store, at),
      };
    },
  };
}

function webhookId(s: string): number {
  if (!/^[1-9]\d{0,9}$/.test(s)) throw new HttpError('BODY_INVALID', `webhook id ${JSON.stringify(s)} is not a number`);
  return Number(s);
}

/**
 * The `signed` body a round changes (null when nothing was released before it): root N-1 for a
 * root round (every released root stays in the release files); for targets, the targets released
 * now, or for a released round the targets of the release before its own.
 */
function releasedBefore(ctx: ServerContext, r: RoundRow): Record<string, unknown> | null {
  const { store } = ctx;
  let bytes: Buffer | undefined;
  if (r.role === 'root') bytes = repoState(store).files[`${r.version - 1}.root.json`];
  else if (r.delegated) {
    const own = r.state === 'released' ? store.releaseByRound(r.id) : undefined;
    const file = delegatedFileName(r.delegated, ctx.dialect);
    bytes = own ? store.releaseFiles(own.seq - 1)[file] : repoState(store).files[file];
  } else {
    const own = r.state === 'released' ? store.releaseByRound(r.id) : undefined;
    bytes = own ? store.releaseFiles(own.seq - 1)['targets.json'] : repoState(store).files['targets.json'];
  }
  return bytes ? (JSON.parse(bytes.toString('utf8')) as { signed: Record<string, unknown> }).signed : null;
}

/** The `signed.version` of a metadata file, or null for a file that is not metadata. */
function versionOf(bytes: Buffer): number | null {
  try {
    const v = (JSON.parse(bytes.toString('utf8')) as { signed?: { version?: unknown } }).signed?.version;
    return typeof v === 'number' ? v : null;
  } catch {
    return null;
  }
}

function certRound(ctx: ServerContext, id: string) {
  const r = ctx.store.certRound(id);
  if (!r) throw new RoundError('ROUND_NOT_FOUND', `no certificate round ${id}`);
  return r;
}
