/**
 * protocol/ota-server.ts: what the OTA Connect servers and aktualizr do with a release beyond the
 * format. The salt length read back from real RSA-PSS signatures of every length OpenSSL makes; the
 * java.net.URI rules the reposerver decodes `custom.uri` with (cases from java's own behaviour);
 * target checks (hardware ids, a BINARY file's location); the keys the keyserver deletes.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, publicKeyFrom, pssSaltLength, verifySignature } from '../../protocol/keys.js';
import type { RootSigned } from '../../protocol/metadata/schemas.js';
import {
  javaUriProblem,
  otaSaltProblem,
  otaTargetProblems,
  otaTargetsProblems,
  serverKeysDeleted,
} from '../../protocol/ota-server.js';
import { testRsaKey } from '../test-keys.js';

const DATA = Buffer.from('{"signed":"bytes"}');

function pss(key: crypto.KeyObject, saltLength: number): Buffer {
  return crypto.sign('sha256', DATA, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength });
}

describe('pssSaltLength: the salt of an RSA-PSS signature, read back', () => {
  it.each([2048, 3072, 2049])('RSA-%i: salt 0, 20, 32 and the maximum OpenSSL signs with', (bits) => {
    // 2048 and 3072 bits: keys made once (test/test-keys.ts); 2049 bits, one made here
    const privateKey =
      bits === 2048
        ? testRsaKey('rsa-2048-a')
        : bits === 3072
          ? testRsaKey('rsa-3072')
          : crypto.generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
    const pk = publicKeyFrom(privateKey);
    const emLen = Math.ceil((bits - 1) / 8);
    for (const salt of [0, 20, 32, emLen - 32 - 2]) {
      const sig = pss(privateKey, salt);
      expect(verifySignature(pk, DATA, sig)).toBe(true); // aktualizr and we accept any salt
      expect(pssSaltLength(pk, sig)).toBe(salt);
      expect(otaSaltProblem(pk, sig)).toBe(salt === 32 ? null : salt);
    }
    expect(pssSaltLength(pk, pss(privateKey, crypto.constants.RSA_PSS_SALTLEN_MAX_SIGN))).toBe(emLen - 34);
  });

  it('a PKCS#1 v1.5 signature, garbage, and other key types are not PSS: null', () => {
    const privateKey = testRsaKey('rsa-2048-b');
    const pk = publicKeyFrom(privateKey);
    expect(
      pssSaltLength(pk, crypto.sign('sha256', DATA, { key: privateKey, padding: crypto.constants.RSA_PKCS1_PADDING })),
    ).toBeNull();
    expect(pssSaltLength(pk, crypto.randomBytes(256))).toBeNull();
    expect(pssSaltLength(pk, Buffer.alloc(12))).toBeNull();
    const ed = generateKeyPair('ed25519');
    expect(otaSaltProblem(ed.publicKey, crypto.sign(null, DATA, ed.privateKey))).toBeNull();
  });
});

describe("javaUriProblem: what java.net.URI (the reposerver's decoder for custom.uri) accepts", () => {
  it.each([
    'https://example.com/fw.bin',
    'https://user@example.com:8443/a/b;v=1?x=1&y=[2]#frag',
    'http://[::1]:8080/x',
    'http://[2001:db8::7]/x',
    's3://bucket/key/with-dash_and.dots~',
    'https://example.com/a%20b%2F',
    'file:///tmp/x', // empty authority before a path
    'mailto:ops@example.com', // opaque
    'fw.bin', // relative
    '',
  ])('%j parses', (uri) => expect(javaUriProblem(uri)).toBeNull());

  it.each([
    ['https://exa mple.com/', 'index 11'],
    ['https://example.com/a b', 'index 21'],
    ['https://example.com/{x}', 'path'],
    ['https://example.com/a|b', 'path'],
    ['https://example.com/%zz', 'path'],
    ['https://example.com/a\\b', 'path'],
    ['https://example.com/[x]', 'path'],
    ['https://example.com/a#b#c', 'fragment'],
    ['https://example.com/?q=%2', 'query'],
    ['http://', 'authority'],
    ['http:', 'scheme-specific'],
    [':foo', 'scheme name'],
    ['1http://x/', 'scheme name'],
    ['https://ex]ample.com/', 'authority'],
    ['https://example.com/ü', 'index 20'],
    ['https://example.com/\n', 'index 20'],
  ])('%j does not parse (%s)', (uri, where) => {
    const p = javaUriProblem(uri);
    expect(p).not.toBeNull();
    expect(p).toContain(where);
  });
});

const custom = (over: Record<string, unknown> = {}) => ({
  name: 'fw',
  version: '1.0',
  hardwareIds: ['ecu-main'],
  targetFormat: 'BINARY',
  uri: null,
  createdAt: '2030-01-01T00:00:00Z',
  updatedAt: '2030-01-01T00:00:00Z',
  ...over,
});
const item = (over: Record<string, unknown> = {}, length = 1024) => ({
  length,
  hashes: { sha256: 'ab'.repeat(32) },
  custom: custom(over),
});
const codes = (name: string, i: unknown, isNew = true) =>
  otaTargetProblems(name, i, isNew).map((p) => `${p.code} @ ${p.at}`);

describe('otaTargetProblems: a target devices can install and the reposerver can serve', () => {
  it('a BINARY file with a uri, or uploaded to the reposerver (cliUploaded), or an OSTree commit: fine', () => {
    expect(codes('fw', item({ uri: 'https://files.example.com/fw.bin' }))).toEqual([]);
    expect(codes('fw', item({ cliUploaded: true }))).toEqual([]);
    expect(codes('fw', item({ targetFormat: 'OSTREE' }))).toEqual([]);
    // aktualizr's IsOstree: no targetFormat and length 0 is an OSTree commit (older servers).
    expect(codes('fw', item({ targetFormat: null }, 0))).toEqual([]);
  });

  it('a BINARY file with neither: OTA_TARGET_LOCATION (the reposerver answers 417, the download fails)', () => {
    expect(codes('fw', item())).toEqual(['OTA_TARGET_LOCATION @ targets.fw.custom']);
    expect(codes('fw', item({ cliUploaded: false }))).toEqual(['OTA_TARGET_LOCATION @ targets.fw.custom']);
    expect(codes('fw', item({ targetFormat: null }))).toEqual(['OTA_TARGET_LOCATION @ targets.fw.custom']);
    // A target the server already holds keeps the location it has there.
    expect(codes('fw', item(), false)).toEqual([]);
  });

  it('no hardware id, an empty one, or one over 200 characters: OTA_TARGET_HARDWARE_IDS', () => {
    expect(codes('fw', item({ hardwareIds: [], cliUploaded: true }))).toEqual([
      'OTA_TARGET_HARDWARE_IDS @ targets.fw.custom.hardwareIds',
    ]);
    expect(codes('fw', item({ hardwareIds: undefined, cliUploaded: true }))).toEqual([
      'OTA_TARGET_HARDWARE_IDS @ targets.fw.custom.hardwareIds',
    ]);
    expect(codes('fw', { length: 1, hashes: {} })).toEqual([
      'OTA_TARGET_HARDWARE_IDS @ targets.fw.custom.hardwareIds',
      'OTA_TARGET_LOCATION @ targets.fw.custom',
    ]);
    expect(codes('fw', item({ hardwareIds: ['ok', '', 'x'.repeat(201)], cliUploaded: true }))).toEqual([
      'OTA_TARGET_HARDWARE_IDS @ targets.fw.custom.hardwareIds[1]',
      'OTA_TARGET_HARDWARE_IDS @ targets.fw.custom.hardwareIds[2]',
    ]);
    expect(codes('fw', item({ hardwareIds: ['x'.repeat(200)], cliUploaded: true }))).toEqual([]);
    // Hardware ids matter for targets the server already holds too: devices match on them.
    expect(codes('fw', item({ hardwareIds: [] }), false)).toEqual([
      'OTA_TARGET_HARDWARE_IDS @ targets.fw.custom.hardwareIds',
    ]);
  });

  it('a uri the reposerver cannot parse or store, or not absolute: OTA_TARGET_URI (and no location)', () => {
    expect(codes('fw', item({ uri: 'https://files.example.com/fw 1.bin' }))).toEqual([
      'OTA_TARGET_URI @ targets.fw.custom.uri',
      'OTA_TARGET_LOCATION @ targets.fw.custom',
    ]);
    expect(codes('fw', item({ uri: `https://files.example.com/${'a'.repeat(2000)}`, cliUploaded: true }))).toEqual([
      'OTA_TARGET_URI @ targets.fw.custom.uri',
    ]);
    expect(codes('fw', item({ uri: 'fw.bin', cliUploaded: true }))).toEqual(['OTA_TARGET_URI @ targets.fw.custom.uri']);
    expect(codes('fw', item({ uri: 42, cliUploaded: true }))).toEqual(['OTA_TARGET_URI @ targets.fw.custom.uri']);
  });

  it('otaTargetsProblems checks only what the server does not hold byte for byte', () => {
    const base = { targets: { old: item(), same: item({ hardwareIds: [] }) } };
    const proposed = { targets: { old: item({ version: '1.1' }), same: item({ hardwareIds: [] }), fresh: item() } };
    expect(otaTargetsProblems(proposed, base).map((p) => `${p.code} @ ${p.at}`)).toEqual([
      'OTA_TARGET_LOCATION @ targets.fresh.custom',
    ]);
    expect(
      otaTargetsProblems(proposed, null)
        .map((p) => p.at)
        .sort(),
    ).toEqual(['targets.fresh.custom', 'targets.old.custom', 'targets.same.custom', 'targets.same.custom.hardwareIds']);
  });
});

describe('serverKeysDeleted: the private keys the OTA Connect keyserver drops with a new root', () => {
  const k = (id: string) => ({ [id]: { keytype: 'ED25519', keyval: { public: id } } });
  const root = (keys: Record<string, unknown>, roles: Record<string, string[]>) =>
    ({
      _type: 'Root',
      version: 1,
      expires: '2030-01-01T00:00:00Z',
      keys,
      roles: Object.fromEntries(Object.entries(roles).map(([r, ids]) => [r, { keyids: ids, threshold: 1 }])),
    }) as unknown as RootSigned;

  it(
    'names each key of snapshot, timestamp, offline-updates, offline-snapshot and remote-sessions that the new ' +
      'root no longer lists',
    () => {
      const from = root(
        { ...k('r'), ...k('s'), ...k('t'), ...k('o') },
        {
          root: ['r'],
          targets: ['r'],
          snapshot: ['s'],
          timestamp: ['t'],
          'offline-updates': ['o'],
          'offline-snapshot': ['o'],
        },
      );
      expect(serverKeysDeleted(from, root({ ...k('r'), ...k('s'), ...k('t'), ...k('o') }, { root: ['r'] }))).toEqual(
        [],
      );
      expect(serverKeysDeleted(from, root({ ...k('r'), ...k('s') }, { root: ['r'] }))).toEqual([
        { keyid: 't', roles: ['timestamp'] },
        { keyid: 'o', roles: ['offline-updates', 'offline-snapshot'] },
      ]);
      // root and targets keys are the keyholders' (after a move offline): not the server's to delete.
      expect(serverKeysDeleted(from, root({ ...k('s'), ...k('t'), ...k('o') }, {}))).toEqual([]);
    },
  );
});
