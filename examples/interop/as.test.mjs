// Proves as.mjs on its own: metadata, JWT access tokens for each algorithm (verified here with
// node:crypto against the published JWKS), client scope allow-lists, dynamic registration and a
// headless authorization_code + PKCE flow. Run: node --test (in examples/interop).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { startScript, stop } from './lib/proc.mjs';
import { decodeJwt, verifyAccessToken } from './lib/jwt.mjs';
import { followAuthorization, CookieJar } from './lib/headless.mjs';

const RESOURCE = 'http://127.0.0.1:9999/mcp';
const CALLBACK = 'http://127.0.0.1/callback';
const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const TIMEOUT = AbortSignal.timeout.bind(AbortSignal, 5000);

const servers = {}; // alg -> {child, info}

before(async () => {
  const started = await Promise.allSettled(ALGS.map((alg) => startScript('as.mjs', ['--port', '0', '--alg', alg])));
  ALGS.forEach((alg, i) => { if (started[i].status === 'fulfilled') servers[alg] = started[i].value; });
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});

after(async () => {
  await Promise.all(Object.values(servers).map((s) => stop(s.child)));
});

async function getJSON(url) {
  const res = await fetch(url, { signal: TIMEOUT() });
  assert.equal(res.status, 200, `GET ${url}`);
  return res.json();
}

async function tokenRequest(issuer, params, { id, secret } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (id) headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const res = await fetch(`${issuer}/token`, {
    method: 'POST', headers, body: new URLSearchParams(params), signal: TIMEOUT(),
  });
  return { status: res.status, body: await res.json() };
}

function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

async function register(issuer, metadata) {
  const res = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata),
    signal: TIMEOUT(),
  });
  return { status: res.status, body: await res.json() };
}

// Runs authorization_code + PKCE headlessly; returns the token endpoint's answer.
async function authCode(issuer, client, { scope, resource = RESOURCE, jar = new CookieJar(), extra = {} } = {}) {
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(8).toString('hex');
  const url = new URL(`${issuer}/auth`);
  const q = {
    response_type: 'code', client_id: client.client_id, redirect_uri: CALLBACK,
    code_challenge: challenge, code_challenge_method: 'S256', state, ...extra,
  };
  if (scope !== undefined) q.scope = scope;
  if (resource) q.resource = resource;
  for (const [k, v] of Object.entries(q)) url.searchParams.set(k, v);
  const result = await followAuthorization(url, CALLBACK, { jar });
  if (result.error) return { authorization: result };
  assert.equal(result.state, state);
  assert.equal(result.iss, issuer, 'RFC 9207 iss in the authorization response');
  const params = { grant_type: 'authorization_code', code: result.code, code_verifier: verifier, redirect_uri: CALLBACK };
  if (resource) params.resource = resource;
  let creds;
  if (client.client_secret) creds = { id: client.client_id, secret: client.client_secret };
  else params.client_id = client.client_id;
  return { authorization: result, token: await tokenRequest(issuer, params, creds) };
}

test('RFC 8414 and OIDC discovery serve the same document', async () => {
  const { info } = servers.ES256;
  const oauth = await getJSON(`${info.issuer}/.well-known/oauth-authorization-server`);
  const oidc = await getJSON(`${info.issuer}/.well-known/openid-configuration`);
  assert.deepEqual(oauth, oidc);
  assert.equal(oauth.issuer, info.issuer);
  assert.equal(oauth.jwks_uri, info.jwks_uri);
  assert.equal(oauth.token_endpoint, info.token_endpoint);
  assert.equal(oauth.registration_endpoint, info.registration_endpoint);
  assert.deepEqual(oauth.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(oauth.response_types_supported, ['code']);
  for (const g of ['authorization_code', 'client_credentials', 'refresh_token']) assert.ok(oauth.grant_types_supported.includes(g), g);
  for (const s of ['inventory:read', 'inventory:write', 'inventory:admin']) assert.ok(oauth.scopes_supported.includes(s), s);
});

test('JWKS publishes one signing key per algorithm with kid, alg and use', async () => {
  const { info } = servers.RS256;
  const jwks = await getJSON(info.jwks_uri);
  assert.equal(jwks.keys.length, 4);
  for (const alg of ALGS) {
    const k = jwks.keys.find((key) => key.alg === alg);
    assert.ok(k, alg);
    assert.equal(k.kid, info.kids[alg]);
    assert.equal(k.use, 'sig');
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `no private ${priv}`);
  }
});

