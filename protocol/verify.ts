/**
 * Signature checks, threshold counting, root-chain walking and whole-repository verification,
 * done the way a device does it (TUF client workflow 5.3-5.6, Uptane 5.4.4), over the bytes that
 * were received: `signed` is canonicalised exactly as parsed, never from a re-built model.
 *
 * Every problem becomes a Finding with a stable code, and verification carries on where that is
 * meaningful, so one run reports every failure at once.
 */
import crypto from 'node:crypto';
import { isAscii } from 'node:buffer';
import { aktualizrBytes, canonicalFromBytes, canonicalize, getOwn, type Dialect } from './canonical.js';
import { QuorumError, type ErrorCode } from './errors.js';
import {
  decodeSig,
  otaUsable,
  parseMetadataKey,
  sha256hex,
  verifySignature,
  type MetadataKey,
  type PublicKey,
} from './keys.js';
import type { MetaFile, RootSigned, SignatureT, SignedOf } from './metadata/schemas.js';
import {
  EXPIRES_RE,
  countTargets,
  detectType,
  envelopeProblem,
  formatExpires,
  signedProblem,
  typeName,
  type Role,
} from './metadata/shape.js';
import { LIMITS } from './limits.js';
import { DAY_MS } from './time.js';
import { OTA_PSS_SALT, otaSaltProblem } from './ota-server.js';
import {
  OTA_MAX_DEPTH,
  delegatedFileName,
  delegatedRoles,
  edgeDelegates,
  readDelegations,
  resolveTarget,
  roleCount,
  type Delegations,
  type LoadedRole,
  type Resolution,
} from './delegations.js';

export type Severity = 'error' | 'warning';

export interface Finding {
  code: ErrorCode;
  severity: Severity;
  file: string;
  message: string;
}

/** A metadata file as received: its bytes, the parsed JSON, and the canonical bytes of `signed`. */
export interface Metadata<R extends Role = Role> {
  file: string;
  role: R;
  dialect: Dialect;
  bytes: Buffer;
  /** `signed` exactly as parsed from `bytes` (unknown fields kept). */
  signed: SignedOf<R>;
  signatures: SignatureT[];
  /** Canonical bytes of `signed`: what every signature is over. */
  canonical: Buffer;
  /** For targets: how many targets it lists. */
  entries?: number;
}

/**
 * Parse one metadata file. Throws QuorumError (JSON_INVALID, SCHEMA_INVALID, WRONG_TYPE,
 * DIALECT_*, CANONICAL_*) when the file is not usable metadata of the expected role.
 */
export function parseMetadata<R extends Role>(bytes: Buffer, file: string, role: R, dialect?: Dialect): Metadata<R> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new QuorumError('JSON_INVALID', `${file}: not valid JSON (${(e as Error).message})`);
  }
  const envProblem = envelopeProblem(json);
  if (envProblem) throw new QuorumError('SCHEMA_INVALID', `${file}: not TUF/Uptane metadata: ${envProblem}`);
  const raw = json as { signed: Record<string, unknown>; signatures: SignatureT[] };
  const type = raw.signed._type;
  const detected = detectType(type);
  const d = dialect ?? detected?.dialect;
  if (!d) {
    throw new QuorumError(
      'DIALECT_UNKNOWN',
      `${file}: _type ${JSON.stringify(type)} names no known role in either dialect; expected ` +
        `${JSON.stringify(typeName(role, 'ota'))} (ota) or ${JSON.stringify(role)} (tuf)`,
    );
  }
  const want = typeName(role, d);
  // aktualizr compares the root _type case-insensitively; every other role must match exactly.
  const typeOk =
    role === 'root' && d === 'ota' ? typeof type === 'string' && type.toLowerCase() === 'root' : type === want;
  if (!typeOk) {
    if (detected && detected.role === role && detected.dialect !== d) {
      throw new QuorumError(
        'DIALECT_MISMATCH',
        `${file}: _type ${JSON.stringify(type)} is the ${detected.dialect} dialect, but this repository is ${d}; ` +
          `write ${JSON.stringify(want)}`,
      );
    }
    throw new QuorumError(
      'WRONG_TYPE',
      `${file}: _type is ${JSON.stringify(type)}, must be exactly ${JSON.stringify(want)} in the ${d} dialect`,
    );
  }
  // The zod schemas, as plain predicates (metadata/shape.ts); targets maps by the faster count.
  const entries = role === 'targets' ? countTargets(raw.signed.targets, d === 'tuf') : -1;
  const fastTargets = entries >= 0;
  const shapeProblem = signedProblem(role, raw.signed, fastTargets);
  if (shapeProblem) throw new QuorumError('SCHEMA_INVALID', `${file}: not valid ${role} metadata: ${shapeProblem}`);
  if (d === 'tuf') {
    const problem = tufModelProblem(role, raw.signed, fastTargets);
    if (problem)
      throw new QuorumError(
        'SCHEMA_INVALID',
        `${file}: not valid ${role} metadata: ${problem} (python-tuf's Metadata.from_dict refuses it)`,
      );
  }
  let canonical: Buffer;
  try {
    // Files written by TUF/Uptane tools are canonical but for whitespace: their own bytes, then.
    canonical = canonicalFromBytes(bytes, d) ?? canonicalize(raw.signed, d);
  } catch (e) {
    if (e instanceof QuorumError) throw new QuorumError(e.code, `${file}: signed content ${e.message}`, { cause: e });
    throw e;
  }
  // Keep the parsed object itself (not zod's copy): it is the exact content that was signed.
  return {
    file,
    role,
    dialect: d,
    bytes,
    signed: raw.signed as SignedOf<R>,
    signatures: raw.signatures,
    canonical,
    ...(fastTargets ? { entries } : {}),
  };
}

const isEmpty = (o: object): boolean => {
  for (const _ in o) return false;
  return true;
};

/**
 * What python-tuf's models refuse beyond our shared schema (tuf/api/_payload.py): a version below
 * 1 (Signed, MetaFile) and an empty `hashes` (BaseFile._validate_hashes, TargetFile and MetaFile;
 * for targets countTargets has checked it already when `targetsChecked`).
 * aktualizr accepts both, so the `ota` dialect does not check them.
 */
function tufModelProblem(role: Role, signed: Record<string, unknown>, targetsChecked: boolean): string | null {
  if ((signed.version as number) < 1) return `version ${signed.version as number} must be at least 1`;
  if (role === 'targets' && !targetsChecked) {
    const targets = signed.targets as Record<string, { hashes: object }>;
    for (const name in targets)
      if (isEmpty(targets[name]!.hashes)) return `target ${JSON.stringify(name)} has an empty hashes object`;
  }
  if (role === 'snapshot' || role === 'timestamp') {
    for (const [name, m] of Object.entries(signed.meta as Record<string, MetaFile>)) {
      if (m.version < 1) return `meta ${JSON.stringify(name)} version ${m.version} must be at least 1`;
      if (m.hashes && isEmpty(m.hashes)) return `meta ${JSON.stringify(name)} has an empty hashes object`;
    }
  }
  return null;
}

