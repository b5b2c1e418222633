/**
 * Fleet certificates: the three profiles of OTA Connect's device identity (fleet root CA,
 * intermediate CA, device), the exact TBSCertificate bytes a round signs, the checks a request
 * passes before any round opens, assembly of a certificate around a signature made elsewhere (a
 * FROST group, a token, a key file), and the summary keyholders review. The summary is computed
 * from the TBS bytes alone, so whoever relays them (the coordinator) cannot show one thing and
 * have another signed. DER is built and parsed by @peculiar/x509 and its asn1 packages only.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as AsnCsr from '@peculiar/asn1-csr';
import type * as AsnSchema from '@peculiar/asn1-schema';
import type * as AsnX509 from '@peculiar/asn1-x509';
import type * as X509 from '@peculiar/x509';
import { displayText } from './display.js';
import { KeyError, QuorumError, type Codes } from './errors.js';
import { DAY_MS } from './time.js';
import { publicKeyFrom, sha256hex, verifySignature, type PublicKey } from './keys.js';
import type { Signer } from './metadata/build.js';

// @peculiar/x509 and its ASN.1 packages take more CPU to load (about 0.4 s) than everything else a
// command loads together, and most commands never touch a certificate: they are loaded on first
// use, synchronously (they are CommonJS, the same instances an import gets). reflect-metadata
// first: tsyringe inside @peculiar/x509 needs it before it loads.
const requireCjs = createRequire(import.meta.url);
function onFirstUse<T extends object>(load: () => T): T {
  let loaded: T | undefined;
  return new Proxy({} as T, { get: (_, key) => Reflect.get((loaded ??= load()), key) });
}
const x509 = onFirstUse(() => {
  requireCjs('reflect-metadata');
  return requireCjs('@peculiar/x509') as typeof X509;
});
const asnSchema = onFirstUse(() => requireCjs('@peculiar/asn1-schema') as typeof AsnSchema);
const asnCsr = onFirstUse(() => requireCjs('@peculiar/asn1-csr') as typeof AsnCsr);
const asnX509 = onFirstUse(() => requireCjs('@peculiar/asn1-x509') as typeof AsnX509);
/** A value computed on first use (tables built from @peculiar/x509's constants). */
function once<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

// --- errors, profiles, limits ------------------------------------------------------------------

export type CertCode = Codes<
  | 'PROFILE_UNKNOWN' // not one of fleet-root, intermediate-ca, device
  | 'REQUEST_INVALID' // the request lacks what its profile needs (a CSR, a fleet name, ...)
  | 'CSR_INVALID' // not a parseable PKCS#10 request, or too large
  | 'CSR_SIGNATURE' // the CSR's self-signature does not verify, or names another algorithm than its key
  | 'CSR_CA_ON_DEVICE' // a device CSR asks for CA:TRUE or certificate signing
  | 'KEY_UNSUPPORTED' // a key other than Ed25519 or P-256 (subject or issuer)
  | 'KEY_INVALID' // a key that cannot be used at all (e.g. a small-order Ed25519 point)
  | 'SUBJECT_INVALID' // empty subject, missing or malformed CN
  | 'SUBJECT_MISMATCH' // the device id given differs from the CSR's CN
  | 'VALIDITY_INVALID' // notAfter not after notBefore, or dates outside X.509's range
  | 'VALIDITY_TOO_LONG' // longer than the profile allows
  | 'VALIDITY_BEYOND_ISSUER' // ends after the issuing CA's certificate
  | 'SERIAL_INVALID' // not 1-20 octets of positive, nonzero hex
  | 'ISSUER_INVALID' // the issuer certificate or its chain does not parse or does not chain
  | 'ISSUER_NOT_CA' // the issuer is not a CA, may not sign certificates, or its pathLen forbids this
  | 'ISSUER_KEY_MISMATCH' // the signing key is not the issuer's key
  | 'TBS_INVALID' // bytes that are not a DER TBSCertificate, or whose digest does not match
  | 'CERT_SIGNATURE' // the signature does not verify over the TBS bytes under the issuer key
  | 'CERT_ASSEMBLY' // the library produced a certificate whose TBS or signature differs from the given ones
  | 'APPROVALS_UNMET' // fewer distinct pinned keyholders approved these TBS bytes than the threshold
>;

export class CertError extends QuorumError<CertCode> {}

export type ProfileName = 'fleet-root' | 'intermediate-ca' | 'device';
/** Key algorithms for subjects and issuers alike; certificates are signed Ed25519 or ecdsa-with-SHA256. */
export type CertKeyAlgorithm = 'ed25519' | 'ecdsa-p256';

export interface Profile {
  readonly name: ProfileName;
  readonly maxValidityDays: number; // days
  readonly ca: boolean;
  /** basicConstraints pathLenConstraint; undefined = unlimited (or not a CA). */
  readonly pathLength?: number;
  /** Whether the subject comes from a PKCS#10 request (else: self-signed from a public key). */
  readonly fromCsr: boolean;
}

/** FORMATS.md "Fleet certificates": about 10 years for the root, 1 year for devices. */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  'fleet-root': { name: 'fleet-root', maxValidityDays: 3653, ca: true, fromCsr: false }, // 10 years with leap days
  // 5 years
  'intermediate-ca': { name: 'intermediate-ca', maxValidityDays: 1827, ca: true, pathLength: 0, fromCsr: true },
  device: { name: 'device', maxValidityDays: 366, ca: false, fromCsr: true }, // 1 year, a leap day allowed
};

export const X509_LIMITS = {
  csrMaxBytes: 16 * 1024, // bytes: a PKCS#10 request, PEM or DER
  certMaxBytes: 64 * 1024, // bytes: an issuer certificate, PEM or DER
  chainMaxCertificates: 8, // certificates above the issuer
  commonNameMaxChars: 64, // characters: RFC 5280 ub-common-name
  serialMaxOctets: 20, // octets: RFC 5280 4.1.2.2
} as const;

const OID = {
  ed25519: '1.3.101.112',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  commonName: '2.5.4.3',
} as const;

type SigningAlgorithm = NonNullable<X509.X509CertificateCreateParamsBase['signingAlgorithm']>;
const SIGNING_ALGORITHM: Record<CertKeyAlgorithm, SigningAlgorithm> = {
  ed25519: { name: 'Ed25519' },
  'ecdsa-p256': { name: 'ECDSA', hash: 'SHA-256' } as SigningAlgorithm,
};
const SIGNATURE_OID: Record<CertKeyAlgorithm, string> = { ed25519: OID.ed25519, 'ecdsa-p256': OID.ecdsaWithSha256 };

export function profileOf(name: string): Profile {
  const p = (PROFILES as Record<string, Profile | undefined>)[name];
  if (!p)
    throw new CertError(
      'PROFILE_UNKNOWN',
      `unknown certificate profile ${JSON.stringify(name)}; use fleet-root, intermediate-ca or device`,
    );
  return p;
}

// --- small helpers -----------------------------------------------------------------------------

const buf = (b: ArrayBuffer | ArrayBufferView) =>
  b instanceof ArrayBuffer ? Buffer.from(new Uint8Array(b)) : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
/** Upper-case, colon-separated hex, as OpenSSL prints key identifiers. */
const colonHex = (b: Buffer) => (b.toString('hex').toUpperCase().match(/../g) ?? []).join(':');