for (const alg of ALGS) {
  test(`client_credentials → RFC 9068 JWT signed with ${alg}`, async () => {
    const { info } = servers[alg];
    const { status, body } = await tokenRequest(info.issuer,
      { grant_type: 'client_credentials', scope: 'inventory:read', resource: RESOURCE },
      { id: 'rsguard-reader', secret: 'rsguard-reader-secret' });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'inventory:read');
    const { header, payload } = decodeJwt(body.access_token);
    assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ']);
    assert.equal(header.alg, alg);
    assert.equal(header.kid, info.kid);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(payload.iss, info.issuer);
    assert.equal(payload.aud, RESOURCE, 'aud is the resource, as a string');
    assert.equal(payload.scope, 'inventory:read');
    assert.equal(payload.client_id, 'rsguard-reader');
    assert.equal(payload.sub, 'rsguard-reader', 'client_credentials: sub is the client id');
    assert.equal(payload.exp - payload.iat, 300);
    assert.ok(payload.jti);
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub']);
    const jwks = await getJSON(info.jwks_uri);
    verifyAccessToken(body.access_token, jwks, { issuer: info.issuer, audience: RESOURCE });
    // the same token does not verify against another instance's keys
    const other = await getJSON(servers[alg === 'RS256' ? 'ES256' : 'RS256'].info.jwks_uri);
    assert.throws(() => verifyAccessToken(body.access_token, other));
  });
}

test('client_credentials: unlisted scopes are dropped, disallowed scopes refused, resources checked', async () => {
  const { info } = servers.ES256;
  const cc = { id: 'rsguard-cc', secret: 'rsguard-cc-secret' };
  let r = await tokenRequest(info.issuer,
    { grant_type: 'client_credentials', scope: 'inventory:read inventory:write inventory:admin', resource: RESOURCE }, cc);
  assert.equal(r.status, 200);
  assert.equal(decodeJwt(r.body.access_token).payload.scope, 'inventory:read inventory:write inventory:admin');

  r = await tokenRequest(info.issuer,
    { grant_type: 'client_credentials', scope: 'inventory:write', resource: RESOURCE },
    { id: 'rsguard-reader', secret: 'rsguard-reader-secret' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'invalid_scope');

  r = await tokenRequest(info.issuer,
    { grant_type: 'client_credentials', scope: 'inventory:read', resource: 'https://evil.example/mcp' }, cc);
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'invalid_target');

  // any loopback resource (host, port, path) is accepted; aud follows it
  r = await tokenRequest(info.issuer,
    { grant_type: 'client_credentials', scope: 'inventory:read', resource: 'http://localhost:1234/other' }, cc);
  assert.equal(r.status, 200);
  assert.equal(decodeJwt(r.body.access_token).payload.aud, 'http://localhost:1234/other');

  // without a resource indicator the token is opaque (no audience to put in a JWT)
  r = await tokenRequest(info.issuer, { grant_type: 'client_credentials', scope: 'inventory:read' }, cc);
  assert.equal(r.status, 200);
  assert.equal(r.body.access_token.split('.').length, 1, 'opaque');

  r = await tokenRequest(info.issuer,
    { grant_type: 'client_credentials', scope: 'inventory:read', resource: RESOURCE },
    { id: 'rsguard-cc', secret: 'wrong' });
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'invalid_client');
});

