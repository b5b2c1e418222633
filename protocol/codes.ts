/**
 * Every error code the project uses, each with its kind and one line of meaning: the one place a
 * code is declared. Codes are stable (tests, CI scripts, the wire and exit statuses match on
 * them); the kind says what sort of failure it is, and the exit status, HTTP status, whether the
 * wire error closes the socket and whether to retry follow from the kind alone.
 * docs/reference/error-codes.md is generated from this table (npm run docs:reference).
 */

/** What sort of failure a code is; everything a caller does with a code follows from this. */
export const KINDS = {
  usage: {
    meaning: 'the command line, or a file it names, cannot be used: nothing was attempted',
    exit: 2,
    http: 400,
    fatal: false,
    retry: false,
  },
  invalid: {
    meaning: 'input was read but is malformed: not JSON, not the expected shape, a value out of its range',
    exit: 1,
    http: 400,
    fatal: false,
    retry: false,
  },
  unauthenticated: {
    meaning: 'who is asking is not established: no credential, a wrong or an expired one',
    exit: 1,
    http: 401,
    fatal: false,
    retry: false,
  },
  forbidden: {
    meaning: 'who is asking is known but may not do this: not an approver, not a participant, not the key holder',
    exit: 1,
    http: 403,
    fatal: false,
    retry: false,
  },
  'not-found': {
    meaning: 'what the request names does not exist',
    exit: 1,
    http: 404,
    fatal: false,
    retry: false,
  },
  conflict: {
    meaning: 'the request does not fit the current state: already exists, already done, closed, stale',
    exit: 1,
    http: 409,
    fatal: false,
    retry: false,
  },
  'too-large': {
    meaning: 'a request or message above a size limit: send less',
    exit: 1,
    http: 413,
    fatal: false,
    retry: false,
  },
  refused: {
    meaning: 'a check or rule refused well-formed input: a signature that does not verify, a rollback, a policy',
    exit: 1,
    http: 422,
    fatal: false,
    retry: false,
  },
  finding: {
    meaning:
      'a verification finding, reported in a list (quorum verify, a release check): exit 1 as an error, 0 as ' +
      'a warning',
    exit: 1,
    http: 422,
    fatal: false,
    retry: false,
  },
  transient: {
    meaning:
      'a limit or a lost connection: try again after a pause (HTTP 429 with retry-after; on the wire the ' +
      'socket is closed)',
    exit: 1,
    http: 429,
    fatal: true,
    retry: true,
  },
  internal: {
    meaning: "a bug or a broken invariant here, not the caller's fault: report it",
    exit: 1,
    http: 500,
    fatal: false,
    retry: false,
  },
} as const satisfies Record<string, { meaning: string; exit: 1 | 2; http: number; fatal: boolean; retry: boolean }>;

export type Kind = keyof typeof KINDS;

interface Entry {
  kind: Kind;
  meaning: string;
}

const usage = (meaning: string): Entry => ({ kind: 'usage', meaning });
const invalid = (meaning: string): Entry => ({ kind: 'invalid', meaning });
const unauthenticated = (meaning: string): Entry => ({ kind: 'unauthenticated', meaning });
const forbidden = (meaning: string): Entry => ({ kind: 'forbidden', meaning });
const notFound = (meaning: string): Entry => ({ kind: 'not-found', meaning });
const conflict = (meaning: string): Entry => ({ kind: 'conflict', meaning });
const tooLarge = (meaning: string): Entry => ({ kind: 'too-large', meaning });
const refused = (meaning: string): Entry => ({ kind: 'refused', meaning });
const finding = (meaning: string): Entry => ({ kind: 'finding', meaning });
const transient = (meaning: string): Entry => ({ kind: 'transient', meaning });
const internal = (meaning: string): Entry => ({ kind: 'internal', meaning });