// --- thresholds ------------------------------------------------------------------------------

export interface RoleKeys {
  keyids: string[];
  threshold: number;
}

export interface ThresholdResult {
  /** Whether the threshold is met: by distinct keys, or (`asClient`) by key ids as the clients count. */
  met: boolean;
  threshold: number;
  /** Distinct keys (by material) the role lists. */
  total: number;
  /** Key ids whose valid signatures counted, one per distinct key. */
  signedBy: string[];
  /** Problems seen on the way; errors only matter when the threshold is unmet. */
  findings: Finding[];
}

/**
 * How a check judges: `asClient` gives the verdict of the client that consumes the dialect
 * (aktualizr for `ota`; python-tuf and tuf-js for `tuf`), where a check of ours that only
 * protects devices becomes a warning. Without it, the coordinator's and the signers' own stricter
 * rules hold (thresholds count distinct keys). docs/reference/dialects.md lists every difference.
 */
export interface CheckOptions {
  asClient?: boolean;
}

/** Signature methods aktualizr accepts (any case); any other fails the whole file (metawithkeys.cc). */
const OTA_METHODS = new Set(['rsassa-pss', 'rsassa-pss-sha256', 'ed25519']);

/**
 * Count role keys with a valid signature over `meta.canonical` (`asClient` in `ota`: over the
 * bytes aktualizr computes). Distinct keys count, by key material; `asClient`, key ids count as
 * aktualizr, python-tuf and tuf-js count them, and one key under several ids is a warning.
 * Signatures by keys outside the role are ignored; a duplicated key id in `signatures` is an
 * error in itself (aktualizr, python-tuf and tuf-js reject such a file), as is an `ota` method
 * aktualizr does not know.
 */
export function checkThreshold(
  meta: Metadata,
  roleName: string,
  role: RoleKeys,
  keys: Record<string, MetadataKey>,
  opts: CheckOptions = {},
): ThresholdResult {
  const findings: Finding[] = [];
  const f = (code: ErrorCode, severity: Severity, message: string) =>
    findings.push({ code, severity, file: meta.file, message });
  const ota = meta.dialect === 'ota';
  const client = !!opts.asClient;
  const roleKeys = new Map<string, PublicKey>();
  const fingerprints = new Set<string>();
  for (const id of role.keyids) {
    const k = keys[id];
    if (!k) continue; // reported once by checkRoot as ROLE_KEY_MISSING
    try {
      const pk = parseMetadataKey(k);
      // aktualizr cannot verify with RSA keys of other sizes: their signatures never count there.
      if (client && ota && !otaUsable(pk)) continue;
      roleKeys.set(id, pk);
      fingerprints.add(pk.fingerprint);
    } catch {
      // reported by checkRoot as KEY_INVALID / KEY_UNSUPPORTED
    }
  }
  const bytes = client && ota ? aktualizrBytes(meta.canonical) : meta.canonical;
  const seenIds = new Set<string>();
  const counted = new Map<string, string>(); // fingerprint -> key id
  let validIds = 0;
  const problems: Finding[] = [];
  const p = (code: ErrorCode, message: string) => problems.push({ code, severity: 'error', file: meta.file, message });
  for (const s of meta.signatures) {
    if (seenIds.has(s.keyid)) {
      f(
        'DUPLICATE_SIGNATURE',
        'error',
        `key ${short(s.keyid)} signs twice; aktualizr, python-tuf and tuf-js reject the whole file, keep one ` +
          'signature per key',
      );
      continue;
    }
    seenIds.add(s.keyid);
    if (ota && !OTA_METHODS.has(String(s.method ?? '').toLowerCase())) {
      f(
        'SIGNATURE_METHOD',
        'error',
        `signature by ${short(s.keyid)} has method ${JSON.stringify(s.method ?? null)}; aktualizr rejects the ` +
          'whole file unless every method is "ed25519" or "rsassa-pss-sha256"',
      );
      continue;
    }
    const pk = roleKeys.get(s.keyid);
    if (!pk) {
      const mk = keys[s.keyid];
      if (mk && role.keyids.includes(s.keyid))
        p(
          ota ? 'OTA_KEY_UNSUPPORTED' : 'KEY_UNSUPPORTED',
          `signature by ${roleName} key ${short(s.keyid)}, which ${ota && client ? 'aktualizr' : 'this tool'} ` +
            'cannot use; it does not count',
        );
      else if (mk)
        p('WRONG_ROLE_KEY', `signature by key ${short(s.keyid)}, which is not a ${roleName} key; it does not count`);
      else p('UNKNOWN_KEY', `signature by key ${short(s.keyid)}, which root does not list; it does not count`);
      continue;
    }
    if (client && ota && pk.algorithm === 'ed25519' && !/^[0-9a-fA-F]*$/.test(keys[s.keyid]!.keyval.public)) {
      f(
        'OTA_KEY_UNSUPPORTED',
        'error',
        `ED25519 key ${short(s.keyid)} is not written as hex; aktualizr fails the whole file when it verifies ` +
          'a signature by it',
      );
      continue;
    }
    const sig = decodeSig(s.sig, meta.dialect);
    if (!sig) {
      p('SIGNATURE_MALFORMED', `signature by ${short(s.keyid)} is not ${ota ? 'base64' : 'hex'}`);
      continue;
    }
    if (!verifySignature(pk, bytes, sig)) {
      const raw = bytes !== meta.canonical && verifySignature(pk, meta.canonical, sig);
      problems.push({
        code: 'SIGNATURE_INVALID',
        severity: 'error',
        file: meta.file,
        message: raw
          ? `signature by ${roleName} key ${short(s.keyid)} is over the UTF-8 form of non-ASCII content, but ` +
            'aktualizr escapes non-ASCII as \\uXXXX and verifies other bytes; keep ota content ASCII'
          : `signature by ${roleName} key ${short(s.keyid)} does not verify over the canonical signed bytes ` +
            '(content changed after signing, or wrong key)',
      });
      continue;
    }
    if (client && ota) {
      const salt = otaSaltProblem(pk, sig);
      if (salt !== null)
        f(
          'OTA_PSS_SALT',
          'warning',
          `RSA-PSS signature by ${short(s.keyid)} has salt length ${salt}: aktualizr accepts it, but the OTA ` +
            `Connect servers verify salt length ${OTA_PSS_SALT} only and refuse the upload; sign again ` +
            `(quorum-signer signs with ${OTA_PSS_SALT})`,
        );
    }
    validIds++;
    if (!counted.has(pk.fingerprint)) counted.set(pk.fingerprint, s.keyid);
  }
  const thresholdValid = Number.isInteger(role.threshold) && role.threshold >= 1;
  const distinctMet = thresholdValid && counted.size >= role.threshold;
  const idsMet = thresholdValid && validIds >= role.threshold;
  const met = client ? idsMet : distinctMet;
  if (met) {
    // Valid anyway; a bad signature by a role key still deserves a look.
    for (const x of problems)
      if (x.code === 'SIGNATURE_INVALID' || x.code === 'SIGNATURE_MALFORMED')
        findings.push({ ...x, severity: 'warning' });
  } else {
    findings.push(...problems);
  }
  if (idsMet && !distinctMet) {
    f(
      'DUPLICATE_KEY_MATERIAL',
      client ? 'warning' : 'error',
      `${validIds} key ids signed but they are only ${counted.size} distinct keys; one key listed under ` +
        `several ids counts once here${client ? ', while aktualizr, python-tuf and tuf-js count key ids and accept it: list each key once' : ''}`,
    );
  }
  return { met, threshold: role.threshold, total: fingerprints.size, signedBy: [...counted.values()], findings };
}

