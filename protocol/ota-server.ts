/**
 * What the OTA Connect servers (ota-tuf's keyserver and reposerver) do with what we hand them, and
 * what aktualizr then does with it, beyond the metadata format itself: the rules a release must
 * follow so that the upload is accepted AND devices can install what it lists. Pure functions, used
 * by the coordinator (round open, `quorum export ota-tuf`), the signer's summary and `quorum verify`.
 *
 * Sources (advancedtelematic/ota-tuf @ e56876f0, advancedtelematic/aktualizr @ fc9c5f59):
 * - reposerver `OfflineSignedRoleStorage.validateNewTarget`: a new target's `custom` decodes as
 *   TargetCustom; `cliUploaded: true` stores it as CliManaged, anything else as Unmanaged; a `uri`
 *   is at most 2000 characters (`MaxAllowedUriLength`).
 * - reposerver `TargetStore.retrieve`: an Unmanaged target without a uri answers 417
 *   `no_uri_for_unmanaged_target`, so a device's download of it fails.
 * - libtuf `TufDataType.ValidHardwareIdentifier`: a hardware id is 0-200 characters.
 * - libtuf `ClientCodecs.targetCustomDecoder`: `uri` decodes as a java.net.URI.
 * - aktualizr `Target::MatchTarget`: an image-repository target matches the director's only if
 *   each ECU's hardware id is in its `hardwareIds`, so with none it is never installed.
 * - aktualizr `Target::IsOstree`: `targetFormat` "OSTREE", or absent with length 0, is fetched from
 *   treehub; everything else is a file downloaded from `uri` or the reposerver.
 * - libtuf `RsaCrypto.signer` ("SHA256withRSAandMGF1", BouncyCastle): RSA-PSS verifies with salt
 *   length 32 only; aktualizr recovers any salt (`RSA_verify_PKCS1_PSS` with -2).
 * - keyserver `KeyGenerationRequests.persistUserSigned` / `persistAndKeepRepoKeys`: on accepting a
 *   root it keeps only the private keys whose ids the new root's `keys` still lists.
 */
import type { Codes } from './errors.js';
import { canonicalize } from './canonical.js';
import { pssSaltLength, type PublicKey } from './keys.js';
import type { RootSigned } from './metadata/schemas.js';

/** The only RSA-PSS salt length the ota-tuf servers verify. */
export const OTA_PSS_SALT = 32;
/** Longest hardware id ota-tuf accepts (characters). */
export const OTA_MAX_HARDWARE_ID = 200;
/** Longest target uri the reposerver stores (characters). */
export const OTA_MAX_URI = 2000;
/** Roles whose private keys the OTA Connect keyserver holds and signs with itself. */
export const OTA_SERVER_ROLES = [
  'snapshot',
  'timestamp',
  'offline-updates',
  'offline-snapshot',
  'remote-sessions',
] as const;

export type OtaTargetCode = Codes<
  | 'OTA_TARGET_HARDWARE_IDS' // no hardware id, or one that is empty or longer than 200 characters
  | 'OTA_TARGET_LOCATION' // a BINARY target with neither a uri nor cliUploaded: true
  | 'OTA_TARGET_URI' // a uri the reposerver cannot parse or store
>;