/** A certificate key: Ed25519 or P-256 only, with the failure mapped to this module's codes. */
function certKey(
  input: PublicKey | KeyObject | string | Buffer,
  what: string,
): PublicKey & { algorithm: CertKeyAlgorithm } {
  let pk: PublicKey;
  try {
    pk = typeof input === 'object' && 'fingerprint' in input ? input : publicKeyFrom(input);
  } catch (e) {
    if (e instanceof KeyError) {
      throw new CertError(e.code === 'KEY_UNSUPPORTED' ? 'KEY_UNSUPPORTED' : 'KEY_INVALID', `${what}: ${e.message}`, {
        cause: e,
      });
    }
    throw e;
  }
  if (pk.algorithm !== 'ed25519' && pk.algorithm !== 'ecdsa-p256') {
    throw new CertError(
      'KEY_UNSUPPORTED',
      `${what} is ${pk.algorithm}${pk.bits ? ` (${pk.bits} bits)` : ''}; certificates use Ed25519 or ECDSA P-256 keys`,
    );
  }
  return pk as PublicKey & { algorithm: CertKeyAlgorithm };
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's contents. */
function keyIdentifier(spki: Buffer): Buffer {
  const info = asnSchema.AsnConvert.parse(spki, asnX509.SubjectPublicKeyInfo);
  return crypto.createHash('sha1').update(buf(info.subjectPublicKey)).digest();
}

function checkCommonName(cn: string, what: string): string {
  if (cn.length === 0 || cn.length > X509_LIMITS.commonNameMaxChars) {
    throw new CertError(
      'SUBJECT_INVALID',
      `${what} must be 1 to ${X509_LIMITS.commonNameMaxChars} characters, got ${cn.length}`,
    );
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(cn) || cn !== cn.trim()) {
    throw new CertError(
      'SUBJECT_INVALID',
      `${what} ${JSON.stringify(cn)} contains control characters or surrounding spaces`,
    );
  }
  return cn;
}

function commonNames(name: X509.Name): string[] {
  return name.getField(OID.commonName);
}

function cnName(cn: string): X509.Name {
  return new x509.Name([{ CN: [{ utf8String: cn }] }]);
}

/** X.509 Time has whole seconds; the dates a round signs are the dates the request names. */
function wholeSeconds(d: Date, what: string): Date {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new CertError('VALIDITY_INVALID', `${what} is not a valid date`);
  const out = new Date(Math.floor(t / 1000) * 1000);
  const y = out.getUTCFullYear();
  if (y < 1950 || y > 9999)
    throw new CertError('VALIDITY_INVALID', `${what} ${out.toISOString()} is outside X.509's 1950-9999`);
  return out;
}

/** A fresh serial: 16 random bytes, top bit clear (positive) and first octet nonzero (minimal DER). */
export function randomSerial(): string {
  const b = crypto.randomBytes(16);
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString('hex');
}

function checkSerial(hex: string): string {
  const s = hex.toLowerCase();
  if (!/^[0-9a-f]+$/.test(s) || s.length % 2 !== 0)
    throw new CertError('SERIAL_INVALID', 'serial must be an even number of hex digits');
  const bytes = Buffer.from(s, 'hex');
  // RFC 5280 4.1.2.2: positive, nonzero, at most 20 octets, in minimal two's complement.
  if (bytes.length > X509_LIMITS.serialMaxOctets)
    throw new CertError('SERIAL_INVALID', `serial is ${bytes.length} octets; at most 20`);
  if (bytes[0]! & 0x80)
    throw new CertError('SERIAL_INVALID', 'serial has its top bit set (negative); prefix 00 or clear the bit');
  if (bytes.every((x) => x === 0)) throw new CertError('SERIAL_INVALID', 'serial must be nonzero');
  if (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80))
    throw new CertError('SERIAL_INVALID', 'serial has a redundant leading 00 octet');
  return s;
}

// --- CSR checks --------------------------------------------------------------------------------

export interface CsrInfo {
  /** RFC 4514-style string of the requested subject. */
  readonly subject: string;
  /** The requested subject, DER. */
  readonly subjectDer: Buffer;
  readonly commonNames: readonly string[];
  readonly publicKey: PublicKey & { algorithm: CertKeyAlgorithm };
  /** Whether the request asks for basicConstraints CA:TRUE (or keyCertSign). */
  readonly requestsCa: boolean;
}

/**
 * The checks a request passes before a round opens: it parses, its key is Ed25519 or P-256, its
 * self-signature verifies over the received CertificationRequestInfo bytes (PKCS#10, RFC 2986
 * 4.2) under the algorithm its key implies, and a `device` request does not ask to be a CA.
 * Requested extensions are never copied into a certificate; the profile decides them.
 */
export function checkCsr(profileName: ProfileName, csr: string | Buffer): CsrInfo {
  const profile = profileOf(profileName);
  if (!profile.fromCsr)
    throw new CertError('REQUEST_INVALID', `the ${profile.name} profile is self-signed and takes no CSR`);
  if (csr.length > X509_LIMITS.csrMaxBytes)
    throw new CertError('CSR_INVALID', `CSR is ${csr.length} bytes; at most ${X509_LIMITS.csrMaxBytes}`);
  let req: X509.Pkcs10CertificateRequest;
  let asn: AsnCsr.CertificationRequest;
  try {
    req = new x509.Pkcs10CertificateRequest(typeof csr === 'string' ? csr : new Uint8Array(csr));
    asn = asnSchema.AsnConvert.parse(req.rawData, asnCsr.CertificationRequest);
  } catch (e) {
    throw new CertError('CSR_INVALID', `not a PKCS#10 certificate request: ${(e as Error).message}`, { cause: e });
  }
  const info = asn.certificationRequestInfo;
  const signedBytes = asn.certificationRequestInfoRaw;
  if (!signedBytes) throw new CertError('CSR_INVALID', "cannot locate the CSR's signed CertificationRequestInfo bytes");
  if (info.version !== 0)
    throw new CertError('CSR_INVALID', `CSR version ${info.version}; PKCS#10 v1 (0) is the only version`);

  const publicKey = certKey(buf(asnSchema.AsnConvert.serialize(info.subjectPKInfo)), 'the CSR key');

  // PKCS#10: the signature over certificationRequestInfo, as received, under the CSR's own key.
  const sigOid = asn.signatureAlgorithm.algorithm;
  if (sigOid !== SIGNATURE_OID[publicKey.algorithm] || (sigOid === OID.ed25519 && asn.signatureAlgorithm.parameters)) {
    throw new CertError(
      'CSR_SIGNATURE',
      `CSR is signed with ${sigOid}, but its ${publicKey.algorithm} key signs with ` +
        `${SIGNATURE_OID[publicKey.algorithm]}`,
    );
  }
  if (!verifySignature(publicKey, buf(signedBytes), buf(asn.signature))) {
    throw new CertError(
      'CSR_SIGNATURE',
      'the CSR self-signature does not verify under its own public key; it was altered or not made by the key holder',
    );
  }

  let requestsCa = false;
  for (const ext of req.extensions) {
    if (ext.type === OID.basicConstraints && new x509.BasicConstraintsExtension(ext.rawData).ca) requestsCa = true;
    if (ext.type === OID.keyUsage && new x509.KeyUsagesExtension(ext.rawData).usages & x509.KeyUsageFlags.keyCertSign)
      requestsCa = true;
  }
  if (requestsCa && profile.name === 'device') {
    throw new CertError(
      'CSR_CA_ON_DEVICE',
      'the CSR requests a CA certificate (basicConstraints CA:TRUE or keyCertSign), which the device profile ' +
        'never issues',
    );
  }

  const subjectDer = buf(asnSchema.AsnConvert.serialize(info.subject));
  return {
    subject: req.subjectName.toString(),
    subjectDer,
    commonNames: commonNames(req.subjectName),
    publicKey,
    requestsCa,
  };
}

// --- preparing the TBSCertificate ---------------------------------------------------------------

export interface IssuerCertificate {
  /** The issuing CA's certificate, PEM or DER. */
  readonly certificate: string | Buffer;
  /** The certificates above it, issuer's issuer first, ending at (and including) the root. */
  readonly chain?: readonly (string | Buffer)[];
}