test('dynamic client registration (open) and authorization_code + PKCE, headless', async () => {
  const { info } = servers.PS256;
  const reg = await register(info.issuer, {
    client_name: 'interop test', redirect_uris: [CALLBACK], grant_types: ['authorization_code'],
    response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'inventory:read',
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  assert.ok(reg.body.client_id);
  assert.equal(reg.body.client_secret, undefined, 'public client');
  assert.equal(reg.body.scope, undefined, 'registered scope is dropped (no allow-list for DCR clients)');

  const jar = new CookieJar();
  const first = await authCode(info.issuer, reg.body, { scope: 'inventory:read', jar });
  assert.equal(first.token.status, 200, JSON.stringify(first.token.body));
  assert.equal(first.token.body.refresh_token, undefined, 'no refresh token without refresh_token grant');
  const jwks = await getJSON(info.jwks_uri);
  const { header, payload } = verifyAccessToken(first.token.body.access_token, jwks, { issuer: info.issuer, audience: RESOURCE });
  assert.equal(header.alg, 'PS256');
  assert.equal(header.typ, 'at+jwt');
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.client_id, reg.body.client_id);
  assert.equal(payload.scope, 'inventory:read');

  // step-up in the same browser session: more scopes than the registration named
  const second = await authCode(info.issuer, reg.body, { scope: 'inventory:write', jar });
  assert.equal(second.token.status, 200, JSON.stringify(second.token.body));
  assert.equal(decodeJwt(second.token.body.access_token).payload.scope, 'inventory:write',
    'the token carries what was asked for this time, not the union');

  // the test user may not hold inventory:admin: it is rejected, the rest granted
  const third = await authCode(info.issuer, reg.body, { scope: 'inventory:read inventory:admin' });
  assert.equal(third.token.status, 200);
  assert.equal(decodeJwt(third.token.body.access_token).payload.scope, 'inventory:read');
});

test('authorization request edge cases', async () => {
  const { info } = servers.ES256;
  const reg = await register(info.issuer, {
    redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none',
  });
  assert.equal(reg.status, 201);

  // no PKCE → refused (PKCE is required for every client)
  const url = new URL(`${info.issuer}/auth`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: reg.body.client_id, redirect_uri: CALLBACK, scope: 'inventory:read', resource: RESOURCE })) url.searchParams.set(k, v);
  const nopkce = await followAuthorization(url, CALLBACK);
  assert.equal(nopkce.error, 'invalid_request');

  // no scope at all → oidc-provider denies the request after login (access_denied): a client
  // must always send scope (the MCP SDK sends the challenge's, else scopes_supported)
  const noscope = await authCode(info.issuer, reg.body, { scope: undefined });
  assert.equal(noscope.authorization.error, 'access_denied');

  // scope but no resource indicator → the token is opaque (no audience for a JWT)
  const nores = await authCode(info.issuer, reg.body, { scope: 'inventory:read', resource: null });
  assert.equal(nores.token.status, 200);
  assert.equal(nores.token.body.access_token.split('.').length, 1, 'opaque');
});

test('static confidential client with refresh token', async () => {
  const { info } = servers.EdDSA;
  const client = { client_id: 'rsguard-web', client_secret: 'rsguard-web-secret' };
  const r = await authCode(info.issuer, client, { scope: 'openid offline_access inventory:read inventory:write', extra: { prompt: 'consent' } });
  assert.equal(r.token.status, 200, JSON.stringify(r.token.body));
  assert.ok(r.token.body.refresh_token, 'refresh token with offline_access');
  assert.ok(r.token.body.id_token, 'id token with openid');
  const at = decodeJwt(r.token.body.access_token);
  assert.equal(at.header.alg, 'EdDSA');
  assert.equal(at.payload.scope, 'inventory:read inventory:write');
  const refreshed = await tokenRequest(info.issuer,
    { grant_type: 'refresh_token', refresh_token: r.token.body.refresh_token, resource: RESOURCE },
    { id: client.client_id, secret: client.client_secret });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  const jwks = await getJSON(info.jwks_uri);
  const { payload } = verifyAccessToken(refreshed.body.access_token, jwks, { issuer: info.issuer, audience: RESOURCE });
  assert.equal(payload.scope, 'inventory:read inventory:write');
  assert.equal(payload.sub, 'alice');
});

test('--scopes: the static clients and the test user follow the scope levels (notes:read notes:write)', async () => {
  const s = await startScript('as.mjs', ['--port', '0', '--alg', 'ES256', '--scopes', 'notes:read notes:write']);
  try {
    const { info } = s;
    assert.deepEqual(info.scopes, ['notes:read', 'notes:write']);
    assert.deepEqual(info.user_scopes, ['notes:read', 'notes:write'], 'the user may hold every scope but …:admin');
    const get = async (client, scope) => tokenRequest(info.issuer,
      { grant_type: 'client_credentials', scope, resource: RESOURCE }, { id: client, secret: `${client}-secret` });
    let r = await get('rsguard-cc', 'notes:read notes:write');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(decodeJwt(r.body.access_token).payload.scope, 'notes:read notes:write');
    r = await get('rsguard-writer', 'notes:read notes:write');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await get('rsguard-reader', 'notes:read');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(decodeJwt(r.body.access_token).payload.scope, 'notes:read');
    r = await get('rsguard-reader', 'notes:write');
    assert.equal(r.body.error, 'invalid_scope', 'the reader may only get …:read');
    r = await get('rsguard-cc', 'notes:read inventory:read');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(decodeJwt(r.body.access_token).payload.scope, 'notes:read', 'scopes outside --scopes are dropped');
  } finally {
    await stop(s.child);
  }
});

// ---------------------------------------------------------------------------------------------
// --introspection, --rs-jwks, --opaque, --dpop: what rsguard's introspection and DPoP code meets.

