/**
 * The WebSocket protocol between coordinator and signers, version 1: one zod discriminated
 * union on `type` per direction, strict objects (an unknown field is an error, not ignored).
 * Authentication happens before the upgrade (see AUTH_DOMAIN), so every message here is from an
 * enrolled keyholder. Errors carry a code; a fatal one also closes the socket with CLOSE_CODES.
 */
import { z } from 'zod';

export const WIRE_VERSION = 1;

/**
 * Domain separation for the authentication signature. Canonical metadata always starts with
 * `{`, so bytes starting with this prefix can never be valid metadata, and a signature made to
 * log in can never be replayed as a signature over metadata (nor the other way round).
 */
export const AUTH_DOMAIN = 'UPTANE-QUORUM-AUTH-V1\n';

/** The exact bytes a signer signs to authenticate: domain, server id, nonce, key fingerprint. */
export function authMessage(serverId: string, nonce: string, fingerprint: string): Buffer {
  return Buffer.from(`${AUTH_DOMAIN}server=${serverId}\nnonce=${nonce}\nkey=${fingerprint}\n`, 'utf8');
}

export const ROUND_ROLES = ['root', 'targets'] as const;
export type RoundRole = (typeof ROUND_ROLES)[number];
export const ROUND_STATES = ['open', 'released', 'cancelled', 'expired'] as const;
export type RoundState = (typeof ROUND_STATES)[number];

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const ThresholdProgressSchema = z.strictObject({
  label: z.string(), // e.g. "root (old keys)", "root (new keys)", "targets"
  threshold: z.number().int(),
  signed: z.array(z.string()), // keyholder names (or key fingerprints) that signed
  missing: z.array(z.string()),
  met: z.boolean(),
});
export type ThresholdProgress = z.infer<typeof ThresholdProgressSchema>;

/** What everyone may see about a round. The payload travels separately (round.payload). */
export const RoundInfoSchema = z.strictObject({
  id,
  role: z.enum(ROUND_ROLES),
  version: z.number().int(),
  state: z.enum(ROUND_STATES),
  reason: z.string(),
  deadline: z.string(),
  createdAt: z.string(),
  sha256: hex64,
  progress: z.array(ThresholdProgressSchema),
  /** The other round of a linked root + targets pair; both are released together. */
  linked: id.optional(),
});
export type RoundInfo = z.infer<typeof RoundInfoSchema>;

// --- signer -> coordinator ---

export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('rounds.list'), ref: z.string().max(64).optional() }),
  z.strictObject({ type: z.literal('round.get'), ref: z.string().max(64).optional(), round: id }),
  /** Released roots after `after` (the signer's pinned version), and the current released targets. */
  z.strictObject({ type: z.literal('released.get'), ref: z.string().max(64).optional(), afterRootVersion: z.number().int().min(0) }),
  z.strictObject({
    type: z.literal('signature.submit'),
    ref: z.string().max(64).optional(),
    round: id,
    sha256: hex64, // of the canonical bytes the signer reviewed and signed
    keyid: z.string().max(128),
    sig: z.string().max(2048),
  }),
  z.strictObject({ type: z.literal('ping'), ref: z.string().max(64).optional() }),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

// --- coordinator -> signer ---

export const ServerMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('hello'), version: z.literal(WIRE_VERSION), serverId: z.string(), keyholder: z.string(), dialect: z.enum(['ota', 'tuf']) }),
  z.strictObject({ type: z.literal('rounds'), ref: z.string().optional(), rounds: z.array(RoundInfoSchema) }),
  z.strictObject({
    type: z.literal('round.payload'),
    ref: z.string().optional(),
    round: RoundInfoSchema,
    /** The proposed `signed` body as JSON text; the signer canonicalises it itself. */
    signed: z.string(),
    /** For a targets round linked to a root round: that round and its proposed root, under whose targets keys it is signed. */
    linkedRoot: z.strictObject({ round: RoundInfoSchema, signed: z.string() }).optional(),
  }),
  z.strictObject({
    type: z.literal('released'),
    ref: z.string().optional(),
    /** Released `N.root.json` files after the requested version, oldest first (file text). */
    roots: z.array(z.strictObject({ version: z.number().int(), file: z.string() })),
    /** The current released targets.json (file text), if any. */
    targets: z.string().nullable(),
  }),
  z.strictObject({ type: z.literal('round.opened'), round: RoundInfoSchema }),
  z.strictObject({ type: z.literal('round.updated'), round: RoundInfoSchema }),
  z.strictObject({ type: z.literal('signature.accepted'), ref: z.string().optional(), round: RoundInfoSchema }),
  z.strictObject({ type: z.literal('pong'), ref: z.string().optional() }),
  z.strictObject({ type: z.literal('error'), ref: z.string().optional(), code: z.string(), message: z.string(), fatal: z.boolean() }),
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;

/** Codes the coordinator sends in `error` messages. */
export type WireErrorCode =
  | 'MESSAGE_INVALID_JSON' // not JSON
  | 'MESSAGE_INVALID' // JSON but not a valid message (schema)
  | 'MESSAGE_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'ROUND_NOT_FOUND'
  | 'ROUND_NOT_OPEN' // released, cancelled or expired
  | 'SIG_WRONG_BYTES' // signature (or sha256) over other bytes than this round's
  | 'SIG_REPLAY' // signature over an earlier round's bytes
  | 'SIG_KEY_NOT_NEEDED' // a key this round does not need
  | 'SIG_NOT_YOUR_KEY' // the key is not the authenticated keyholder's
  | 'SIG_DUPLICATE' // this key already signed this round
  | 'SIG_MALFORMED'
  | 'INTERNAL';

/** WebSocket close codes (4000-4999 are the application's). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  invalidUtf8: 1007, // ws closes with this itself for a text frame that is not UTF-8
  tooLarge: 1009, // ws closes with this itself when maxPayload is exceeded (or for a binary frame over it)
  keyholderRemoved: 4003,
  rateLimited: 4008, // too many messages; reconnect after a pause
  heartbeatTimeout: 4009, // a ping went unanswered
} as const;

/** Fatal error codes: the coordinator closes the socket after sending them. */
export const FATAL: Record<string, number> = {
  RATE_LIMITED: CLOSE_CODES.rateLimited,
};
