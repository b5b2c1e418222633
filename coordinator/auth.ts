/**
 * Who may talk to the coordinator. A keyholder logs in to the signer socket by signing a fresh
 * challenge (protocol/wire.ts authMessage: bound to this server's id and TLS certificate) with
 * its enrolled key, in the upgrade request's headers; only enrolled keyholders are admitted. The
 * release coordinator presents the admin token, and a status page viewer a viewer token
 * (sessions.ts); the store keeps each only as a sha256. Every
 * failure is counted and audited, and a source that fails too often is throttled (guard.ts).
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import type { Codes } from '../protocol/codes.js';
import { QuorumError } from '../protocol/errors.js';
import { verifySignature } from '../protocol/keys.js';
import { authMessage } from '../protocol/wire.js';
import type { AuthGuard } from './guard.js';
import { keyholderKey } from './rounds.js';
import type { KeyholderRow, Store } from './store.js';

export type AuthCode = Codes<
  | 'AUTH_CHALLENGE' // the login's nonce is unknown, spent or expired
  | 'AUTH_NOT_ENROLLED' // the login's key is not an enrolled keyholder's
  | 'AUTH_SIGNATURE' // the login's signature does not verify for this coordinator
  | 'ADMIN_UNAUTHORIZED' // no admin token, or a wrong one
>;

export class AuthError extends QuorumError<AuthCode> {}

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

export interface Identity {
  serverId: string;
  /** sha256 fingerprint of the TLS certificate signers pinned at join, or null over plain ws://. */
  tlsFingerprint: string | null;
  /** sha256 (hex) of the admin token. */
  adminHash: string;
  /** The viewer (read-only status page credential) whose token hashes to `sha256`, if any (sessions.ts). */
  viewerByHash?: (sha256: string) => string | undefined;
}

/** Who an admin API request speaks for: the admin, or viewer `name` (read-only). */
export interface Principal {
  role: 'admin' | 'viewer';
  name: string;
}

export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly guard: AuthGuard,
    private readonly id: Identity,
  ) {}

  /** A fresh single-use nonce for a signer at `remote` to sign (GuardError when it may not have one now). */
  challenge(remote: string | undefined): string {
    return this.guard.challenge(remote);
  }

  /**
   * The enrolled keyholder whose login the upgrade request carries (x-quorum-key, -nonce,
   * -signature); otherwise AuthError (or GuardError when throttled), counted and audited.
   */
  signer(req: http.IncomingMessage): KeyholderRow {
    const remote = req.socket.remoteAddress;
    const fp = String(req.headers['x-quorum-key'] ?? '');
    try {
      return this.verifyLogin(remote, fp, req);
    } catch (e) {
      this.guard.failed(remote, 'signer', e instanceof QuorumError ? e.code : 'AUTH', fp.slice(0, 64));
      throw e;
    }
  }

  /**
   * The admin or the viewer whose token `token` is (a bearer token, or one a person signs in to
   * the status page with); otherwise ADMIN_UNAUTHORIZED (or AUTH_THROTTLED), counted and audited.
   * A right token always passes.
   */
  credential(token: string | undefined, remote: string | undefined): Principal {
    if (token) {
      const hash = hashToken(token);
      if (crypto.timingSafeEqual(Buffer.from(hash, 'hex'), Buffer.from(this.id.adminHash, 'hex')))
        return { role: 'admin', name: 'admin' };
      const viewer = this.id.viewerByHash?.(hash);
      if (viewer !== undefined) return { role: 'viewer', name: viewer };
    }
    return this.refuse(remote);
  }

  private refuse(remote: string | undefined): never {
    try {
      this.guard.checkThrottle(remote);
    } finally {
      this.guard.failed(remote, 'admin', 'ADMIN_UNAUTHORIZED');
    }
    throw new AuthError(
      'ADMIN_UNAUTHORIZED',
      'missing or wrong admin credential; use the token in the data dir (admin.token) or QUORUM_ADMIN_TOKEN',
    );
  }

  private verifyLogin(remote: string | undefined, fp: string, req: http.IncomingMessage): KeyholderRow {
    const nonce = String(req.headers['x-quorum-nonce'] ?? '');
    const sig = String(req.headers['x-quorum-signature'] ?? '');
    const { serverId, tlsFingerprint } = this.id;
    this.guard.checkThrottle(remote);
    if (!this.guard.spend(nonce))
      throw new AuthError('AUTH_CHALLENGE', 'unknown or expired challenge; fetch a new one from /v1/challenge');
    const k = this.store.keyholderByFingerprint(fp);
    if (!k)
      throw new AuthError(
        'AUTH_NOT_ENROLLED',
        `key ${fp.slice(0, 16)}… is not an enrolled keyholder; ask the release coordinator to enroll your public key`,
      );
    if (
      !verifySignature(keyholderKey(k), authMessage(serverId, nonce, fp, tlsFingerprint), Buffer.from(sig, 'base64'))
    ) {
      throw new AuthError(
        'AUTH_SIGNATURE',
        'the challenge signature does not verify with your enrolled key for this coordinator (server ' +
          `${serverId}, TLS certificate ${tlsFingerprint ?? 'none'}); if you joined another address, join this ` +
          'one',
      );
    }
    return k;
  }
}