const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function signES256(header, payload, privateKey) {
  const input = `${b64u(header)}.${b64u(payload)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

// A DPoP proof (RFC 9449 §4.2) made with node:crypto, independent of any OAuth library.
function dpopProof(privateKey, publicJwk, htm, htu, extra = {}) {
  return signES256({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicJwk },
    { jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), htm, htu, ...extra }, privateKey);
}

function thumbprint({ crv, kty, x, y }) {
  return crypto.createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
}

test('flags off by default: no introspection endpoint, no DPoP', async () => {
  const { info } = servers.ES256;
  const meta = await getJSON(info.metadata[0]);
  assert.equal(meta.introspection_endpoint, undefined);
  assert.equal(meta.dpop_signing_alg_values_supported, undefined);
  assert.equal(info.introspection_endpoint, undefined);
  assert.deepEqual(info.opaque, []);
  // a DPoP header at the token endpoint is ignored: a plain Bearer JWT
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const proof = dpopProof(privateKey, publicKey.export({ format: 'jwk' }), 'POST', info.token_endpoint);
  const res = await fetch(info.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof, authorization: `Basic ${Buffer.from('rsguard-cc:rsguard-cc-secret').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'inventory:read', resource: RESOURCE }),
    signal: TIMEOUT(),
  });
  const body = await res.json();
  assert.equal(body.token_type, 'Bearer');
  assert.equal(decodeJwt(body.access_token).payload.cnf, undefined);
});