export interface OtaTargetProblem {
  code: OtaTargetCode;
  /** Where, e.g. `targets.fw-1.0.custom.uri`. */
  at: string;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// --- java.net.URI --------------------------------------------------------------------------------

const ALPHANUM = 'A-Za-z0-9';
const MARK = "\\-_.!~*'()";
const PCHAR = new RegExp(`^(?:[${ALPHANUM}${MARK}:@&=+$,;/]|%[0-9A-Fa-f]{2})*$`);
// java.net.URI's "reserved" includes [ and ] (RFC 2732), so they may appear in a query or fragment.
const URIC = new RegExp(`^(?:[${ALPHANUM}${MARK};/?:@&=+$,\\[\\]]|%[0-9A-Fa-f]{2})*$`);
const REG_NAME = new RegExp(`^(?:[${ALPHANUM}${MARK}$,;:@&=+]|%[0-9A-Fa-f]{2})*$`);
const IPV6_AUTHORITY = new RegExp(
  `^(?:(?:[${ALPHANUM}${MARK};:&=+$,]|%[0-9A-Fa-f]{2})*@)?\\[[0-9A-Fa-f:.]+\\](?::[0-9]*)?$`,
);
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/**
 * Why `s` would not parse as a java.net.URI (RFC 2396 with java's deviations), as the reposerver
 * decodes `custom.uri`; null when it parses. Non-ASCII is refused as well: the reposerver refuses
 * any character above 0x7f in a target's custom metadata.
 */
export function javaUriProblem(s: string): string | null {
  const bad = /[^\x21-\x7e]/.exec(s);
  if (bad)
    return (
      `character ${JSON.stringify(bad[0])} at index ${bad.index} is not allowed in a URI (no spaces, controls or ` +
      'non-ASCII)'
    );
  const hash = s.indexOf('#');
  const main = hash < 0 ? s : s.slice(0, hash);
  if (hash >= 0 && !URIC.test(s.slice(hash + 1)))
    return (
      `the fragment ${JSON.stringify(s.slice(hash + 1))} has a character a URI does not allow there (or an ` +
      'unescaped %)'
    );
  const colon = main.search(/[:/?]/);
  let rest = main;
  if (colon >= 0 && main[colon] === ':') {
    const scheme = main.slice(0, colon);
    if (!scheme) return 'a URI cannot start with ":" (expected a scheme name)';
    if (!SCHEME.test(scheme))
      return `${JSON.stringify(scheme)} is not a scheme name (a letter, then letters, digits, "+", "-" or ".")`;
    rest = main.slice(colon + 1);
    if (!rest) return `nothing follows "${scheme}:" (expected the scheme-specific part)`;
    if (!rest.startsWith('/'))
      return URIC.test(rest)
        ? null
        : `the scheme-specific part ${JSON.stringify(rest)} has a character a URI does not allow`;
  }
  const q = rest.indexOf('?');
  const query = q < 0 ? null : rest.slice(q + 1);
  let path = q < 0 ? rest : rest.slice(0, q);
  if (query !== null && !URIC.test(query))
    return `the query ${JSON.stringify(query)} has a character a URI does not allow there (or an unescaped %)`;
  if (path.startsWith('//')) {
    const end = path.slice(2).search(/\//);
    const authority = end < 0 ? path.slice(2) : path.slice(2, 2 + end);
    path = end < 0 ? '' : path.slice(2 + end);
    if (!authority && !path && query === null && hash < 0)
      return 'nothing follows "//" (expected an authority: a host name)';
    if (authority && !(REG_NAME.test(authority) || IPV6_AUTHORITY.test(authority)))
      return `the authority ${JSON.stringify(authority)} is not a host[:port] (brackets only around an IPv6 address)`;
  }
  if (!PCHAR.test(path))
    return `the path ${JSON.stringify(path)} has a character a URI does not allow there (or an unescaped %)`;
  return null;
}

// --- targets -------------------------------------------------------------------------------------

/** Whether aktualizr downloads this target as a file (everything that is not OSTree). */
export function isBinaryTarget(item: Obj): boolean {
  const custom = isObj(item.custom) ? item.custom : {};
  const format = custom.targetFormat;
  if (format === 'OSTREE') return false;
  return !((format === undefined || format === null) && item.length === 0);
}

/**
 * What keeps an image-repository target from being installed by a device, or stored by the
 * reposerver: hardware ids and the uri's syntax, and for a target the server does not hold yet
 * (`isNew`: it keeps a known target's location) the download location of a file.
 */
export function otaTargetProblems(name: string, item: unknown, isNew = true): OtaTargetProblem[] {
  const out: OtaTargetProblem[] = [];
  const at = `targets.${name}`;
  if (!isObj(item)) return out; // the schema check reports it
  const custom = isObj(item.custom) ? item.custom : null;
  const hw = custom?.hardwareIds;
  if (!Array.isArray(hw) || hw.length === 0) {
    out.push({
      code: 'OTA_TARGET_HARDWARE_IDS',
      at: `${at}.custom.hardwareIds`,
      message:
        'lists no hardware id, so aktualizr matches it to no ECU and never installs it; name at least one ' +
        '(--hardware-id)',
    });
  } else {
    hw.forEach((h, i) => {
      if (typeof h !== 'string' || h.length === 0 || h.length > OTA_MAX_HARDWARE_ID) {
        out.push({
          code: 'OTA_TARGET_HARDWARE_IDS',
          at: `${at}.custom.hardwareIds[${i}]`,
          message:
            `${JSON.stringify(h)} is not a hardware id: a string of 1-${OTA_MAX_HARDWARE_ID} characters ` +
            "(ota-tuf's limit)",
        });
      }
    });
  }
  const uri = custom?.uri;
  let located = custom?.cliUploaded === true;
  if (uri !== undefined && uri !== null) {
    const problem =
      typeof uri !== 'string'
        ? 'is not a string'
        : uri.length > OTA_MAX_URI
          ? `is ${uri.length} characters; the reposerver stores at most ${OTA_MAX_URI}`
          : javaUriProblem(uri);
    if (problem)
      out.push({
        code: 'OTA_TARGET_URI',
        at: `${at}.custom.uri`,
        message: `${problem}; the reposerver refuses the upload`,
      });
    else if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri as string))
      out.push({
        code: 'OTA_TARGET_URI',
        at: `${at}.custom.uri`,
        message:
          `${JSON.stringify(uri)} is not an absolute URL (https://...): a device downloads the file from exactly ` +
          'this address',
      });
    else located = true;
  }
  if (isNew && !located && isBinaryTarget(item)) {
    out.push({
      code: 'OTA_TARGET_LOCATION',
      at: `${at}.custom`,
      message:
        'a BINARY target needs a location: a uri where the file lives (--uri URL), or cliUploaded: true once ' +
        'the file is uploaded to the reposerver (garage-sign targets upload, then --cli-uploaded); without ' +
        "either the reposerver answers 417 no_uri_for_unmanaged_target and the device's download fails",
    });
  }
  return out;
}

