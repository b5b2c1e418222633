/**
 * One error type for the whole project, carrying a stable code. Tests, CI scripts and the wire
 * protocol match on the code, never on the message; the message says what was wrong and what to
 * do. Every code is declared once, with its kind and meaning, in codes.ts.
 */
import type { Code, Codes } from './codes.js';

export type { Code, Codes } from './codes.js';

/** Problems with input that make it impossible to even look at the metadata. */
export type InputCode = Codes<
  | 'USAGE'
  | 'FILE_UNREADABLE'
  | 'FILE_MISSING'
  | 'FILE_EMPTY'
  | 'JSON_INVALID'
  | 'SCHEMA_INVALID'
  | 'DIALECT_UNKNOWN'
  | 'DIALECT_MISMATCH'
>;

/** Canonical JSON refuses values that would not serialise identically everywhere. */
export type CanonicalCode = Codes<
  'CANONICAL_FLOAT' | 'CANONICAL_UNSAFE_INTEGER' | 'CANONICAL_UNDEFINED' | 'CANONICAL_LONE_SURROGATE' | 'CANONICAL_TYPE'
>;

/** Keys that cannot be parsed or used. */
export type KeyCode = Codes<'KEY_INVALID' | 'KEY_UNSUPPORTED' | 'KEY_MISMATCH'>;

/** Verification failures (and warnings) of a repository. */
export type VerifyCode = Codes<
  | 'WRONG_TYPE'
  | 'SPEC_VERSION'
  | 'EXPIRES_FORMAT'
  | 'THRESHOLD_INVALID'
  | 'ROLE_MISSING'
  | 'ROLE_KEY_MISSING'
  | 'ROLE_UNKNOWN'
  | 'ROLE_KEY_DUPLICATE'
  | 'SIGNATURE_INVALID'
  | 'SIGNATURE_MALFORMED'
  | 'SIGNATURE_METHOD'
  | 'DUPLICATE_SIGNATURE'
  | 'DUPLICATE_KEY_MATERIAL'
  | 'UNKNOWN_KEY'
  | 'WRONG_ROLE_KEY'
  | 'THRESHOLD_UNMET'
  | 'ROOT_OLD_THRESHOLD_UNMET'
  | 'ROOT_NEW_THRESHOLD_UNMET'
  | 'ROOT_VERSION_SKIP'
  | 'ROOT_VERSION_ROLLBACK'
  | 'ROOT_CHAIN_GAP'
  | 'ROOT_MISMATCH'
  | 'ROOT_EXPIRED'
  | 'TARGETS_EXPIRED'
  | 'SNAPSHOT_EXPIRED'
  | 'TIMESTAMP_EXPIRED'
  | 'META_VERSION_MISMATCH'
  | 'META_LENGTH_MISMATCH'
  | 'META_HASH_MISMATCH'
  | 'META_MISSING'
  | 'META_INCOMPLETE'
  | 'META_HASH_UNSUPPORTED'
  | 'OTA_SIZE_LIMIT'
  | 'OTA_KEY_UNSUPPORTED'
  | 'DELEGATION_INVALID'
  | 'DELEGATED_FILE_MISSING'
  | 'DELEGATION_LIMIT'
  | 'TARGET_NOT_FOUND'
  | 'TARGET_REFUSED'
  // warnings only:
  | 'EXPIRES_SOON'
  | 'TRUST_ON_FIRST_USE'
  | 'OTA_NON_ASCII'
  | 'OTA_PSS_SALT'
  | 'SNAPSHOT_LISTS_ROOT'
  | 'DELEGATION_PATTERN'
  | 'DELEGATED_TARGET_UNREACHABLE'
>;

/** The codes a verification report's findings carry. */
export type ErrorCode = InputCode | CanonicalCode | KeyCode | VerifyCode;

/**
 * An error with a declared code. `C` narrows the code for a module's own errors; a code that is
 * not in codes.ts does not compile (`C & Code`).
 */
export class QuorumError<C extends string = Code> extends Error {
  override readonly name: string;
  readonly code: C;

  constructor(code: C & Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = this.constructor.name;
  }
}

/**
 * An error a peer reported: a coordinator's wire `error` or the body of an HTTP error. Its code
 * is the peer's, shown as sent; it may be one this version does not declare.
 */
export class RemoteError extends QuorumError<string> {
  constructor(code: string, message: string) {
    super(code as Code, message);
  }
}

export class CanonicalError extends QuorumError<CanonicalCode> {}
export class KeyError extends QuorumError<KeyCode> {}
