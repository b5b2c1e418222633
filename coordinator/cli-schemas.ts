/**
 * The shapes of the files admin commands read (server.json, a --signed body, a signature file),
 * in their own module so that zod is loaded only by the commands that read them: `quorum verify`
 * and `--help` start without it (the whole-process start-up goal of issue 14).
 */
import { z } from 'zod';

/** server.json, as `quorum serve` writes it. */
export const ServerInfoSchema = z.looseObject({ url: z.string(), tlsFingerprint: z.string().nullable() });

/** A --signed FILE: an object (a metadata body, or a signed file whose "signed" part is the body). */
export const SignedFileSchema = z.record(z.string(), z.unknown());

/** A signature file from `quorum-signer sign --offline`. */
export const SignatureFileSchema = z.looseObject({
  round: z.string(),
  keyid: z.string(),
  sig: z.string(),
  sha256: z.string(),
});