function pushUnique(into: Finding[], from: Finding[]): void {
  for (const x of from) if (!into.some((y) => y.code === x.code && y.message === x.message)) into.push(x);
}

export function short(keyid: string): string {
  return keyid.length > 16 ? keyid.slice(0, 12) + '…' : keyid;
}

// --- root ------------------------------------------------------------------------------------

/**
 * (keytype, scheme) pairs securesystemslib's Key.from_dict knows (signer/__init__.py); python-tuf refuses a root with
 * any other.
 */
const TUF_KEY_PAIRS = new Set([
  'ecdsa/ecdsa-sha2-nistp256',
  'ecdsa/ecdsa-sha2-nistp384',
  'ecdsa/ecdsa-sha2-nistp521',
  'ecdsa-sha2-nistp256/ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384/ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521/ecdsa-sha2-nistp521',
  'ed25519/ed25519',
  ...['sha224', 'sha256', 'sha384', 'sha512'].flatMap((h) => [`rsa/rsassa-pss-${h}`, `rsa/rsa-pkcs1v15-${h}`]),
  'rsa/pgp+rsa-pkcsv1.5',
  'dsa/pgp+dsa-fips-180-2',
  'eddsa/pgp+eddsa-ed25519',
]);

/**
 * Structural checks of a root: required roles, thresholds >= 1, role keys present and usable.
 * `asClient`: what the dialect's client accepts is at most a warning (a key it cannot use, a key id
 * missing from `keys`: both only never count); see CheckOptions.
 */
export function checkRoot(meta: Metadata<'root'>, opts: CheckOptions = {}): Finding[] {
  const out: Finding[] = [];
  const f = (code: ErrorCode, severity: Severity, message: string) =>
    out.push({ code, severity, file: meta.file, message });
  const s = meta.signed as RootSigned;
  const ota = meta.dialect === 'ota';
  const lenient: Severity = opts.asClient ? 'warning' : 'error';
  out.push(...checkSpecVersion(meta));
  if (!ota && typeof s.consistent_snapshot !== 'boolean')
    f('SCHEMA_INVALID', 'error', 'consistent_snapshot must be true or false; tuf-js refuses a root without it');
  for (const [id, k] of Object.entries(s.keys)) {
    const keytype = String(k.keytype);
    if (ota && !['rsa', 'ed25519'].includes(keytype.toLowerCase())) {
      f(
        'OTA_KEY_UNSUPPORTED',
        'error',
        `key ${short(id)} has keytype ${JSON.stringify(k.keytype)}; aktualizr rejects the whole root unless ` +
          'every key is RSA or ED25519',
      );
      continue;
    }
    if (!ota && !TUF_KEY_PAIRS.has(`${keytype}/${String(k.scheme)}`)) {
      f(
        'KEY_UNSUPPORTED',
        'error',
        `key ${short(id)} has keytype/scheme ${keytype}/${String(k.scheme)}, which python-tuf does not know, ` +
          'so it refuses the whole root',
      );
      continue;
    }
    try {
      const pk = parseMetadataKey(k);
      if (ota && !otaUsable(pk))
        f(
          'OTA_KEY_UNSUPPORTED',
          'warning',
          `key ${short(id)} (${pk.algorithm}${pk.bits ? ' ' + pk.bits : ''}) cannot verify anything on ` +
            'aktualizr (RSA 2048/3072/4096 or ED25519 only); its signatures never count',
        );
    } catch (e) {
      f(
        (e as QuorumError<ErrorCode>).code ?? 'KEY_INVALID',
        lenient,
        `key ${short(id)}: ${(e as Error).message}${opts.asClient ? '; the client loads the root anyway, but signatures by this key never count' : ''}`,
      );
    }
  }
  const required: Role[] = ['root', 'targets', 'snapshot', 'timestamp'];
  if (!ota) {
    // python-tuf's Root takes exactly the four top-level roles.
    for (const r of Object.keys(s.roles))
      if (!(required as string[]).includes(r))
        f(
          'ROLE_UNKNOWN',
          'error',
          `roles.${r}: python-tuf refuses a root with roles other than ${required.join(', ')}`,
        );
  }
  for (const r of required) {
    const role = s.roles[r];
    if (!role) {
      // aktualizr needs a role's threshold only when it verifies that role's file: snapshot and
      // timestamp are absent from a director's repository (the file's THRESHOLD_UNMET says the rest).
      const severity = ota && opts.asClient && (r === 'snapshot' || r === 'timestamp') ? 'warning' : 'error';
      f('ROLE_MISSING', severity, `roles.${r} is missing; a root must delegate ${required.join(', ')}`);
      continue;
    }
    const max = ota || !opts.asClient ? LIMITS.maxThreshold : Infinity; // python-tuf and tuf-js set no upper bound
    if (!Number.isInteger(role.threshold) || role.threshold < 1 || role.threshold > max) {
      f(
        'THRESHOLD_INVALID',
        'error',
        `roles.${r}.threshold is ${role.threshold}; it must be ` +
          `${max === Infinity ? 'at least 1' : `between 1 and ${max}`}`,
      );
    }
    if (!ota && new Set(role.keyids).size !== role.keyids.length)
      f('ROLE_KEY_DUPLICATE', 'error', `roles.${r} lists a key id twice; python-tuf and tuf-js refuse the root`);
    for (const id of role.keyids) {
      if (!s.keys[id])
        f(
          'ROLE_KEY_MISSING',
          lenient,
          `roles.${r} names key ${short(id)}, which is not in keys; ` +
            `${opts.asClient ? 'clients skip it (it never counts): ' : ''}add the key or remove the id`,
        );
    }
  }
  return out;
}

/** `tuf` files carry spec_version 1.x.y; clients reject other majors (tuf-js, python-tuf). */
export function checkSpecVersion(meta: Metadata): Finding[] {
  const v = (meta.signed as { spec_version?: unknown }).spec_version;
  if (meta.dialect !== 'tuf' || /^1\.\d+(\.\d+)?$/.test(String(v ?? ''))) return [];
  return [
    {
      code: 'SPEC_VERSION',
      severity: 'error',
      file: meta.file,
      message: `spec_version ${JSON.stringify(v)} must be 1.x.y for TUF 1.0 clients`,
    },
  ];
}

