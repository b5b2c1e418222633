/**
 * The admin HTTP API as one table: each route's name, method, path under /v1/admin (`:name`
 * segments are parameters), query and body schemas (strict: an unknown field is an error), and the
 * schema of its answer. The coordinator answers exactly these routes (admin-routes.ts holds one
 * handler per name, which the compiler checks); the CLI and the tests call them through
 * `adminClient`, which builds the request from the table and validates the answer against it.
 * This file imports nothing that touches the database, the file system or the network, so that a
 * browser bundle (the status page) can use the same table.
 */
import { z } from 'zod';
import { QuorumError } from '../protocol/errors.js';
import { WIRE_LIMITS } from '../protocol/limits.js';
import {
  CERT_PROFILES,
  BinsPayloadSchema,
  CertRoundInfoSchema,
  DelegationPayloadSchema,
  FROST_DKG_STATES,
  ROUND_STATES,
  RoundInfoSchema,
  ServerMessageSchema,
} from '../protocol/wire.js';

export const ADMIN_PREFIX = '/v1/admin';

/** A viewer's name (quorum viewer add NAME). */
export const VIEWER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const VIEWER_NAME_RULE =
  'a viewer name is 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit';

// --- request parts ------------------------------------------------------------------------------

const reason = z.string().min(1).max(2000);
/** An RFC 3339 time; the handler refuses one that is not a time (BODY_INVALID). */
const deadline = z.string().optional();

const TargetEntrySchema = z.looseObject({
  length: z.number().int().min(0),
  hashes: z.record(z.string(), z.string()),
  custom: z.record(z.string(), z.unknown()).optional(),
});

const KeyRefSchema = z.union([
  z.strictObject({ keyholder: z.string() }),
  z.strictObject({ publicKey: z.string() }), // PEM
  z.strictObject({ keyid: z.string() }), // an existing key in the current root
  z.strictObject({ online: z.literal(true) }), // the coordinator's online snapshot/timestamp key
  z.strictObject({ frost: z.string() }), // an agreed FROST group's key, by group name or ceremony id
]);
/** A key a root round adds or removes. */
export type KeyRef = z.infer<typeof KeyRefSchema>;
const RoleName = z.enum(['root', 'targets', 'snapshot', 'timestamp']);

/** A delegated targets role a targets round adds, or replaces when its name is delegated already. */
const DelegateSchema = z.strictObject({
  name: z.string().min(1).max(255),
  keys: z.array(KeyRefSchema).min(1).max(64),
  threshold: z.number().int().min(1),
  paths: z.array(z.string()).max(1000).optional(),
  pathHashPrefixes: z.array(z.string()).max(1000).optional(),
  terminating: z.boolean().optional(),
});
export type DelegateChange = z.infer<typeof DelegateSchema>;

/**
 * The targets a new targets round adds and removes, and the delegations it adds, changes or
 * removes (proposals.ts turns it into the next body).
 */
export const TargetsChangeSchema = z.strictObject({
  add: z.record(z.string().min(1), TargetEntrySchema).optional(),
  remove: z.array(z.string()).optional(),
  expiresDays: z.number().int().min(1).max(3650).optional(),
  delegate: z.array(DelegateSchema).max(1000).optional(),
  undelegate: z.array(z.string()).max(1000).optional(),
});
export type TargetsChange = z.infer<typeof TargetsChangeSchema>;

/** The keys and thresholds a new root round changes (proposals.ts turns it into the next body). */
export const RootChangeSchema = z.strictObject({
  add: z.array(z.strictObject({ role: RoleName, key: KeyRefSchema })).optional(),
  remove: z.array(z.strictObject({ role: RoleName, key: KeyRefSchema })).optional(),
  thresholds: z.partialRecord(RoleName, z.number().int()).optional(),
  expiresDays: z.number().int().min(1).max(3650).optional(),
});
export type RootChange = z.infer<typeof RootChangeSchema>;

const OpenRoundSchema = z.strictObject({
  role: z.enum(['root', 'targets']),
  /** A delegated targets role's round (role targets): the role's name. */
  delegated: z.string().min(1).max(255).optional(),
  reason,
  deadline,
  baseVersion: z.number().int().min(0).optional(),
  targets: TargetsChangeSchema.optional(),
  root: RootChangeSchema.optional(),
  resignTargets: z.boolean().optional(),
  signed: z.record(z.string(), z.unknown()).optional(),
});