export interface PrepareInput {
  /** fleet-root: the CA's public key (a FROST group key, or a P-256 key file or token key). */
  readonly subjectPublicKey?: PublicKey | KeyObject | string | Buffer;
  /** fleet-root: the fleet name, which becomes CN. */
  readonly fleetName?: string;
  /** intermediate-ca and device: the PKCS#10 request, PEM or DER. */
  readonly csr?: string | Buffer;
  /** device: the device id, which becomes CN; when the CSR also has a CN they must be equal. */
  readonly deviceId?: string;
  /** 'self' for fleet-root; the issuing CA otherwise. */
  readonly issuer: 'self' | IssuerCertificate;
  /** If given, the issuer key must be of this algorithm. */
  readonly issuerAlgorithm?: CertKeyAlgorithm;
  /** Hex, positive; default a random 16-byte serial. */
  readonly serial?: string;
  /** Default: now. */
  readonly notBefore?: Date;
  /** Default: notBefore plus the profile's maximum. */
  readonly notAfter?: Date;
}

/**
 * Everything a certificate round needs, as plain JSON (it can be stored and sent as it is):
 * the exact bytes every signer signs, and what is needed to assemble and check the result.
 */
export interface Prepared {
  readonly version: 1;
  readonly profile: ProfileName;
  /** DER TBSCertificate, base64: the exact bytes signed. */
  readonly tbs: string;
  /** Lowercase hex sha256 of the TBS bytes. */
  readonly tbsSha256: string;
  readonly signatureAlgorithm: CertKeyAlgorithm;
  /** DER SubjectPublicKeyInfo of the key that must sign, base64. */
  readonly issuerSpki: string;
  /** sha256 of `issuerSpki` (keys.ts fingerprint). */
  readonly issuerFingerprint: string;
  /** PEM: the issuing CA's certificate and the chain above it, issuer first; empty when self-signed. */
  readonly chain: readonly string[];
}

interface ParsedIssuer {
  cert: X509.X509Certificate;
  pem: string[];
  key: PublicKey & { algorithm: CertKeyAlgorithm };
  keyId: Buffer;
}

/** PEM with a trailing newline, as OpenSSL writes it, so chains concatenate. */
function pemOf(cert: X509.X509Certificate): string {
  return cert.toString('pem') + '\n';
}

function parseCert(input: string | Buffer, what: string): X509.X509Certificate {
  if (input.length > X509_LIMITS.certMaxBytes)
    throw new CertError('ISSUER_INVALID', `${what} is ${input.length} bytes; at most ${X509_LIMITS.certMaxBytes}`);
  try {
    return new x509.X509Certificate(typeof input === 'string' ? input : new Uint8Array(input));
  } catch (e) {
    throw new CertError('ISSUER_INVALID', `${what} is not an X.509 certificate: ${(e as Error).message}`, { cause: e });
  }
}

/** The issuing CA: a CA that may sign certificates, whose pathLen allows this profile, chaining up. */
function parseIssuer(profile: Profile, issuer: IssuerCertificate): ParsedIssuer {
  const cert = parseCert(issuer.certificate, 'the issuer certificate');
  const chainIn = issuer.chain ?? [];
  if (chainIn.length > X509_LIMITS.chainMaxCertificates)
    throw new CertError(
      'ISSUER_INVALID',
      `chain has ${chainIn.length} certificates; at most ${X509_LIMITS.chainMaxCertificates}`,
    );
  const chain = chainIn.map((c, i) => parseCert(c, `chain certificate ${i + 1}`));

  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (!bc?.ca)
    throw new CertError(
      'ISSUER_NOT_CA',
      `the issuer ${cert.subject} is not a CA (basicConstraints CA:TRUE is missing)`,
    );
  if (ku && !(ku.usages & x509.KeyUsageFlags.keyCertSign))
    throw new CertError(
      'ISSUER_NOT_CA',
      `the issuer ${cert.subject} may not sign certificates (keyUsage lacks keyCertSign)`,
    );
  if (profile.ca && bc.pathLength !== undefined && bc.pathLength < 1) {
    throw new CertError(
      'ISSUER_NOT_CA',
      `the issuer ${cert.subject} has pathLen ${bc.pathLength}, so it cannot issue another CA`,
    );
  }
  const key = certKey(buf(cert.publicKey.rawData), 'the issuer key');
  // Every key up the chain is one a certificate may have (no RSA below 2048 bits, no other curves).
  chain.forEach((c, i) => certKey(buf(c.publicKey.rawData), `the key of chain certificate ${i + 1}`));

  // Each certificate must be signed by the next one up (node:crypto, i.e. OpenSSL, checks).
  const links = [cert, ...chain].map((c) => new crypto.X509Certificate(buf(c.rawData)));
  for (let i = 0; i + 1 < links.length; i++) {
    if (!links[i]!.checkIssued(links[i + 1]!) || !links[i]!.verify(links[i + 1]!.publicKey)) {
      throw new CertError(
        'ISSUER_INVALID',
        `chain certificate ${i + 1} (${links[i + 1]!.subject}) did not issue ${links[i]!.subject}`,
      );
    }
  }
  const skid = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = skid ? Buffer.from(skid.keyId, 'hex') : keyIdentifier(key.spki);
  return { cert, pem: [cert, ...chain].map(pemOf), key, keyId };
}

function profileExtensions(profile: Profile, subjectKeyId: Buffer, authorityKeyId: Buffer): X509.Extension[] {
  const F = x509.KeyUsageFlags;
  switch (profile.name) {
    case 'fleet-root':
      // FORMATS.md: basicConstraints=critical,CA:TRUE; keyUsage=keyCertSign(,cRLSign);
      // extendedKeyUsage=critical,serverAuth (OTA Connect's guide requires all of them).
      return [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(F.keyCertSign | F.cRLSign, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], true),
        new x509.SubjectKeyIdentifierExtension(subjectKeyId.toString('hex')),
        new x509.AuthorityKeyIdentifierExtension(authorityKeyId.toString('hex')),
      ];
    case 'intermediate-ca':
      return [
        new x509.BasicConstraintsExtension(true, profile.pathLength, true),
        new x509.KeyUsagesExtension(F.keyCertSign | F.cRLSign, true),
        new x509.SubjectKeyIdentifierExtension(subjectKeyId.toString('hex')),
        new x509.AuthorityKeyIdentifierExtension(authorityKeyId.toString('hex')),
      ];
    case 'device':
      // FORMATS.md: keyUsage=critical,digitalSignature; extendedKeyUsage=critical,clientAuth.
      return [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(F.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], true),
        new x509.SubjectKeyIdentifierExtension(subjectKeyId.toString('hex')),
        new x509.AuthorityKeyIdentifierExtension(authorityKeyId.toString('hex')),
      ];
  }
}

function checkValidity(profile: Profile, notBefore: Date, notAfter: Date, issuer?: X509.X509Certificate): void {
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new CertError(
      'VALIDITY_INVALID',
      `notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`,
    );
  }
  const days = (notAfter.getTime() - notBefore.getTime()) / DAY_MS;
  if (days > profile.maxValidityDays) {
    throw new CertError(
      'VALIDITY_TOO_LONG',
      `a ${profile.name} certificate is valid for at most ${profile.maxValidityDays} days; this one asks for ` +
        `${days.toFixed(1)}`,
    );
  }
  if (issuer && notAfter.getTime() > issuer.notAfter.getTime()) {
    throw new CertError(
      'VALIDITY_BEYOND_ISSUER',
      `notAfter ${notAfter.toISOString()} is after the issuer's ${issuer.notAfter.toISOString()}`,
    );
  }
}

/**
 * Check a request against its profile and build the TBSCertificate it would sign. Every refusal
 * happens here, before a round opens; the returned bytes are final (serial and dates included).
 */
