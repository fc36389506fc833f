#!/usr/bin/env node
// dpop-client.mjs — a DPoP client we did not write: oauth4webapi (panva) gets a DPoP-bound access
// token from the authorization server with client_credentials, calls a protected resource with
// oauth4webapi's protectedResourceRequest and its DPoP proofs (RFC 9449), then tries what a
// resource server must refuse, and prints ONE JSON line: per case the HTTP status and the
// WWW-Authenticate it got. Never a token, a proof or a secret.
//
//   node dpop-client.mjs --issuer URL --resource URL [--url URL] [--method GET]
//        [--client-id rsguard-cc] [--client-secret rsguard-cc-secret] [--scope "inventory:read"]
//        [--alg ES256|Ed25519|EdDSA|RS256|PS256] [--other-alg ALG] [--cases a,b,…] [--timeout MS]
//
// Cases, in this order (--cases picks some; "replay" needs "dpop"):
//   dpop          the token with a fresh oauth4webapi proof (Authorization: DPoP)
//   dpop_again    the same, a second time: a new proof (new jti) passes too
//   bearer        the same token as Authorization: Bearer, no proof
//   replay        the exact DPoP header of the accepted "dpop" request, sent again (captured and
//                 substituted through oauth4webapi's customFetch)
//   other_url     a proof made for another URL of the same origin; customFetch sends it to --url
//   other_method  a proof made for another method; customFetch sends it with --method
//   other_key     a proof by a second key pair (--other-alg), with the first key's token
// A use_dpop_nonce answer (at the token endpoint or the resource) is retried once with the nonce
// oauth4webapi cached from the DPoP-Nonce header, as oauth4webapi's documentation does
// (isDPoPNonceError). Each resource request names its case in an X-Interop-Case header.
// Exit 0 when every case ran (whatever the statuses: the caller judges them), 1 on an
// unexpected error, 2 on bad arguments, 3 on timeout. See README.md.

import { parseArgs } from 'node:util';

import * as oauth from 'oauth4webapi';

const USAGE = 'usage: node dpop-client.mjs --issuer URL --resource URL [--url URL] [--method GET] '
  + '[--client-id ID] [--client-secret S] [--scope "a b"] [--alg ALG] [--other-alg ALG] [--cases a,b] [--timeout MS]';
const CASES = ['dpop', 'dpop_again', 'bearer', 'replay', 'other_url', 'other_method', 'other_key'];
const ALGS = { ES256: 'ES256', ED25519: 'Ed25519', EDDSA: 'EdDSA', RS256: 'RS256', PS256: 'PS256' };
const STEP_TIMEOUT = 10_000; // per HTTP request
// Every resource request names its case in this header, so that the resource server's log (the Go
// tests' decision hook) can tell the cases apart. It plays no part in authentication.
const CASE_HEADER = 'x-interop-case';

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      issuer: { type: 'string' },
      resource: { type: 'string' },
      url: { type: 'string' },
      method: { type: 'string', default: 'GET' },
      'client-id': { type: 'string', default: 'rsguard-cc' },
      'client-secret': { type: 'string', default: 'rsguard-cc-secret' },
      scope: { type: 'string', default: 'inventory:read' },
      alg: { type: 'string', default: 'ES256' },
      'other-alg': { type: 'string' },
      cases: { type: 'string', default: CASES.join(',') },
      timeout: { type: 'string', default: '30000' },
    },
    strict: true,
  });
  if (!values.issuer || !values.resource) throw new Error('--issuer and --resource are required');
  const url = new URL(values.url ?? values.resource);
  const alg = ALGS[values.alg.toUpperCase()];
  const otherAlg = ALGS[(values['other-alg'] ?? values.alg).toUpperCase()];
  if (!alg || !otherAlg) throw new Error(`--alg and --other-alg must be one of ${Object.values(ALGS).join(', ')}`);
  const cases = values.cases.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of cases) if (!CASES.includes(c)) throw new Error(`--cases: unknown case ${c} (known: ${CASES.join(', ')})`);
  if (cases.includes('replay') && !cases.includes('dpop')) throw new Error('--cases: replay needs dpop');
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new Error('--timeout must be a positive number of ms');
  const method = values.method.toUpperCase();
  return {
    issuer: new URL(values.issuer),
    resource: values.resource,
    url,
    method,
    // A method the proof of other_method is made for: anything but --method.
    otherMethod: method === 'POST' ? 'PUT' : 'POST',
    // A URL of the same origin (so the nonce oauth4webapi caches per origin applies) but another path.
    otherURL: new URL(`${url.pathname.replace(/\/$/, '')}/elsewhere`, url),
    clientId: values['client-id'],
    clientSecret: values['client-secret'],
    scope: values.scope,
    alg,
    otherAlg,
    cases,
    timeout,
  };
}

