/**
 * Every size and count limit in one place, with units. Sources: aktualizr's
 * `src/libaktualizr/utilities/constants.h` and the FORMATS.md table for `ota`; tuf-js
 * `client/src/config.ts` for the TUF client defaults.
 */
export const LIMITS = {
  otaRootBytes: 64 * 1024, // bytes: aktualizr kMaxRootSize, also director targets
  otaImageTargetsBytes: 8 * 1024 * 1024, // bytes: aktualizr kMaxImageTargetsSize
  otaSnapshotBytes: 64 * 1024, // bytes: aktualizr kMaxSnapshotSize (when timestamp names no length)
  otaTimestampBytes: 64 * 1024, // bytes: aktualizr kMaxTimestampSize
  maxThreshold: 1000, // signatures: ota-tuf's upper bound for a role threshold
  maxMetadataBytes: 512 * 1024 * 1024, // bytes: the largest file `quorum verify` reads (V8 string limit)
  maxDelegatedRoles: 65_536, // roles: the most delegated targets roles `quorum verify` loads (2^16 hash bins)
} as const;

/** Coordinator and signer connection limits. */
export const WIRE_LIMITS = {
  serverMaxPayload: 64 * 1024, // bytes: largest signer -> coordinator message (a signature, a request)
  // bytes: largest coordinator -> signer message (a round payload with a big targets file)
  clientMaxPayload: 64 * 1024 * 1024,
  adminBodyBytes: 64 * 1024 * 1024, // bytes: largest admin HTTP request body
  heartbeatMs: 30_000, // ms between pings; a connection that misses one is closed
  rateBurst: 50, // messages a connection may send at once
  ratePerSecond: 20, // messages per second refilled
  challengeTtlMs: 60_000, // ms an authentication challenge stays valid
  maxPendingChallenges: 10_000, // challenges kept at once; the oldest are dropped beyond this
  // challenges outstanding per source address (an IPv6 /64 is one source), then TOO_MANY_CHALLENGES
  maxChallengesPerSource: 16,
  failedAuthPerMinute: 60, // failed logins and admin credentials per source per minute, then AUTH_THROTTLED
  // ms: a source's failed authentications after its first are audited as one row per interval
  authAuditIntervalMs: 60_000,
  maxTrackedSources: 100_000, // sources whose failure counts are kept at once; the stalest are forgotten beyond this
  // connections one keyholder may hold at once (watch, sign and a FROST session fit), then TOO_MANY_CONNECTIONS
  maxConnectionsPerKeyholder: 4,
  sendBufferPauseBytes: 8 * 1024 * 1024, // bytes queued unread to a signer after which its socket is no longer read
  // bytes queued unread after which its connection is dropped (the largest reply, clientMaxPayload, fits)
  sendBufferMaxBytes: 72 * 1024 * 1024,
  slowReaderMs: 30_000, // ms a socket may stay paused (its replies unread) before it is dropped
  pageDefault: 100, // rounds in a listing page (rounds.list, certs.list, the admin API) unless asked otherwise
  pageMax: 500, // rounds a listing page holds at most
  reconnectMinMs: 250, // ms: first reconnect delay of a signer
  reconnectMaxMs: 15_000, // ms: reconnect backoff cap
} as const;

/** The status page's sign-in sessions and live streams (coordinator/sessions.ts, coordinator/events.ts). */
export const PAGE_LIMITS = {
  sessionTtlMs: 8 * 3_600_000, // ms a page session lasts after sign-in; the cookie carries the same expiry
  maxSessions: 1_000, // sessions kept at once; the oldest is ended beyond this
  maxStreams: 200, // live event streams (Server-Sent Events) open at once, then 429 TOO_MANY_STREAMS
  streamKeepaliveMs: 15_000, // ms between keep-alive comments on an idle event stream
  maxViewers: 100, // viewer credentials at most
} as const;
