// Minimal JWS compact decoding and verification against a JWKS with node:crypto only.
// Test helper: no dependency beyond Node, so the checks are independent of the issuer's library.

import * as crypto from 'node:crypto';

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/** Splits and decodes a compact JWS without verifying it. */
export function decodeJwt(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  return { header: b64json(parts[0]), payload: b64json(parts[1]), parts };
}

const VERIFIERS = {
  RS256: (key) => ({ hash: 'sha256', key }),
  PS256: (key) => ({ hash: 'sha256', key: { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } }),
  ES256: (key) => ({ hash: 'sha256', key: { key, dsaEncoding: 'ieee-p1363' } }),
  EdDSA: (key) => ({ hash: null, key }),
  Ed25519: (key) => ({ hash: null, key }),
};

/**
 * Verifies a compact JWS against a JWKS ({keys:[…]}): the key is chosen by kid, its kty/crv
 * must fit the header alg and its alg (when present) must equal it. Returns {header, payload, jwk}.
 */
export function verifyJwt(token, jwks, { algorithms = Object.keys(VERIFIERS) } = {}) {
  const { header, payload, parts } = decodeJwt(token);
  if (!algorithms.includes(header.alg) || !VERIFIERS[header.alg]) throw new Error(`alg ${header.alg} not allowed`);
  const candidates = jwks.keys.filter((k) => k.kid === header.kid);
  if (candidates.length !== 1) throw new Error(`no unique key for kid ${header.kid}`);
  const [jwk] = candidates;
  if (jwk.alg && jwk.alg !== header.alg) throw new Error(`key alg ${jwk.alg} != header alg ${header.alg}`);
  if (jwk.use && jwk.use !== 'sig') throw new Error('key is not a signing key');
  const kty = { RS256: 'RSA', PS256: 'RSA', ES256: 'EC', EdDSA: 'OKP', Ed25519: 'OKP' }[header.alg];
  if (jwk.kty !== kty) throw new Error(`key type ${jwk.kty} does not fit ${header.alg}`);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const { hash, key: vkey } = VERIFIERS[header.alg](key);
  const ok = crypto.verify(hash, Buffer.from(`${parts[0]}.${parts[1]}`), vkey, Buffer.from(parts[2], 'base64url'));
  if (!ok) throw new Error('bad signature');
  return { header, payload, jwk };
}

/**
 * Verifies an RFC 9068 access token: signature, typ at+jwt, iss, aud contains the resource,
 * exp/nbf with leeway. Returns {header, payload}. Throws Error with a short reason otherwise.
 */
export function verifyAccessToken(token, jwks, { issuer, audience, leeway = 30, now = Date.now() / 1000 } = {}) {
  const { header, payload } = verifyJwt(token, jwks);
  const typ = String(header.typ ?? '').toLowerCase();
  if (typ !== 'at+jwt' && typ !== 'application/at+jwt') throw new Error(`typ ${header.typ} is not at+jwt`);
  if (issuer !== undefined && payload.iss !== issuer) throw new Error('wrong issuer');
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (audience !== undefined && !aud.includes(audience)) throw new Error('wrong audience');
  if (typeof payload.exp !== 'number' || payload.exp + leeway < now) throw new Error('expired');
  if (typeof payload.nbf === 'number' && payload.nbf - leeway > now) throw new Error('not yet valid');
  return { header, payload };
}

/** A short, token-free description of an access token for logs and JSON reports. */
export function describeToken(token) {
  try {
    const { header, payload } = decodeJwt(token);
    const { alg, kid, typ } = header;
    const { iss, sub, aud, scope, client_id: clientId, exp, iat, jti } = payload;
    return { alg, kid, typ, iss, sub, aud, scope, client_id: clientId, exp, iat, jti };
  } catch {
    return { opaque: true };
  }
}
