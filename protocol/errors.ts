/**
 * One error type for the whole project, carrying a stable code. Tests, CI scripts and the wire
 * protocol match on the code, never on the message; the message says what was wrong and what to
 * do. The table of codes and their meaning is documented once, in README.md ("Failure codes").
 */

/** Problems with input that make it impossible to even look at the metadata. */
export type InputCode =
  | 'USAGE' // bad command-line usage
  | 'FILE_UNREADABLE' // a file could not be read
  | 'FILE_MISSING' // a required file is absent
  | 'JSON_INVALID' // not parseable JSON
  | 'SCHEMA_INVALID' // JSON, but not metadata of the expected shape
  | 'DIALECT_UNKNOWN' // `_type` names neither dialect
  | 'DIALECT_MISMATCH'; // files of both dialects mixed, or `--dialect` contradicts the files

/** Canonical JSON refuses values that would not serialise identically everywhere. */
export type CanonicalCode =
  | 'CANONICAL_FLOAT'
  | 'CANONICAL_UNSAFE_INTEGER'
  | 'CANONICAL_UNDEFINED'
  | 'CANONICAL_LONE_SURROGATE'
  | 'CANONICAL_TYPE';

/** Keys that cannot be parsed or used. */
export type KeyCode = 'KEY_INVALID' | 'KEY_UNSUPPORTED' | 'KEY_MISMATCH';

/** Verification failures (and warnings) of a repository. */
export type VerifyCode =
  | 'WRONG_TYPE' // `_type` is not what this file must be (incl. wrong case in `ota`)
  | 'SPEC_VERSION' // `tuf` spec_version missing or not 1.x
  | 'EXPIRES_FORMAT' // `expires` is not YYYY-MM-DDTHH:MM:SSZ
  | 'THRESHOLD_INVALID' // a role threshold below 1 (or above the ota limit)
  | 'ROLE_MISSING' // root lacks a required role
  | 'ROLE_KEY_MISSING' // a role names a key id absent from `keys` (clients skip it: a warning to them)
  | 'ROLE_UNKNOWN' // tuf: a root role other than the four (python-tuf refuses the root)
  | 'ROLE_KEY_DUPLICATE' // tuf: a role lists a key id twice (python-tuf and tuf-js refuse the root)
  | 'SIGNATURE_INVALID' // a role key's signature does not verify over the canonical bytes
  | 'SIGNATURE_MALFORMED' // a signature entry that cannot be decoded
  | 'SIGNATURE_METHOD' // ota: a signature method aktualizr does not know (it rejects the whole file)
  | 'DUPLICATE_SIGNATURE' // the same key id signs twice (aktualizr rejects the file)
  | 'DUPLICATE_KEY_MATERIAL' // one key listed under several key ids, counted once
  | 'UNKNOWN_KEY' // a signature by a key id absent from `keys`
  | 'WRONG_ROLE_KEY' // a signature by a known key that is not in this role
  | 'THRESHOLD_UNMET' // fewer distinct role keys signed than the threshold
  | 'ROOT_OLD_THRESHOLD_UNMET' // root N+1 lacks a threshold of root N's root keys
  | 'ROOT_NEW_THRESHOLD_UNMET' // root N+1 lacks a threshold of its own root keys
  | 'ROOT_VERSION_SKIP' // root N+1 has a version other than N+1
  | 'ROOT_VERSION_ROLLBACK' // a root older than or equal to the trusted one
  | 'ROOT_CHAIN_GAP' // a root version between the trusted one and root.json is missing
  | 'ROOT_MISMATCH' // root.json differs from the newest N.root.json
  | 'ROOT_EXPIRED'
  | 'TARGETS_EXPIRED'
  | 'SNAPSHOT_EXPIRED'
  | 'TIMESTAMP_EXPIRED'
  | 'META_VERSION_MISMATCH' // snapshot/timestamp names another version than the file has
  | 'META_LENGTH_MISMATCH'
  | 'META_HASH_MISMATCH'
  | 'META_MISSING' // snapshot/timestamp does not name a file it must
  | 'META_INCOMPLETE' // ota: timestamp names snapshot.json without length or a sha256/sha512 hash
  | 'META_HASH_UNSUPPORTED' // tuf: a hash algorithm python-tuf or tuf-js cannot compute
  | 'OTA_SIZE_LIMIT' // above aktualizr's download limit for the file
  | 'OTA_KEY_UNSUPPORTED' // ota: a key type aktualizr rejects (error) or an RSA size it cannot use (warning)
  | 'DELEGATION_INVALID' // a targets role's `delegations` the dialect's client refuses (so it refuses the file)
  | 'DELEGATED_FILE_MISSING' // a delegated role's file is not where clients ask for it
  | 'DELEGATION_LIMIT' // more delegated roles than verified, or (warning) a role beyond the client's search limit
  | 'TARGET_NOT_FOUND' // --target: no role vouches for the path
  | 'TARGET_REFUSED' // --target: the client refuses a role on the way and stops
  // warnings only:
  | 'EXPIRES_SOON'
  | 'TRUST_ON_FIRST_USE'
  | 'OTA_NON_ASCII'
  | 'OTA_PSS_SALT' // an RSA-PSS salt other than 32: aktualizr accepts it, the OTA Connect servers do not
  | 'SNAPSHOT_LISTS_ROOT' // snapshot names root.json / N.root.json, which no client checks
  | 'DELEGATION_PATTERN' // a path pattern python-tuf and tuf-js read differently
  | 'DELEGATED_TARGET_UNREACHABLE'; // a delegated role lists targets outside what it is delegated

export type ErrorCode = InputCode | CanonicalCode | KeyCode | VerifyCode;

export class QuorumError<C extends string = ErrorCode> extends Error {
  override readonly name: string;
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = this.constructor.name;
  }
}

export class CanonicalError extends QuorumError<CanonicalCode> {}
export class KeyError extends QuorumError<KeyCode> {}
