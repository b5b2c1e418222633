/**
 * Manual timing of the steps verifyRepository takes for {trusted root, targets.json}, in the
 * order protocol/verify.ts does them (parseMetadata: utf8 decode, JSON.parse, envelope schema,
 * role schema (isTargetsMap on the targets map, zod on the rest), canonicalize; then
 * checkThreshold's signature checks and the report's sha256). Keep in step with verify.ts.
 * The same library functions are called directly; nothing here changes protocol/.
 */
import fs from 'node:fs';
import { canonicalize } from '../../protocol/canonical.js';
import { decodeSig, parseMetadataKey, sha256hex, verifySignature, type MetadataKey } from '../../protocol/keys.js';
import { EnvelopeSchema, SIGNED_SCHEMAS, isTargetsMap, type RootSigned } from '../../protocol/metadata/schemas.js';
import { checkRoot, checkThreshold, parseMetadata } from '../../protocol/verify.js';
import type { TargetsRepo } from './fixtures.js';
import { collect, median } from './measure.js';
import { performance } from 'node:perf_hooks';

export const PHASES = [
  'read files',
  'root: parse + checkRoot + self-threshold',
  'utf8 decode (bytes.toString)',
  'JSON.parse',
  'zod EnvelopeSchema.safeParse',
  'isTargetsMap(signed.targets)',
  'zod TargetsSignedSchema.safeParse (targets {})',
  'canonicalize(signed, tuf)',
  'verify sig ed25519',
  'verify sig ecdsa-p256',
  'verify sig rsa-pss-sha256',
  'sha256 of file (report)',
  'Object.keys(targets).length',
] as const;

export type Phase = (typeof PHASES)[number];

function once(repo: TargetsRepo): Record<Phase, number> {
  const t: Partial<Record<Phase, number>> = {};
  let last = performance.now();
  const mark = (p: Phase) => {
    const now = performance.now();
    t[p] = (t[p] ?? 0) + (now - last);
    last = now;
  };
  const rootBytes = fs.readFileSync(repo.rootPath);
  const bytes = fs.readFileSync(repo.targetsPath);
  mark('read files');
  const root = parseMetadata(rootBytes, 'root.json', 'root');
  const rootFindings = checkRoot(root);
  const rs = root.signed as RootSigned;
  const anchor = checkThreshold(root, 'root', rs.roles.root!, rs.keys);
  mark('root: parse + checkRoot + self-threshold');
  const text = bytes.toString('utf8');
  mark('utf8 decode (bytes.toString)');
  const json = JSON.parse(text) as { signed: Record<string, unknown>; signatures: { keyid: string; sig: string }[] };
  mark('JSON.parse');
  const env = EnvelopeSchema.safeParse(json);
  mark('zod EnvelopeSchema.safeParse');
  const fastTargets = isTargetsMap(json.signed.targets);
  mark('isTargetsMap(signed.targets)');
  const parsed = SIGNED_SCHEMAS.targets.safeParse(fastTargets ? { ...json.signed, targets: {} } : json.signed);
  mark('zod TargetsSignedSchema.safeParse (targets {})');
  const canonical = canonicalize(json.signed, 'tuf');
  mark('canonicalize(signed, tuf)');
  let valid = 0;
  for (const s of json.signatures) {
    const pk = parseMetadataKey(rs.keys[s.keyid] as MetadataKey);
    const sig = decodeSig(s.sig, 'tuf');
    if (sig && verifySignature(pk, canonical, sig)) valid++;
    mark(`verify sig ${pk.algorithm}` as Phase);
  }
  const digest = sha256hex(bytes);
  mark('sha256 of file (report)');
  const n = Object.keys(json.signed.targets as object).length;
  mark('Object.keys(targets).length');
  if (
    !env.success ||
    !fastTargets ||
    !parsed.success ||
    valid !== 3 ||
    n !== repo.count ||
    digest.length !== 64 ||
    rootFindings.length ||
    !anchor.met
  ) {
    throw new Error('breakdown self-check failed');
  }
  return t as Record<Phase, number>;
}

/** Median per phase over `reps` runs (after one warm-up), gc before each run. */
export function breakdown(repo: TargetsRepo, reps: number): Record<Phase, number> {
  once(repo);
  const runs: Record<Phase, number>[] = [];
  for (let i = 0; i < reps; i++) {
    collect();
    runs.push(once(repo));
  }
  const out = {} as Record<Phase, number>;
  for (const p of PHASES) out[p] = median(runs.map((r) => r[p] ?? 0));
  return out;
}