/** Sections of the table, in the order the reference lists them (a code is in exactly one). */
export const CODES = {
  // --- input: the command line and the files it names -------------------------------------------
  USAGE: usage('bad command-line usage: an unknown or inapplicable option, a missing argument, a value out of range'),
  FILE_MISSING: usage('a file or folder named on the command line (or one the command needs) does not exist'),
  FILE_UNREADABLE: usage('a file cannot be read: a folder where a file belongs, no permission, above the size limit'),
  FILE_EMPTY: usage('a file given is empty'),
  JSON_INVALID: invalid('a file (or a part of one) that must be JSON is not'),
  SCHEMA_INVALID: invalid('JSON, but not of the kind or shape expected: metadata of another role, not a bundle'),
  DIALECT_UNKNOWN: invalid('`_type` names neither dialect'),
  DIALECT_MISMATCH: invalid('files of both dialects mixed, or --dialect contradicts the files'),

  // --- canonical JSON -----------------------------------------------------------------------------
  CANONICAL_FLOAT: invalid('signed content holds a number that is not an integer: it has no canonical form'),
  CANONICAL_UNSAFE_INTEGER: invalid('signed content holds an integer beyond 2^53, which JSON parsers round'),
  CANONICAL_UNDEFINED: invalid('signed content holds undefined, which JSON cannot say'),
  CANONICAL_LONE_SURROGATE: invalid('signed content holds broken UTF-16 (a lone surrogate)'),
  CANONICAL_TYPE: invalid('signed content holds a value JSON cannot say (a function, a symbol, a bigint)'),

  // --- keys ---------------------------------------------------------------------------------------
  KEY_INVALID: invalid('a key that cannot be parsed or used at all (bad encoding, a small-order point)'),
  KEY_UNSUPPORTED: refused("a key type or size this tool or the dialect's client does not accept (e.g. RSA < 2048)"),
  KEY_MISMATCH: invalid("a key's declared type or scheme does not match its material"),
  KEY_FILE_INVALID: invalid('not an uptane-quorum key file (NAME.key.json), or one with unknown parameters'),
  KEY_FILE_EXISTS: conflict('a key file of that name exists; keys are never overwritten'),
  KEY_PASSPHRASE: refused('wrong passphrase, or the key file was modified'),
  KEY_SCRYPT_COST: invalid('an scrypt cost N that is not a power of two from 2^14 to 2^20'),

  // --- verification findings (quorum verify, and the release checks) -------------------------------
  WRONG_TYPE: finding('`_type` is not exactly what this file must be (in ota: Targets, Snapshot, Timestamp)'),
  SPEC_VERSION: finding('tuf: spec_version missing or not 1.x.y'),
  EXPIRES_FORMAT: finding('`expires` the client cannot read, or (as a warning) not in the canonical form'),
  THRESHOLD_INVALID: finding('a role threshold below 1 (ota: or above 1000)'),
  ROLE_MISSING: finding('root lacks a role the client needs'),
  ROLE_KEY_MISSING: finding('a role names a key id absent from `keys` (clients skip it)'),
  ROLE_UNKNOWN: finding('tuf: a root role other than the four top-level ones (python-tuf refuses the root)'),
  ROLE_KEY_DUPLICATE: finding('tuf: a role lists a key id twice (python-tuf and tuf-js refuse the root)'),
  SIGNATURE_INVALID: finding("a role key's signature does not verify over the canonical bytes"),
  SIGNATURE_MALFORMED: finding('a signature entry that cannot be decoded (not base64 in ota, not hex in tuf)'),
  SIGNATURE_METHOD: finding('ota: a signature method aktualizr does not know (it refuses the whole file)'),
  DUPLICATE_SIGNATURE: finding('one key id signs twice (aktualizr, python-tuf and tuf-js refuse the file)'),
  DUPLICATE_KEY_MATERIAL: finding('one key listed under several key ids: counted once here'),
  UNKNOWN_KEY: finding('a signature by a key id absent from `keys`'),
  WRONG_ROLE_KEY: finding('a signature by a known key that is not in this role'),
  THRESHOLD_UNMET: finding('fewer distinct role keys signed than the threshold'),
  ROOT_OLD_THRESHOLD_UNMET: finding("root N+1 lacks a threshold of root N's root keys"),
  ROOT_NEW_THRESHOLD_UNMET: finding('root N+1 lacks a threshold of its own root keys'),
  ROOT_VERSION_SKIP: finding('root N+1 has a version other than N+1'),
  ROOT_VERSION_ROLLBACK: finding('a root older than or equal to the trusted one'),
  ROOT_CHAIN_GAP: finding('a root version between the trusted one and root.json is missing'),
  ROOT_MISMATCH: finding('root.json differs from the newest N.root.json'),
  ROOT_EXPIRED: finding('the final root is expired at the evaluation time'),
  TARGETS_EXPIRED: finding('targets is expired at the evaluation time'),
  SNAPSHOT_EXPIRED: finding('snapshot is expired at the evaluation time'),
  TIMESTAMP_EXPIRED: finding('timestamp is expired at the evaluation time'),
  META_VERSION_MISMATCH: finding('snapshot or timestamp names another version than the file has'),
  META_LENGTH_MISMATCH: finding('snapshot or timestamp names another length than the file has'),
  META_HASH_MISMATCH: finding('snapshot or timestamp names another hash than the file has'),
  META_MISSING: finding('snapshot or timestamp does not name a file it must'),
  META_INCOMPLETE: finding('ota: timestamp names snapshot.json without a length and a sha256/sha512 hash'),
  META_HASH_UNSUPPORTED: finding('tuf: a hash algorithm python-tuf or tuf-js cannot compute'),
  OTA_SIZE_LIMIT: finding("above aktualizr's download limit for the file"),
  OTA_KEY_UNSUPPORTED: finding('ota: a key type aktualizr refuses, or an RSA size it cannot use (a warning)'),
  EXPIRES_SOON: finding('warning: a role expires within --warn-days'),
  TRUST_ON_FIRST_USE: finding('warning: no --root given; the lowest root in the folder was trusted on first use'),
  OTA_NON_ASCII: finding('warning: non-ASCII text (aktualizr escapes it; the ota-tuf server refuses it)'),
  OTA_PSS_SALT: finding('warning: an RSA-PSS salt other than 32 (aktualizr accepts it, the OTA Connect servers not)'),
  SNAPSHOT_LISTS_ROOT: finding('warning: snapshot names root.json, which no client checks'),
  DELEGATION_INVALID: finding("a targets role's delegations the dialect's client refuses (so it refuses the file)"),
  DELEGATED_FILE_MISSING: finding("a delegated role's file is not where clients ask for it"),
  DELEGATION_LIMIT: finding("more delegated roles than verified, or (warning) one beyond the client's search limit"),
  TARGET_NOT_FOUND: finding('--target: no role vouches for the path'),
  TARGET_REFUSED: finding('--target: the client refuses a role on the way and stops'),
  DELEGATION_PATTERN: finding('warning: a path pattern python-tuf and tuf-js read differently'),
  DELEGATED_TARGET_UNREACHABLE: finding('warning: a delegated role lists targets outside what it is delegated'),
  AUDIT_BROKEN: finding('quorum audit verify: an audit event was edited, removed or reordered'),

  // --- the signer socket and the admin API (coordinator) -------------------------------------------
  MESSAGE_INVALID_JSON: invalid('a signer message that is not a JSON text frame (the socket stays open)'),
  MESSAGE_INVALID: invalid('a signer message that is JSON but not a valid message (the socket stays open)'),
  MESSAGE_TOO_LARGE: tooLarge('a signer message above the size limit'),
  RATE_LIMITED: transient('more messages per second than allowed: the socket is closed (4008); reconnect later'),
  TOO_MANY_CHALLENGES: transient('a source asked for more challenges than it may have outstanding'),
  AUTH_THROTTLED: transient('a source failed authentication too often this minute'),
  TOO_MANY_CONNECTIONS: transient('a keyholder already holds the most connections allowed at once'),
  AUTH_CHALLENGE: unauthenticated('an unknown, used or expired login challenge'),
  AUTH_NOT_ENROLLED: forbidden("the key is not an enrolled keyholder's"),
  AUTH_SIGNATURE: unauthenticated('the login signature does not verify for this coordinator and TLS certificate'),
  ADMIN_UNAUTHORIZED: unauthenticated('a missing or wrong admin credential'),
  BODY_INVALID_JSON: invalid('an admin request body that is not JSON'),
  BODY_INVALID: invalid('an admin request body or query of the wrong shape'),
  BODY_TOO_LARGE: tooLarge('an admin request body above the size limit'),
  NOT_FOUND: notFound('no such endpoint'),
  INTERNAL: internal('the coordinator failed on a bug; its log has the details'),
  SETTINGS_INVALID: usage(
    "the data dir's settings.json or a serve option has a value that is not a duration or policy",
  ),
  REFRESH_FAILED: transient('re-signing timestamp/snapshot with the online key failed; retried at the next check'),
  WEBHOOK_INVALID: invalid('a webhook URL, event list or format that cannot be used (http(s) only, no credentials)'),
  WEBHOOK_UNKNOWN: notFound('no webhook with this id'),
  STORE_CORRUPT: internal('a stored row does not decode (quorum.db edited or damaged): restore it from a backup'),

  // --- the status page (viewer credentials, sessions, live events) --------------------------------
  SESSION_INVALID: unauthenticated('no status page session, or one that is unknown, ended or expired: sign in again'),
  CSRF_INVALID: forbidden('a state-changing request with a session but without its CSRF token, or from another origin'),
  VIEWER_READ_ONLY: forbidden('a viewer asked for something only the admin credential may do'),
  VIEWER_EXISTS: conflict('quorum viewer add: a viewer of that name exists'),
  VIEWER_UNKNOWN: notFound('no viewer of that name'),
  TOO_MANY_VIEWERS: conflict('quorum viewer add beyond the most viewers allowed: remove one first'),
  TOO_MANY_STREAMS: transient('more live event streams (status pages open) than allowed at once'),

  // --- rounds -------------------------------------------------------------------------------------
  ROUND_NOT_FOUND: notFound('no round of that id'),
  ROUND_NOT_OPEN: conflict('the round is released, cancelled or expired'),
  ROUND_NOT_RELEASED: conflict('the certificate round has no certificate yet'),
  ROUND_OPEN_EXISTS: conflict('a round of this role is open already (one at a time)'),
  ROUND_STALE_BASE: conflict('opened against a version that is no longer the latest'),
  ROUND_INVALID: invalid('the proposed metadata or change is not acceptable'),
  NO_ROOT: conflict('a targets round before any root was released'),
  KEYHOLDER_UNKNOWN: notFound('no enrolled keyholder of that name'),
  KEYHOLDER_EXISTS: conflict('a keyholder of that name, or with that key, is enrolled already'),
  REQUEST_INVALID: invalid('a reason, deadline, name or value that is not acceptable'),
  SIG_WRONG_BYTES: refused("a signature (or sha256) over other bytes than this round's"),
  SIG_REPLAY: refused("a signature over an earlier round's bytes"),
  SIG_KEY_NOT_NEEDED: refused('a signature by a key this round does not need'),
  SIG_NOT_YOUR_KEY: forbidden("a signature by a key that is not the authenticated keyholder's"),
  SIG_DUPLICATE: conflict('this key already signed this round'),
  SIG_MALFORMED: invalid('a signature that cannot be decoded'),
  SIG_PSS_SALT: refused('ota: an RSA-PSS salt length other than the 32 the OTA Connect servers verify'),
  DELEGATION_UNKNOWN: notFound("a delegated role's round for a role no released targets file delegates"),
  DELEGATED_PATH_OUTSIDE: refused('a delegated role lists targets outside the paths it is delegated'),

  // --- fleet certificates -------------------------------------------------------------------------
  CA_EXISTS: conflict('a CA name taken: a CA with its certificate, a round open, or a DKG ceremony under way'),
  CA_UNKNOWN: notFound('no CA of that name'),
  CA_NOT_ISSUED: conflict("the CA's own certificate is not released yet"),
  CA_APPROVERS_INVALID: invalid('approvers not enrolled or named twice, or a threshold outside 1..approvers'),
  CA_HOLDER_KEY_MISMATCH: refused("--new-ca: the CSR's key is not the holder's enrolled key"),
  APPROVAL_NOT_APPROVER: forbidden("an approval by a keyholder who is not one of the CA's approvers"),
  APPROVAL_WRONG_BYTES: refused('an approval (or its sha256) over other TBS bytes or another issuer key'),
  APPROVAL_DUPLICATE: conflict('this keyholder already approved this round'),
  APPROVALS_UNMET: refused('fewer distinct pinned approvers approved these TBS bytes than the threshold'),
  CERT_NOT_HOLDER: forbidden("a CA signature from a keyholder who does not hold this CA's key"),
  PROFILE_UNKNOWN: invalid('not one of the profiles fleet-root, intermediate-ca, device'),
  CSR_INVALID: invalid('not a parseable PKCS#10 request, or too large'),
  CSR_SIGNATURE: refused("the CSR's self-signature does not verify, or names another algorithm than its key"),
  CSR_CA_ON_DEVICE: refused('a device CSR asks for CA:TRUE or certificate signing'),
  SUBJECT_INVALID: invalid('an empty subject, or a missing or malformed CN'),
  SUBJECT_MISMATCH: refused("the device id given differs from the CSR's CN"),
  VALIDITY_INVALID: invalid("notAfter not after notBefore, or dates outside X.509's range"),
  VALIDITY_TOO_LONG: refused('a validity longer than the profile allows'),
  VALIDITY_BEYOND_ISSUER: refused("a validity that ends after the issuing CA's certificate"),
  SERIAL_INVALID: invalid('a serial that is not 1-20 octets of positive, nonzero hex'),
  ISSUER_INVALID: invalid('the issuer certificate or its chain does not parse or does not chain'),
  ISSUER_NOT_CA: refused('the issuer is not a CA, may not sign certificates, or its pathLen forbids this'),
  ISSUER_KEY_MISMATCH: refused("the signing key is not the issuer's key"),
  ISSUER_MISMATCH: refused("the TBS's issuer name or key identifier is not the signing CA's own: nothing signed"),
  PROFILE_MISMATCH: refused("the TBS is not what its round's profile and issuer allow: nothing approved or signed"),
  TBS_INVALID: invalid('bytes that are not a DER TBSCertificate, or whose digest does not match'),
  CERT_SIGNATURE: refused('the CA signature does not verify over the TBS bytes under the issuer key'),
  CERT_ASSEMBLY: internal('the certificate assembled differs from the TBS and signature given'),

  // --- FROST ceremonies and signing sessions -------------------------------------------------------
  CEREMONY_NOT_FOUND: notFound('no FROST DKG ceremony of that id'),
  CEREMONY_NOT_PARTICIPANT: forbidden("the keyholder is not on the ceremony's (or session's) roster"),
  CEREMONY_WRONG_STEP: conflict('a package for another step than the ceremony is at, or a finished ceremony'),
  CEREMONY_CONFLICT: conflict('a second, different package for a step already answered, or state that disagrees'),
  CEREMONY_FAILED: refused('the DKG ceremony stopped (a package failed a check, a deadline, a cancellation)'),
  CEREMONY_STARTED: conflict("this participant's round 1 is in, and no stored state is left to resume from"),
  CANCELLED: conflict('the release coordinator cancelled the ceremony'),
  DEADLINE: conflict("the ceremony's deadline passed before every participant took part"),
  IDENTITY_INVALID: invalid('a FROST identity key that is not 64 hex characters'),
  IDENTITY_MISMATCH: refused('the ceremony lists another identity key for this keyholder'),
  GROUP_MISMATCH: refused('the coordinator recorded another group than this participant computed'),
  SESSION_NOT_FOUND: notFound('no FROST signing session of that id'),
  SESSION_DONE: conflict('the group has signed this session already'),
  FROST_CEREMONY_INVALID: invalid('a roster or threshold that cannot be used (duplicates, t > n, bad keys)'),
  FROST_STATE: conflict('a step out of order (round 2 of a finished DKG)'),
  FROST_IDENTITY_MISMATCH: refused('the identity key used is not the one enrolled for this participant'),
  FROST_PACKAGE_INVALID: invalid('a FROST message of the wrong shape, ceremony, sender or recipient'),
  FROST_PROOF_INVALID: refused('a round-1 proof of knowledge (or commitment) does not verify'),
  FROST_TRANSCRIPT_MISMATCH: refused('participants saw different round-1 packages or signed different transcripts'),
  FROST_DECRYPT_FAILED: refused('a round-2 ciphertext fails authentication (tampered, or not for this participant)'),
  FROST_SHARE_INVALID: refused("a decrypted round-2 share does not match its sender's commitment"),
  FROST_GROUP_MISMATCH: refused('a participant computed another group key or verifying share'),
  FROST_MESSAGE_MISMATCH: refused('the message to sign is not the one the request names'),
  FROST_COMMITMENT_MISMATCH: refused("the request's commitment is not this participant's"),
  FROST_COMMITMENT_INVALID: invalid('a signing commitment that is not a valid element (identity, small order)'),
  FROST_NONCE_UNKNOWN: notFound('no stored nonce for that commitment'),
  FROST_NONCE_USED: conflict("the commitment's nonce was used (or discarded) already"),
  FROST_BAD_SIGNATURE_SHARE: refused('a signature share fails RFC 9591 5.4 verification'),
  FROST_NOT_ENOUGH_SIGNERS: refused('fewer than t participants are left to sign'),
  FROST_SIGNATURE_INVALID: refused('the aggregate does not verify as Ed25519 (never released)'),
  FROST_IDENTITY_UNVERIFIED: refused("an identity statement missing, not this ceremony's, or not signed by its key"),
  FROST_NOT_PINNED: refused('a participant whose signing key is not pinned (quorum-signer frost pin-participants)'),
  FROST_PIN_INVALID: invalid('a pin that cannot be kept: not a keyholder name, or one key under two names'),
  FROST_TRANSCRIPT_UNSIGNED: refused("a participant's transcript signature is missing or does not verify"),
  FROST_GROUP_UNAUTHENTICATED: refused('a group agreed without every identity statement and transcript signature'),
  FROST_STORE_INVALID: invalid('a share, identity or nonce file is unreadable or altered'),
  FROST_PASSPHRASE: refused('wrong passphrase for a FROST identity or share (or the file was modified)'),

  // --- the keyholder's checks before signing (quorum-signer) ---------------------------------------
  PAYLOAD_MALFORMED: invalid("the round's bytes are not metadata of its role and dialect"),
  PAYLOAD_MISMATCH: refused('the bytes do not hash to what the coordinator says'),
  PAYLOAD_CHANGED: refused('the bytes differ from what this keyholder reviewed'),
  ROLLBACK: refused('a version not newer than the last release'),
  VERSION_SKIP: refused('a version other than the last release + 1'),
  ROOT_CHAIN_INVALID: refused('a released root the coordinator sent does not verify from the pinned root'),
  TARGETS_BASE_INVALID: refused('the released targets do not verify under the pinned root'),
  TARGETS_BASE_MISSING: refused('the coordinator withholds the released targets this signer verified'),
  TARGETS_BASE_CONFLICT: refused('released targets of the version this signer kept, with other content'),
  DELEGATION_CHAIN_INVALID: refused(
    "a delegated role's chain from the verified targets does not verify, or does not delegate the role",
  ),
  ROUND_MISMATCH: refused('the answer is another round, role or version than asked for'),
  EXPIRED: refused('the proposal is expired already'),
  NOT_NEEDED: refused("this keyholder's key does not sign this round"),
  NO_TRUSTED_ROOT: refused('no root is pinned: quorum-signer trust ROOT.json, or join with --trust-first-root'),
  ROUND_CLOSED: conflict('the round is released, cancelled or expired: nothing to sign'),

  // --- hardware tokens (PKCS#11) ------------------------------------------------------------------
  TOKEN_PIN: refused('the token refused the PIN (never retried automatically)'),
  TOKEN_PIN_LOCKED: refused('too many wrong PINs: unlock the token with the SO PIN / PUK first'),
  TOKEN_NOT_PRESENT: notFound('no token matching the URI: unplugged, another label, slot gone'),
  TOKEN_KEY_MISSING: notFound('the token has no private key matching the URI'),
  TOKEN_KEY_AMBIGUOUS: invalid('several tokens or keys match: the URI must name one'),
  TOKEN_KEY_EXISTS: conflict('token keygen: the label is taken (a key is never overwritten)'),
  TOKEN_KEY_CHANGED: refused('the key behind the URI is not the one this signer joined with'),
  TOKEN_MECHANISM: refused('a key type or mechanism this tool cannot use, or the token refuses it'),
  TOKEN_MODULE: invalid('the PKCS#11 module (or the pkcs11js binding) cannot be loaded or initialised'),
  TOKEN_BAD_SIGNATURE: refused('the token returned a signature that does not verify; nothing was sent'),
  TOKEN_FAILED: refused('any other PKCS#11 error (its CKR_ name is in the message)'),

  // --- talking to a coordinator (quorum admin commands, quorum-signer) -----------------------------
  CONNECT: transient('cannot reach the coordinator'),
  DISCONNECTED: transient('the connection closed before the answer came'),
  TIMEOUT: transient('no answer in time: from the coordinator, or from the other FROST participants'),
  BAD_RESPONSE: invalid('the coordinator answered something that is not what this client expects'),
  TLS_PIN: refused("the coordinator's TLS certificate is not the pinned one, or none is pinned"),
  INSECURE: refused('plain http:// or ws:// to a host that is not loopback, without --unsafe-allow-plaintext'),
  SERVER_CHANGED: refused('the coordinator answers with another server id or dialect than when joined'),

  // --- OTA Connect (garage-sign) targets and quorum export ota-tuf ---------------------------------
  OTA_TARGET_HARDWARE_IDS: invalid('a target with no hardware id, or one empty or over 200 characters'),
  OTA_TARGET_LOCATION: invalid('a BINARY target with neither a uri nor cliUploaded: true'),
  OTA_TARGET_URI: invalid('a uri the reposerver cannot parse or store'),
  OTA_EXPORT_DIALECT: refused('the repository is tuf; only ota exports to OTA Connect'),
  OTA_EXPORT_NOTHING: conflict('nothing released yet to export'),
  OTA_EXPORT_JSON: refused('a file the server would not parse as a JSON object'),
  OTA_EXPORT_UNKNOWN_FIELD: refused("a field ota-tuf's models do not have (re-encoding would drop it)"),
  OTA_EXPORT_MISSING_FIELD: refused('a field ota-tuf requires is absent'),
  OTA_EXPORT_FIELD: refused('a field of a type or range ota-tuf does not accept'),
  OTA_EXPORT_NON_ASCII: refused('text that is not printable ASCII'),
  OTA_EXPORT_KEY_UNSUPPORTED: refused('a key type ota-tuf cannot hold (ECDSA)'),
  OTA_EXPORT_KEY_ID: refused('a key id that is not sha256 of the DER SubjectPublicKeyInfo'),
  OTA_EXPORT_SIGNATURE: refused('a signature entry ota-tuf would not accept'),
  OTA_EXPORT_REENCODE: refused('ota-tuf re-encoding the file would give other bytes than those signed'),
  OTA_EXPORT_TARGET: refused('a target without sha256-only hashes or the custom fields the server requires'),
  OTA_EXPORT_TARGETS_VERSION: refused("a targets version other than the server's + 1"),
  OTA_EXPORT_ONLINE_ROLES: refused("a root that moves snapshot or timestamp away from the server's online keys"),
  OTA_EXPORT_UNVERIFIED: refused('the release no longer verifies'),
  OTA_EXPORT_PSS_SALT: refused('an RSA-PSS signature with a salt length other than 32'),
  OTA_EXPORT_SERVER_TARGETS: refused('the server holds other targets than the release was built on'),
  OTA_EXPORT_DELEGATION: refused('a delegated role the reposerver cannot take: nested, or a name over 50 characters'),
} as const satisfies Record<string, Entry>;

export type Code = keyof typeof CODES;

/**
 * A subset of the codes, for a module's own union: `Codes<'A' | 'B'>` does not compile when A or
 * B is not declared above.
 */
export type Codes<C extends Code> = C;

/** A code this version declares (a peer may send one it does not). */
export function isCode(code: string): code is Code {
  return Object.hasOwn(CODES, code);
}

export function kindOf(code: string): Kind | undefined {
  return isCode(code) ? CODES[code].kind : undefined;
}

/** The command-line exit status for a failure with this code (1 for a code this version does not know). */
export function exitStatus(code: string): 1 | 2 {
  const k = kindOf(code);
  return k ? KINDS[k].exit : 1;
}

/** The HTTP status the coordinator answers with for this code. */
export function httpStatus(code: Code): number {
  return KINDS[CODES[code].kind].http;
}

/** Whether the coordinator closes the signer's socket after sending this code. */
export function isFatal(code: Code): boolean {
  return KINDS[CODES[code].kind].fatal;
}

/** Whether trying again later may succeed (a lost connection, a limit), rather than needing a change. */
export function isRetryable(code: string): boolean {
  const k = kindOf(code);
  return k ? KINDS[k].retry : false;
}
