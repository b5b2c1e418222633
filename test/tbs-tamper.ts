/**
 * What a lying coordinator (or someone with its database) can do to the bytes of a certificate
 * round: re-encode a DER TBSCertificate with another issuer Name or AuthorityKeyIdentifier, other
 * extensions (a CA flag on a device, another key usage) or another validity, or break a
 * certificate's signature. Used by the unit and integration tests of the CA holder's issuer and
 * profile checks (signer-client/workflow.ts). DER through @peculiar's asn1 packages.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  Certificate,
  Extension,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_subjectKeyIdentifier,
  KeyIdentifier,
  Name,
  SubjectKeyIdentifier,
  TBSCertificate,
  Validity,
} from '@peculiar/asn1-x509';

const der = (v: unknown) => Buffer.from(AsnConvert.serialize(v));

function edit(tbs: Buffer, fn: (t: TBSCertificate) => void): Buffer {
  const t = AsnConvert.parse(tbs, TBSCertificate);
  fn(t);
  return der(t);
}

/** The TBS with another issuer Name (RFC 4514, e.g. 'CN=Other CA'). */
export function withIssuer(tbs: Buffer, issuer: string): Buffer {
  return edit(tbs, (t) => {
    t.issuer = AsnConvert.parse(new x509.Name(issuer).toArrayBuffer(), Name);
  });
}

function replaceExtension(t: TBSCertificate, ext: Extension): void {
  const list = t.extensions ?? [];
  const i = list.findIndex((e) => e.extnID === ext.extnID);
  if (i < 0) throw new Error(`no extension ${ext.extnID} to replace`);
  list[i] = ext;
}

/** The TBS with an AuthorityKeyIdentifier of `keyId`, and optionally an issuer certificate (name and serial). */
export function withAkid(tbs: Buffer, keyId: Buffer, certId?: { issuer: string; serial: Buffer }): Buffer {
  return edit(tbs, (t) => {
    const akid = new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(new Uint8Array(keyId)) });
    if (certId) {
      akid.authorityCertIssuer = [
        new GeneralName({ directoryName: AsnConvert.parse(new x509.Name(certId.issuer).toArrayBuffer(), Name) }),
      ];
      akid.authorityCertSerialNumber = new Uint8Array(certId.serial).buffer;
    }
    replaceExtension(
      t,
      new Extension({
        extnID: id_ce_authorityKeyIdentifier,
        critical: false,
        extnValue: new OctetString(AsnConvert.serialize(akid)),
      }),
    );
  });
}

/** The TBS with a SubjectKeyIdentifier of `keyId`. */
export function withSkid(tbs: Buffer, keyId: Buffer): Buffer {
  return edit(tbs, (t) => {
    replaceExtension(
      t,
      new Extension({
        extnID: id_ce_subjectKeyIdentifier,
        critical: false,
        extnValue: new OctetString(AsnConvert.serialize(new SubjectKeyIdentifier(new Uint8Array(keyId)))),
      }),
    );
  });
}

/** The TBS's issuer Name, RFC 4514. */
export function issuerOf(tbs: Buffer): string {
  return new x509.Name(der(AsnConvert.parse(tbs, TBSCertificate).issuer)).toString();
}

/** The certificate (PEM) with one bit of its signature flipped: it still parses, but no longer verifies. */
export function brokenSignature(pem: string): string {
  const c = AsnConvert.parse(new x509.X509Certificate(pem).rawData, Certificate);
  const sig = new Uint8Array(c.signatureValue.slice(0));
  sig[10] = sig[10]! ^ 0x01; // inside r for a DER ECDSA signature, inside R for Ed25519
  c.signatureValue = sig.buffer;
  return new x509.X509Certificate(der(c)).toString('pem') + '\n';
}

/**
 * The TBS with `ext` (e.g. new x509.BasicConstraintsExtension(true, undefined, true)) in place of its OID's, or added.
 */
export function withExtension(tbs: Buffer, ext: x509.Extension): Buffer {
  return edit(tbs, (t) => {
    const e = AsnConvert.parse(ext.rawData, Extension);
    const list = (t.extensions ??= []);
    const i = list.findIndex((x) => x.extnID === e.extnID);
    if (i < 0) list.push(e);
    else list[i] = e;
  });
}

/** The TBS without the extension of this OID. */
export function withoutExtension(tbs: Buffer, oid: string): Buffer {
  return edit(tbs, (t) => {
    t.extensions = (t.extensions ?? []).filter((e) => e.extnID !== oid);
  });
}

/** The TBS valid from `notBefore` to `notAfter`. */
export function withValidity(tbs: Buffer, notBefore: Date, notAfter: Date): Buffer {
  return edit(tbs, (t) => {
    t.validity = new Validity({ notBefore, notAfter });
  });
}
