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
import { canonicalize, type Dialect } from './canonical.js';
import { QuorumError, type ErrorCode } from './errors.js';
import { decodeSig, otaUsable, parseMetadataKey, sha256hex, verifySignature, type MetadataKey, type PublicKey } from './keys.js';
import {
  EXPIRES_RE,
  EnvelopeSchema,
  SIGNED_SCHEMAS,
  countTargets,
  detectType,
  formatExpires,
  typeName,
  type MetaFile,
  type Role,
  type RootSigned,
  type SignatureT,
  type SignedOf,
} from './metadata/schemas.js';
import { LIMITS } from './limits.js';

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
  const env = EnvelopeSchema.safeParse(json);
  if (!env.success) throw new QuorumError('SCHEMA_INVALID', `${file}: not TUF/Uptane metadata: ${summarise(env.error)}`);
  const raw = json as { signed: Record<string, unknown>; signatures: SignatureT[] };
  const type = raw.signed._type;
  const detected = detectType(type);
  const d = dialect ?? detected?.dialect;
  if (!d) {
    throw new QuorumError('DIALECT_UNKNOWN', `${file}: _type ${JSON.stringify(type)} names no known role in either dialect; expected ${JSON.stringify(typeName(role, 'ota'))} (ota) or ${JSON.stringify(role)} (tuf)`);
  }
  const want = typeName(role, d);
  // aktualizr compares the root _type case-insensitively; every other role must match exactly.
  const typeOk = role === 'root' && d === 'ota' ? typeof type === 'string' && type.toLowerCase() === 'root' : type === want;
  if (!typeOk) {
    if (detected && detected.role === role && detected.dialect !== d) {
      throw new QuorumError('DIALECT_MISMATCH', `${file}: _type ${JSON.stringify(type)} is the ${detected.dialect} dialect, but this repository is ${d}; write ${JSON.stringify(want)}`);
    }
    throw new QuorumError('WRONG_TYPE', `${file}: _type is ${JSON.stringify(type)}, must be exactly ${JSON.stringify(want)} in the ${d} dialect`);
  }
  // Targets maps are checked by the equivalent fast predicate; zod runs on the rest, and on the
  // whole only when the predicate fails, to say what is wrong.
  const entries = role === 'targets' ? countTargets(raw.signed.targets) : -1;
  const fastTargets = entries >= 0;
  const parsed = SIGNED_SCHEMAS[role].safeParse(fastTargets ? { ...raw.signed, targets: {} } : raw.signed);
  if (!parsed.success) throw new QuorumError('SCHEMA_INVALID', `${file}: not valid ${role} metadata: ${summarise(parsed.error)}`);
  let canonical: Buffer;
  try {
    canonical = canonicalize(raw.signed, d);
  } catch (e) {
    if (e instanceof QuorumError) throw new QuorumError(e.code, `${file}: signed content ${e.message}`, { cause: e });
    throw e;
  }
  // Keep the parsed object itself (not zod's copy): it is the exact content that was signed.
  return { file, role, dialect: d, bytes, signed: raw.signed as SignedOf<R>, signatures: raw.signatures, canonical, ...(fastTargets ? { entries } : {}) };
}

function summarise(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(top)'}: ${i.message}`)
    .join('; ');
}

// --- thresholds ------------------------------------------------------------------------------

export interface RoleKeys {
  keyids: string[];
  threshold: number;
}