export async function prepareCertificate(profileName: ProfileName, input: PrepareInput): Promise<Prepared> {
  const profile = profileOf(profileName);

  // 1. Subject name and key: from the fleet name and a key (root), or from a checked CSR.
  let subjectName: X509.Name;
  let subjectKey: PublicKey & { algorithm: CertKeyAlgorithm };
  if (profile.fromCsr) {
    if (input.csr === undefined)
      throw new CertError('REQUEST_INVALID', `the ${profile.name} profile issues from a CSR; none was given`);
    if (input.subjectPublicKey !== undefined)
      throw new CertError(
        'REQUEST_INVALID',
        `the ${profile.name} profile takes its key from the CSR, not subjectPublicKey`,
      );
    const csr = checkCsr(profile.name, input.csr);
    subjectKey = csr.publicKey;
    if (profile.name === 'device') {
      // The CN becomes the device id: exactly one, equal to the id asked for when both exist.
      if (csr.commonNames.length > 1)
        throw new CertError(
          'SUBJECT_INVALID',
          `the CSR has ${csr.commonNames.length} CNs; a device certificate has exactly one`,
        );
      const fromCsr = csr.commonNames[0];
      if (input.deviceId !== undefined && fromCsr !== undefined && fromCsr !== input.deviceId) {
        throw new CertError(
          'SUBJECT_MISMATCH',
          `the CSR's CN ${JSON.stringify(fromCsr)} is not the device id ${JSON.stringify(input.deviceId)}`,
        );
      }
      const deviceId = input.deviceId ?? fromCsr;
      if (deviceId === undefined)
        throw new CertError('SUBJECT_INVALID', 'the CSR has no CN and no device id was given');
      subjectName = cnName(checkCommonName(deviceId, 'the device id'));
    } else {
      if (csr.subjectDer.length <= 2)
        throw new CertError('SUBJECT_INVALID', 'the CSR subject is empty; a CA certificate needs a subject name');
      for (const cn of csr.commonNames) checkCommonName(cn, 'the CSR CN');
      subjectName = new x509.Name(csr.subjectDer);
    }
  } else {
    if (input.csr !== undefined)
      throw new CertError('REQUEST_INVALID', 'the fleet-root profile is self-signed and takes no CSR');
    if (input.subjectPublicKey === undefined)
      throw new CertError('REQUEST_INVALID', 'the fleet-root profile needs the CA public key (subjectPublicKey)');
    if (input.fleetName === undefined)
      throw new CertError('REQUEST_INVALID', 'the fleet-root profile needs a fleet name (CN)');
    subjectKey = certKey(input.subjectPublicKey, 'the fleet root key');
    subjectName = cnName(checkCommonName(input.fleetName, 'the fleet name'));
  }

  // 2. Issuer: the subject itself (root) or a CA that may issue this profile.
  const selfSigned = input.issuer === 'self';
  if (selfSigned !== !profile.fromCsr) {
    throw new CertError(
      'REQUEST_INVALID',
      profile.fromCsr
        ? `the ${profile.name} profile needs an issuing CA certificate`
        : 'the fleet-root profile is self-signed: issuer must be "self"',
    );
  }
  const subjectKeyId = keyIdentifier(subjectKey.spki);
  const issuer = input.issuer === 'self' ? undefined : parseIssuer(profile, input.issuer);
  const issuerKey = issuer?.key ?? subjectKey;
  if (input.issuerAlgorithm !== undefined && input.issuerAlgorithm !== issuerKey.algorithm) {
    throw new CertError(
      'ISSUER_KEY_MISMATCH',
      `the issuer key is ${issuerKey.algorithm}, not ${input.issuerAlgorithm}`,
    );
  }

  // 3. Serial and validity (RFC 5280 4.1.2.2, 4.1.2.5), checked against the profile and the issuer.
  const serial = checkSerial(input.serial ?? randomSerial());
  const notBefore = wholeSeconds(input.notBefore ?? new Date(), 'notBefore');
  // By default as long as the profile allows, and no longer than the issuer's certificate lasts.
  const longest = new Date(notBefore.getTime() + profile.maxValidityDays * DAY_MS);
  const fallback = issuer && issuer.cert.notAfter.getTime() < longest.getTime() ? issuer.cert.notAfter : longest;
  const notAfter = wholeSeconds(input.notAfter ?? fallback, 'notAfter');
  checkValidity(profile, notBefore, notAfter, issuer?.cert);

  // 4. Build once with a placeholder signature; the TBS it encodes is what gets signed.
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    notBefore,
    notAfter,
    subject: subjectName,
    issuer: issuer
      ? new x509.Name(buf(asnSchema.AsnConvert.serialize(certAsn(issuer.cert).tbsCertificate.subject)))
      : subjectName,
    publicKey: subjectKey.spki,
    extensions: profileExtensions(profile, subjectKeyId, issuer?.keyId ?? subjectKeyId),
    signingAlgorithm: SIGNING_ALGORITHM[issuerKey.algorithm],
    signature: PLACEHOLDER_SIGNATURE,
  });
  const tbs = tbsOfCertificate(cert);
  return {
    version: 1,
    profile: profile.name,
    tbs: tbs.toString('base64'),
    tbsSha256: sha256hex(tbs),
    signatureAlgorithm: issuerKey.algorithm,
    issuerSpki: issuerKey.spki.toString('base64'),
    issuerFingerprint: issuerKey.fingerprint,
    chain: issuer?.pem ?? [],
  };
}

/** Ed25519: 64 bytes; ECDSA: raw r||s, 32 bytes each. Only the TBS of this build is used. */
const PLACEHOLDER_SIGNATURE = new Uint8Array(64).fill(1);

type EcFormatterAlgorithm = Parameters<X509.AsnEcSignatureFormatter['toWebSignature']>[0];

function certAsn(cert: X509.X509Certificate): AsnX509.Certificate {
  return asnSchema.AsnConvert.parse(cert.rawData, asnX509.Certificate);
}

/** The TBSCertificate bytes exactly as they stand in the certificate. */
export function tbsOfCertificate(cert: X509.X509Certificate | Buffer | string): Buffer {
  const c =
    cert instanceof x509.X509Certificate
      ? cert
      : new x509.X509Certificate(typeof cert === 'string' ? cert : new Uint8Array(cert));
  const raw = certAsn(c).tbsCertificateRaw;
  if (!raw) throw new CertError('TBS_INVALID', "cannot locate the certificate's TBSCertificate bytes");
  return buf(raw);
}

/** The bytes a round signs. */
export function tbsBytes(prepared: Prepared): Buffer {
  const tbs = Buffer.from(prepared.tbs, 'base64');
  if (sha256hex(tbs) !== prepared.tbsSha256)
    throw new CertError('TBS_INVALID', 'the prepared TBS bytes do not match their recorded sha256');
  return tbs;
}

// --- assembly ----------------------------------------------------------------------------------

export interface Issued {
  /** PEM. */
  readonly certificate: string;
  readonly der: Buffer;
  /** PEM: the issuing CA and the chain above it, issuer first; empty for a root. */
  readonly chain: readonly string[];
  /** The certificate followed by its chain, PEM: what a release publishes. */
  readonly fullchain: string;
  readonly serial: string;
  readonly tbsSha256: string;
  /** sha256 of the certificate DER. */
  readonly fingerprint: string;
}

function parseTbs(tbs: Buffer): AsnX509.TBSCertificate {
  let parsed: AsnX509.TBSCertificate;
  try {
    parsed = asnSchema.AsnConvert.parse(tbs, asnX509.TBSCertificate);
  } catch (e) {
    throw new CertError('TBS_INVALID', `not a TBSCertificate: ${(e as Error).message}`, { cause: e });
  }
  // The bytes must be the DER of what we parsed: one meaning for what is reviewed and signed.
  if (!buf(asnSchema.AsnConvert.serialize(parsed)).equals(tbs))
    throw new CertError('TBS_INVALID', 'the TBSCertificate is not in DER (it re-encodes differently)');
  return parsed;
}

