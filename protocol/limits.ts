/**
 * Every size and count limit in one place, with units. Sources: aktualizr's
 * `src/libaktualizr/utilities/constants.h` and the FORMATS.md table for `ota`; tuf-js
 * `client/src/config.ts` for the TUF client defaults.
 */
export const LIMITS = {
  otaRootBytes: 64 * 1024, // bytes: aktualizr kMaxRootSize, also director targets
  otaImageTargetsBytes: 8 * 1024 * 1024, // bytes: aktualizr kMaxImageTargetsSize
  maxThreshold: 1000, // signatures: ota-tuf's upper bound for a role threshold
  maxMetadataBytes: 512 * 1024 * 1024, // bytes: the largest file `quorum verify` reads (V8 string limit)
} as const;