export interface RootStep {
  version: number;
  file: string;
  expires: string;
  /** Threshold of the previous root's root keys (absent for the trust anchor). */
  old?: ThresholdResult;
  /** Threshold of this root's own root keys. */
  self: ThresholdResult;
}

function rootRole(meta: Metadata<'root'>): RoleKeys {
  return (meta.signed as RootSigned).roles.root ?? { keyids: [], threshold: 0 };
}

/**
 * Accept root N+1 given trusted root N (TUF 5.3.4-5.3.5, Uptane 5.4.4.3): the version is exactly
 * N+1, and a threshold of N's root keys AND a threshold of N+1's own root keys signed it.
 */
export function verifyRootUpdate(
  trusted: Metadata<'root'>,
  next: Metadata<'root'>,
  opts: CheckOptions = {},
): { ok: boolean; step: RootStep; findings: Finding[] } {
  const findings: Finding[] = [];
  const ts = trusted.signed as RootSigned;
  const ns = next.signed as RootSigned;
  if (ns.version <= ts.version) {
    findings.push({
      code: 'ROOT_VERSION_ROLLBACK',
      severity: 'error',
      file: next.file,
      message: `root version ${ns.version} is not newer than the trusted version ${ts.version}; roots never go back`,
    });
  } else if (ns.version !== ts.version + 1) {
    findings.push({
      code: 'ROOT_VERSION_SKIP',
      severity: 'error',
      file: next.file,
      message: `root version ${ns.version} follows trusted version ${ts.version}; it must be exactly ${ts.version + 1}`,
    });
  }
  findings.push(...checkRoot(next, opts));
  const old = checkThreshold(next, 'root (old)', rootRole(trusted), ts.keys, opts);
  const self = checkThreshold(next, 'root (new)', rootRole(next), ns.keys, opts);
  pushUnique(findings, old.findings);
  pushUnique(findings, self.findings);
  if (!old.met) {
    findings.push({
      code: 'ROOT_OLD_THRESHOLD_UNMET',
      severity: 'error',
      file: next.file,
      message:
        `signed by ${old.signedBy.length} of the ${old.total} root keys of version ${ts.version}; ` +
        `${old.threshold} required`,
    });
  }
  if (!self.met) {
    findings.push({
      code: 'ROOT_NEW_THRESHOLD_UNMET',
      severity: 'error',
      file: next.file,
      message: `signed by ${self.signedBy.length} of its own ${self.total} root keys; ${self.threshold} required`,
    });
  }
  const ok = !findings.some((x) => x.severity === 'error');
  return { ok, step: { version: ns.version, file: next.file, expires: ns.expires, old, self }, findings };
}

// --- repository ------------------------------------------------------------------------------

export interface FileInput {
  name: string;
  bytes: Buffer;
}

export interface RepositoryInput {
  /** The trust anchor. */
  trustedRoot: FileInput;
  /** Whether the anchor came from the repository itself (trust on first use). */
  tofu?: boolean;
  /** `N.root.json` files by N (may include versions up to and below the anchor). */
  roots: Map<number, FileInput>;
  /** `root.json`, the latest root as served. */
  root?: FileInput;
  targets?: FileInput;
  snapshot?: FileInput;
  timestamp?: FileInput;
  /**
   * Any other file of the repository by its path relative to the folder (delegated roles:
   * `<name>.json`, `<version>.<name>.json`, `delegations/<name>.json`); undefined when absent.
   */
  readFile?: (name: string) => FileInput | undefined;
}

export interface VerifyOptions {
  /** Evaluate expiry at this instant. */
  at: Date;
  dialect?: Dialect;
  /** Warn when a role expires within this many days. */
  warnDays?: number;
  /** Resolve this target path as a client does, through the delegations. */
  target?: string;
}

export interface RoleReport {
  file: string;
  version: number;
  expires: string;
  threshold: number;
  total: number;
  signedBy: string[];
  sha256: string;
  length: number;
  /** For targets: how many targets it lists. */
  targets?: number;
}

/** A delegated targets role, as verified. */
export interface DelegatedReport extends RoleReport {
  name: string;
  /** The roles that delegate to it. */
  delegatedBy: string[];
  /** Delegation steps below targets (1: delegated by targets). */
  depth: number;
}

export interface VerifyReport {
  ok: boolean;
  dialect?: Dialect;
  at: string;
  trustedRoot: { file: string; version: number; tofu: boolean } | null;
  rootChain: RootStep[];
  roles: Partial<Record<Exclude<Role, 'root'>, RoleReport>>;
  /** Delegated targets roles reachable from targets, in pre-order. */
  delegated: DelegatedReport[];
  /** With `target`: how a client resolves it. */
  target?: Resolution;
  errors: Finding[];
  warnings: Finding[];
}

const ROLE_EXPIRED = {
  root: 'ROOT_EXPIRED',
  targets: 'TARGETS_EXPIRED',
  snapshot: 'SNAPSHOT_EXPIRED',
  timestamp: 'TIMESTAMP_EXPIRED',
} as const;