/**
 * Wrap the prepared TBS and a signature made elsewhere into a certificate. Ed25519 signatures
 * are the 64 bytes; ECDSA signatures are DER, as our Signers return them. The signature is
 * checked over the TBS first, and the finished certificate again with node:crypto's
 * X509Certificate.verify (and against the issuing CA certificate), before it is returned.
 */
export async function assembleCertificate(prepared: Prepared, signature: Buffer): Promise<Issued> {
  // 1. The bytes and the key from the prepared record, consistent with each other.
  const tbs = tbsBytes(prepared);
  const issuerKey = certKey(Buffer.from(prepared.issuerSpki, 'base64'), 'the issuer key');
  if (issuerKey.algorithm !== prepared.signatureAlgorithm || issuerKey.fingerprint !== prepared.issuerFingerprint) {
    throw new CertError(
      'ISSUER_KEY_MISMATCH',
      'the prepared issuer key does not match its recorded algorithm or fingerprint',
    );
  }
  const parsed = parseTbs(tbs);
  if (parsed.signature.algorithm !== SIGNATURE_OID[issuerKey.algorithm]) {
    throw new CertError(
      'TBS_INVALID',
      `the TBS names signature algorithm ${parsed.signature.algorithm}, not the issuer's ${issuerKey.algorithm}`,
    );
  }

  // 2. The signature over exactly these bytes (strict Ed25519; DER ECDSA).
  if (!verifySignature(issuerKey, tbs, signature)) {
    throw new CertError(
      'CERT_SIGNATURE',
      `the signature does not verify over the TBS bytes (sha256 ${prepared.tbsSha256}) under the issuer key ` +
        `${issuerKey.fingerprint}`,
    );
  }

  // 3. The library writes the certificate; ECDSA goes in as raw r||s and comes out DER.
  const algorithm = SIGNING_ALGORITHM[issuerKey.algorithm];
  const webSignature =
    issuerKey.algorithm === 'ecdsa-p256'
      ? new x509.AsnEcSignatureFormatter().toWebSignature(
          { name: 'ECDSA', namedCurve: 'P-256' } as EcFormatterAlgorithm,
          signature,
        )
      : signature;
  if (!webSignature) throw new CertError('CERT_ASSEMBLY', 'cannot convert the ECDSA signature for the certificate');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: buf(parsed.serialNumber).toString('hex'),
    notBefore: parsed.validity.notBefore.getTime(),
    notAfter: parsed.validity.notAfter.getTime(),
    subject: new x509.Name(buf(asnSchema.AsnConvert.serialize(parsed.subject))),
    issuer: new x509.Name(buf(asnSchema.AsnConvert.serialize(parsed.issuer))),
    publicKey: buf(asnSchema.AsnConvert.serialize(parsed.subjectPublicKeyInfo)),
    extensions: (parsed.extensions ?? []).map((e) => new x509.Extension(buf(asnSchema.AsnConvert.serialize(e)))),
    signingAlgorithm: algorithm,
    signature: webSignature,
  });
  const der = buf(cert.rawData);

  // 4. The result: the TBS is the prepared one, and OpenSSL (node:crypto) accepts the signature.
  const written = certAsn(cert);
  if (!buf(written.tbsCertificateRaw ?? new ArrayBuffer(0)).equals(tbs))
    throw new CertError('CERT_ASSEMBLY', 'the assembled certificate does not carry the prepared TBS bytes');
  if (!buf(written.signatureValue).equals(signature))
    throw new CertError('CERT_ASSEMBLY', 'the assembled certificate does not carry the given signature bytes');
  const nodeCert = new crypto.X509Certificate(der);
  if (!nodeCert.verify(issuerKey.keyObject))
    throw new CertError('CERT_SIGNATURE', 'the assembled certificate does not verify under the issuer key');
  const first = prepared.chain[0];
  // The chain's first certificate must be the issuer's own: its name (checkIssued) and its key.
  const issuerCert = first === undefined ? undefined : new crypto.X509Certificate(first);
  if (issuerCert && (!nodeCert.checkIssued(issuerCert) || !nodeCert.verify(issuerCert.publicKey))) {
    throw new CertError(
      'CERT_ASSEMBLY',
      'the assembled certificate was not issued by the first certificate of its chain (name or key differ)',
    );
  }
  const pem = pemOf(cert);
  return {
    certificate: pem,
    der,
    chain: prepared.chain,
    fullchain: [pem, ...prepared.chain].join(''),
    serial: cert.serialNumber,
    tbsSha256: prepared.tbsSha256,
    fingerprint: sha256hex(der),
  };
}

/** Prepare, sign with one Signer (a key file, a token, a FROST group), assemble. */
export async function issueWith(signer: Signer, profile: ProfileName, input: PrepareInput): Promise<Issued> {
  const prepared = await prepareCertificate(profile, input);
  if (signer.publicKey.fingerprint !== prepared.issuerFingerprint) {
    throw new CertError(
      'ISSUER_KEY_MISMATCH',
      `the signer's key ${signer.publicKey.fingerprint} is not the issuer key ${prepared.issuerFingerprint}`,
    );
  }
  return assembleCertificate(prepared, await signer.sign(tbsBytes(prepared)));
}

// --- the issuer a TBS names, checked by whoever holds the CA key ----------------------------------

/** The parsed TBS, or the problem that the bytes are not a DER TBSCertificate. */
function tbsOrProblem(tbs: Buffer): AsnX509.TBSCertificate | string {
  try {
    return parseTbs(tbs);
  } catch (e) {
    return `the bytes are not a DER TBSCertificate: ${(e as Error).message}`;
  }
}

/**
 * What is wrong (empty when nothing is) with the issuer these TBS bytes name, for the CA key
 * `caKey` that is about to sign them. Self-signed (`issuer` 'self', the fleet-root profile): the
 * issuer Name is DER-equal to the subject Name and the subject key is the CA key. Issued under a
 * CA certificate (`issuer` PEM or DER, the first certificate of the chain): that certificate is
 * for the CA key (and, when self-issued, verifies under it), and the issuer Name is DER-equal to
 * its subject Name. An AuthorityKeyIdentifier, when present, must carry only a keyIdentifier equal
 * to the CA key's identifier as the profiles compute it (RFC 5280 method 1, `keyIdentifier`), and
 * so must a self-signed TBS's and the CA certificate's SubjectKeyIdentifier. Everything is
 * computed here from the bytes and the key; nothing else is taken on trust.
 */
