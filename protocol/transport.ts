/**
 * HTTP(S) requests to the coordinator, shared by the admin CLI and the signer client, with TLS
 * certificate pinning: the coordinator's self-signed certificate is the only trust anchor, and
 * its sha256 fingerprint must equal the pinned one (the host name is not what is trusted).
 * Plain http:// is refused off loopback unless the caller explicitly allows it.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { QuorumError, RemoteError, type Codes } from './errors.js';
import { checkRsaSize } from './keys.js';

export interface Pin {
  /** Colon-separated uppercase sha256 fingerprint, as X509Certificate.fingerprint256 prints it. */
  fingerprint256: string;
  /** The pinned certificate itself (PEM), the only trust anchor. */
  certPem: string;
}

export type TransportCode = Codes<
  'USAGE' | 'CONNECT' | 'DISCONNECTED' | 'TIMEOUT' | 'BAD_RESPONSE' | 'TLS_PIN' | 'INSECURE' | 'SERVER_CHANGED'
>;

export class TransportError extends QuorumError<TransportCode> {}

export function normaliseFingerprint(fp: string): string {
  const hex = fp
    .replace(/^sha256:/i, '')
    .replace(/[:\s]/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex))
    throw new TransportError('USAGE', `${JSON.stringify(fp)} is not a sha256 certificate fingerprint`);
  return hex.match(/../g)!.join(':');
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || isLoopbackAddress(h);
}

/** An IP address (not a name) in 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104 (IPv4-mapped). */
export function isLoopbackAddress(ip: string): boolean {
  const a = ip.replace(/^\[|\]$/g, '').toLowerCase();
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)?.[1] ?? a;
  if (net.isIPv4(v4)) return v4.split('.')[0] === '127';
  return net.isIPv6(a) && (a === '::1' || a === '0:0:0:0:0:0:0:1');
}

/** TLS options that trust exactly the pinned certificate. */
export function pinnedTls(pin: Pin): https.RequestOptions & tls.ConnectionOptions {
  const want = normaliseFingerprint(pin.fingerprint256);
  return {
    ca: [pin.certPem],
    rejectUnauthorized: true,
    checkServerIdentity: (_host: string, cert: tls.PeerCertificate) =>
      cert.fingerprint256 === want
        ? undefined
        : new Error(`coordinator certificate fingerprint ${cert.fingerprint256} is not the pinned ${want}`),
  };
}

/**
 * Fetch the coordinator's certificate and accept it only if its fingerprint is the expected one
 * (given out of band by the release coordinator). Used once, when a signer joins.
 */
export function fetchPinnedCertificate(url: string, fingerprint: string): Promise<Pin> {
  const want = normaliseFingerprint(fingerprint);
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = tls.connect(
      {
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: Number(u.port || 443),
        rejectUnauthorized: false,
        servername: isIpLike(u.hostname) ? undefined : u.hostname,
      },
      () => {
        const cert = sock.getPeerX509Certificate();
        sock.end();
        if (!cert) return reject(new TransportError('TLS_PIN', 'the coordinator sent no certificate'));
        if (cert.fingerprint256 !== want)
          return reject(
            new TransportError(
              'TLS_PIN',
              `coordinator certificate fingerprint ${cert.fingerprint256} is not the expected ${want}; do not ` +
                'connect, and check with your release coordinator',
            ),
          );
        try {
          checkRsaSize(cert.publicKey, "the coordinator certificate's RSA key");
        } catch (e) {
          return reject(
            new TransportError(
              'TLS_PIN',
              `${(e as Error).message}; the coordinator needs a new certificate (quorum init --tls makes a P-256 one)`,
            ),
          );
        }
        resolve({ fingerprint256: want, certPem: cert.toString() });
      },
    );
    sock.on('error', (e) => reject(new TransportError('CONNECT', `cannot reach ${url}: ${e.message}`)));
  });
}

function isIpLike(h: string): boolean {
  return /^[\d.]+$/.test(h) || h.includes(':') || h.startsWith('[');
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  pin?: Pin | null;
  /** Allow plain http:// to a non-loopback host (dangerous: no confidentiality, no server identity). */
  unsafeAllowPlaintext?: boolean;
  timeoutMs?: number;
}

export function checkScheme(url: string, pin: Pin | null | undefined, unsafeAllowPlaintext = false): void {
  const u = new URL(url);
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  if (secure && !pin)
    throw new TransportError(
      'TLS_PIN',
      `${url} uses TLS but no certificate fingerprint is pinned; join with --tls-fingerprint`,
    );
  if (!secure && !isLoopback(u.hostname) && !unsafeAllowPlaintext) {
    throw new TransportError(
      'INSECURE',
      `refusing plain ${u.protocol}// to ${u.hostname}, which is not loopback: use TLS (wss://, https://) with ` +
        'a pinned fingerprint, or pass --unsafe-allow-plaintext',
    );
  }
}

/** A JSON request; resolves with the parsed body, or rejects with the coordinator's error code. */
export function requestJson<T = unknown>(url: string, opts: RequestOptions = {}): Promise<T> {
  checkScheme(url, opts.pin, opts.unsafeAllowPlaintext);
  const u = new URL(url);
  const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: opts.method ?? (body ? 'POST' : 'GET'),
        headers: {
          accept: 'application/json',
          ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
          ...opts.headers,
        },
        timeout: opts.timeoutMs ?? 30_000,
        ...(u.protocol === 'https:' && opts.pin ? pinnedTls(opts.pin) : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            return reject(new TransportError('BAD_RESPONSE', `${url}: HTTP ${res.statusCode}, not JSON`));
          }
          const err = (json as { error?: { code: string; message: string } } | null)?.error;
          if ((res.statusCode ?? 500) >= 400 || err)
            return reject(
              new RemoteError(err?.code ?? `HTTP_${res.statusCode}`, err?.message ?? `HTTP ${res.statusCode}`),
            );
          resolve(json as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) =>
      reject(
        new TransportError(
          'CONNECT',
          `cannot reach the coordinator at ${u.origin}: ${e.message}; is quorum serve running?`,
        ),
      ),
    );
    if (body) req.write(body);
    req.end();
  });
}

export function randomId(bytes = 8): string {
  return crypto.randomBytes(bytes).toString('hex');
}
