/**
 * A FROST share is bound to the session the keyholder reviewed: a coordinator that answers
 * `frost.sign.get X` about another session, or hands out a signing request for an attempt of
 * another session, gets ROUND_MISMATCH before the share holder is asked for anything.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isAttemptOf, signSession, type ShareHolder } from '../../signer-client/frost-participant.js';
import type { SignerConnection } from '../../signer-client/connection.js';
import type { FrostGroup } from '../../protocol/frost-wire.js';
import type { ServerMessage } from '../../protocol/wire.js';

type Status = Extract<ServerMessage, { type: 'frost.sign.status' }>;
const GROUP = 'ab'.repeat(32);

/** A coordinator that answers every request with `answer` and records what it was sent. */
function lyingConnection(answer: Status) {
  const sent: unknown[] = [];
  const conn = Object.assign(new EventEmitter(), {
    request: async (m: unknown) => (sent.push(m), answer),
  });
  return { conn: conn as unknown as SignerConnection, sent };
}

/** A share holder that fails the test if it is ever asked to commit or sign. */
const holder = {
  identifier: 1,
  signSync: () => expect.fail('the share holder was asked to sign'),
  commitSync: () => expect.fail('the share holder was asked to commit'),
  abandonSync: () => undefined,
} as unknown as ShareHolder;
const group = { groupPublicKey: GROUP, ceremony: 'c1', threshold: 2 } as unknown as FrostGroup;

function status(over: Partial<Status>): Status {
  return {
    type: 'frost.sign.status',
    session: 'r1.c1',
    state: 'open',
    attempt: 1,
    groupPublicKey: GROUP,
    threshold: 2,
    committed: [],
    request: null,
    shared: [],
    excluded: [],
    certificate: null,
    done: false,
    ...over,
  };
}

const run = (answer: Status, session = 'r1.c1') =>
  signSession(
    lyingConnection(answer).conn,
    holder,
    group,
    session,
    Buffer.from('reviewed'),
    Date.now() + 5000,
    () => {},
  );

describe('frost sign: the coordinator cannot move a share to another session', () => {
  it('an answer about another session is refused, and nothing is committed', async () => {
    await expect(run(status({ session: 'r2.c1' }))).rejects.toMatchObject({ code: 'ROUND_MISMATCH' });
  });

  it('a signing request for an attempt of another session is refused before signing', async () => {
    const request = {
      session: 'r2.c1.1',
      groupPublicKey: GROUP,
      commitments: [{ identifier: 1 }, { identifier: 2 }],
    } as unknown as Status['request'];
    await expect(run(status({ request, committed: [1, 2] }))).rejects.toMatchObject({ code: 'ROUND_MISMATCH' });
  });

  it('attempt names: `<session>.<k>` only', () => {
    expect(isAttemptOf('r1.c1.1', 'r1.c1')).toBe(true);
    expect(isAttemptOf('r1.c1.12', 'r1.c1')).toBe(true);
    expect(isAttemptOf('r1.c1', 'r1.c1')).toBe(false);
    expect(isAttemptOf('r1.c1.x', 'r1.c1')).toBe(false);
    expect(isAttemptOf('r1.c1.1.2', 'r1.c1')).toBe(false);
    expect(isAttemptOf('r1.c10.1', 'r1.c1')).toBe(false);
    expect(isAttemptOf('r1.c1.', 'r1.c1')).toBe(false);
  });
});