/** Verify a repository as a device would; never throws for bad metadata, only reports. */
export function verifyRepository(input: RepositoryInput, opts: VerifyOptions): VerifyReport {
  const findings: Finding[] = [];
  const report: VerifyReport = {
    ok: false,
    at: opts.at.toISOString(),
    trustedRoot: null,
    rootChain: [],
    roles: {},
    delegated: [],
    errors: [],
    warnings: [],
  };
  const finish = (): VerifyReport => {
    report.errors = findings.filter((x) => x.severity === 'error');
    report.warnings = findings.filter((x) => x.severity === 'warning');
    report.ok = report.errors.length === 0;
    return report;
  };
  const parse = <R extends Role>(file: FileInput, role: R, dialect?: Dialect): Metadata<R> | null => {
    try {
      return parseMetadata(file.bytes, file.name, role, dialect);
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      findings.push({
        code: e.code as ErrorCode,
        severity: 'error',
        file: file.name,
        message: e.message.startsWith(file.name) ? e.message.slice(file.name.length + 2) : e.message,
      });
      return null;
    }
  };

  // TUF 5.3.1-5.3.2: load the trusted root, which must be self-consistent and self-signed.
  let trusted = parse(input.trustedRoot, 'root', opts.dialect);
  if (!trusted) return finish();
  const dialect = trusted.dialect;
  report.dialect = dialect;
  report.trustedRoot = { file: trusted.file, version: (trusted.signed as RootSigned).version, tofu: !!input.tofu };
  if (input.tofu) {
    findings.push({
      code: 'TRUST_ON_FIRST_USE',
      severity: 'warning',
      file: trusted.file,
      message:
        `no --root given: trusting root version ${report.trustedRoot.version} found in the repository on first ` +
        'use; pin a trusted root with --root',
    });
  }
  const client = { asClient: true };
  findings.push(...checkRoot(trusted, client));
  const anchor = checkThreshold(trusted, 'root', rootRole(trusted), (trusted.signed as RootSigned).keys, client);
  report.rootChain.push({
    version: report.trustedRoot.version,
    file: trusted.file,
    expires: (trusted.signed as RootSigned).expires,
    self: anchor,
  });
  findings.push(...anchor.findings);
  if (!anchor.met) {
    findings.push({
      code: 'THRESHOLD_UNMET',
      severity: 'error',
      file: trusted.file,
      message:
        `trusted root is signed by ${anchor.signedBy.length} of its ${anchor.total} root keys; ` +
        `${anchor.threshold} required`,
    });
    return finish();
  }
  if (findings.some((x) => x.severity === 'error')) return finish();

  // TUF 5.3.3-5.3.7: walk N+1.root.json while present; every step needs both thresholds.
  const highest = Math.max(0, ...input.roots.keys());
  for (let v = (trusted.signed as RootSigned).version + 1; v <= highest; v++) {
    const file = input.roots.get(v);
    if (!file) {
      findings.push({
        code: 'ROOT_CHAIN_GAP',
        severity: 'error',
        file: `${v}.root.json`,
        message:
          `missing, but ${highest}.root.json exists; every root version between the trusted one and the newest ` +
          'must be present',
      });
      return finish();
    }
    const next = parse(file, 'root', dialect);
    if (!next) return finish();
    const step = verifyRootUpdate(trusted, next, client);
    findings.push(...step.findings);
    report.rootChain.push(step.step);
    if (!step.ok) return finish();
    trusted = next;
  }

  // root.json is what clients are served as the latest root: it must be the end of the chain.
  const final = trusted.signed as RootSigned;
  if (input.root) {
    const latest = parse(input.root, 'root', dialect);
    if (!latest) return finish();
    const lv = (latest.signed as RootSigned).version;
    if (lv === final.version + 1 && !input.roots.has(lv)) {
      const step = verifyRootUpdate(trusted, latest, client);
      findings.push(...step.findings);
      report.rootChain.push(step.step);
      if (!step.ok) return finish();
      trusted = latest;
    } else if (lv < final.version) {
      findings.push({
        code: 'ROOT_VERSION_ROLLBACK',
        severity: 'error',
        file: latest.file,
        message:
          `root.json is version ${lv}, older than the trusted or newest root ${final.version}; publish the ` +
          'newest root as root.json',
      });
    } else if (lv > final.version) {
      findings.push({
        code: 'ROOT_VERSION_SKIP',
        severity: 'error',
        file: latest.file,
        message: `root.json is version ${lv}, but the chain ends at ${final.version}; add ${final.version + 1}.root.json`,
      });
    } else if (!latest.canonical.equals(trusted.canonical)) {
      findings.push({
        code: 'ROOT_MISMATCH',
        severity: 'error',
        file: latest.file,
        message: `root.json and ${trusted.file} are both version ${lv} but differ; they must be the same root`,
      });
    }
  }
  const root = trusted.signed as RootSigned;

  // TUF 5.3.10: the final root must not be expired (intermediate roots may be).
  checkExpiry(trusted, opts, findings);

  const loaded: Partial<Record<Role, Metadata>> = { root: trusted };
  const roleFile = (role: Exclude<Role, 'root'>): Metadata | null => {
    const file = input[role];
    if (!file) return null;
    const meta = parse(file, role, dialect);
    if (!meta) return null;
    loaded[role] = meta;
    findings.push(...checkSpecVersion(meta));
    const keys = root.roles[role] ?? { keyids: [], threshold: 0 };
    const t = checkThreshold(meta, role, keys, root.keys, client);
    findings.push(...t.findings);
    if (!t.met) {
      findings.push({
        code: 'THRESHOLD_UNMET',
        severity: 'error',
        file: meta.file,
        message: `signed by ${t.signedBy.length} of the ${t.total} ${role} keys; ${t.threshold} required`,
      });
    }
    checkExpiry(meta, opts, findings);
    const s = meta.signed as SignedOf<'targets'>;
    report.roles[role] = {
      file: meta.file,
      version: s.version,
      expires: s.expires,
      threshold: t.threshold,
      total: t.total,
      signedBy: t.signedBy,
      sha256: sha256hex(meta.bytes),
      length: meta.bytes.length,
      ...(role === 'targets' ? { targets: meta.entries ?? Object.keys(s.targets).length } : {}),
    };
    return meta;
  };

  // TUF 5.4 timestamp, 5.5 snapshot, 5.6 targets (Uptane 5.4.4.4-5.4.4.6).
  const timestamp = roleFile('timestamp');
  const snapshot = roleFile('snapshot');
  const targets = roleFile('targets');
  if (timestamp) checkMeta(timestamp, 'snapshot.json', snapshot, input.snapshot, findings, true);
  if (snapshot) {
    checkMeta(snapshot, 'targets.json', targets, input.targets, findings, !!input.targets);
    checkRootEntries(snapshot, trusted, input, findings);
  }
  // TUF 5.6.7 / Uptane 5.4.4.6: every delegated targets role reachable from targets.
  if (targets) {
    const topErrors = findings.filter((x) => x.severity === 'error').map((x) => x.code);
    const states = verifyDelegated({ targets, snapshot, root: trusted, input, opts, findings, report, parse });
    if (opts.target !== undefined) resolveFor(opts.target, dialect, states, topErrors, targets.file, findings, report);
  } else if (opts.target !== undefined) {
    findings.push({
      code: 'TARGET_NOT_FOUND',
      severity: 'error',
      file: 'targets.json',
      message: `cannot resolve ${JSON.stringify(opts.target)}: there is no usable targets.json`,
    });
  }

  if (dialect === 'ota') otaChecks(loaded, input, findings);
  return finish();
}

interface DelegatedState {
  meta: Metadata | null;
  delegations: Delegations | null;
  /** Error codes that make a client refuse this role. */
  problems: ErrorCode[];
  expired: boolean;
}

interface DelegatedContext {
  targets: Metadata;
  snapshot: Metadata | null;
  root: Metadata<'root'>;
  input: RepositoryInput;
  opts: VerifyOptions;
  findings: Finding[];
  report: VerifyReport;
  parse: <R extends Role>(file: FileInput, role: R, dialect?: Dialect) => Metadata<R> | null;
}

/**
 * Load and verify every delegated targets role reachable from targets, once each, in pre-order:
 * the delegating file's `delegations` as the client reads it, the snapshot entry naming the role
 * (version, length, hashes), the file under the name clients ask for, a threshold of the
 * delegated keys, expiry, and targets the client can never reach through the delegation.
 * Returns every role's state, for resolving a target afterwards.
 */