// Generic options for oauth4webapi: plain http is allowed (127.0.0.1 only in these tests).
const insecure = { [oauth.allowInsecureRequests]: true };
const timeoutSignal = () => AbortSignal.timeout(STEP_TIMEOUT);

const report = { ok: false, cases: {} };

function decodePayload(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

// A DPoP key pair (non-extractable private key) and oauth4webapi's handle for it; jkt is the
// RFC 7638 thumbprint oauth4webapi computes, which the authorization server binds (cnf.jkt).
// oauth4webapi signs with an Ed25519 key as "Ed25519" (RFC 9864's fully specified name); --alg
// EdDSA uses the same key type and its documented remapEd25519 hook to send the older "EdDSA".
async function dpopKey(client, alg) {
  const keyPair = await oauth.generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg);
  const options = alg !== 'EdDSA' ? undefined : {
    [oauth.modifyAssertion]: (header) => {
      if (header.alg === 'Ed25519') header.alg = 'EdDSA';
    },
  };
  const handle = oauth.DPoP(client, keyPair, options);
  return { alg, handle, jkt: await handle.calculateThumbprint() };
}

async function getToken(o, as, client, key) {
  const auth = oauth.ClientSecretBasic(o.clientSecret);
  const params = new URLSearchParams({ scope: o.scope, resource: o.resource });
  let nonceRetry = false;
  for (;;) {
    const response = await oauth.clientCredentialsGrantRequest(as, client, auth, params, {
      ...insecure, DPoP: key.handle, signal: timeoutSignal(),
    });
    try {
      const result = await oauth.processClientCredentialsResponse(as, client, response);
      return { result, nonceRetry };
    } catch (err) {
      // oauth4webapi cached the DPoP-Nonce of the answer; retry once.
      if (oauth.isDPoPNonceError(err) && !nonceRetry) {
        nonceRetry = true;
        continue;
      }
      throw err;
    }
  }
}

// One protected-resource request through oauth4webapi. proofURL/proofMethod are what the proof is
// made for; customFetch sends the request to o.url with o.method, substituting `proof` for the
// DPoP header when given, and records the DPoP header it sent in `sent`.
async function callResource(o, name, token, { key, proofURL = o.url, proofMethod = o.method, proof, sent = {} } = {}) {
  const customFetch = (input, init) => {
    const headers = { ...init.headers };
    if (proof !== undefined) headers.dpop = proof;
    sent.proof = headers.dpop;
    sent.scheme = String(headers.authorization ?? '').split(' ')[0];
    return fetch(o.url.href, { ...init, method: o.method, headers });
  };
  const attempt = async () => {
    try {
      const res = await oauth.protectedResourceRequest(token, proofMethod, proofURL,
        new Headers({ accept: 'application/json', [CASE_HEADER]: name }), null,
        { ...insecure, DPoP: key?.handle, [oauth.customFetch]: customFetch, signal: timeoutSignal() });
      return { status: res.status, www_authenticate: res.headers.get('www-authenticate'), dpop_nonce: res.headers.has('dpop-nonce'), body: await jsonBody(res) };
    } catch (err) {
      if (!(err instanceof oauth.WWWAuthenticateChallengeError)) throw err;
      // oauth4webapi throws on any answer with WWW-Authenticate; err.cause is its parse of it.
      const res = err.response;
      return {
        status: err.status,
        www_authenticate: res.headers.get('www-authenticate'),
        challenges: err.cause,
        dpop_nonce: res.headers.has('dpop-nonce'),
        body: await jsonBody(res),
        nonce_error: oauth.isDPoPNonceError(err),
      };
    }
  };
  let out = await attempt();
  if (out.nonce_error && key) {
    // As oauth4webapi documents: the DPoP handle cached the DPoP-Nonce; retry once.
    const first = out;
    out = await attempt();
    out.nonce_retry = { status: first.status, www_authenticate: first.www_authenticate, dpop_nonce: first.dpop_nonce };
  }
  delete out.nonce_error;
  out.scheme = sent.scheme;
  out.proof_sent = sent.proof !== undefined;
  return out;
}

