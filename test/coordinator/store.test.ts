/**
 * Typed storage (coordinator/store.ts) against a rewritten database: every JSON column is decoded
 * once, in the store, by its schema, so a column that was edited into something else (not JSON,
 * or JSON of another shape) is STORE_CORRUPT naming the table, the row and the column, wherever it
 * is read, instead of a cast that lets a wrong value through or fails later as an internal error.
 * And what decodes is the stored value as it is: every key, in the stored order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleetCa, submitApproval } from '../../coordinator/certificates.js';
import { openRoleKeyCeremony } from '../../coordinator/frost.js';
import { HASH_BINS_META, hashBinsOf } from '../../coordinator/delegated.js';
import { listRounds, openRound } from '../../coordinator/rounds.js';
import { addViewer, listViewers } from '../../coordinator/sessions.js';
import {
  OTA_SERVER_TARGETS_META,
  proposedRoot,
  proposedSigned,
  StoreError,
  type Store,
} from '../../coordinator/store.js';
import { signBytes } from '../../protocol/keys.js';
import { approvalMessage, tbsBytes } from '../../protocol/x509.js';
import { newCoordinator, type TestCoordinator } from './fixture.js';

let c: TestCoordinator;
let ceremony: string;
let certRound: string;
let webhook: number;

beforeAll(async () => {
  c = await newCoordinator({
    dialect: 'tuf',
    keyholders: ['alice', 'bob', 'carol', { name: 'ca', type: 'ecdsa' }],
    root: ['alice'],
    releaseRoot: true,
  });
  listRounds(c.store); // freezes root v1's summary (round_summaries.info_json)
  certRound = (
    await createFleetCa(c.store, {
      name: 'fleet',
      holder: 'ca',
      fleetName: 'Acme',
      approvers: ['alice', 'bob'],
      approvals: 1,
      reason: 'r',
    })
  ).id;
  c.identities(['alice', 'bob', 'carol']);
  ceremony = openRoleKeyCeremony(c.store, {
    name: 'grp',
    threshold: 2,
    participants: ['alice', 'bob', 'carol'],
    reason: 'r',
  }).id;
  await c.dkg(ceremony);
  c.store.setMeta(OTA_SERVER_TARGETS_META, JSON.stringify({ _type: 'Targets', version: 3, targets: {} }));
  webhook = c.store.insertWebhook({
    url: 'http://127.0.0.1:9/hook',
    events: ['round.released'],
    format: 'json',
    secret: null,
    at: new Date().toISOString(),
  });
  addViewer(c.store, 'dana');
  c.store.setMeta(HASH_BINS_META, JSON.stringify({ bitLength: 4, namePrefix: 'bins' }));
});
afterAll(() => c.close());

/** Each JSON column: how to rewrite it, how the store reads it, and where the message must point. */
const columns: {
  table: string;
  column: string;
  where: string;
  key: () => unknown[];
  row: () => string;
  read: (s: Store) => unknown;
}[] = [
  {
    table: 'round_summaries',
    column: 'info_json',
    where: 'id = ?',
    key: () => ['root-v1-r1'],
    row: () => 'root-v1-r1',
    read: (s) => s.roundSummary('root-v1-r1'),
  },
  {
    table: 'cas',
    column: 'approvers',
    where: 'name = ?',
    key: () => ['fleet'],
    row: () => 'fleet',
    read: (s) => s.ca('fleet'),
  },
  {
    table: 'cert_rounds',
    column: 'prepared_json',
    where: 'id = ?',
    key: () => [certRound],
    row: () => certRound,
    read: (s) => s.certRound(certRound),
  },
  ...['ceremony_json', 'purpose_json', 'group_json'].map((column) => ({
    table: 'frost_ceremonies',
    column,
    where: 'id = ?',
    key: () => [ceremony],
    row: () => ceremony,
    read: (s: Store) => s.frostCeremonies(),
  })),
  ...['package_json', 'identity_json'].map((column) => ({
    table: 'frost_dkg_round1',
    column,
    where: 'ceremony = ? AND participant = 2',
    key: () => [ceremony],
    row: () => `${ceremony}/2`,
    read: (s: Store) => s.dkgRound1(ceremony),
  })),
  {
    table: 'frost_dkg_round2',
    column: 'package_json',
    where: 'ceremony = ? AND sender = 3 AND recipient = 1',
    key: () => [ceremony],
    row: () => `${ceremony}/3/1`,
    read: (s) => s.dkgRound2(ceremony, { recipient: 1 }),
  },
  ...['confirm_json', 'transcript_json'].map((column) => ({
    table: 'frost_dkg_confirms',
    column,
    where: 'ceremony = ? AND participant = 1',
    key: () => [ceremony],
    row: () => `${ceremony}/1`,
    read: (s: Store) => s.dkgConfirms(ceremony),
  })),
  {
    table: 'meta',
    column: 'value',
    where: 'key = ?',
    key: () => [OTA_SERVER_TARGETS_META],
    row: () => OTA_SERVER_TARGETS_META,
    read: (s) => s.serverTargets(),
  },
  {
    table: 'meta',
    column: 'value',
    where: "key = 'viewers'",
    key: () => [],
    row: () => 'viewers',
    read: (s) => listViewers(s),
  },
  {
    table: 'meta',
    column: 'value',
    where: 'key = ?',
    key: () => [HASH_BINS_META],
    row: () => HASH_BINS_META,
    read: (s) => hashBinsOf(s),
  },
  {
    table: 'webhooks',
    column: 'events',
    where: 'id = ?',
    key: () => [webhook],
    row: () => String(webhook),
    read: (s) => s.webhook(webhook),
  },
  {
    table: 'rounds',
    column: 'signed_json',
    where: 'id = ?',
    key: () => ['root-v1-r1'],
    row: () => 'root-v1-r1',
    read: (s) => proposedRoot(s.round('root-v1-r1')!),
  },
];