/**
 * otaTargetProblems for every target of a `signed` targets body that `base` (the `signed` body the
 * server holds, null when unknown: every target is then new) does not list byte for byte. Targets
 * carried over unchanged were accepted before and are not checked again.
 */
export function otaTargetsProblems(proposed: Obj, base: Obj | null): OtaTargetProblem[] {
  const now = isObj(proposed.targets) ? proposed.targets : {};
  const before = base && isObj(base.targets) ? base.targets : {};
  const same = (a: unknown, b: unknown) => {
    try {
      return canonicalize(a, 'ota').equals(canonicalize(b, 'ota'));
    } catch {
      return false;
    }
  };
  return Object.entries(now).flatMap(([name, item]) =>
    name in before && same(before[name], item) ? [] : otaTargetProblems(name, item, !(name in before)),
  );
}

// --- signatures ----------------------------------------------------------------------------------

/**
 * The salt length of an RSA signature when it is not the 32 the ota-tuf servers verify; null when fine or not RSA-PSS.
 */
export function otaSaltProblem(pk: PublicKey, sig: Buffer): number | null {
  if (pk.algorithm !== 'rsa-pss-sha256') return null;
  const salt = pssSaltLength(pk, sig);
  return salt === null || salt === OTA_PSS_SALT ? null : salt;
}

// --- root ----------------------------------------------------------------------------------------

export interface DeletedServerKey {
  keyid: string;
  /** The server's roles that listed it in the previous root. */
  roles: string[];
}

/**
 * Keys the OTA Connect keyserver holds for its own roles in `from` whose ids `to` no longer lists
 * in `keys`: when it accepts `to`, it deletes those private keys.
 */
export function serverKeysDeleted(from: RootSigned, to: RootSigned): DeletedServerKey[] {
  const out = new Map<string, string[]>();
  for (const role of OTA_SERVER_ROLES) {
    for (const id of from.roles[role]?.keyids ?? []) {
      if (to.keys[id]) continue;
      out.set(id, [...(out.get(id) ?? []), role]);
    }
  }
  return [...out].map(([keyid, roles]) => ({ keyid, roles }));
}

/** The sentence the signer's summary and the export print for one deleted key. */
export function deletedKeyLine(k: DeletedServerKey): string {
  return (
    `the OTA Connect server DELETES its private key ${k.keyid} (${k.roles.join(', ')}) when it accepts this ` +
    `root: it can no longer sign ${k.roles.join(' or ')} with it`
  );
}