const certCommon = {
  reason,
  deadline,
  validityDays: z.number().positive().max(100_000).optional(),
};

const FleetCaSchema = z.strictObject({
  name: z.string(),
  holder: z.string(),
  fleetName: z.string(),
  approvers: z.array(z.string()).max(100),
  approvals: z.number().int(),
  ...certCommon,
});

const FrostFleetCaSchema = z.strictObject({
  name: z.string(),
  fleetName: z.string().max(200),
  threshold: z.number().int(),
  participants: z.array(z.string()).min(2).max(64),
  ...certCommon,
});

const FrostGroupSchema = z.strictObject({
  name: z.string(),
  threshold: z.number().int(),
  participants: z.array(z.string()).min(2).max(64),
  reason: z.string().max(2000),
  deadline,
});

const IssueSchema = z.strictObject({
  ca: z.string(),
  profile: z.enum(CERT_PROFILES),
  csr: z.string().max(64 * 1024), // base64 of the PEM or DER file; x509.ts limits the CSR itself
  deviceId: z.string().optional(),
  newCa: z
    .strictObject({
      name: z.string(),
      holder: z.string(),
      approvers: z.array(z.string()).max(100).optional(),
      approvals: z.number().int().optional(),
    })
    .optional(),
  ...certCommon,
});