function verifyDelegated(ctx: DelegatedContext): Map<string, DelegatedState> {
  const { targets, snapshot, input, opts, findings, report, parse } = ctx;
  const dialect = targets.dialect;
  const client = { asClient: true };
  const consistent = dialect === 'tuf' && (ctx.root.signed as RootSigned).consistent_snapshot === true;
  const states = new Map<string, DelegatedState>();
  states.set('targets', { meta: targets, delegations: null, problems: [], expired: false });
  const reports = new Map<string, DelegatedReport>();
  let total = 0;
  const push = (code: ErrorCode, severity: Severity, file: string, message: string) =>
    findings.push({ code, severity, file, message });

  const visit = (parentName: string, parent: Metadata, depth: number): void => {
    const state = states.get(parentName)!;
    const raw = (parent.signed as { delegations?: unknown }).delegations;
    if (raw === undefined) return;
    const read = readDelegations(raw, dialect);
    const problems = [...read.problems, ...(dialect === 'tuf' ? delegationKeyProblems(raw) : [])];
    for (const p of problems) {
      push('DELEGATION_INVALID', 'error', parent.file, `${p}; clients refuse ${parent.file} with it`);
      state.problems.push('DELEGATION_INVALID');
    }
    for (const w of read.warnings) push('DELEGATION_PATTERN', 'warning', parent.file, w);
    if (problems.length || !read.delegations) return;
    const d = read.delegations;
    state.delegations = d;
    const n = roleCount(d);
    if (total + n > LIMITS.maxDelegatedRoles) {
      push(
        'DELEGATION_LIMIT',
        'error',
        parent.file,
        `delegates to ${n} roles, which makes more than ${LIMITS.maxDelegatedRoles} delegated roles in all; ` +
          'this tool verifies no more (use fewer hash bins)',
      );
      state.problems.push('DELEGATION_LIMIT');
      return;
    }
    total += n;
    for (const child of delegatedRoles(d)) {
      const seen = reports.get(child.name);
      if (seen || child.name === 'targets') {
        // Delegated again (or a cycle): clients keep the first copy they loaded; it must also
        // carry a threshold of this delegation's keys.
        const st = states.get(child.name);
        if (seen && st?.meta) {
          seen.delegatedBy.push(parentName);
          const t = checkThreshold(st.meta, child.name, child, d.keys, client);
          if (!t.met) {
            push(
              'THRESHOLD_UNMET',
              'error',
              st.meta.file,
              `signed by ${t.signedBy.length} of the ${t.total} keys ${parentName} delegates ${child.name} to; ` +
                `${t.threshold} required`,
            );
            st.problems.push('THRESHOLD_UNMET');
          }
        }
        continue;
      }
      const st = loadChild(child, parentName, d, depth + 1);
      states.set(child.name, st);
      if (st.meta) visit(child.name, st.meta, depth + 1);
    }
  };

  const loadChild = (
    child: { name: string; keyids: string[]; threshold: number },
    parentName: string,
    d: Delegations,
    depth: number,
  ): DelegatedState => {
    const before = findings.length;
    const st: DelegatedState = { meta: null, delegations: null, problems: [], expired: false };
    const done = (): DelegatedState => {
      for (const x of findings.slice(before)) if (x.severity === 'error') st.problems.push(x.code);
      st.expired = st.problems.includes('TARGETS_EXPIRED');
      return st;
    };
    const metaName = `${child.name}.json`;
    const entry = snapshot ? getOwn((snapshot.signed as SignedOf<'snapshot'>).meta, metaName) : undefined;
    if (snapshot && !entry) {
      push(
        'META_MISSING',
        'error',
        snapshot.file,
        `meta does not name ${metaName}, which ${parentName} delegates to; clients refuse to load the role`,
      );
    }
    const fileName = delegatedFileName(child.name, dialect, consistent && entry ? entry.version : undefined);
    const file = input.readFile?.(fileName);
    if (!file) {
      push(
        'DELEGATED_FILE_MISSING',
        'error',
        fileName,
        `not present, but ${parentName} delegates to ${child.name}; clients ask for this file` +
          (consistent ? ' (consistent snapshots: <version>.<name>.json)' : ''),
      );
      return done();
    }
    const meta = parse(file, 'targets', dialect);
    if (!meta) return done();
    st.meta = meta;
    if (snapshot && entry) checkMeta(snapshot, metaName, meta, file, findings, true);
    findings.push(...checkSpecVersion(meta));
    const t = checkThreshold(meta, child.name, child, d.keys, client);
    findings.push(...t.findings);
    if (!t.met) {
      push(
        'THRESHOLD_UNMET',
        'error',
        meta.file,
        `signed by ${t.signedBy.length} of the ${t.total} keys ${parentName} delegates ${child.name} to; ` +
          `${t.threshold} required`,
      );
    }
    checkExpiry(meta, opts, findings, child.name);
    const s = meta.signed as SignedOf<'targets'>;
    const unreachable: string[] = [];
    let count = 0;
    for (const path in s.targets) {
      count++;
      if (!edgeDelegates(d, child.name, path, dialect)) unreachable.push(path);
    }
    if (unreachable.length) {
      push(
        'DELEGATED_TARGET_UNREACHABLE',
        'warning',
        meta.file,
        `${unreachable.length} target(s) outside what ${parentName} delegates to ${child.name} ` +
          `(${unreachable
            .slice(0, 3)
            .map((x) => JSON.stringify(x))
            .join(', ')}${unreachable.length > 3 ? ', …' : ''}); clients never look for them here`,
      );
    }
    if (dialect === 'ota' && depth > OTA_MAX_DEPTH) {
      push(
        'DELEGATION_LIMIT',
        'warning',
        meta.file,
        `${child.name} is ${depth} delegations below targets; aktualizr never looks deeper than ${OTA_MAX_DEPTH}, ` +
          'so devices never find its targets',
      );
    }
    const r: DelegatedReport = {
      name: child.name,
      delegatedBy: [parentName],
      depth,
      file: meta.file,
      version: s.version,
      expires: s.expires,
      threshold: t.threshold,
      total: t.total,
      signedBy: t.signedBy,
      sha256: sha256hex(file.bytes),
      length: file.bytes.length,
      targets: meta.entries ?? count,
    };
    reports.set(child.name, r);
    report.delegated.push(r);
    return done();
  };

  visit('targets', targets, 0);
  return states;
}

/** python-tuf refuses a delegating file whose delegation keys it cannot load (as for root). */
function delegationKeyProblems(raw: unknown): string[] {
  const keys = (raw as { keys?: Record<string, MetadataKey> }).keys;
  const out: string[] = [];
  for (const [id, k] of Object.entries(keys ?? {}))
    if (!TUF_KEY_PAIRS.has(`${String(k.keytype)}/${String(k.scheme)}`))
      out.push(
        `delegations.keys: key ${short(id)} has keytype/scheme ${String(k.keytype)}/${String(k.scheme)}, unknown to python-tuf`,
      );
  return out;
}

