/**
 * Which guides run in which sandbox, in what order, and what each sandbox's prelude puts in place
 * first: what the guides take as given from outside this project (the firmware images a build
 * produced). docs/guides/README.md says the same in words. Every guide is in exactly one sandbox
 * (test/docs/docs.test.ts checks it), so a new guide cannot go untested.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../protocol/canonical.js';
import { generateKeyPair } from '../../protocol/keys.js';
import { buildRoot, buildTargets, daysFrom, localSigner, signEnvelope } from '../../protocol/metadata/build.js';
import { gsPub, gsSec, spaces2 } from '../integration/garage-sign-files.js';
import { testRsaPair } from '../test-keys.js';
import { fences, GUIDES, Sandbox } from './guide-runner.js';

export interface SandboxSpec {
  /** Guide file names in docs/guides, run in this order in one sandbox. */
  guides: string[];
  /** Files the guides take as given, written before the first guide runs. */
  prelude?: (sb: Sandbox) => void | Promise<void>;
}

export const SANDBOXES: Record<string, SandboxSpec> = {
  // One tuf repository, continued guide after guide: its keyholders are the cast of all five.
  tuf: {
    guides: [
      'signing-rounds.md',
      'air-gapped-keyholders.md',
      'hardware-tokens.md',
      'fleet-certificates.md',
      'frost-groups.md',
    ],
    prelude: (sb) => {
      fs.writeFileSync(sb.file('firmware-1.0.bin'), 'firmware image 1.0\n');
      fs.writeFileSync(sb.file('firmware-1.1.bin'), 'firmware image 1.1\n');
      fs.writeFileSync(sb.file('firmware-1.2.bin'), 'firmware image 1.2\n');
      fs.writeFileSync(sb.file('firmware-2.0.bin'), 'firmware image 2.0\n');
    },
  },
  // An OTA Connect repository, from scratch.
  ota: { guides: ['ota-connect.md'], prelude: garageSignRepository },
  ci: { guides: ['ci-verification.md'] },
};

/**
 * What OTA Connect leaves before ota-connect.md starts (its text blocks, not run here): the folder
 * `garage-sign init`, `root pull` and `targets pull` write, `tuf/myrepo`, for a repository whose
 * root key the keyserver holds (RSA), whose targets key is in credentials.zip (Ed25519) and whose
 * snapshot and timestamp keys stay online on the server (RSA); the server's targets are version 7.
 * And `origroot.sec`, the root key's private half as the reposerver's `private_keys` API hands it
 * out. Files are written as garage-sign writes them (circe spaces2, garage-sign key files).
 */
async function garageSignRepository(sb: Sandbox): Promise<void> {
  const now = new Date();
  // RSA keys made once (test/test-keys.ts): no guide is about making them
  const root = testRsaPair('rsa-2048-a');
  const targets = generateKeyPair('ed25519');
  const snapshot = testRsaPair('rsa-2048-b');
  const timestamp = testRsaPair('rsa-2048-c');
  const root1 = buildRoot({
    dialect: 'ota',
    version: 1,
    expires: daysFrom(now, 365),
    roles: {
      root: { keys: [root.publicKey], threshold: 1 },
      targets: { keys: [targets.publicKey], threshold: 1 },
      snapshot: { keys: [snapshot.publicKey], threshold: 1 },
      timestamp: { keys: [timestamp.publicKey], threshold: 1 },
    },
  });
  const image = Buffer.from('firmware image 1.0\n');
  const day = new Date(now.getTime() - 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const targets7 = buildTargets('ota', 7, daysFrom(now, 20), {
    'firmware-1.0': {
      length: image.length,
      hashes: { sha256: crypto.createHash('sha256').update(image).digest('hex') },
      custom: {
        name: 'firmware',
        version: '1.0',
        hardwareIds: ['ecu-main'],
        targetFormat: 'BINARY',
        uri: null,
        cliUploaded: true,
        createdAt: day,
        updatedAt: day,
      },
    },
  });
  const served = await signEnvelope(targets7, 'ota', [localSigner(targets.privateKey)]);
  const repo = sb.file('tuf', 'myrepo');
  const w = (p: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, p)), { recursive: true });
    fs.writeFileSync(path.join(repo, p), text);
  };
  w('roles/root.json', spaces2(await signEnvelope(root1, 'ota', [localSigner(root.privateKey)])));
  w('roles/unsigned/root.json', spaces2(root1));
  w('roles/unsigned/targets.json', spaces2(targets7));
  // x-ats-role-checksum: sha256 of the canonical JSON of the stored {signatures, signed}.
  const stored = { signatures: served.signatures, signed: served.signed };
  w('roles/targets.json.checksum', crypto.createHash('sha256').update(canonicalize(stored, 'ota')).digest('hex'));
  w('keys/targets.pub', gsPub(targets.publicKey));
  w('keys/targets.sec', gsSec(targets.privateKey));
  fs.writeFileSync(sb.file('origroot.sec'), gsSec(root.privateKey));
  fs.writeFileSync(sb.file('firmware-2.0.bin'), 'firmware image 2.0\n');
}

/** The vitest suite of one sandbox: its prelude, then each guide as one test, in order. */
export function describeSandbox(name: string, spec: SandboxSpec, timeoutMs: number): void {
  describe(`the guides in sandbox ${name}`, () => {
    let sb: Sandbox | null = null;
    let broken = '';
    afterAll(async () => sb?.close());
    for (const guide of spec.guides) {
      it(
        guide,
        async () => {
          if (broken) throw new Error(`not run: ${broken} failed, and this guide continues from it`);
          if (!sb) {
            sb = new Sandbox(name);
            await spec.prelude?.(sb);
          }
          try {
            const sh = fences(fs.readFileSync(path.join(GUIDES, guide), 'utf8')).filter((f) => f.lang === 'sh');
            expect(sh.length).toBeGreaterThan(0);
            expect(await sb.runGuide(guide)).toBe(sh.length); // every command block, none skipped
          } catch (e) {
            broken = guide;
            throw e;
          }
        },
        timeoutMs,
      );
    }
  });
}