/** ?state=&limit=&before= of a listing: the newest `limit` opened before round `before`. */
const PageQuerySchema = z.strictObject({
  state: z.enum(ROUND_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(WIRE_LIMITS.pageMax).optional(),
  before: z.string().optional(),
});

// --- answers ------------------------------------------------------------------------------------

const dialect = z.enum(['ota', 'tuf']);

const RoundViewSchema = z.strictObject({ round: RoundInfoSchema, signed: z.string() });

/** What `quorum-signer review` shows of a certificate's TBS bytes (protocol/x509.ts Review). */
const ReviewSchema = z.strictObject({
  tbsSha256: z.string(),
  serial: z.string(),
  subject: z.string(),
  issuer: z.string(),
  selfIssued: z.boolean(),
  signatureAlgorithm: z.string(),
  publicKey: z.strictObject({ algorithm: z.string(), fingerprint: z.string() }),
  notBefore: z.string(),
  notAfter: z.string(),
  validityDays: z.number(),
  ca: z.boolean(),
  pathLength: z.number().int().optional(),
  extensions: z
    .array(z.strictObject({ oid: z.string(), name: z.string(), critical: z.boolean(), value: z.string() }))
    .readonly(),
});

const CertViewSchema = z.strictObject({
  round: CertRoundInfoSchema,
  review: ReviewSchema,
  certificate: z.string().nullable(),
});
export type CertView = z.infer<typeof CertViewSchema>;

/** A DKG ceremony's state as the release coordinator sees it: the frost.dkg.status message without its envelope. */
const DkgStatusSchema = ServerMessageSchema.options
  .filter((o) => o.shape.type.value === 'frost.dkg.status')
  .map((o) => o as Extract<typeof o, { shape: { type: z.ZodLiteral<'frost.dkg.status'> } }>)[0]!
  .omit({ type: true, ref: true });
export type DkgStatus = z.infer<typeof DkgStatusSchema>;

const KeyholderSchema = z.strictObject({ name: z.string(), fingerprint: z.string(), algorithm: z.string() });

const RoleExpirySchema = z.strictObject({
  role: z.enum(['root', 'targets', 'snapshot', 'timestamp']),
  version: z.number().int(),
  expires: z.string(),
  daysLeft: z.number(),
  state: z.enum(['ok', 'renewing', 'due', 'expired']),
  renewBeforeDays: z.number().optional(),
  lifetimeDays: z.number().optional(),
  renewFrom: z.string(),
  round: z.string().optional(),
});

const DelegatedExpirySchema = z.strictObject({
  name: z.string(),
  version: z.number().int(),
  expires: z.string(),
  daysLeft: z.number(),
  state: z.enum(['ok', 'renewing', 'expired']),
  first: z.string().optional(),
  round: z.string().optional(),
});

const CertificateExpirySchema = z.strictObject({
  ca: z.string(),
  expires: z.string(),
  daysLeft: z.number(),
  state: z.enum(['ok', 'expired']),
});

const WebhookSchema = z.strictObject({
  id: z.number().int(),
  url: z.string(),
  events: z.array(z.string()),
  format: z.enum(['json', 'slack']),
  hasSecret: z.boolean(),
  createdAt: z.string(),
  pending: z.number().int(),
  failed: z.number().int(),
  delivered: z.number().int(),
  lastError: z.string().nullable(),
});

const StatusSchema = z.strictObject({
  serverId: z.string(),
  dialect,
  rootVersion: z.number().int().nullable(),
  targetsVersion: z.number().int().nullable(),
  /** What the next targets round follows (the released version, or an OTA Connect server's). */
  targetsBase: z.number().int(),
  openRounds: z.array(RoundInfoSchema),
  keyholders: z.array(KeyholderSchema.extend({ connected: z.boolean() })),
  /** Each released role's expiry (absent from coordinators before issue 10). */
  expiry: z.array(RoleExpirySchema).optional(),
  /** Webhook deliveries waiting and given up (absent from coordinators before issue 10). */
  notify: z
    .strictObject({
      webhooks: z.number().int(),
      pending: z.number().int(),
      failed: z.number().int(),
      lastError: z.string().nullable(),
    })
    .optional(),
  release: z
    .strictObject({
      seq: z.number().int(),
      role: z.string(),
      version: z.number().int(),
      released_at: z.string(),
      round_id: z.string().nullable(),
    })
    .nullable(),
});

/**
 * Everything an air-gapped signer needs (quorum-signer sign --offline): the round, its payload,
 * the released roots and targets.
 */
const RoundBundleSchema = z.strictObject({
  format: z.literal('uptane-quorum-round-v1'),
  serverId: z.string(),
  dialect,
  round: RoundInfoSchema,
  signed: z.string(),
  linkedRoot: RoundViewSchema.optional(),
  delegation: DelegationPayloadSchema.optional(),
  bins: BinsPayloadSchema.optional(),
  roots: z.array(z.strictObject({ version: z.number().int(), file: z.string() })),
  targets: z.string().nullable(),
});

const CaSchema = z.strictObject({
  name: z.string(),
  kind: z.string(),
  holder: z.string().nullable(),
  fingerprint: z.string(),
  algorithm: z.string(),
  approvers: z.array(z.string()),
  approvals: z.number().int(),
  issued: z.boolean(),
  createdAt: z.string(),
  retiredFrom: z.string().nullable().optional(),
  retiredAt: z.string().optional(),
});

const FrostGroupInfoSchema = z.strictObject({
  ceremony: z.string(),
  name: z.string(),
  kind: z.enum(['fleet-ca', 'role-key']),
  state: z.enum(FROST_DKG_STATES),
  groupPublicKey: z.string().nullable(),
  threshold: z.number().int(),
  participants: z.array(z.string()),
  failure: z.string().nullable(),
  transcript: z.string().nullable(),
  /** Why a done group may not be used (e.g. agreed before transcripts were signed). */
  refused: z.string().optional(),
});

const CeremonyInfoSchema = z.strictObject({
  id: z.string(),
  state: z.enum(FROST_DKG_STATES),
  createdAt: z.string(),
  groupPublicKey: z.string().nullable(),
  failure: z.string().nullable(),
});

const RefreshSchema = z.strictObject({
  seq: z.number().int(),
  roles: z.array(z.enum(['snapshot', 'timestamp'])),
  timestamp: z.strictObject({ version: z.number().int(), expires: z.string() }),
  snapshot: z.strictObject({ version: z.number().int(), expires: z.string() }),
});

/** What a round changes, computed from the stored bytes (protocol/changes.ts, as the signer computes it). */
const RoundSummarySchema = z.strictObject({
  /** sha256 of the stored canonical bytes, hashed now. */
  sha256: z.string(),
  version: z.strictObject({ from: z.number().int().nullable(), to: z.number().int() }),
  expires: z.strictObject({ from: z.string().nullable(), to: z.string() }),
  changes: z.array(z.string()),
});

const ReleaseSchema = z.strictObject({
  seq: z.number().int(),
  role: z.string(),
  version: z.number().int(),
  releasedAt: z.string(),
  roundId: z.string().nullable(),
  files: z.array(
    z.strictObject({
      name: z.string(),
      version: z.number().int().nullable(),
      length: z.number().int(),
      sha256: z.string(),
    }),
  ),
});

const AuditEventSchema = z.strictObject({
  seq: z.number().int(),
  at: z.string(),
  event: z.string(),
  data: z.record(z.string(), z.unknown()),
  hash: z.string(),
});

// --- the table ----------------------------------------------------------------------------------

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RouteSpec {
  method: Method;
  /** Under ADMIN_PREFIX; `:name` is a parameter (one path segment, percent-decoded). */
  path: `/${string}`;
  summary: string;
  query?: z.ZodType<Record<string, unknown>>;
  body?: z.ZodType;
  response: z.ZodType;
  /** Not for a viewer even though it changes nothing (a viewer may use the other GET routes). */
  adminOnly?: boolean;
}

const route = <const R extends RouteSpec>(r: R): R => r;

export const ADMIN_ROUTES = {
  status: route({
    method: 'GET',
    path: '/status',
    summary: 'released versions, open rounds, keyholders and who is connected, the latest release',
    response: StatusSchema,
  }),
  'keyholders.list': route({
    method: 'GET',
    path: '/keyholders',
    summary: 'enrolled keyholders',
    response: z.array(KeyholderSchema.extend({ enrolledAt: z.string() })),
  }),
  'keyholders.add': route({
    method: 'POST',
    path: '/keyholders',
    summary: 'enroll a keyholder by public key (PEM)',
    body: z.strictObject({ name: z.string(), publicKey: z.string() }),
    response: KeyholderSchema,
  }),
  'keyholders.identity': route({
    method: 'POST',
    path: '/keyholders/:name/identity',
    summary: "record a keyholder's FROST identity key",
    body: z.strictObject({ identityKey: z.string().max(200) }),
    response: z.strictObject({ keyholder: z.string(), identityKey: z.string() }),
  }),
  'keyholders.remove': route({
    method: 'DELETE',
    path: '/keyholders/:name',
    summary: 'remove a keyholder and close its connections',
    response: z.strictObject({ removed: z.string() }),
  }),
  'rounds.list': route({
    method: 'GET',
    path: '/rounds',
    summary: 'a page of rounds, oldest first',
    query: PageQuerySchema,
    response: z.array(RoundInfoSchema),
  }),
  'rounds.open': route({
    method: 'POST',
    path: '/rounds',
    summary: 'open a root or targets round',
    body: OpenRoundSchema,
    response: RoundViewSchema,
  }),
  'rounds.get': route({
    method: 'GET',
    path: '/rounds/:id',
    summary: 'a round and the bytes it signs',
    response: RoundViewSchema,
  }),
  'rounds.summary': route({
    method: 'GET',
    path: '/rounds/:id/summary',
    summary: 'what a round changes, computed from the stored bytes as the signer computes it',
    response: RoundSummarySchema,
  }),
  'rounds.export': route({
    method: 'GET',
    path: '/rounds/:id/export',
    summary: 'a round bundle for an air-gapped keyholder',
    response: RoundBundleSchema,
  }),
  'rounds.cancel': route({
    method: 'POST',
    path: '/rounds/:id/cancel',
    summary: 'cancel an open round',
    body: z.strictObject({ reason: z.string().min(1) }),
    response: z.strictObject({ round: RoundInfoSchema }),
  }),
  'rounds.addSignature': route({
    method: 'POST',
    path: '/rounds/:id/signatures',
    summary: "add an air-gapped keyholder's signature",
    body: z.strictObject({ keyid: z.string(), sig: z.string(), sha256: z.string() }),
    response: z.strictObject({ round: RoundInfoSchema }),
  }),
  'cas.list': route({
    method: 'GET',
    path: '/cas',
    summary: 'certificate authorities, retired ones too',
    response: z.array(CaSchema),
  }),
  'cas.create': route({
    method: 'POST',
    path: '/cas',
    summary: "open a fleet root CA's certificate round (one holder, M approvers)",
    body: FleetCaSchema,
    response: CertViewSchema,
  }),
  'cas.createFrost': route({
    method: 'POST',
    path: '/cas/frost',
    summary: 'open the DKG ceremony of a FROST fleet root CA',
    body: FrostFleetCaSchema,
    response: DkgStatusSchema,
  }),
  'frost.groups': route({
    method: 'GET',
    path: '/frost/groups',
    summary: 'every DKG ceremony with what its group is for',
    response: z.array(FrostGroupInfoSchema),
  }),
  'frost.createGroup': route({
    method: 'POST',
    path: '/frost/groups',
    summary: 'open the DKG ceremony of a FROST role-key group',
    body: FrostGroupSchema,
    response: DkgStatusSchema,
  }),
  'frost.ceremonies': route({
    method: 'GET',
    path: '/frost/ceremonies',
    summary: 'every DKG ceremony, briefly',
    response: z.array(CeremonyInfoSchema),
  }),
  'frost.ceremony': route({
    method: 'GET',
    path: '/frost/ceremonies/:id',
    summary: "a DKG ceremony's progress and group",
    response: DkgStatusSchema,
  }),
  'frost.cancelCeremony': route({
    method: 'POST',
    path: '/frost/ceremonies/:id/cancel',
    summary: 'cancel a DKG ceremony under way',
    body: z.strictObject({ reason }),
    response: DkgStatusSchema,
  }),
  'certs.list': route({
    method: 'GET',
    path: '/certs',
    summary: 'a page of certificate rounds, oldest first',
    query: PageQuerySchema,
    response: z.array(CertRoundInfoSchema),
  }),
  'certs.issue': route({
    method: 'POST',
    path: '/certs',
    summary: 'check a CSR and open its certificate round',
    body: IssueSchema,
    response: CertViewSchema,
  }),
  'certs.get': route({
    method: 'GET',
    path: '/certs/:id',
    summary: 'a certificate round, its review and (once released) the certificate',
    response: CertViewSchema,
  }),
  'certs.cancel': route({
    method: 'POST',
    path: '/certs/:id/cancel',
    summary: 'cancel an open certificate round',
    body: z.strictObject({ reason: z.string().min(1) }),
    response: CertViewSchema,
  }),
  'releases.list': route({
    method: 'GET',
    path: '/releases',
    summary: 'a page of releases, newest first, with their files',
    query: z.strictObject({
      limit: z.coerce.number().int().min(1).max(WIRE_LIMITS.pageMax).optional(),
      before: z.coerce.number().int().min(1).optional(),
    }),
    response: z.array(ReleaseSchema),
  }),
  'audit.list': route({
    method: 'GET',
    path: '/audit',
    summary: "a page of the audit log, newest first, and its head (the last event's hash)",
    query: z.strictObject({
      limit: z.coerce.number().int().min(1).max(WIRE_LIMITS.pageMax).optional(),
      before: z.coerce.number().int().min(1).optional(),
      round: z.string().max(64).optional(),
    }),
    response: z.strictObject({
      total: z.number().int(),
      head: z.strictObject({ seq: z.number().int(), hash: z.string() }).nullable(),
      events: z.array(AuditEventSchema),
    }),
  }),
  'viewers.list': route({
    method: 'GET',
    path: '/viewers',
    summary: "the status page's read-only viewer credentials",
    adminOnly: true,
    response: z.array(z.strictObject({ name: z.string(), addedAt: z.string() })),
  }),
  'viewers.add': route({
    method: 'POST',
    path: '/viewers',
    summary: 'add a read-only viewer credential for the status page (its token is shown once)',
    body: z.strictObject({ name: z.string().regex(VIEWER_NAME_RE, VIEWER_NAME_RULE) }),
    response: z.strictObject({ name: z.string(), token: z.string() }),
  }),
  'viewers.remove': route({
    method: 'DELETE',
    path: '/viewers/:name',
    summary: 'remove a viewer credential and end its sessions',
    response: z.strictObject({ removed: z.string() }),
  }),
  'audit.verify': route({
    method: 'GET',
    path: '/audit/verify',
    summary: "check the audit log's hash chain",
    response: z.strictObject({
      ok: z.boolean(),
      events: z.number().int(),
      broken: z.strictObject({ seq: z.number().int(), problem: z.string() }).nullable(),
    }),
  }),
  'living.check': route({
    method: 'POST',
    path: '/living/check',
    summary: "now, what the coordinator's timer does: re-sign due online roles, open due renewal rounds",
    body: z.strictObject({}),
    response: z.strictObject({ refreshed: RefreshSchema.nullable(), renewals: z.array(RoundInfoSchema) }),
  }),
  'notify.list': route({
    method: 'GET',
    path: '/notify',
    summary: 'webhooks (URLs without their path, never their secrets) and their deliveries',
    response: z.array(WebhookSchema),
  }),
  'notify.add': route({
    method: 'POST',
    path: '/notify',
    summary: 'add a webhook: http(s) URL, events (none: all), json or slack format, HMAC secret',
    body: z.strictObject({
      url: z.string().max(2000),
      events: z.array(z.string().max(50)).max(20).optional(),
      format: z.enum(['json', 'slack']).optional(),
      secret: z.string().max(1000).optional(),
    }),
    response: WebhookSchema,
  }),
  'notify.remove': route({
    method: 'DELETE',
    path: '/notify/:id',
    summary: 'remove a webhook (its pending deliveries are dropped)',
    response: z.strictObject({ removed: z.number().int() }),
  }),
  'notify.test': route({
    method: 'POST',
    path: '/notify/:id/test',
    summary: 'queue a test notification to a webhook',
    body: z.strictObject({}),
    response: z.strictObject({ eventId: z.string() }),
  }),
  expiry: route({
    method: 'GET',
    path: '/expiry',
    summary: "each released role's and CA certificate's expiry, days left, renewal window and state",
    response: z.strictObject({
      at: z.string(),
      roles: z.array(RoleExpirySchema),
      delegated: z.array(DelegatedExpirySchema),
      certificates: z.array(CertificateExpirySchema),
    }),
  }),
} as const satisfies Record<string, RouteSpec>;

export type AdminRoutes = typeof ADMIN_ROUTES;
export type RouteName = keyof AdminRoutes;

// --- types of a route's request and answer ------------------------------------------------------

/** `'/rounds/:id/cancel'` -> `'id'`. */
type ParamNames<P extends string> = P extends `${string}:${infer Rest}`
  ? Rest extends `${infer N}/${infer Tail}`
    ? N | ParamNames<`/${Tail}`>
    : Rest
  : never;

type SchemaOf<K extends RouteName, F extends 'query' | 'body'> =
  AdminRoutes[K] extends Record<F, infer S extends z.ZodType> ? S : never;

export type AdminParams<K extends RouteName> = { [P in ParamNames<AdminRoutes[K]['path']>]: string };
/** What a handler receives, validated (defaults and coercions applied). */
export type AdminQuery<K extends RouteName> = [SchemaOf<K, 'query'>] extends [never]
  ? Record<string, never>
  : z.output<SchemaOf<K, 'query'>>;
export type AdminBody<K extends RouteName> = [SchemaOf<K, 'body'>] extends [never]
  ? undefined
  : z.output<SchemaOf<K, 'body'>>;
export type AdminResponse<K extends RouteName> = z.output<AdminRoutes[K]['response']>;
/** The body a caller sends to route `K`. */
export type AdminInput<K extends RouteName> = z.input<SchemaOf<K, 'body'>>;

/** What a caller passes: the path parameters, the query and the body, each only where the route has them. */
export type AdminRequest<K extends RouteName> = ([ParamNames<AdminRoutes[K]['path']>] extends [never]
  ? unknown
  : { params: AdminParams<K> }) &
  ([SchemaOf<K, 'query'>] extends [never] ? unknown : { query?: z.output<SchemaOf<K, 'query'>> }) &
  ([SchemaOf<K, 'body'>] extends [never] ? unknown : { body: AdminInput<K> });

/** The rest arguments of a call: none when the route needs nothing. */
export type AdminArgs<K extends RouteName> =
  object extends AdminRequest<K> ? [req?: AdminRequest<K>] : [req: AdminRequest<K>];

/** What a handler of route `K` (admin-routes.ts) receives. */
export interface AdminCall<K extends RouteName> {
  params: AdminParams<K>;
  query: AdminQuery<K>;
  body: AdminBody<K>;
  /** The body as parsed from JSON, before the schema copied it (a copy drops `__proto__` keys). */
  raw: unknown;
}

export type AdminHandler<K extends RouteName> = (call: AdminCall<K>) => AdminResponse<K> | Promise<AdminResponse<K>>;

export type AdminHandlers = { [K in RouteName]: AdminHandler<K> };

// --- the client ---------------------------------------------------------------------------------

/**
 * The path (under the server's URL) and body of a call. The body goes as given, not as the schema
 * would copy it: a zod copy drops a `__proto__` key, which is a legitimate target name.
 */
export function adminRequest<K extends RouteName>(
  name: K,
  ...[req]: AdminArgs<K>
): { method: Method; path: string; body: unknown } {
  const r: RouteSpec = ADMIN_ROUTES[name];
  const given = (req ?? {}) as { params?: Record<string, string>; query?: Record<string, unknown>; body?: unknown };
  const segments = r.path.split('/').map((s) => {
    if (!s.startsWith(':')) return s;
    const v = given.params?.[s.slice(1)];
    if (v === undefined) throw new QuorumError('USAGE', `admin route ${name} needs the parameter ${s.slice(1)}`);
    return encodeURIComponent(v);
  });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(given.query ?? {})) if (v !== undefined) q.set(k, String(v));
  const query = q.size ? `?${q}` : '';
  return {
    method: r.method,
    path: `${ADMIN_PREFIX}${segments.join('/')}${query}`,
    body: r.body ? given.body : undefined,
  };
}