export interface ThresholdResult {
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
 * Count distinct role keys (by key material) with a valid signature over `meta.canonical`.
 * Signatures by keys outside the role are ignored; a duplicated key id in `signatures` is an
 * error in itself because aktualizr rejects such a file.
 */
export function checkThreshold(meta: Metadata, roleName: string, role: RoleKeys, keys: Record<string, MetadataKey>): ThresholdResult {
  const findings: Finding[] = [];
  const f = (code: ErrorCode, severity: Severity, message: string) => findings.push({ code, severity, file: meta.file, message });
  const roleKeys = new Map<string, PublicKey>();
  const fingerprints = new Set<string>();
  for (const id of role.keyids) {
    const k = keys[id];
    if (!k) continue; // reported once by checkRoot as ROLE_KEY_MISSING
    try {
      const pk = parseMetadataKey(k);
      roleKeys.set(id, pk);
      fingerprints.add(pk.fingerprint);
    } catch {
      // reported by checkRoot as KEY_INVALID / KEY_UNSUPPORTED
    }
  }
  const seenIds = new Set<string>();
  const counted = new Map<string, string>(); // fingerprint -> key id
  let validIds = 0;
  const problems: Finding[] = [];
  const p = (code: ErrorCode, message: string) => problems.push({ code, severity: 'error', file: meta.file, message });
  for (const s of meta.signatures) {
    if (seenIds.has(s.keyid)) {
      f('DUPLICATE_SIGNATURE', 'error', `key ${short(s.keyid)} signs twice; aktualizr rejects the whole file, keep one signature per key`);
      continue;
    }
    seenIds.add(s.keyid);
    const pk = roleKeys.get(s.keyid);
    if (!pk) {
      if (keys[s.keyid]) p('WRONG_ROLE_KEY', `signature by key ${short(s.keyid)}, which is not a ${roleName} key; it does not count`);
      else p('UNKNOWN_KEY', `signature by key ${short(s.keyid)}, which root does not list; it does not count`);
      continue;
    }
    const sig = decodeSig(s.sig, meta.dialect);
    if (!sig) {
      p('SIGNATURE_MALFORMED', `signature by ${short(s.keyid)} is not ${meta.dialect === 'ota' ? 'base64' : 'hex'}`);
      continue;
    }
    if (!verifySignature(pk, meta.canonical, sig)) {
      problems.push({ code: 'SIGNATURE_INVALID', severity: 'error', file: meta.file, message: `signature by ${roleName} key ${short(s.keyid)} does not verify over the canonical signed bytes (content changed after signing, or wrong key)` });
      continue;
    }
    validIds++;
    if (!counted.has(pk.fingerprint)) counted.set(pk.fingerprint, s.keyid);
  }
  const thresholdValid = Number.isInteger(role.threshold) && role.threshold >= 1;
  const met = thresholdValid && counted.size >= role.threshold;
  if (met) {
    // Valid anyway; a bad signature by a role key still deserves a look.
    for (const x of problems) if (x.code === 'SIGNATURE_INVALID' || x.code === 'SIGNATURE_MALFORMED') findings.push({ ...x, severity: 'warning' });
  } else {
    findings.push(...problems);
    if (thresholdValid && validIds >= role.threshold && counted.size < role.threshold) {
      f('DUPLICATE_KEY_MATERIAL', 'error', `${validIds} key ids signed but they are only ${counted.size} distinct keys; one key listed under several ids counts once`);
    }
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

/** Structural checks of a root: required roles, thresholds >= 1, role keys present and usable. */
export function checkRoot(meta: Metadata<'root'>): Finding[] {
  const out: Finding[] = [];
  const f = (code: ErrorCode, severity: Severity, message: string) => out.push({ code, severity, file: meta.file, message });
  const s = meta.signed as RootSigned;
  out.push(...checkSpecVersion(meta));
  for (const [id, k] of Object.entries(s.keys)) {
    try {
      const pk = parseMetadataKey(k);
      if (meta.dialect === 'ota' && !otaUsable(pk)) f('OTA_KEY_UNSUPPORTED', 'warning', `key ${short(id)} (${pk.algorithm}${pk.bits ? ' ' + pk.bits : ''}) cannot be used by aktualizr, which rejects the whole root; use ED25519 or RSA 2048/3072/4096`);
    } catch (e) {
      f((e as QuorumError).code ?? 'KEY_INVALID', 'error', `key ${short(id)}: ${(e as Error).message}`);
    }
  }
  const required: Role[] = ['root', 'targets', 'snapshot', 'timestamp'];
  for (const r of required) {
    const role = s.roles[r];
    if (!role) {
      f('ROLE_MISSING', 'error', `roles.${r} is missing; a root must delegate ${required.join(', ')}`);
      continue;
    }
    if (!Number.isInteger(role.threshold) || role.threshold < 1 || role.threshold > LIMITS.maxThreshold) {
      f('THRESHOLD_INVALID', 'error', `roles.${r}.threshold is ${role.threshold}; it must be between 1 and ${LIMITS.maxThreshold}`);
    }
    for (const id of role.keyids) {
      if (!s.keys[id]) f('ROLE_KEY_MISSING', 'error', `roles.${r} names key ${short(id)}, which is not in keys; add the key or remove the id`);
    }
  }
  return out;
}

/** `tuf` files carry spec_version 1.x.y; clients reject other majors (tuf-js, python-tuf). */
export function checkSpecVersion(meta: Metadata): Finding[] {
  const v = (meta.signed as { spec_version?: unknown }).spec_version;
  if (meta.dialect !== 'tuf' || /^1\.\d+(\.\d+)?$/.test(String(v ?? ''))) return [];
  return [{ code: 'SPEC_VERSION', severity: 'error', file: meta.file, message: `spec_version ${JSON.stringify(v)} must be 1.x.y for TUF 1.0 clients` }];
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
export function verifyRootUpdate(trusted: Metadata<'root'>, next: Metadata<'root'>): { ok: boolean; step: RootStep; findings: Finding[] } {
  const findings: Finding[] = [];
  const ts = trusted.signed as RootSigned;
  const ns = next.signed as RootSigned;
  if (ns.version <= ts.version) {
    findings.push({ code: 'ROOT_VERSION_ROLLBACK', severity: 'error', file: next.file, message: `root version ${ns.version} is not newer than the trusted version ${ts.version}; roots never go back` });
  } else if (ns.version !== ts.version + 1) {
    findings.push({ code: 'ROOT_VERSION_SKIP', severity: 'error', file: next.file, message: `root version ${ns.version} follows trusted version ${ts.version}; it must be exactly ${ts.version + 1}` });
  }
  findings.push(...checkRoot(next));
  const old = checkThreshold(next, 'root (old)', rootRole(trusted), ts.keys);
  const self = checkThreshold(next, 'root (new)', rootRole(next), ns.keys);
  pushUnique(findings, old.findings);
  pushUnique(findings, self.findings);
  if (!old.met) {
    findings.push({ code: 'ROOT_OLD_THRESHOLD_UNMET', severity: 'error', file: next.file, message: `signed by ${old.signedBy.length} of the ${old.total} root keys of version ${ts.version}; ${old.threshold} required` });
  }
  if (!self.met) {
    findings.push({ code: 'ROOT_NEW_THRESHOLD_UNMET', severity: 'error', file: next.file, message: `signed by ${self.signedBy.length} of its own ${self.total} root keys; ${self.threshold} required` });
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
}

export interface VerifyOptions {
  /** Evaluate expiry at this instant. */
  at: Date;
  dialect?: Dialect;
  /** Warn when a role expires within this many days. */
  warnDays?: number;
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

export interface VerifyReport {
  ok: boolean;
  dialect?: Dialect;
  at: string;
  trustedRoot: { file: string; version: number; tofu: boolean } | null;
  rootChain: RootStep[];
  roles: Partial<Record<Exclude<Role, 'root'>, RoleReport>>;
  errors: Finding[];
  warnings: Finding[];
}

const ROLE_EXPIRED = { root: 'ROOT_EXPIRED', targets: 'TARGETS_EXPIRED', snapshot: 'SNAPSHOT_EXPIRED', timestamp: 'TIMESTAMP_EXPIRED' } as const;
const DAY_MS = 86_400_000;

/** Verify a repository as a device would; never throws for bad metadata, only reports. */
export function verifyRepository(input: RepositoryInput, opts: VerifyOptions): VerifyReport {
  const findings: Finding[] = [];
  const report: VerifyReport = { ok: false, at: opts.at.toISOString(), trustedRoot: null, rootChain: [], roles: {}, errors: [], warnings: [] };
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
      findings.push({ code: e.code as ErrorCode, severity: 'error', file: file.name, message: e.message.startsWith(file.name) ? e.message.slice(file.name.length + 2) : e.message });
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
    findings.push({ code: 'TRUST_ON_FIRST_USE', severity: 'warning', file: trusted.file, message: `no --root given: trusting root version ${report.trustedRoot.version} found in the repository on first use; pin a trusted root with --root` });
  }
  findings.push(...checkRoot(trusted));
  const anchor = checkThreshold(trusted, 'root', rootRole(trusted), (trusted.signed as RootSigned).keys);
  report.rootChain.push({ version: report.trustedRoot.version, file: trusted.file, expires: (trusted.signed as RootSigned).expires, self: anchor });
  findings.push(...anchor.findings);
  if (!anchor.met) {
    findings.push({ code: 'THRESHOLD_UNMET', severity: 'error', file: trusted.file, message: `trusted root is signed by ${anchor.signedBy.length} of its ${anchor.total} root keys; ${anchor.threshold} required` });
    return finish();
  }
  if (findings.some((x) => x.severity === 'error')) return finish();

  // TUF 5.3.3-5.3.7: walk N+1.root.json while present; every step needs both thresholds.
  const highest = Math.max(0, ...input.roots.keys());
  for (let v = (trusted.signed as RootSigned).version + 1; v <= highest; v++) {
    const file = input.roots.get(v);
    if (!file) {
      findings.push({ code: 'ROOT_CHAIN_GAP', severity: 'error', file: `${v}.root.json`, message: `missing, but ${highest}.root.json exists; every root version between the trusted one and the newest must be present` });
      return finish();
    }
    const next = parse(file, 'root', dialect);
    if (!next) return finish();
    const step = verifyRootUpdate(trusted, next);
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
      const step = verifyRootUpdate(trusted, latest);
      findings.push(...step.findings);
      report.rootChain.push(step.step);
      if (!step.ok) return finish();
      trusted = latest;
    } else if (lv < final.version) {
      findings.push({ code: 'ROOT_VERSION_ROLLBACK', severity: 'error', file: latest.file, message: `root.json is version ${lv}, older than the trusted or newest root ${final.version}; publish the newest root as root.json` });
    } else if (lv > final.version) {
      findings.push({ code: 'ROOT_VERSION_SKIP', severity: 'error', file: latest.file, message: `root.json is version ${lv}, but the chain ends at ${final.version}; add ${final.version + 1}.root.json` });
    } else if (!latest.canonical.equals(trusted.canonical)) {
      findings.push({ code: 'ROOT_MISMATCH', severity: 'error', file: latest.file, message: `root.json and ${trusted.file} are both version ${lv} but differ; they must be the same root` });
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
    const t = checkThreshold(meta, role, keys, root.keys);
    findings.push(...t.findings);
    if (!t.met) {
      findings.push({ code: 'THRESHOLD_UNMET', severity: 'error', file: meta.file, message: `signed by ${t.signedBy.length} of the ${t.total} ${role} keys; ${t.threshold} required` });
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
  if (timestamp && input.snapshot) checkMeta(timestamp, 'snapshot.json', snapshot, input.snapshot, findings, true);
  if (snapshot) {
    checkMeta(snapshot, 'targets.json', targets, input.targets, findings, !!input.targets);
    const meta = (snapshot.signed as SignedOf<'snapshot'>).meta;
    if (meta['root.json'] && input.root) checkMeta(snapshot, 'root.json', trusted, input.root, findings, false);
    for (const name of Object.keys(meta)) {
      const m = /^(\d+)\.root\.json$/.exec(name);
      const f = m && input.roots.get(Number(m[1]));
      if (f) checkMeta(snapshot, name, null, f, findings, false);
    }
  }
  if (targets) {
    const s = targets.signed as SignedOf<'targets'>;
    const del = s.delegations as { roles?: unknown[] } | undefined;
    if (del?.roles?.length) {
      findings.push({ code: 'DELEGATIONS_NOT_VERIFIED', severity: 'warning', file: targets.file, message: `${del.roles.length} delegated role(s) are not verified by this tool; verify them with the client that uses them` });
    }
  }

  if (dialect === 'ota') otaChecks(loaded, input, findings);
  return finish();
}

function checkExpiry(meta: Metadata, opts: VerifyOptions, findings: Finding[]): void {
  const expires = (meta.signed as { expires: string }).expires;
  if (!EXPIRES_RE.test(expires)) {
    findings.push({ code: 'EXPIRES_FORMAT', severity: 'error', file: meta.file, message: `expires ${JSON.stringify(expires)} must be YYYY-MM-DDTHH:MM:SSZ (aktualizr and python-tuf reject other forms)` });
    return;
  }
  const t = Date.parse(expires);
  if (Number.isNaN(t) || formatExpires(new Date(t)) !== expires) {
    findings.push({ code: 'EXPIRES_FORMAT', severity: 'error', file: meta.file, message: `expires ${JSON.stringify(expires)} is not a real date and time` });
    return;
  }
  const at = opts.at.getTime();
  if (t <= at) {
    findings.push({ code: ROLE_EXPIRED[meta.role], severity: 'error', file: meta.file, message: `${meta.role} expired at ${expires} (evaluated at ${opts.at.toISOString()}); re-sign it with a later expiry` });
  } else if (t - at < (opts.warnDays ?? 14) * DAY_MS) {
    findings.push({ code: 'EXPIRES_SOON', severity: 'warning', file: meta.file, message: `${meta.role} expires at ${expires}, within ${opts.warnDays ?? 14} days` });
  }
}

const HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };

/** A version/length/hashes entry in snapshot or timestamp `meta` must match the file (TUF 5.5.2, 5.6.2). */
function checkMeta(owner: Metadata, name: string, target: Metadata | null, file: FileInput | undefined, findings: Finding[], required: boolean): void {
  const entry = (owner.signed as SignedOf<'snapshot'>).meta[name] as MetaFile | undefined;
  const f = (code: ErrorCode, message: string) => findings.push({ code, severity: 'error', file: owner.file, message });
  if (!entry) {
    if (required) f('META_MISSING', `meta does not name ${name}; it must`);
    return;
  }
  if (!file) return;
  const version = target ? (target.signed as { version: number }).version : null;
  if (version !== null && entry.version !== version) {
    f('META_VERSION_MISMATCH', `names ${name} version ${entry.version}, but ${file.name} is version ${version}; re-sign ${owner.role} over the current ${name}`);
  }
  if (entry.length !== undefined && entry.length !== file.bytes.length) {
    f('META_LENGTH_MISMATCH', `names ${name} with length ${entry.length}, but ${file.name} is ${file.bytes.length} bytes`);
  }
  for (const [alg, want] of Object.entries(entry.hashes ?? {})) {
    const h = HASHES[alg.toLowerCase()];
    if (!h) continue;
    const got = crypto.createHash(h).update(file.bytes).digest('hex');
    if (got !== want.toLowerCase()) f('META_HASH_MISMATCH', `names ${name} with ${alg} ${short(want)}, but ${file.name} hashes to ${short(got)}`);
  }
}

/** aktualizr's limits: sizes, ASCII-only content. */
function otaChecks(loaded: Partial<Record<Role, Metadata>>, input: RepositoryInput, findings: Finding[]): void {
  const files: [FileInput | undefined, number][] = [
    [input.root, LIMITS.otaRootBytes],
    [input.targets, LIMITS.otaImageTargetsBytes],
  ];
  for (const [k, v] of input.roots) if (k >= 1) files.push([v, LIMITS.otaRootBytes]);
  for (const [file, limit] of files) {
    if (file && file.bytes.length > limit) {
      findings.push({ code: 'OTA_SIZE_LIMIT', severity: 'warning', file: file.name, message: `${file.bytes.length} bytes is above aktualizr's limit of ${limit} bytes; devices will refuse it` });
    }
  }
  for (const meta of Object.values(loaded)) {
    if (meta && !isAscii(meta.canonical)) {
      findings.push({ code: 'OTA_NON_ASCII', severity: 'warning', file: meta.file, message: 'signed content is not ASCII; aktualizr re-escapes it and may compute different bytes, so keep ota content ASCII' });
    }
  }
}
