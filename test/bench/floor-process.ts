/**
 * The floor process of the whole-process verification benchmark (process.bench.ts): the least a
 * verifier run as a fresh process must do. It reads root.json and targets.json, parses both,
 * hashes the targets file, and checks its signatures over canonical bytes computed beforehand
 * (`<floor>.bin`), with keys given as PEM (`<floor>.json`). Nothing but node:crypto and node:fs.
 *
 *   node dist/test/bench/floor-process.js <root.json> <targets.json> <floor.json>
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

interface FloorInput {
  keys: { keyid: string; pem: string; kind: 'ed25519' | 'ecdsa' | 'rsa' }[];
}

const [rootPath, targetsPath, floorPath] = process.argv.slice(2) as [string, string, string];
const root = JSON.parse(fs.readFileSync(rootPath, 'utf8')) as { signed: { _type: string } };
const bytes = fs.readFileSync(targetsPath);
const targets = JSON.parse(bytes.toString('utf8')) as { signatures: { keyid: string; sig: string }[] };
const digest = crypto.createHash('sha256').update(bytes).digest('hex');
const input = JSON.parse(fs.readFileSync(floorPath, 'utf8')) as FloorInput;
const canonical = fs.readFileSync(floorPath.replace(/\.json$/, '.bin'));
let valid = 0;
for (const k of input.keys) {
  const s = targets.signatures.find((x) => x.keyid === k.keyid);
  if (!s) continue;
  const key = crypto.createPublicKey(k.pem);
  const sig = Buffer.from(s.sig, 'hex');
  const ok =
    k.kind === 'ed25519'
      ? crypto.verify(null, canonical, key, sig)
      : k.kind === 'ecdsa'
        ? crypto.verify('sha256', canonical, { key, dsaEncoding: 'der' }, sig)
        : crypto.verify(
            'sha256',
            canonical,
            { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO },
            sig,
          );
  if (ok) valid++;
}
if (root.signed._type !== 'root' || digest.length !== 64 || valid !== input.keys.length) {
  console.error(`floor: ${valid} of ${input.keys.length} signatures valid`);
  process.exitCode = 1;
}