/** The answer of route `name`, checked against its schema; BAD_RESPONSE when it is not what the route answers. */
export function adminResponse<K extends RouteName>(name: K, json: unknown): AdminResponse<K> {
  const r = (ADMIN_ROUTES[name] as RouteSpec).response.safeParse(json);
  if (!r.success)
    throw new QuorumError(
      'BAD_RESPONSE',
      `the coordinator's answer to ${name} is not what the route answers (${formatIssues(r.error.issues, 'answer')}); ` +
        'is quorum serve the same version as this command?',
    );
  return r.data as AdminResponse<K>;
}

/**
 * Sends one request: resolves with the answer's JSON, or rejects with the coordinator's error (its
 * code). The CLI sends with TLS pinning (protocol/transport.ts), a test with fetch.
 */
export type AdminTransport = (req: { method: Method; path: string; body: unknown }) => Promise<unknown>;

/** A typed client of the admin API: `call('rounds.cancel', { params: { id }, body: { reason } })`. */
export type AdminClient = <K extends RouteName>(name: K, ...req: AdminArgs<K>) => Promise<AdminResponse<K>>;

export function adminClient(send: AdminTransport): AdminClient {
  return async (name, ...req) => adminResponse(name, await send(adminRequest(name, ...req)));
}

/** Zod issues as one line: `path: message; ...` (`empty` names the whole value). */
export function formatIssues(issues: z.ZodError['issues'], empty: string, prefix = ''): string {
  return issues
    .map((i) => `${i.path.length ? prefix + i.path.map(String).join('.') : `(${empty})`}: ${i.message}`)
    .join('; ');
}

// --- matching a request to a route (the server side) --------------------------------------------

export interface RouteMatch {
  name: RouteName;
  params: Record<string, string>;
}

/**
 * The route a method and path (below ADMIN_PREFIX, split at `/`, empty segments ignored,
 * percent-decoded) name, or null. A literal segment wins over a parameter.
 */
export function matchRoute(method: string, segments: readonly string[]): RouteMatch | null {
  let best: (RouteMatch & { literals: number }) | null = null;
  for (const name of Object.keys(ADMIN_ROUTES) as RouteName[]) {
    const r: RouteSpec = ADMIN_ROUTES[name];
    if (r.method !== method) continue;
    const pattern = r.path.split('/').filter(Boolean);
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    let ok = true;
    pattern.forEach((p, i) => {
      if (p.startsWith(':')) params[p.slice(1)] = segments[i]!;
      else if (p === segments[i]) literals++;
      else ok = false;
    });
    if (ok && (!best || literals > best.literals)) best = { name, params, literals };
  }
  return best && { name: best.name, params: best.params };
}
