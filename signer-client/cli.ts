#!/usr/bin/env node
/**
 * `quorum-signer`: the keyholder's command line. Keys stay on this machine; the coordinator gets
 * signatures only, and only over payloads this client has checked against its own pinned roots.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Dialect } from '../protocol/canonical.js';
import { main, stdio as io, UsageError } from '../protocol/cli.js';
import { QuorumError } from '../protocol/errors.js';
import { encodeSig, keyId, publicKeyFrom, toMetadataKey, type KeyKind } from '../protocol/keys.js';
import type { Signer } from '../protocol/metadata/build.js';
import { checkScheme, fetchPinnedCertificate, type Pin } from '../protocol/transport.js';
import type { RoundInfo } from '../protocol/wire.js';
import { SignerConnection } from './connection.js';
import { fileSigner, importGarageSign, newKeyFile, readKeyFile, SCRYPT_DEFAULT, writeKeyFile } from './keystore.js';
import { renderSummary, summarise } from './review.js';
import { confirm, passphrase } from './secrets.js';
import { advanceRoots, checkProposal, Refusal, TrustStore, verifiedTargets, type CheckedProposal } from './trust.js';


const HELP = `Usage: quorum-signer <command> [options]

Keys:
  keygen --out NAME [--type ed25519|ecdsa|rsa]   new encrypted key file NAME.key.json and NAME.pub.pem
  import-garage-sign FILE.sec --out NAME         encrypt a garage-sign private key into a key file
Setup:
  join URL --key NAME.key.json [--trusted-root root.json] [--tls-fingerprint FP]
                                                 remember the coordinator, your key and your trust anchor
  trust ROOT.json                                pin a trusted root (for offline signing)
Rounds:
  rounds                                         list rounds and their progress
  review ROUND                                   show what changed, computed here from the bytes
  sign ROUND [--yes]                             review, confirm and sign
  sign --offline BUNDLE --out SIG.json [--yes]   sign a round exported for an air-gapped machine
  watch [--unsafe-auto-sign]                     stay connected and prompt for each new round

Common options: --home DIR (default ~/.quorum-signer, or QUORUM_SIGNER_HOME), --passphrase-file FILE
(or QUORUM_PASSPHRASE), --json, --help. Exit status: 0 ok, 1 refused or failed, 2 usage.`;

const common = {
  home: { type: 'string' },
  'passphrase-file': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  yes: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

function args<O extends ParseArgsConfig['options']>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...common, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

interface Config {
  server: string;
  pin: Pin | null;
  keyFile: string;
  unsafeAllowPlaintext: boolean;
}

function homeOf(v: { home?: string }): string {
  return path.resolve(v.home ?? process.env.QUORUM_SIGNER_HOME ?? path.join(os.homedir(), '.quorum-signer'));
}

function loadConfig(home: string): Config {
  const file = path.join(home, 'config.json');
  if (!fs.existsSync(file)) throw new UsageError(`no ${file}: run quorum-signer join URL --key KEYFILE first`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Config;
}

async function loadSigner(keyFile: string, v: { 'passphrase-file'?: string }): Promise<Signer> {
  return fileSigner(keyFile, await passphrase({ file: v['passphrase-file'], prompt: `passphrase for ${path.basename(keyFile)}: ` }));
}

// --- keys --------------------------------------------------------------------------------------

async function keygen(argv: string[]): Promise<number> {
  const { values } = args(argv, { out: { type: 'string' }, type: { type: 'string' }, 'scrypt-n': { type: 'string' } });
  if (values.help) return io.out('Usage: quorum-signer keygen --out NAME [--type ed25519|ecdsa|rsa] [--passphrase-file F] [--scrypt-n N]\n\nWrites NAME.key.json (private key, encrypted with your passphrase: scrypt + AES-256-GCM)\nand NAME.pub.pem (hand this to your release coordinator). ecdsa is for the tuf dialect only.'), 0;
  if (!values.out) throw new UsageError('keygen needs --out NAME');
  const kind = (values.type ?? 'ed25519') as KeyKind;
  if (!['ed25519', 'ecdsa', 'rsa', 'rsa3072', 'rsa4096'].includes(kind)) throw new UsageError('--type must be ed25519, ecdsa, rsa, rsa3072 or rsa4096');
  const N = values['scrypt-n'] ? Number(values['scrypt-n']) : SCRYPT_DEFAULT.N;
  const pass = await passphrase({ file: values['passphrase-file'], prompt: 'new passphrase: ', confirm: true });
  const kf = newKeyFile(kind, pass, { ...SCRYPT_DEFAULT, N });
  return writeOut(values.out, kf, values.json);
}

function writeOut(out: string, kf: ReturnType<typeof newKeyFile>, json: boolean): number {
  writeKeyFile(`${out}.key.json`, kf);
  fs.writeFileSync(`${out}.pub.pem`, kf.publicKey);
  const pk = readKeyFile(`${out}.key.json`);
  const ids: Record<string, string> = {};
  for (const d of ['ota', 'tuf'] as const) {
    try {
      ids[d] = keyId(toMetadataKey(publicKeyFrom(kf.publicKey), d), d);
    } catch {
      ids[d] = '(not usable in this dialect)';
    }
  }
  if (json) io.out(JSON.stringify({ keyFile: `${out}.key.json`, publicKey: `${out}.pub.pem`, algorithm: pk.algorithm, fingerprint: pk.fingerprint, keyIds: ids }, null, 2));
  else {
    io.out(`wrote ${out}.key.json (encrypted private key, mode 0600) and ${out}.pub.pem (public key)`);
    io.out(`  ${pk.algorithm}, fingerprint ${pk.fingerprint}`);
    io.out(`  key id: ota ${ids.ota}, tuf ${ids.tuf}`);
    io.out(`give ${out}.pub.pem to your release coordinator: quorum keyholder add NAME ${path.basename(out)}.pub.pem`);
  }
  return 0;
}

async function importGs(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { out: { type: 'string' }, 'scrypt-n': { type: 'string' } });
  if (values.help) return io.out('Usage: quorum-signer import-garage-sign FILE.sec --out NAME [--passphrase-file F]\n\nEncrypt a garage-sign private key (targets.sec, root.sec) into NAME.key.json.'), 0;
  if (positionals.length !== 1 || !values.out) throw new UsageError('import-garage-sign needs FILE.sec and --out NAME');
  const pass = await passphrase({ file: values['passphrase-file'], prompt: 'new passphrase: ', confirm: true });
  const N = values['scrypt-n'] ? Number(values['scrypt-n']) : SCRYPT_DEFAULT.N;
  return writeOut(values.out, importGarageSign(positionals[0]!, pass, { ...SCRYPT_DEFAULT, N }), values.json);
}

// --- setup -------------------------------------------------------------------------------------

function pinRoot(home: string, file: string): number {
  const trust = new TrustStore(home, undefined);
  const text = fs.readFileSync(file, 'utf8');
  const doc = JSON.parse(text) as { signed?: { version?: number } };
  const version = doc.signed?.version;
  if (!Number.isInteger(version)) throw new UsageError(`${file} is not root metadata`);
  if (trust.latest()) throw new UsageError(`a root is already pinned in ${home}; newer roots are walked and verified automatically`);
  advanceRoots(trust, [{ version: version!, file: text }]);
  return version!;
}

async function join(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { key: { type: 'string' }, 'trusted-root': { type: 'string' }, 'tls-fingerprint': { type: 'string' }, 'unsafe-allow-plaintext': { type: 'boolean', default: false } });
  if (values.help) return io.out('Usage: quorum-signer join URL --key KEYFILE [--trusted-root root.json] [--tls-fingerprint SHA256] [--unsafe-allow-plaintext]\n\nRemember the coordinator (https:// with its certificate fingerprint pinned, or http:// on loopback),\nyour key file, and the root you trust. --unsafe-allow-plaintext permits http:// to another host: anyone\non the network can then read and alter the traffic (your signatures stay bound to what you reviewed).'), 0;
  if (positionals.length !== 1 || !values.key) throw new UsageError('join needs the coordinator URL and --key KEYFILE');
  const home = homeOf(values);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const server = positionals[0]!.replace(/\/v1\/ws$/, '').replace(/^ws/, 'http').replace(/\/$/, '');
  let pin: Pin | null = null;
  if (server.startsWith('https:')) {
    if (!values['tls-fingerprint']) throw new UsageError('an https:// coordinator needs --tls-fingerprint (ask your release coordinator; quorum serve prints it)');
    pin = await fetchPinnedCertificate(server, values['tls-fingerprint']);
  }
  readKeyFile(values.key);
  const cfg: Config = { server, pin, keyFile: path.resolve(values.key), unsafeAllowPlaintext: values['unsafe-allow-plaintext'] };
  checkScheme(server, pin, cfg.unsafeAllowPlaintext);
  fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  io.out(`joined ${server}${pin ? ` (TLS pinned to ${pin.fingerprint256})` : ''}; config in ${home}`);
  if (values['trusted-root']) io.out(`pinned trusted root version ${pinRoot(home, values['trusted-root'])}`);
  else io.out('warning: no --trusted-root; the first root the coordinator releases will be trusted on first use');
  return 0;
}

async function trust(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {});
  if (values.help || positionals.length !== 1) return io.out('Usage: quorum-signer trust ROOT.json [--home DIR]\n\nPin the root you trust; newer roots are then walked and verified before anything is signed.'), values.help ? 0 : 2;
  io.out(`pinned trusted root version ${pinRoot(homeOf(values), positionals[0]!)}`);
  return 0;
}

// --- rounds ------------------------------------------------------------------------------------

interface Session {
  home: string;
  conn: SignerConnection;
  signer: Signer;
  dialect: Dialect;
}

async function session(v: { home?: string; 'passphrase-file'?: string }, reconnect = false): Promise<Session> {
  const home = homeOf(v);
  const cfg = loadConfig(home);
  const signer = await loadSigner(cfg.keyFile, v);
  const conn = new SignerConnection({ server: cfg.server, pin: cfg.pin, signer, unsafeAllowPlaintext: cfg.unsafeAllowPlaintext, reconnect });
  const hello = await conn.connect();
  return { home, conn, signer, dialect: hello.dialect };
}

/** Fetch a round and run every check against this signer's own trust. */
async function checkRound(s: Session, roundId: string): Promise<CheckedProposal> {
  const trust = new TrustStore(s.home, s.dialect);
  const pinned = trust.latest();
  const released = await s.conn.request({ type: 'released.get', afterRootVersion: pinned ? pinned.signed.version : 0 }, 'released');
  const { root, tofu, walked } = advanceRoots(trust, released.roots);
  if (tofu) io.err(`warning: no root was pinned; trusting root version ${walked[0]} on first use`);
  if (walked.length && !tofu) io.err(`verified and pinned released root(s) ${walked.join(', ')}`);
  const targets = verifiedTargets(root, released.targets, s.dialect);
  const payload = await s.conn.request({ type: 'round.get', round: roundId }, 'round.payload');
  if (payload.round.state !== 'open') throw new Refusal('ROUND_CLOSED', `round ${roundId} is ${payload.round.state}; nothing to sign`);
  return checkProposal(payload.round, payload.signed, root, targets, s.dialect, s.signer.publicKey);
}

