/** garage-sign's files as garage-sign writes them: for tests and the OTA Connect guide's sandbox. */
import type { KeyObject } from 'node:crypto';
import { publicKeyFrom, toMetadataKey, type PublicKey } from '../../protocol/keys.js';

/** circe's `spaces2`, which garage-sign uses for every file it writes. */
export const spaces2 = (v: unknown) => JSON.stringify(v, null, 2);

/** A garage-sign public key file (`keys/targets.pub`). */
export function gsPub(pk: PublicKey): string {
  const mk = toMetadataKey(pk, 'ota');
  return spaces2({ keyval: { public: mk.keyval.public }, keytype: mk.keytype });
}

/** A garage-sign private key file (`keys/targets.sec`, or a key the reposerver hands out). */
export function gsSec(priv: KeyObject): string {
  const pk = publicKeyFrom(priv);
  if (pk.algorithm === 'ed25519') {
    const seed = priv.export({ type: 'pkcs8', format: 'der' }).subarray(16);
    return spaces2({
      keyval: { private: seed.toString('hex') + pk.spki.subarray(12).toString('hex') },
      keytype: 'ED25519',
    });
  }
  // BouncyCastle writes an RSA private key as PKCS#1 ("BEGIN RSA PRIVATE KEY").
  return spaces2({ keyval: { private: priv.export({ type: 'pkcs1', format: 'pem' }).toString() }, keytype: 'RSA' });
}