export function issuerProblems(tbsInput: Buffer, issuer: 'self' | string | Buffer, caKey: PublicKey): string[] {
  const problems: string[] = [];
  const tbs = tbsOrProblem(tbsInput);
  if (typeof tbs === 'string') return [tbs];
  const parsed = tbs;
  const expectedKeyId = keyIdentifier(caKey.spki);
  const issuerDer = buf(asnSchema.AsnConvert.serialize(parsed.issuer));
  const subjectDer = buf(asnSchema.AsnConvert.serialize(parsed.subject));
  const nameOf = (der: Buffer) => new x509.Name(der).toString() || '(empty)';
  const extension = (oid: string) => {
    const e = (parsed.extensions ?? []).find((x) => x.extnID === oid);
    return e ? buf(asnSchema.AsnConvert.serialize(e)) : undefined;
  };

  if (issuer === 'self') {
    if (!issuerDer.equals(subjectDer))
      problems.push(
        `the TBS issuer ${nameOf(issuerDer)} is not its subject ${nameOf(subjectDer)}, but a fleet root is self-signed`,
      );
    const spki = buf(asnSchema.AsnConvert.serialize(parsed.subjectPublicKeyInfo));
    if (sha256hex(spki) !== caKey.fingerprint)
      problems.push(`the self-signed TBS is for key ${sha256hex(spki)}, not the CA key ${caKey.fingerprint}`);
    const skid = extension(OID.subjectKeyIdentifier);
    if (skid) {
      let id: Buffer | undefined;
      try {
        id = Buffer.from(new x509.SubjectKeyIdentifierExtension(skid).keyId, 'hex');
      } catch (e) {
        problems.push(`the subjectKeyIdentifier does not parse: ${(e as Error).message}`);
      }
      if (id && !id.equals(expectedKeyId))
        problems.push(
          `the self-signed TBS's subjectKeyIdentifier ${colonHex(id)} is not the CA key's ${colonHex(expectedKeyId)}`,
        );
    }
  } else {
    let ca: crypto.X509Certificate | undefined;
    let caCert: X509.X509Certificate | undefined;
    try {
      caCert = parseCert(issuer, 'the CA certificate');
      ca = new crypto.X509Certificate(buf(caCert.rawData));
    } catch (e) {
      problems.push(`the CA certificate (the chain's first) does not parse: ${(e as Error).message}`);
    }
    if (ca && caCert) {
      const caSpki = buf(caCert.publicKey.rawData);
      const caSubjectDer = buf(asnSchema.AsnConvert.serialize(certAsn(caCert).tbsCertificate.subject));
      const caIssuerDer = buf(asnSchema.AsnConvert.serialize(certAsn(caCert).tbsCertificate.issuer));
      if (sha256hex(caSpki) !== caKey.fingerprint) {
        problems.push(
          `the CA certificate ${nameOf(caSubjectDer)} is for key ${sha256hex(caSpki)}, not the CA key ` +
            `${caKey.fingerprint}, so its name is not this CA's`,
        );
      } else {
        if (caSubjectDer.equals(caIssuerDer) && !ca.verify(caKey.keyObject))
          problems.push(`the CA certificate ${nameOf(caSubjectDer)} is self-issued but not signed by the CA key`);
        if (!issuerDer.equals(caSubjectDer))
          problems.push(
            `the TBS issuer ${nameOf(issuerDer)} is not the CA certificate's subject ${nameOf(caSubjectDer)}`,
          );
        let caSkid: Buffer | undefined;
        try {
          const ext = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
          caSkid = ext ? Buffer.from(ext.keyId, 'hex') : undefined;
        } catch (e) {
          problems.push(`the CA certificate's subjectKeyIdentifier does not parse: ${(e as Error).message}`);
        }
        if (caSkid && !caSkid.equals(expectedKeyId))
          problems.push(
            `the CA certificate's subjectKeyIdentifier ${colonHex(caSkid)} is not the CA key's ` +
              `${colonHex(expectedKeyId)}`,
          );
      }
    }
  }

  const akidRaw = extension(OID.authorityKeyIdentifier);
  if (akidRaw) {
    let akid: X509.AuthorityKeyIdentifierExtension | undefined;
    try {
      akid = new x509.AuthorityKeyIdentifierExtension(akidRaw);
    } catch (e) {
      problems.push(`the authorityKeyIdentifier does not parse: ${(e as Error).message}`);
    }
    if (akid && akid.keyId === undefined) problems.push('the authorityKeyIdentifier has no keyIdentifier');
    else if (akid && !Buffer.from(akid.keyId!, 'hex').equals(expectedKeyId))
      problems.push(
        `the authorityKeyIdentifier ${colonHex(Buffer.from(akid.keyId!, 'hex'))} is not the CA key's ` +
          `${colonHex(expectedKeyId)}`,
      );
    if (akid?.certId)
      problems.push(
        'the authorityKeyIdentifier names an issuer certificate (issuer and serial), which the profiles never write',
      );
  }
  return problems;
}

/** What each profile writes (profileExtensions): basicConstraints, keyUsage and extendedKeyUsage, all critical. */
const PROFILE_EXTENSIONS = once(
  (): Record<ProfileName, { ca: boolean; pathLength?: number; keyUsage: number; eku: string[] | null }> => ({
    'fleet-root': {
      ca: true,
      keyUsage: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      eku: [x509.ExtendedKeyUsage.serverAuth],
    },
    'intermediate-ca': {
      ca: true,
      pathLength: 0,
      keyUsage: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      eku: null,
    },
    device: { ca: false, keyUsage: x509.KeyUsageFlags.digitalSignature, eku: [x509.ExtendedKeyUsage.clientAuth] },
  }),
);

/**
 * What is wrong (empty when nothing is) with these TBS bytes as a certificate of the profile
 * `profileName`, issued under `issuer` ('self' for a fleet root; else the issuing CA's certificate,
 * the chain's first, when there is one): a v3 certificate signed Ed25519 or ecdsa-with-SHA256 for
 * an Ed25519 or P-256 key; exactly the extensions prepareCertificate writes for the profile, each
 * once (basicConstraints with the profile's CA flag and pathLen, keyUsage with exactly its bits,
 * extendedKeyUsage with exactly its purposes or none, all critical; a subjectKeyIdentifier that is
 * the subject key's; an authorityKeyIdentifier, which issuerProblems checks), nothing else; a
 * validity no longer than the profile allows and within the issuer's; and an issuer that may issue
 * it (a CA whose keyUsage allows keyCertSign, whose pathLen allows another CA under it). Computed
 * from the bytes alone, so a CA holder's client enforces the profile itself whatever the
 * coordinator says the round is.
 */
