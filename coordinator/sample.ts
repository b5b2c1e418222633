/**
 * A small, valid sample repository in either dialect: root v1 and a rotation to v2 (2-of-3 root
 * keys, one replaced), targets signed 2-of-3, snapshot and timestamp. It is what `quorum sample`
 * writes for a first look and what the tests start from. The private keys are thrown away.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dialect } from '../protocol/canonical.js';
import { generateKeyPair, type KeyKind } from '../protocol/keys.js';
import {
  buildRoot,
  buildSnapshot,
  buildTargets,
  buildTimestamp,
  daysFrom,
  localSigner,
  serialize,
  signEnvelope,
  targetFor,
  type Signer,
} from '../protocol/metadata/build.js';

export interface SampleRepository {
  dialect: Dialect;
  files: Record<string, Buffer>;
}

function signers(kinds: KeyKind[]): Signer[] {
  return kinds.map((k) => localSigner(generateKeyPair(k).privateKey));
}

export async function buildSample(dialect: Dialect, now = new Date()): Promise<SampleRepository> {
  // aktualizr cannot use ECDSA, so ota mixes ed25519 and RSA only.
  const mixed: KeyKind[] = dialect === 'tuf' ? ['ed25519', 'ecdsa', 'rsa'] : ['ed25519', 'rsa', 'ed25519'];
  const root = signers(mixed);
  const targets = signers(mixed);
  const [snapshot, timestamp] = signers(['ed25519', 'ed25519']) as [Signer, Signer];
  const pks = (s: Signer[]) => s.map((x) => x.publicKey);
  const roles = (rootKeys: Signer[]) => ({
    root: { keys: pks(rootKeys), threshold: 2 },
    targets: { keys: pks(targets), threshold: 2 },
    snapshot: { keys: [snapshot.publicKey], threshold: 1 },
    timestamp: { keys: [timestamp.publicKey], threshold: 1 },
  });
  const files: Record<string, Buffer> = {};
  const v1 = buildRoot({ dialect, version: 1, expires: daysFrom(now, 365), roles: roles(root) });
  files['1.root.json'] = serialize(await signEnvelope(v1, dialect, root.slice(0, 2)));
  // Rotation: replace the third root key; signed by 2 old keys and 2 new keys.
  const [newKey] = signers(['ed25519']) as [Signer];
  const root2 = [root[0]!, root[1]!, newKey];
  const v2 = buildRoot({ dialect, version: 2, expires: daysFrom(now, 365), roles: roles(root2) });
  files['2.root.json'] = serialize(
    await signEnvelope(v2, dialect, [root[0]!, newKey]).then(async (env) => {
      // root[0] is in both; root[1] adds the second old signature.
      const extra = await signEnvelope(v2, dialect, [root[1]!]);
      return { ...env, signatures: [...env.signatures, ...extra.signatures] };
    }),
  );
  files['root.json'] = files['2.root.json'];
  const hw = dialect === 'ota' ? 'ecu-main' : undefined;
  const t: Record<string, ReturnType<typeof targetFor>> = {};
  for (const [name, version] of [
    ['firmware', '1.0.0'],
    ['firmware', '1.1.0'],
    ['bootloader', '2.3.0'],
  ] as const) {
    const content = Buffer.from(`${name} ${version}\n`);
    t[`${name}-${version}`] = targetFor(
      content,
      hw ? { name, version, hardwareIds: [hw], targetFormat: 'BINARY', uri: null } : { version },
    );
  }
  files['targets.json'] = serialize(
    await signEnvelope(buildTargets(dialect, 1, daysFrom(now, 31), t), dialect, targets.slice(0, 2)),
  );
  files['snapshot.json'] = serialize(
    await signEnvelope(buildSnapshot(dialect, 1, daysFrom(now, 30), files['targets.json'], 1), dialect, [snapshot]),
  );
  files['timestamp.json'] = serialize(
    await signEnvelope(buildTimestamp(dialect, 1, daysFrom(now, 21), files['snapshot.json'], 1), dialect, [timestamp]),
  );
  return { dialect, files };
}

export function writeRepository(dir: string, files: Record<string, Buffer>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
}
