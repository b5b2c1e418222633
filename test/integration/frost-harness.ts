/**
 * FROST helpers of the integration tests: commands run in this process through their command trees
 * (harness.ts runHere: `dispatch`, the code the executables run), over real WebSockets and the
 * admin API to the real coordinator, a `quorum serve` child process. A child process costs 0.3-0.9 s
 * of CPU before it does anything; these cost the command's own work. The FROST tests keep real
 * `quorum-signer` processes where the process is the point (one killed mid-ceremony, the end-to-end
 * flows each file keeps) and run the rest here: set-up, polling, and the exhaustive cases (every
 * subset, every culprit).
 *
 * Only for commands that are safe in this process: no prompt (--yes, and the passphrase from
 * passphraseFile()), no signal handlers (not serve or watch), --data-dir / --home always given.
 */
import path from 'node:path';

import { frostJoinArgs, quorumHere, signerHere, TEST_SCRYPT_N, type Repo, type RunResult } from './harness.js';

/**
 * A long-running `quorum-signer` command (frost join, frost sign) in this process: the shape of
 * harness.ts `background` without a process to kill.
 */
export function backgroundHere(args: string[]): { done: Promise<RunResult>; log: () => string } {
  let all = '';
  const done = signerHere(args, (s) => (all += s));
  return { done, log: () => all };
}

/** `quorum-signer frost sign ROUND --yes` as keyholder `k`, in this process. */
export const frostSignHere = (repo: Repo, k: string, round: string) =>
  backgroundHere(['frost', 'sign', round, '--yes', '--home', repo.homes[k]!, '--timeout-s', '90']);

/** `quorum-signer frost join CEREMONY` as harness.ts `frostJoin`, in this process. */
export const frostJoinHere = (home: string, ceremony: string) => backgroundHere(frostJoinArgs(home, ceremony));

/**
 * harness.ts `frostIdentities` in this process: each keyholder creates a FROST identity
 * (quorum-signer frost identity), the coordinator records it (quorum keyholder identity), and each
 * pins the others' signing keys (quorum-signer frost pin-participants). frost.test.ts runs these
 * commands as processes.
 */
export async function frostIdentitiesHere(repo: Repo, names: string[]): Promise<void> {
  for (const k of names) {
    const id = await signerHere(['frost', 'identity', '--home', repo.homes[k]!, '--scrypt-n', TEST_SCRYPT_N]);
    if (id.code !== 0) throw new Error(`frost identity ${k}: ${id.stderr}`);
    const rec = await quorumHere(['keyholder', 'identity', k, id.stdout.trim(), '--data-dir', repo.dataDir]);
    if (rec.code !== 0) throw new Error(`keyholder identity ${k}: ${rec.stderr}`);
  }
  await frostPinsHere(repo, names);
}

/** harness.ts `frostPins` in this process (quorum-signer frost pin-participants for each keyholder). */
export async function frostPinsHere(repo: Repo, names: string[]): Promise<void> {
  for (const k of names) {
    const others = names
      .filter((o) => o !== k)
      .flatMap((o) => ['--participant', `${o}=${path.join(repo.dir, `${o}.pub.pem`)}`]);
    const r = await signerHere(['frost', 'pin-participants', ...others, '--home', repo.homes[k]!]);
    if (r.code !== 0) throw new Error(`frost pin-participants as ${k}: ${r.stderr}`);
  }
}