export function profileProblems(
  tbsInput: Buffer,
  profileName: string,
  issuer: 'self' | string | Buffer | undefined,
): string[] {
  const profile = (PROFILES as Record<string, Profile | undefined>)[profileName];
  if (!profile) return [`${JSON.stringify(profileName)} is not a certificate profile`];
  const want = PROFILE_EXTENSIONS()[profile.name];
  const problems: string[] = [];
  const tbs = tbsOrProblem(tbsInput);
  if (typeof tbs === 'string') return [tbs];
  const parsed = tbs;
  if (parsed.version !== 2) problems.push(`it is an X.509 v${parsed.version + 1} certificate, not v3`);
  if (parsed.signature.algorithm !== OID.ed25519 && parsed.signature.algorithm !== OID.ecdsaWithSha256)
    problems.push(`it names signature algorithm ${parsed.signature.algorithm}, neither Ed25519 nor ecdsa-with-SHA256`);
  const spki = buf(asnSchema.AsnConvert.serialize(parsed.subjectPublicKeyInfo));
  try {
    certKey(spki, 'the subject key');
  } catch (e) {
    problems.push((e as Error).message);
  }

  // Extensions: each one once, only those the profile writes, each with the profile's value.
  const exts = new Map<string, AsnX509.Extension>();
  for (const e of parsed.extensions ?? []) {
    if (exts.has(e.extnID)) problems.push(`extension ${EXTENSION_NAMES[e.extnID] ?? e.extnID} appears twice`);
    exts.set(e.extnID, e);
  }
  const allowed = new Set<string>([
    OID.basicConstraints,
    OID.keyUsage,
    OID.subjectKeyIdentifier,
    OID.authorityKeyIdentifier,
    ...(want.eku ? [OID.extKeyUsage] : []),
  ]);
  for (const oid of exts.keys())
    if (!allowed.has(oid))
      problems.push(`it has a ${EXTENSION_NAMES[oid] ?? oid} extension, which a ${profile.name} certificate never has`);
  const raw = (oid: string) => {
    const e = exts.get(oid);
    return e ? buf(asnSchema.AsnConvert.serialize(e)) : undefined;
  };
  const parse = <T>(oid: string, what: string, make: (der: Buffer) => T): T | undefined => {
    const der = raw(oid);
    if (!der) {
      problems.push(`it has no ${what} extension, which a ${profile.name} certificate must have`);
      return undefined;
    }
    try {
      return make(der);
    } catch (e) {
      problems.push(`its ${what} does not parse: ${(e as Error).message}`);
      return undefined;
    }
  };
  const critical = (oid: string, what: string) => {
    if (exts.get(oid) && !exts.get(oid)!.critical) problems.push(`its ${what} is not critical`);
  };

  const bc = parse(OID.basicConstraints, 'basicConstraints', (d) => new x509.BasicConstraintsExtension(d));
  critical(OID.basicConstraints, 'basicConstraints');
  if (bc) {
    const shown = (ca: boolean, pl: number | undefined) =>
      ca ? `CA:TRUE${pl !== undefined ? `, pathlen:${pl}` : ''}` : 'CA:FALSE';
    if (bc.ca !== want.ca || (bc.ca && bc.pathLength !== want.pathLength) || (!bc.ca && bc.pathLength !== undefined)) {
      problems.push(
        `its basicConstraints are ${shown(bc.ca, bc.pathLength)}, but a ${profile.name} certificate has ` +
          `${shown(want.ca, want.pathLength)}`,
      );
    }
  }
  const ku = parse(OID.keyUsage, 'keyUsage', (d) => new x509.KeyUsagesExtension(d));
  critical(OID.keyUsage, 'keyUsage');
  const usageNames = (bits: number) =>
    KEY_USAGE_NAMES()
      .filter(([bit]) => bits & bit)
      .map(([, n]) => n)
      .join(', ') || '(none)';
  if (ku && ku.usages !== want.keyUsage)
    problems.push(
      `its keyUsage is ${usageNames(ku.usages)}, but a ${profile.name} certificate has ${usageNames(want.keyUsage)}`,
    );
  if (want.eku) {
    const eku = parse(OID.extKeyUsage, 'extendedKeyUsage', (d) => new x509.ExtendedKeyUsageExtension(d));
    critical(OID.extKeyUsage, 'extendedKeyUsage');
    const got = eku ? eku.usages.map(String) : [];
    const ekuNames = (l: readonly string[]) => l.map((u) => EKU_NAMES()[u] ?? u).join(', ');
    if (eku && (got.length !== want.eku.length || !want.eku.every((u) => got.includes(u))))
      problems.push(
        `its extendedKeyUsage is ${ekuNames(got) || '(none)'}, but a ${profile.name} certificate has ` +
          `${ekuNames(want.eku)}`,
      );
  }
  const skid = parse(OID.subjectKeyIdentifier, 'subjectKeyIdentifier', (d) =>
    Buffer.from(new x509.SubjectKeyIdentifierExtension(d).keyId, 'hex'),
  );
  if (skid) {
    let own: Buffer | undefined;
    try {
      own = keyIdentifier(spki);
    } catch {
      /* the subject key problem is reported above */
    }
    if (own && !skid.equals(own))
      problems.push(`its subjectKeyIdentifier ${colonHex(skid)} is not its key's ${colonHex(own)}`);
  }
  if (!exts.has(OID.authorityKeyIdentifier))
    problems.push(`it has no authorityKeyIdentifier extension, which a ${profile.name} certificate must have`);

  // Validity: the profile's length at most, and within the issuing CA's.
  const notBefore = parsed.validity.notBefore.getTime();
  const notAfter = parsed.validity.notAfter.getTime();
  const days = (notAfter.getTime() - notBefore.getTime()) / DAY_MS;
  if (!(days > 0))
    problems.push(`its validity ends (${notAfter.toISOString()}) before it starts (${notBefore.toISOString()})`);
  else if (days > profile.maxValidityDays)
    problems.push(
      `it is valid for ${days.toFixed(1)} days, but a ${profile.name} certificate for at most ` +
        `${profile.maxValidityDays}`,
    );

  // The issuer: a CA that may sign certificates, and another CA when this is one.
  if (issuer !== 'self' && issuer !== undefined) {
    let ca: X509.X509Certificate | undefined;
    try {
      ca = parseCert(issuer, 'the CA certificate');
    } catch (e) {
      problems.push(`the CA certificate (the chain's first) does not parse: ${(e as Error).message}`);
    }
    if (ca) {
      const cbc = ca.getExtension(x509.BasicConstraintsExtension);
      const cku = ca.getExtension(x509.KeyUsagesExtension);
      if (!cbc?.ca) problems.push(`its issuer ${ca.subject} is not a CA (basicConstraints CA:TRUE is missing)`);
      else if (profile.ca && cbc.pathLength !== undefined && cbc.pathLength < 1)
        problems.push(`its issuer ${ca.subject} has pathLen ${cbc.pathLength}, so it cannot issue another CA`);
      if (cku && !(cku.usages & x509.KeyUsageFlags.keyCertSign))
        problems.push(`its issuer ${ca.subject} may not sign certificates (keyUsage lacks keyCertSign)`);
      if (notBefore.getTime() < ca.notBefore.getTime())
        problems.push(
          `it is valid from ${notBefore.toISOString()}, before its issuer's certificate (${ca.notBefore.toISOString()})`,
        );
      if (notAfter.getTime() > ca.notAfter.getTime())
        problems.push(
          `it is valid until ${notAfter.toISOString()}, after its issuer's certificate (${ca.notAfter.toISOString()})`,
        );
    }
  }
  return problems;
}

// --- review ------------------------------------------------------------------------------------

export interface ReviewExtension {
  readonly oid: string;
  /** RFC 5280 short name, or the OID when unknown. */
  readonly name: string;
  readonly critical: boolean;
  /** As `openssl x509 -text` writes the known ones; hex DER of the value otherwise. */
  readonly value: string;
}

export interface Review {
  readonly tbsSha256: string;
  /** Lowercase hex, no leading 00. */
  readonly serial: string;
  readonly subject: string;
  readonly issuer: string;
  readonly selfIssued: boolean;
  readonly signatureAlgorithm: CertKeyAlgorithm | string;
  readonly publicKey: { readonly algorithm: CertKeyAlgorithm | string; readonly fingerprint: string };
  readonly notBefore: string;
  readonly notAfter: string;
  readonly validityDays: number;
  readonly ca: boolean;
  readonly pathLength?: number;
  readonly extensions: readonly ReviewExtension[];
}

const KEY_USAGE_NAMES = once((): [number, string][] => [
  [x509.KeyUsageFlags.digitalSignature, 'Digital Signature'],
  [x509.KeyUsageFlags.nonRepudiation, 'Non Repudiation'],
  [x509.KeyUsageFlags.keyEncipherment, 'Key Encipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'Data Encipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'Key Agreement'],
  [x509.KeyUsageFlags.keyCertSign, 'Certificate Sign'],
  [x509.KeyUsageFlags.cRLSign, 'CRL Sign'],
  [x509.KeyUsageFlags.encipherOnly, 'Encipher Only'],
  [x509.KeyUsageFlags.decipherOnly, 'Decipher Only'],
]);
const EKU_NAMES = once((): Record<string, string> => ({
  [x509.ExtendedKeyUsage.serverAuth]: 'TLS Web Server Authentication',
  [x509.ExtendedKeyUsage.clientAuth]: 'TLS Web Client Authentication',
  [x509.ExtendedKeyUsage.codeSigning]: 'Code Signing',
  [x509.ExtendedKeyUsage.emailProtection]: 'E-mail Protection',
  [x509.ExtendedKeyUsage.timeStamping]: 'Time Stamping',
  [x509.ExtendedKeyUsage.ocspSigning]: 'OCSP Signing',
}));
const EXTENSION_NAMES: Record<string, string> = {
  [OID.basicConstraints]: 'basicConstraints',
  [OID.keyUsage]: 'keyUsage',
  [OID.extKeyUsage]: 'extendedKeyUsage',
  [OID.subjectKeyIdentifier]: 'subjectKeyIdentifier',
  [OID.authorityKeyIdentifier]: 'authorityKeyIdentifier',
  [OID.subjectAltName]: 'subjectAltName',
};

