/**
 * One namespace for CA names and FROST group names, shared by certificates.ts (key-held CAs) and
 * frost.ts (DKG ceremonies that become a CA or a root/targets key), so that a name names exactly
 * one key: `frost:NAME` in a root change, `--ca NAME` in a certificate round. A name is taken by a
 * CA with a certificate, a retired CA (kept with its rounds as history), a CA with an open round,
 * a DKG ceremony under way, and an agreed role-key group. A CA that never got its certificate
 * gives its name up: it is retired (renamed, never deleted) in the transaction that gives the name
 * to a new CA.
 */
import { QuorumError } from '../protocol/errors.js';
import type { CaRow, FrostCeremonyRow, Store } from './store.js';

/** The name is taken (the message says by what, and what to do). */
export class CaNameError extends QuorumError<'CA_EXISTS'> {}

/** A ceremony under way (not failed or done) whose group is to become CA `name`, or a role-key group of that name. */
export function pendingCeremonyFor(store: Store, name: string): FrostCeremonyRow | undefined {
  // A done role-key group keeps its name (group and CA names share one namespace).
  return store
    .frostCeremonies()
    .find(
      (r) => r.state !== 'failed' && (r.state !== 'done' || r.purpose.kind === 'role-key') && r.purpose.name === name,
    );
}

/**
 * Whether a new CA may take the name `name`: free, or held by a CA that may be retired for it
 * (returned) because it never got its certificate, so never issued anything, and has no open round
 * (its own round was cancelled or expired). Else CA_EXISTS, saying why and what to do: a CA with a
 * certificate keeps its name; an open round is cancelled first; a DKG ceremony under way is
 * cancelled first; a retired CA's name stays with its history.
 */
export function checkCaName(store: Store, name: string): CaRow | null {
  const pending = pendingCeremonyFor(store, name);
  if (pending)
    throw new CaNameError(
      'CA_EXISTS',
      `a FROST DKG ceremony for a CA named ${name} is under way (${pending.id}, ${pending.state}); cancel it ` +
        `first (quorum fleet-ca cancel-ceremony ${pending.id} --reason TEXT) or choose another name`,
    );
  const ca = store.ca(name);
  if (!ca) return null;
  if (ca.retired_at)
    throw new CaNameError(
      'CA_EXISTS',
      `${name} is the name of a retired CA (once ${ca.retired_from}), kept with its rounds as history; choose ` +
        'another name',
    );
  const rounds = store.certRoundsOfCa(name);
  if (ca.chain_pem || rounds.some((r) => r.state === 'released'))
    throw new CaNameError('CA_EXISTS', `a CA named ${name} exists and has its certificate; choose another name`);
  const open = rounds.filter((r) => r.state === 'open');
  if (open.length) {
    const ids = open.map((r) => r.id).join(', ');
    throw new CaNameError(
      'CA_EXISTS',
      `a CA named ${name} exists and its round ${ids} is open; cancel it first (quorum cert cancel ` +
        `${open[0]!.id} --reason TEXT) to create the CA again, or choose another name`,
    );
  }
  return ca;
}

/**
 * Give the name `name` to a new CA, inside the transaction that creates it: checkCaName, then a CA
 * that never got its certificate is retired (renamed `<name>.retired-<n>` with its rounds, kept in
 * SQLite, and audited as ca.retired) so the name is free. Returns the retired name, if any.
 */
export function claimCaName(store: Store, name: string, now: Date): string | null {
  const old = checkCaName(store, name);
  if (!old) return null;
  let retired = '';
  // within the wire's 64-character ids
  for (let n = 1; !retired || store.ca(retired); n++) retired = `${name.slice(0, 48)}.retired-${n}`;
  const rounds = store.certRoundsOfCa(name).map((r) => ({ id: r.id, state: r.state }));
  if (!store.retireCa(name, retired, now.toISOString()))
    throw new CaNameError('CA_EXISTS', `CA ${name} changed while it was being retired; try again`);
  store.audit(
    'ca.retired',
    {
      name,
      retiredAs: retired,
      kind: old.kind,
      fingerprint: old.issuer_fingerprint,
      rounds,
      ...(old.frost_ceremony ? { ceremony: old.frost_ceremony } : {}),
      why: 'the CA never got its certificate and its name is given to a new CA',
    },
    now.toISOString(),
  );
  return retired;
}

/**
 * Whether a new role-key group may take the name `name`: no CA of that name, and no ceremony
 * other than a failed one making a group of that name. Else CA_EXISTS.
 */
export function checkGroupName(store: Store, name: string): void {
  if (store.ca(name))
    throw new CaNameError(
      'CA_EXISTS',
      `a CA named ${name} exists already; group and CA names share one namespace, choose another name`,
    );
  const taken = store.frostCeremonies().find((r) => r.state !== 'failed' && r.purpose.name === name);
  if (taken)
    throw new CaNameError(
      'CA_EXISTS',
      `ceremony ${taken.id} (${taken.state}) already makes the group ${name}; choose another ` +
        `name${taken.state === 'done' ? '' : ', or cancel it first'}`,
    );
}
