/**
 * `npm run demo`: the whole story with real processes, printing each command and its output.
 * A coordinator on a temporary data dir, three keyholders (and a fourth who joins later), a new
 * repository with 2-of-3 root and targets, a targets round signed by two keyholders, a root
 * rotation that replaces one key, and the release verified by `quorum verify` and, for `tuf`,
 * by tuf-js's Updater over loopback HTTP. Runs `tuf` then `ota` (or one: --dialect tuf|ota).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Coordinator, quorum, signer, tmpdir, TEST_SCRYPT_N, type RunResult } from '../integration/harness.js';
import { tufJsDownload } from '../interop/helpers.js';

const rel = (p: string, base: string) => path.relative(base, p) || '.';

async function sh(tool: 'quorum' | 'quorum-signer', args: string[], base: string, quiet = false): Promise<RunResult> {
  console.log(
    `\n$ ${tool} ` +
      `${args.map((a) => (a.startsWith(base) ? rel(a, base) : /\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`,
  );
  const r = await (tool === 'quorum' ? quorum : signer)(args, { cwd: base });
  const text = (r.stdout + r.stderr).trimEnd();
  if (text && !quiet) console.log(text.replaceAll(base + path.sep, '').replace(/^/gm, '  '));
  if (r.code !== 0) throw new Error(`${tool} ${args[0]} exited with ${r.code}`);
  return r;
}

function step(n: number, title: string) {
  console.log(`\n=== ${n}. ${title}`);
}

async function story(dialect: 'tuf' | 'ota'): Promise<void> {
  const base = tmpdir(`quorum-demo-${dialect}-`);
  const data = path.join(base, 'coordinator-data');
  const people = ['alice', 'bob', 'carol', 'dave'];
  let coordinator: Coordinator | null = null;
  console.log(`\n##### uptane-quorum demo, ${dialect} dialect, in ${base}`);
  try {
    step(
      1,
      'Each keyholder makes a key on their own machine (encrypted at rest; passphrase from QUORUM_PASSPHRASE here)',
    );
    for (const p of people)
      await sh(
        'quorum-signer',
        [
          'keygen',
          '--out',
          path.join(base, p),
          '--scrypt-n',
          TEST_SCRYPT_N,
          ...(dialect === 'tuf' && p === 'bob' ? ['--type', 'ecdsa'] : []),
        ],
        base,
        p !== 'alice',
      );

    step(2, 'The release coordinator creates a new repository: alice, bob and carol hold root and targets, 2 of 3');
    await sh(
      'quorum',
      [
        'init',
        '--data-dir',
        data,
        '--dialect',
        dialect,
        ...people.flatMap((p) => ['--keyholder', `${p}=${path.join(base, `${p}.pub.pem`)}`]),
        '--root-keyholders',
        'alice,bob,carol',
        '--root-threshold',
        '2',
        '--targets-threshold',
        '2',
      ],
      base,
    );

    step(3, 'Start the coordinator (quorum serve; npm start does this with the defaults)');
    coordinator = await new Coordinator(data).start();
    console.log(`  ${coordinator.log.trim()}`);

    step(4, 'Keyholders join, review root version 1 and sign it (2 of 3)');
    const home = (p: string) => path.join(base, `home-${p}`);
    for (const p of people)
      await sh(
        'quorum-signer',
        ['join', coordinator.url, '--key', path.join(base, `${p}.key.json`), '--home', home(p), '--trust-first-root'],
        base,
        p !== 'alice',
      );
    await sh('quorum-signer', ['review', 'root-v1-r1', '--home', home('alice'), '--no-diff'], base);
    await sh('quorum-signer', ['sign', 'root-v1-r1', '--yes', '--home', home('alice')], base, true);
    await sh('quorum-signer', ['sign', 'root-v1-r1', '--yes', '--home', home('bob')], base, true);
    await sh('quorum', ['rounds', '--data-dir', data], base);

    step(5, 'A targets round: add a firmware image; alice reviews; bob and carol sign');
    const fw = path.join(base, 'firmware-1.0.bin');
    fs.writeFileSync(fw, 'firmware image 1.0\n');
    const open = await sh(
      'quorum',
      [
        'round',
        'open',
        'targets',
        '--data-dir',
        data,
        '--reason',
        'ship firmware 1.0 to ecu-main',
        '--add',
        fw,
        '--name',
        'firmware',
        '--version',
        '1.0',
        '--hardware-id',
        'ecu-main',
        ...(dialect === 'ota' ? ['--uri', 'https://files.example.com/firmware-1.0.bin'] : []),
      ],
      base,
    );
    const targetsRound = /opened round (\S+)/.exec(open.stdout)![1]!;
    await sh('quorum-signer', ['review', targetsRound, '--home', home('alice')], base);
    await sh('quorum-signer', ['sign', targetsRound, '--yes', '--home', home('bob')], base, true);
    await sh('quorum-signer', ['sign', targetsRound, '--yes', '--home', home('carol')], base);

    step(6, "A root rotation: replace carol's root key with dave's (signed by 2 old keys and 2 new keys)");
    const rot = await sh(
      'quorum',
      [
        'round',
        'open',
        'root',
        '--data-dir',
        data,
        '--reason',
        'carol hands over to dave',
        '--remove-key',
        'root=carol',
        '--add-key',
        'root=dave',
      ],
      base,
    );
    const rootRound = /opened round (\S+)/.exec(rot.stdout)![1]!;
    await sh('quorum-signer', ['review', rootRound, '--home', home('dave'), '--no-diff'], base);
    for (const p of ['alice', 'carol', 'dave'])
      await sh('quorum-signer', ['sign', rootRound, '--yes', '--home', home(p)], base, true);
    await sh('quorum', ['round', 'status', rootRound, '--data-dir', data], base);

    step(7, 'Verify the release as a device would');
    const current = path.join(data, 'releases', 'current');
    await sh('quorum', ['verify', current, '--root', path.join(current, '1.root.json')], base);
    await sh('quorum', ['audit', 'verify', '--data-dir', data], base);
    if (dialect === 'tuf') {
      console.log('\n$ (tuf-js Updater: refresh from 1.root.json over loopback HTTP, then download firmware-1.0)');
      const got = await tufJsDownload({
        work: base,
        metadataDir: current,
        trustedRoot: path.join(current, '1.root.json'),
        target: 'firmware-1.0',
        targetFile: fw,
      });
      console.log(
        `  tuf-js accepted the repository: root version ${got.rootVersion}, downloaded ` +
          `${path.basename(got.file)} (${fs.statSync(got.file).size} bytes, hashes verified)`,
      );
    }
  } finally {
    await coordinator?.kill();
    fs.rmSync(base, { recursive: true, force: true });
  }
}

const arg = process.argv.indexOf('--dialect');
const only = arg > 0 ? process.argv[arg + 1] : undefined;
for (const d of only ? [only as 'tuf' | 'ota'] : (['tuf', 'ota'] as const)) await story(d);
console.log('\nDemo complete: both stories released and verified.');
