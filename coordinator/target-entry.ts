/**
 * The targets entry a new targets round adds for one file, from its length and hashes and what the
 * release coordinator says about it: built the same way by `quorum round open targets --add` and by
 * the status page's upload form (which hashes the file in the browser), so the coordinator checks
 * the same fields either way. Nothing here reads a file or touches the network.
 */
import { QuorumError } from '../protocol/errors.js';
import { formatExpires } from '../protocol/metadata/schemas.js';
import type { TargetsChange } from './admin-api.js';

export interface TargetFile {
  dialect: 'ota' | 'tuf';
  name: string;
  version: string;
  /** bytes */
  length: number;
  sha256: string;
  /** tuf only: its targets carry sha512 too. */
  sha512?: string;
  hardwareIds?: string[];
  /** BINARY (default) or OSTREE. */
  format?: string;
  /** ota: where the file lives (a URL), or */
  uri?: string;
  /** ota: that it was uploaded to the reposerver. */
  cliUploaded?: boolean;
  /** The target's name in targets.json (default NAME-VERSION). */
  targetName?: string;
  now?: Date;
}

/** The target name and entry for `f`, or USAGE saying which field is wrong. */
export function targetEntry(f: TargetFile): { name: string; entry: NonNullable<TargetsChange['add']>[string] } {
  const now = formatExpires(f.now ?? new Date());
  const hashes: Record<string, string> = { sha256: f.sha256 };
  if (f.dialect === 'tuf') {
    if (!f.sha512) throw new QuorumError('USAGE', 'a tuf target needs its sha512 too');
    hashes.sha512 = f.sha512;
  }
  const format = f.format ?? 'BINARY';
  if (format !== 'BINARY' && format !== 'OSTREE') throw new QuorumError('USAGE', '--format must be BINARY or OSTREE');
  if (f.dialect !== 'ota' && (f.uri !== undefined || f.cliUploaded))
    throw new QuorumError('USAGE', '--uri and --cli-uploaded are OTA Connect (ota) target fields');
  if (f.uri !== undefined && f.cliUploaded)
    throw new QuorumError(
      'USAGE',
      'choose one location: --uri URL (the file lives there) or --cli-uploaded (it was uploaded to the reposerver)',
    );
  const custom: Record<string, unknown> =
    f.dialect === 'ota'
      ? {
          name: f.name,
          version: f.version,
          hardwareIds: f.hardwareIds ?? [],
          targetFormat: format,
          uri: f.uri ?? null,
          ...(f.cliUploaded ? { cliUploaded: true } : {}),
          createdAt: now,
          updatedAt: now,
        }
      : {
          name: f.name,
          version: f.version,
          ...(f.hardwareIds ? { hardwareIds: f.hardwareIds } : {}),
          targetFormat: format,
        };
  return { name: f.targetName ?? `${f.name}-${f.version}`, entry: { length: f.length, hashes, custom } };
}