/** Resolve `path` as the client does over the verified roles, and report the outcome. */
function resolveFor(
  path: string,
  dialect: Dialect,
  states: Map<string, DelegatedState>,
  topErrors: ErrorCode[],
  targetsFile: string,
  findings: Finding[],
  report: VerifyReport,
): void {
  const load = (name: string): LoadedRole => {
    const st = states.get(name);
    if (!st?.meta)
      return { ok: false, reason: st ? [...new Set(st.problems)].join(', ') || 'not loaded' : 'not loaded' };
    const problems = [...new Set(name === 'targets' ? [...topErrors, ...st.problems] : st.problems)];
    const expired = st.expired;
    const blocking =
      dialect === 'ota' && name !== 'targets' ? problems.filter((c) => c !== 'TARGETS_EXPIRED') : problems;
    if (blocking.length) return { ok: false, reason: blocking.join(', '), expired };
    const targets = (st.meta.signed as SignedOf<'targets'>).targets as Record<string, unknown>;
    return { ok: true, targets, delegations: st.delegations, expired };
  };
  const res = resolveTarget(path, dialect, load);
  report.target = res;
  if (res.chain) return;
  const looked = res.steps.map((s) => `${s.role} (${s.outcome})`).join(', ');
  if (res.refusedBy) {
    findings.push({
      code: 'TARGET_REFUSED',
      severity: 'error',
      file: res.refusedBy.role === 'targets' ? targetsFile : res.refusedBy.role,
      message:
        `a client looking up ${JSON.stringify(path)} refuses role ${res.refusedBy.role} (${res.refusedBy.reason}) ` +
        `and stops; looked in ${looked}`,
    });
    return;
  }
  findings.push({
    code: 'TARGET_NOT_FOUND',
    severity: 'error',
    file: targetsFile,
    message:
      `no role vouches for ${JSON.stringify(path)}; looked in ${looked}` +
      (res.limitHit
        ? `, then stopped at the client's limit (${dialect === 'ota' ? `depth ${OTA_MAX_DEPTH}` : '32 delegated roles'})`
        : ''),
  });
}

/**
 * python-tuf's `datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ")`: case-insensitive, one or two
 * digits for every field but the year, and a real date and time (seconds 0-59). Null when it raises.
 */
export function pythonExpires(s: string): Date | null {
  const m =
    /^(\d{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])t(2[0-3]|[0-1]\d|\d):([0-5]\d|\d):(6[0-1]|[0-5]\d|\d)z/i.exec(
      s,
    );
  if (!m || m[0].length !== s.length) return null;
  const [y, mo, d, h, mi, sec] = m.slice(1).map((x) => Number(x.trim())) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(2000, mo - 1, d, h, mi, sec));
  date.setUTCFullYear(y);
  if (
    y < 1 ||
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCSeconds() !== sec
  )
    return null;
  return date;
}

/**
 * Expiry as the dialect's client reads it. `ota` (aktualizr's TimeStamp): any 20 characters ending
 * in Z, compared as text with the current time (so expired only strictly after the instant).
 * `tuf` (python-tuf): strptime, expired from the instant on. Anything else the client would read
 * is a warning; the canonical form is YYYY-MM-DDTHH:MM:SSZ.
 */
function checkExpiry(meta: Metadata, opts: VerifyOptions, findings: Finding[], label: string = meta.role): void {
  const expires = (meta.signed as { expires: string }).expires;
  const push = (code: ErrorCode, severity: Severity, message: string): void =>
    void findings.push({ code, severity, file: meta.file, message });
  const parsed = EXPIRES_RE.test(expires) ? Date.parse(expires) : NaN;
  const canonical = !Number.isNaN(parsed) && formatExpires(new Date(parsed)) === expires;
  let t: number | null = canonical ? parsed : null;
  let expired: boolean;
  if (meta.dialect === 'ota') {
    if (expires.length !== 20 || !expires.endsWith('Z')) {
      return push(
        'EXPIRES_FORMAT',
        'error',
        `expires ${JSON.stringify(expires)} must be YYYY-MM-DDTHH:MM:SSZ: aktualizr refuses anything but 20 ` +
          'characters ending in Z',
      );
    }
    if (!canonical)
      push(
        'EXPIRES_FORMAT',
        'warning',
        `expires ${JSON.stringify(expires)} is not a real time written YYYY-MM-DDTHH:MM:SSZ; aktualizr ` +
          'compares it with the current time as text, write a real time',
      );
    expired = expires < formatExpires(opts.at);
  } else {
    const d = pythonExpires(expires);
    if (!d)
      return push(
        'EXPIRES_FORMAT',
        'error',
        `expires ${JSON.stringify(expires)} must be YYYY-MM-DDTHH:MM:SSZ: python-tuf's strptime refuses it`,
      );
    if (!canonical)
      push(
        'EXPIRES_FORMAT',
        'warning',
        `expires ${JSON.stringify(expires)} is read by python-tuf as ${formatExpires(d)}; write it in that ` +
          'form (YYYY-MM-DDTHH:MM:SSZ)',
      );
    t = d.getTime();
    expired = t <= opts.at.getTime();
  }
  if (expired) {
    push(
      ROLE_EXPIRED[meta.role],
      'error',
      `${label} expired at ${expires} (evaluated at ${opts.at.toISOString()}); re-sign it with a later expiry`,
    );
  } else if (t !== null && t - opts.at.getTime() < (opts.warnDays ?? 14) * DAY_MS) {
    push('EXPIRES_SOON', 'warning', `${label} expires at ${expires}, within ${opts.warnDays ?? 14} days`);
  }
}

/**
 * Hash algorithms both python-tuf (securesystemslib) and tuf-js (node:crypto) compute; they refuse a file naming any
 * other.
 */
const TUF_HASHES = new Set(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']);
/** The hash algorithms aktualizr checks (any case); it ignores every other. */
const OTA_HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };

/**
 * The bytes aktualizr hashes for a file that snapshot or timestamp names: the JsonCpp canonical
 * form of the whole document (ImageRepository::verifySnapshot, verifyRoleHashes), not the bytes
 * received. Equal to the file when it is served canonical, as OTA Connect serves it.
 */
function otaHashedBytes(file: FileInput, meta: Metadata | null): Buffer | null {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(file.bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return null; // reported where the file itself is parsed
  }
  try {
    const keys = doc && typeof doc === 'object' ? Object.keys(doc) : [];
    if (meta && keys.length === 2 && keys.includes('signatures') && keys.includes('signed')) {
      // {"signatures":...,"signed":...} with `signed` already canonical.
      return aktualizrBytes(
        Buffer.concat([
          Buffer.from('{"signatures":'),
          canonicalize(doc.signatures, 'ota'),
          Buffer.from(',"signed":'),
          meta.canonical,
          Buffer.from('}'),
        ]),
      );
    }
    return aktualizrBytes(canonicalize(doc, 'ota'));
  } catch {
    return null; // no canonical form: reported where the file itself is parsed
  }
}