async function jsonBody(res) {
  if (!/^application\/json/i.test(res.headers.get('content-type') ?? '')) {
    await res.body?.cancel();
    return undefined;
  }
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}

async function main(o) {
  Object.assign(report, { issuer: o.issuer.href.replace(/\/$/, ''), resource: o.resource, url: o.url.href, method: o.method });
  const discovery = await oauth.discoveryRequest(o.issuer, { ...insecure, algorithm: 'oauth2', signal: timeoutSignal() });
  const as = await oauth.processDiscoveryResponse(o.issuer, discovery);
  report.dpop_signing_alg_values_supported = as.dpop_signing_alg_values_supported;
  const client = { client_id: o.clientId };

  const key = await dpopKey(client, o.alg);
  const otherKey = await dpopKey(client, o.otherAlg);
  report.key = { alg: key.alg, jkt: key.jkt };
  report.other_key = { alg: otherKey.alg, jkt: otherKey.jkt };

  const { result, nonceRetry } = await getToken(o, as, client, key);
  const token = result.access_token;
  const claims = decodePayload(token);
  report.token = {
    token_type: result.token_type, // oauth4webapi lower-cases it: "dpop"
    format: claims ? 'jwt' : 'opaque',
    cnf: claims?.cnf, // a JWT's confirmation (public: the key's thumbprint)
    aud: claims?.aud,
    scope: result.scope,
    expires_in: result.expires_in,
    nonce_retry: nonceRetry,
  };

  const accepted = {};
  for (const name of o.cases) {
    switch (name) {
      case 'dpop': report.cases.dpop = await callResource(o, name, token, { key, sent: accepted }); break;
      case 'dpop_again': report.cases.dpop_again = await callResource(o, name, token, { key }); break;
      case 'bearer': report.cases.bearer = await callResource(o, name, token); break;
      case 'replay': report.cases.replay = await callResource(o, name, token, { key, proof: accepted.proof }); break;
      case 'other_url': report.cases.other_url = { ...await callResource(o, name, token, { key, proofURL: o.otherURL }), proof_htu: `${o.otherURL.origin}${o.otherURL.pathname}` }; break;
      case 'other_method': report.cases.other_method = { ...await callResource(o, name, token, { key, proofMethod: o.otherMethod }), proof_htm: o.otherMethod }; break;
      case 'other_key': report.cases.other_key = await callResource(o, name, token, { key: otherKey }); break;
      default: throw new Error(`unknown case ${name}`);
    }
  }
  return true;
}

let opts;
try {
  opts = parseCli(process.argv.slice(2));
} catch (err) {
  console.error(`dpop-client: ${err.message}\n${USAGE}`);
  process.exit(2);
}

const timer = setTimeout(() => {
  report.ok = false;
  report.error = `timed out after ${opts.timeout} ms`;
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(3);
}, opts.timeout);

let code;
try {
  report.ok = await main(opts);
  code = 0;
} catch (err) {
  report.ok = false;
  // oauth4webapi's errors carry the response body's error/error_description (never a token).
  report.error = `${err?.name ?? 'Error'}: ${err?.message ?? err}${err?.error ? ` (${err.error}: ${err.error_description ?? ''})` : ''}`;
  console.error(err?.stack ?? err);
  code = 1;
}
clearTimeout(timer);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(code);