test('--introspection --opaque --dpop: opaque tokens, the three client authentication methods, refresh tokens, DPoP binding', async (t) => {
  const rsKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwksFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rsguard-as-')), 'rs-jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...rsKey.publicKey.export({ format: 'jwk' }), kid: 'rs-1', use: 'sig' }] }));
  const OTHER = 'http://127.0.0.1:9/other';
  const s = await startScript('as.mjs', ['--port', '0', '--alg', 'ES256', '--introspection', '--rs-jwks', jwksFile,
    '--opaque', RESOURCE, '--opaque', OTHER, '--dpop']);
  t.after(() => stop(s.child));
  const { info } = s;
  assert.equal(info.introspection_endpoint, `${info.issuer}/token/introspection`);
  assert.deepEqual(info.opaque, [RESOURCE, OTHER]);
  assert.deepEqual(info.rs_clients.map((c) => c.token_endpoint_auth_method), ['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
  assert.deepEqual(info.dpop, { nonce: false });
  const meta = await getJSON(info.metadata[0]);
  assert.equal(meta.introspection_endpoint, info.introspection_endpoint);
  assert.deepEqual(meta.dpop_signing_alg_values_supported, ['ES256', 'Ed25519', 'EdDSA', 'RS256', 'PS256']);

  const cc = { id: 'rsguard-cc', secret: 'rsguard-cc-secret' };
  const assertion = (aud, extra = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return signES256({ alg: 'ES256', kid: 'rs-1' },
      { iss: 'rsguard-rs-jwt', sub: 'rsguard-rs-jwt', aud, jti: crypto.randomUUID(), iat: now, exp: now + 60, ...extra }, rsKey.privateKey);
  };
  const introspect = async (token, how, extra = {}) => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const params = { token, token_type_hint: 'access_token' };
    if (how === 'basic') headers.authorization = `Basic ${Buffer.from('rsguard-rs-basic:rsguard-rs-basic-secret').toString('base64')}`;
    else if (how === 'post') Object.assign(params, { client_id: 'rsguard-rs-post', client_secret: 'rsguard-rs-post-secret' });
    else if (how === 'cc') headers.authorization = `Basic ${Buffer.from('rsguard-cc:rsguard-cc-secret').toString('base64')}`;
    else Object.assign(params, { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: how });
    const res = await fetch(info.introspection_endpoint, { method: 'POST', headers, body: new URLSearchParams({ ...params, ...extra }), signal: TIMEOUT() });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
  };

  // an opaque token for a --opaque resource; its introspection answer, by each method
  const ours = await tokenRequest(info.issuer, { grant_type: 'client_credentials', scope: 'inventory:read', resource: RESOURCE }, cc);
  assert.equal(ours.status, 200, JSON.stringify(ours.body));
  assert.equal(ours.body.access_token.split('.').length, 1, 'opaque');
  assert.equal(ours.body.token_type, 'Bearer');
  const expected = { active: true, client_id: 'rsguard-cc', iss: info.issuer, aud: RESOURCE, scope: 'inventory:read', token_type: 'Bearer' };
  for (const how of ['basic', 'post', assertion(info.issuer), assertion(info.introspection_endpoint), assertion(info.token_endpoint),
    assertion([info.issuer, 'https://elsewhere.example'])]) {
    const r = await introspect(ours.body.access_token, how);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.type, /^application\/json/);
    const { exp, iat, ...rest } = r.body;
    assert.deepEqual(rest, expected, 'no sub, no jti for a client_credentials opaque token; aud a string');
    assert.equal(exp - iat, 300);
  }
  // private_key_jwt: any other audience, a reused assertion (jti), no exp: invalid_client
  for (const bad of [assertion('https://elsewhere.example'), assertion(info.issuer, { exp: undefined })]) {
    const r = await introspect(ours.body.access_token, bad);
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
  }
  const once = assertion(info.issuer);
  assert.equal((await introspect(ours.body.access_token, once)).status, 200);
  assert.equal((await introspect(ours.body.access_token, once)).body.error, 'invalid_client', 'an assertion is single use');
  // only the resource server's clients get answers
  assert.deepEqual((await introspect(ours.body.access_token, 'cc')).body, { active: false });
  // unknown token
  assert.deepEqual((await introspect('no-such-token', 'basic')).body, { active: false });

  // another resource's opaque token: active, with its own aud
  const other = await tokenRequest(info.issuer, { grant_type: 'client_credentials', scope: 'inventory:read', resource: OTHER }, cc);
  assert.equal((await introspect(other.body.access_token, 'basic')).body.aud, OTHER);

  // a JWT (any resource not in --opaque) cannot be introspected at all
  const jwt = await tokenRequest(info.issuer, { grant_type: 'client_credentials', scope: 'inventory:read', resource: 'http://127.0.0.1:1/jwt' }, cc);
  assert.equal(jwt.body.access_token.split('.').length, 3);
  const rj = await introspect(jwt.body.access_token, 'basic');
  assert.equal(rj.status, 400);
  assert.equal(rj.body.error, 'unsupported_token_type');

  // a refresh token: active, but no aud and no token_type
  const web = { client_id: 'rsguard-web', client_secret: 'rsguard-web-secret' };
  const ac = await authCode(info.issuer, web, { scope: 'openid offline_access inventory:read', extra: { prompt: 'consent' } });
  assert.equal(ac.token.status, 200, JSON.stringify(ac.token.body));
  const at = await introspect(ac.token.body.access_token, 'basic');
  assert.equal(at.body.sub, 'alice');
  assert.equal(at.body.token_type, 'Bearer');
  const rt = await introspect(ac.token.body.refresh_token, 'basic');
  assert.equal(rt.body.active, true);
  assert.equal(rt.body.sub, 'alice');
  assert.equal(rt.body.aud, undefined, 'a refresh token has no aud');
  assert.equal(rt.body.token_type, undefined, 'a refresh token has no token_type');
  assert.equal(rt.body.scope, 'openid offline_access inventory:read');

  // DPoP: a proof at the token endpoint binds the token (cnf.jkt), JWT or opaque
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = key.publicKey.export({ format: 'jwk' });
  const bound = async (resource) => {
    const res = await fetch(info.token_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        dpop: dpopProof(key.privateKey, jwk, 'POST', info.token_endpoint),
        authorization: `Basic ${Buffer.from('rsguard-cc:rsguard-cc-secret').toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'inventory:read', resource }),
      signal: TIMEOUT(),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'DPoP');
    return body.access_token;
  };
  const boundJwt = decodeJwt(await bound('http://127.0.0.1:1/jwt'));
  assert.deepEqual(boundJwt.payload.cnf, { jkt: thumbprint(jwk) });
  assert.equal(boundJwt.header.typ, 'at+jwt');
  const bi = await introspect(await bound(RESOURCE), 'basic');
  assert.deepEqual(bi.body.cnf, { jkt: thumbprint(jwk) });
  assert.equal(bi.body.token_type, 'DPoP');
});

test('--dpop-nonce: the token endpoint wants a server nonce first', async (t) => {
  const s = await startScript('as.mjs', ['--port', '0', '--dpop-nonce']);
  t.after(() => stop(s.child));
  const { info } = s;
  assert.deepEqual(info.dpop, { nonce: true });
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = key.publicKey.export({ format: 'jwk' });
  const request = (extra) => fetch(info.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      dpop: dpopProof(key.privateKey, jwk, 'POST', info.token_endpoint, extra),
      authorization: `Basic ${Buffer.from('rsguard-cc:rsguard-cc-secret').toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'inventory:read', resource: RESOURCE }),
    signal: TIMEOUT(),
  });
  const first = await request();
  assert.equal(first.status, 400);
  assert.equal((await first.json()).error, 'use_dpop_nonce');
  const nonce = first.headers.get('dpop-nonce');
  assert.ok(nonce);
  const second = await request({ nonce });
  assert.equal(second.status, 200);
  assert.equal((await second.json()).token_type, 'DPoP');
});