describe('a JSON column rewritten', () => {
  it.each(columns)(
    '$table.$column: STORE_CORRUPT naming the table, row and column; the untouched row reads again',
    (col) => {
      const db = c.store.db;
      const get = db.prepare(`SELECT ${col.column} AS v FROM ${col.table} WHERE ${col.where}`);
      const set = db.prepare(`UPDATE ${col.table} SET ${col.column} = ? WHERE ${col.where}`);
      const saved = (get.get(...col.key()) as { v: string }).v;
      expect(saved).toEqual(expect.any(String));
      expect(col.read(c.store)).toBeTruthy();
      try {
        for (const bad of ['{"not json', '{"some":"other shape"}', '[1,2,3]', '"a string"']) {
          set.run(bad, ...col.key());
          let e: unknown;
          try {
            col.read(c.store);
          } catch (x) {
            e = x;
          }
          expect(e, `${bad} in ${col.table}.${col.column}`).toBeInstanceOf(StoreError);
          expect(e).toMatchObject({ code: 'STORE_CORRUPT' });
          expect((e as Error).message).toContain(`column ${col.column} of ${col.table} row "${col.row()}"`);
        }
      } finally {
        set.run(saved, ...col.key());
      }
      expect(() => col.read(c.store)).not.toThrow();
    },
  );

  it('an approvers column rewritten to a string: STORE_CORRUPT, not a substring match that counts the approval', () => {
    const r = c.store.certRound(certRound)!;
    c.store.db.prepare('UPDATE cas SET approvers = ? WHERE name = ?').run(JSON.stringify('alice, bob'), 'fleet');
    try {
      const sub = {
        round: r.id,
        keyholder: c.store.keyholderByName('bob')!,
        tbsSha256: r.tbs_sha256,
        sig: signBytes(c.holders.bob!.privateKey, approvalMessage(tbsBytes(r.prepared), r.prepared.issuerFingerprint)),
      };
      expect(() => submitApproval(c.store, sub)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
      expect(c.store.approvals(r.id)).toEqual([]);
    } finally {
      c.store.db.prepare('UPDATE cas SET approvers = ? WHERE name = ?').run(JSON.stringify(['alice', 'bob']), 'fleet');
    }
  });

  it("a frozen round summary of another shape is not served to keyholders as the round's summary", () => {
    c.store.db
      .prepare('UPDATE round_summaries SET info_json = ? WHERE id = ?')
      .run('{"id":"root-v1-r1"}', 'root-v1-r1');
    expect(() => listRounds(c.store)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    c.store.db.prepare('UPDATE round_summaries SET info_json = NULL WHERE id = ?').run('root-v1-r1');
    expect(listRounds(c.store).rounds[0]).toMatchObject({ id: 'root-v1-r1', state: 'released' });
  });
});

describe('what decodes is the stored value as it is', () => {
  it('keeps every key of a proposal in the stored order, an own __proto__ key included', () => {
    const body = JSON.parse(
      '{"version":1,"_type":"targets","__proto__":{"polluted":true},"spec_version":"1.0.31","targets":{},' +
        '"expires":"2030-01-01T00:00:00Z"}',
    ) as Record<string, unknown>;
    const r = openRound(c.store, {
      role: 'targets',
      reason: 'r',
      deadline: new Date(Date.now() + 86_400_000),
      signed: body,
    });
    const decoded = proposedSigned(r);
    expect(Object.keys(decoded)).toEqual(['version', '_type', '__proto__', 'spec_version', 'targets', 'expires']);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