/**
 * A version/length/hashes entry in snapshot or timestamp `meta` must match the file, as the
 * dialect's client checks it (TUF 5.5.2, 5.6.2; Uptane 5.4.4.5-6; aktualizr imagerepository.cc).
 * `tuf`: length and hashes of the bytes received, every algorithm named must be computable. `ota`:
 * hashes (sha256, sha512) of the canonical form; the timestamp's length is the most aktualizr
 * downloads; the snapshot's targets length is never checked by aktualizr (a warning here).
 */
function checkMeta(
  owner: Metadata,
  name: string,
  target: Metadata | null,
  file: FileInput | undefined,
  findings: Finding[],
  required: boolean,
): void {
  const entry = (owner.signed as SignedOf<'snapshot'>).meta[name] as MetaFile | undefined;
  const f = (code: ErrorCode, message: string, severity: Severity = 'error') =>
    findings.push({ code, severity, file: owner.file, message });
  const ota = owner.dialect === 'ota';
  if (!entry) {
    if (required) f('META_MISSING', `meta does not name ${name}; it must`);
    return;
  }
  if (ota && owner.role === 'timestamp') {
    const hashes = entry.hashes ?? {};
    if (!Number.isInteger(entry.length) || !Object.keys(hashes).some((a) => OTA_HASHES[a.toLowerCase()])) {
      f(
        'META_INCOMPLETE',
        `names ${name} without a length and a sha256 or sha512 hash; aktualizr refuses such a timestamp`,
      );
    }
  }
  if (!file) return;
  const version = target ? (target.signed as { version: number }).version : null;
  if (version !== null && entry.version !== version) {
    f(
      'META_VERSION_MISMATCH',
      `names ${name} version ${entry.version}, but ${file.name} is version ${version}; re-sign ${owner.role} ` +
        `over the current ${name}`,
    );
  }
  if (entry.length !== undefined && entry.length !== file.bytes.length) {
    const message = `names ${name} with length ${entry.length}, but ${file.name} is ${file.bytes.length} bytes`;
    if (!ota) f('META_LENGTH_MISMATCH', message);
    else if (owner.role === 'snapshot')
      f('META_LENGTH_MISMATCH', `${message}; aktualizr never checks this length, other clients do`, 'warning');
    else if (file.bytes.length > entry.length)
      f('META_LENGTH_MISMATCH', `${message}; aktualizr downloads at most ${entry.length} bytes of it and fails`);
    else
      f(
        'META_LENGTH_MISMATCH',
        `${message}; aktualizr takes it as an upper bound and accepts the smaller file`,
        'warning',
      );
  }
  const hashed = ota ? otaHashedBytes(file, target) : file.bytes;
  for (const [alg, want] of Object.entries(entry.hashes ?? {})) {
    if (ota) {
      const h = OTA_HASHES[alg.toLowerCase()];
      if (!h || !hashed) continue;
      const got = crypto.createHash(h).update(hashed).digest('hex');
      if (got !== want.toLowerCase())
        f(
          'META_HASH_MISMATCH',
          `names ${name} with ${alg} ${short(want)}, but the canonical form of ${file.name}, which aktualizr ` +
            `hashes, is ${short(got)}`,
        );
    } else if (!TUF_HASHES.has(alg)) {
      f(
        'META_HASH_UNSUPPORTED',
        `names ${name} with a ${JSON.stringify(alg)} hash, which python-tuf or tuf-js cannot compute, so they ` +
          'refuse the file; use sha256 or sha512',
      );
    } else {
      const got = crypto.createHash(alg).update(hashed!).digest('hex');
      if (got !== want)
        f(
          'META_HASH_MISMATCH',
          `names ${name} with ${alg} ${short(want)}, but ${file.name} hashes to ${short(got)}${got === want.toLowerCase() ? ' (clients compare lowercase hex exactly)' : ''}`,
        );
    }
  }
}

/**
 * Snapshot entries for root.json or N.root.json: older TUF tooling writes them and live
 * repositories still carry them, but no TUF 1.0 client checks them (client workflow 5.5 names only
 * targets and delegated roles) and neither does aktualizr. Once root rotates they go stale; a
 * warning says so, never an error.
 */
function checkRootEntries(
  snapshot: Metadata,
  latest: Metadata<'root'>,
  input: RepositoryInput,
  findings: Finding[],
): void {
  const meta = (snapshot.signed as SignedOf<'snapshot'>).meta;
  for (const name of Object.keys(meta)) {
    const m = /^(?:(\d+)\.)?root\.json$/.exec(name);
    if (!m) continue;
    const file = m[1] ? input.roots.get(Number(m[1])) : input.root;
    const scratch: Finding[] = [];
    if (file) checkMeta(snapshot, name, m[1] ? null : latest, file, scratch, false);
    const words: Partial<Record<ErrorCode, string>> = {
      META_VERSION_MISMATCH: 'version',
      META_LENGTH_MISMATCH: 'length',
      META_HASH_MISMATCH: 'hash',
    };
    const stale = scratch.map((x) => words[x.code]).filter((w): w is string => !!w);
    findings.push({
      code: 'SNAPSHOT_LISTS_ROOT',
      severity: 'warning',
      file: snapshot.file,
      message:
        `meta names ${name}${stale.length ? `, with another ${[...new Set(stale)].join(', ')} than ${file!.name} has` : ''}; ` +
        'clients never check this entry (TUF 1.0 client workflow 5.5, aktualizr), so it is ignored here too; ' +
        'newer tools leave root out of snapshot',
    });
  }
}

/** aktualizr's download limits (uptane/fetcher.h), and its escaping of non-ASCII content. */
function otaChecks(loaded: Partial<Record<Role, Metadata>>, input: RepositoryInput, findings: Finding[]): void {
  const files: [FileInput | undefined, number][] = [
    [input.root, LIMITS.otaRootBytes],
    [input.targets, LIMITS.otaImageTargetsBytes],
    [input.snapshot, LIMITS.otaSnapshotBytes],
    [input.timestamp, LIMITS.otaTimestampBytes],
  ];
  for (const [k, v] of input.roots) if (k >= 1) files.push([v, LIMITS.otaRootBytes]);
  for (const [file, limit] of files) {
    if (file && file.bytes.length > limit) {
      findings.push({
        code: 'OTA_SIZE_LIMIT',
        severity: 'error',
        file: file.name,
        message:
          `${file.bytes.length} bytes is above aktualizr's limit of ${limit} bytes: devices stop the download ` +
          'and refuse it',
      });
    }
  }
  for (const meta of Object.values(loaded)) {
    if (meta && !isAscii(meta.canonical)) {
      findings.push({
        code: 'OTA_NON_ASCII',
        severity: 'warning',
        file: meta.file,
        message:
          'signed content is not ASCII: aktualizr verifies signatures over it with non-ASCII escaped as ' +
          '\\uXXXX, ota-tuf refuses it, and other tools sign the UTF-8 form; keep ota content ASCII',
      });
    }
  }
}