function describeExtension(ext: AsnX509.Extension): ReviewExtension {
  const raw = buf(asnSchema.AsnConvert.serialize(ext));
  const base = { oid: ext.extnID, name: EXTENSION_NAMES[ext.extnID] ?? ext.extnID, critical: ext.critical };
  let value: string;
  switch (ext.extnID) {
    case OID.basicConstraints: {
      const bc = new x509.BasicConstraintsExtension(raw);
      value = bc.ca ? `CA:TRUE${bc.pathLength !== undefined ? `, pathlen:${bc.pathLength}` : ''}` : 'CA:FALSE';
      break;
    }
    case OID.keyUsage: {
      const ku = new x509.KeyUsagesExtension(raw);
      value = KEY_USAGE_NAMES()
        .filter(([bit]) => ku.usages & bit)
        .map(([, n]) => n)
        .join(', ');
      break;
    }
    case OID.extKeyUsage:
      value = new x509.ExtendedKeyUsageExtension(raw).usages.map((u) => EKU_NAMES()[String(u)] ?? String(u)).join(', ');
      break;
    case OID.subjectKeyIdentifier:
      value = colonHex(Buffer.from(new x509.SubjectKeyIdentifierExtension(raw).keyId, 'hex'));
      break;
    case OID.authorityKeyIdentifier: {
      const akid = new x509.AuthorityKeyIdentifierExtension(raw);
      value =
        akid.keyId !== undefined ? colonHex(Buffer.from(akid.keyId, 'hex')) : buf(ext.extnValue.buffer).toString('hex');
      if (akid.certId) value += ` (issuer+serial ${akid.certId.serialNumber})`;
      break;
    }
    case OID.subjectAltName:
      value = new x509.SubjectAlternativeNameExtension(raw).names.items.map((n) => `${n.type}:${n.value}`).join(', ');
      break;
    default:
      value = buf(ext.extnValue.buffer).toString('hex');
  }
  return { ...base, value };
}

function algorithmOfSpki(spki: Buffer): CertKeyAlgorithm | string {
  try {
    return certKey(spki, 'the subject key').algorithm;
  } catch {
    return asnSchema.AsnConvert.parse(spki, asnX509.SubjectPublicKeyInfo).algorithm.algorithm;
  }
}

/**
 * What a keyholder reads before signing, computed from the TBS bytes alone: nothing the
 * coordinator says about the request is used, so the summary describes exactly what is signed.
 */
export function reviewTbs(tbsInput: Buffer | string): Review {
  const tbs = typeof tbsInput === 'string' ? Buffer.from(tbsInput, 'base64') : tbsInput;
  const parsed = parseTbs(tbs);
  const spki = buf(asnSchema.AsnConvert.serialize(parsed.subjectPublicKeyInfo));
  const subjectDer = buf(asnSchema.AsnConvert.serialize(parsed.subject));
  const issuerDer = buf(asnSchema.AsnConvert.serialize(parsed.issuer));
  const notBefore = parsed.validity.notBefore.getTime();
  const notAfter = parsed.validity.notAfter.getTime();
  const extensions = (parsed.extensions ?? []).map(describeExtension);
  const bcExt = (parsed.extensions ?? []).find((e) => e.extnID === OID.basicConstraints);
  const bc = bcExt ? new x509.BasicConstraintsExtension(buf(asnSchema.AsnConvert.serialize(bcExt))) : undefined;
  const sigOid = parsed.signature.algorithm;
  let serial = buf(parsed.serialNumber).toString('hex');
  if (serial.startsWith('00') && serial.length > 2) serial = serial.slice(2);
  return {
    tbsSha256: sha256hex(tbs),
    serial,
    subject: new x509.Name(subjectDer).toString(),
    issuer: new x509.Name(issuerDer).toString(),
    selfIssued: subjectDer.equals(issuerDer),
    signatureAlgorithm: sigOid === OID.ed25519 ? 'ed25519' : sigOid === OID.ecdsaWithSha256 ? 'ecdsa-p256' : sigOid,
    publicKey: { algorithm: algorithmOfSpki(spki), fingerprint: sha256hex(spki) },
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    validityDays: (notAfter.getTime() - notBefore.getTime()) / DAY_MS,
    ca: bc?.ca ?? false,
    ...(bc?.pathLength !== undefined ? { pathLength: bc.pathLength } : {}),
    extensions,
  };
}

/** The review as lines of text for a terminal. */
export function formatReview(r: Review): string {
  // Names and values come from the requester's CSR: shown escaped (protocol/display.ts).
  const lines = [
    `Certificate to sign (TBS sha256 ${r.tbsSha256})`,
    `  Subject:     ${displayText(r.subject)}`,
    `  Issuer:      ${displayText(r.issuer)}${r.selfIssued ? ' (self-issued)' : ''}`,
    `  Serial:      ${r.serial}`,
    `  Validity:    ${r.notBefore} to ${r.notAfter} (${r.validityDays.toFixed(1)} days)`,
    `  Public key:  ${displayText(r.publicKey.algorithm)}, sha256 of SPKI ${r.publicKey.fingerprint}`,
    `  Signed with: ${displayText(r.signatureAlgorithm)}`,
    `  Extensions:`,
    ...r.extensions.map((e) => `    ${displayText(e.name)}${e.critical ? ' (critical)' : ''}: ${displayText(e.value)}`),
  ];
  return lines.join('\n') + '\n';
}

// --- approvals (issuance with a P-256 CA key, which has no threshold scheme) --------------------

/**
 * What a keyholder signs to approve issuing exactly these TBS bytes under the CA key
 * `issuerFingerprint`. ECDSA has no FROST, so a P-256 CA key is one key in one place; its holder
 * signs only after verifying a threshold of these approvals itself. The digest is recomputed
 * from the TBS bytes by whoever checks, never taken from the coordinator.
 */
export function approvalMessage(tbs: Buffer, issuerFingerprint: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(issuerFingerprint))
    throw new CertError('REQUEST_INVALID', 'issuerFingerprint must be 64 lowercase hex digits');
  return Buffer.from(
    `uptane-quorum x509 approval v1\ntbs-sha256 ${sha256hex(tbs)}\nissuer ${issuerFingerprint}\n`,
    'utf8',
  );
}

export interface Approval {
  /** The approving keyholder's key, as enrolled. */
  readonly publicKey: PublicKey;
  /** Its signature over `approvalMessage` (Ed25519 64 bytes, ECDSA DER, RSA-PSS). */
  readonly signature: Buffer;
}

/**
 * Count the approvals of these TBS bytes by distinct pinned keyholders (by key fingerprint, so a
 * copy of one approval counts once), and throw APPROVALS_UNMET below the threshold. Returns the
 * fingerprints that counted.
 */
export function verifyApprovals(
  tbs: Buffer,
  issuerFingerprint: string,
  approvals: readonly Approval[],
  pinned: readonly PublicKey[],
  threshold: number,
): string[] {
  if (!Number.isInteger(threshold) || threshold < 1)
    throw new CertError('REQUEST_INVALID', `approval threshold must be a positive integer, got ${threshold}`);
  const message = approvalMessage(tbs, issuerFingerprint);
  const pinnedFps = new Set(pinned.map((k) => k.fingerprint));
  const counted = new Set<string>();
  for (const a of approvals) {
    if (!pinnedFps.has(a.publicKey.fingerprint)) continue; // not a keyholder this signer trusts
    if (verifySignature(a.publicKey, message, a.signature)) counted.add(a.publicKey.fingerprint);
  }
  if (counted.size < threshold) {
    throw new CertError(
      'APPROVALS_UNMET',
      `${counted.size} of the required ${threshold} pinned keyholders approved TBS sha256 ${sha256hex(tbs)}`,
    );
  }
  return [...counted];
}