function reviewedFile(home: string, round: string): string {
  return path.join(home, 'reviewed', `${round.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
}

function recordReview(home: string, p: CheckedProposal): void {
  fs.mkdirSync(path.join(home, 'reviewed'), { recursive: true });
  fs.writeFileSync(reviewedFile(home, p.round.id), JSON.stringify({ round: p.round.id, sha256: p.sha256, at: new Date().toISOString() }) + '\n');
}

/** A payload that differs from the one this keyholder reviewed is never signed. */
function checkReviewed(home: string, p: CheckedProposal): void {
  const f = reviewedFile(home, p.round.id);
  if (!fs.existsSync(f)) return;
  const r = JSON.parse(fs.readFileSync(f, 'utf8')) as { sha256: string };
  if (r.sha256 !== p.sha256) throw new Refusal('PAYLOAD_CHANGED', `round ${p.round.id} now has sha256 ${p.sha256}, but you reviewed ${r.sha256}; refusing to sign something you did not review`);
}

function progressText(r: RoundInfo): string {
  return r.progress.map((p) => `${p.label}: ${p.signed.length}/${p.threshold}${p.met ? ' (met)' : ''}`).join(', ');
}

async function rounds(argv: string[]): Promise<number> {
  const { values } = args(argv, {});
  if (values.help) return io.out('Usage: quorum-signer rounds [--json]'), 0;
  const s = await session(values);
  try {
    const r = await s.conn.request({ type: 'rounds.list' }, 'rounds');
    if (values.json) io.out(JSON.stringify(r.rounds, null, 2));
    else for (const x of r.rounds) io.out(`${x.id}  ${x.role} v${x.version} [${x.state}] ${progressText(x)} — ${x.reason}`);
    return 0;
  } finally {
    s.conn.close();
  }
}

async function review(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { 'no-diff': { type: 'boolean', default: false } });
  if (values.help || positionals.length !== 1) return io.out('Usage: quorum-signer review ROUND [--json] [--no-diff]\n\nShow what the round changes against the last released version, computed here from the bytes,\nafter verifying the released roots and targets against your pinned root.'), values.help ? 0 : 2;
  const s = await session(values);
  try {
    const p = await checkRound(s, positionals[0]!);
    const sum = summarise(p);
    recordReview(s.home, p);
    if (values.json) io.out(JSON.stringify({ round: p.round, keyid: p.keyid, countsFor: p.countsFor, ...sum }, null, 2));
    else io.out(renderSummary(p, sum, !values['no-diff']));
    return 0;
  } finally {
    s.conn.close();
  }
}

async function signOne(s: Session, p: CheckedProposal, yes: boolean): Promise<RoundInfo | null> {
  checkReviewed(s.home, p);
  io.out(renderSummary(p, summarise(p)));
  if (!yes && !(await confirm(`sign round ${p.round.id}?`))) {
    io.out('not signed');
    return null;
  }
  const sig = await s.signer.sign(p.proposed.canonical);
  const ack = await s.conn.request({ type: 'signature.submit', round: p.round.id, sha256: p.sha256, keyid: p.keyid, sig: encodeSig(sig, s.dialect) }, 'signature.accepted');
  io.out(`signed ${p.round.id}; accepted. ${progressText(ack.round)}${ack.round.state === 'released' ? '; the round is released' : ''}`);
  return ack.round;
}

async function sign(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { offline: { type: 'string' }, out: { type: 'string' } });
  if (values.help) return io.out('Usage: quorum-signer sign ROUND [--yes]\n       quorum-signer sign --offline BUNDLE.json --out SIGNATURE.json [--yes]\n\nReview the round, ask for confirmation (unless --yes), sign the exact bytes reviewed, send the signature.\n--offline signs a bundle from quorum round export on an air-gapped machine; nothing is sent.'), 0;
  if (values.offline) return signOffline(values.offline, values.out, values);
  if (positionals.length !== 1) throw new UsageError('sign needs a round id (or --offline BUNDLE)');
  const s = await session(values);
  try {
    const p = await checkRound(s, positionals[0]!);
    return (await signOne(s, p, values.yes)) ? 0 : 1;
  } finally {
    s.conn.close();
  }
}

async function signOffline(bundleFile: string, out: string | undefined, values: { home?: string; 'passphrase-file'?: string; yes: boolean }): Promise<number> {
  if (!out) throw new UsageError('sign --offline needs --out SIGNATURE.json');
  const home = homeOf(values);
  const b = JSON.parse(fs.readFileSync(bundleFile, 'utf8')) as { format: string; dialect: Dialect; round: RoundInfo; signed: string; roots: { version: number; file: string }[]; targets: string | null };
  if (b.format !== 'uptane-quorum-round-v1') throw new UsageError(`${bundleFile} is not a round bundle from quorum round export`);
  const trust = new TrustStore(home, b.dialect);
  if (!trust.latest()) throw new Refusal('NO_TRUSTED_ROOT', `no root is pinned in ${home}; pin the root you trust with quorum-signer trust ROOT.json`);
  const { root } = advanceRoots(trust, b.roots);
  const targets = verifiedTargets(root, b.targets, b.dialect);
  const cfgKey = fs.existsSync(path.join(home, 'config.json')) ? loadConfig(home).keyFile : undefined;
  const keyFile = (values as { key?: string }).key ?? cfgKey;
  if (!keyFile) throw new UsageError('no key file: run quorum-signer join, or keep config.json with keyFile in --home');
  const signer = await loadSigner(keyFile, values);
  const p = checkProposal(b.round, b.signed, root, targets, b.dialect, signer.publicKey);
  checkReviewed(home, p);
  io.out(renderSummary(p, summarise(p)));
  if (!values.yes && !(await confirm(`sign round ${p.round.id}?`))) return io.out('not signed'), 1;
  const sig = await signer.sign(p.proposed.canonical);
  fs.writeFileSync(out, JSON.stringify({ round: p.round.id, keyid: p.keyid, sha256: p.sha256, sig: encodeSig(sig, b.dialect) }, null, 2) + '\n');
  io.out(`wrote ${out}; carry it back and run: quorum round add-signature ${p.round.id} ${path.basename(out)}`);
  return 0;
}

async function watch(argv: string[]): Promise<number> {
  const { values } = args(argv, { 'unsafe-auto-sign': { type: 'boolean', default: false } });
  if (values.help) return io.out('Usage: quorum-signer watch [--unsafe-auto-sign]\n\nStay connected (reconnecting by itself) and, for each open round that needs your key, show the\nreview and ask whether to sign. --unsafe-auto-sign signs every round that passes this client\'s checks\nwithout asking a person: for tests and demos only.'), 0;
  const s = await session(values, true);
  const seen = new Set<string>();
  let busy = Promise.resolve();
  const consider = (r: RoundInfo) => {
    if (r.state !== 'open' || seen.has(r.id) || !r.progress.some((p) => p.missing.includes(s.conn.hello!.keyholder))) return;
    seen.add(r.id);
    busy = busy.then(async () => {
      try {
        const p = await checkRound(s, r.id);
        const signed = await signOne(s, p, values['unsafe-auto-sign']);
        if (!signed) seen.delete(r.id);
      } catch (e) {
        if (e instanceof QuorumError && (e.code === 'DISCONNECTED' || e.code === 'TIMEOUT')) seen.delete(r.id); // retried after reconnecting
        io.err(`round ${r.id}: ${(e as QuorumError).code ?? 'ERROR'}: ${(e as Error).message}`);
      }
    });
  };
  const scan = async () => {
    const list = await s.conn.request({ type: 'rounds.list' }, 'rounds');
    for (const r of list.rounds) consider(r);
  };
  s.conn.on('round.opened', (m: { round: RoundInfo }) => {
    io.out(`new round ${m.round.id}: ${m.round.role} v${m.round.version} — ${m.round.reason}`);
    consider(m.round);
  });
  s.conn.on('round.updated', (m: { round: RoundInfo }) => io.out(`round ${m.round.id} [${m.round.state}] ${progressText(m.round)}`));
  s.conn.on('disconnected', (code: number) => io.err(`disconnected (${code}); reconnecting`));
  s.conn.on('reconnected', () => {
    io.out('reconnected');
    void scan().catch((e: Error) => io.err(e.message));
  });
  io.out(`watching as ${s.conn.hello!.keyholder}; Ctrl-C to stop`);
  await scan();
  await new Promise<void>((resolve) => {
    const stop = () => {
      s.conn.close();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  keygen,
  'import-garage-sign': importGs,
  join,
  trust,
  rounds,
  review,
  sign,
  watch,
};

main(process.argv.slice(2), COMMANDS, HELP);
