// Proves dpop-client.mjs on its own, against as.mjs --dpop and a small recording resource server in
// this file (no verification: it answers what each request carried), so that each case is known
// to send what README.md says. The Go tests (dpop_test.go) run the same client against rsguard.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import { startScript, stop, runScript } from './lib/proc.mjs';
import { decodeJwt } from './lib/jwt.mjs';

let as;
let rs;
let nonceAs;

// The recording resource server: /plain answers 200 with what the request carried; /nonce first
// asks for a nonce (401 use_dpop_nonce + DPoP-Nonce) when the proof has none.
function recordingRS() {
  const seen = new Set();
  const server = http.createServer((req, res) => {
    const proof = req.headers.dpop;
    const out = { method: req.method, path: req.url, scheme: String(req.headers.authorization ?? '').split(' ')[0], case: req.headers['x-interop-case'] };
    if (proof) {
      const { header, payload } = decodeJwt(proof);
      const { kty, crv, x, y, e, n } = header.jwk;
      const members = kty === 'RSA' ? { e, kty, n } : kty === 'EC' ? { crv, kty, x, y } : { crv, kty, x };
      Object.assign(out, {
        typ: header.typ, alg: header.alg, htm: payload.htm, htu: payload.htu, nonce: payload.nonce,
        ath_ok: payload.ath === crypto.createHash('sha256').update(String(req.headers.authorization).split(' ')[1]).digest('base64url'),
        jkt: crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url'),
        replayed: seen.has(payload.jti),
      });
      seen.add(payload.jti);
      if (req.url === '/nonce' && !payload.nonce) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'DPoP error="use_dpop_nonce", algs="ES256"', 'dpop-nonce': 'nonce-1' });
        res.end(JSON.stringify(out));
        return;
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(out));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  [as, nonceAs, rs] = await Promise.all([
    startScript('as.mjs', ['--port', '0', '--dpop']),
    startScript('as.mjs', ['--port', '0', '--dpop-nonce', '--opaque', 'http://127.0.0.1:1/opaque']),
    recordingRS(),
  ]);
});

after(async () => {
  rs?.close();
  rs?.closeAllConnections();
  await Promise.all([stop(as?.child), stop(nonceAs?.child)]);
});

const rsURL = (p) => `http://127.0.0.1:${rs.address().port}${p}`;

async function client(issuer, ...args) {
  const r = await runScript('dpop-client.mjs', ['--issuer', issuer, ...args]);
  assert.equal(r.code, 0, `exit ${r.code}; stdout=${r.stdout} stderr=${r.stderr}`);
  assert.ok(r.json?.ok, r.stdout);
  assert.ok(!r.stdout.includes('"access_token"'), 'never a token in the report');
  return r.json;
}

test('every case sends what it says, with a DPoP-bound JWT', async () => {
  const url = rsURL('/plain');
  const r = await client(as.info.issuer, '--resource', url);
  assert.equal(r.token.token_type, 'dpop');
  assert.equal(r.token.format, 'jwt');
  assert.deepEqual(r.token.cnf, { jkt: r.key.jkt });
  assert.notEqual(r.key.jkt, r.other_key.jkt);
  const c = r.cases;
  assert.deepEqual(Object.keys(c), ['dpop', 'dpop_again', 'bearer', 'replay', 'other_url', 'other_method', 'other_key']);
  for (const [name, v] of Object.entries(c)) {
    assert.equal(v.status, 200, name);
    assert.equal(v.body.case, name);
    assert.equal(v.body.method, 'GET', name);
    assert.equal(v.body.path, '/plain', name);
  }
  const proof = (name) => c[name].body;
  assert.deepEqual(proof('dpop'), {
    method: 'GET', path: '/plain', scheme: 'DPoP', case: 'dpop', typ: 'dpop+jwt', alg: 'ES256', htm: 'GET', htu: url,
    ath_ok: true, jkt: r.key.jkt, replayed: false, // no nonce: none was asked for
  });
  assert.equal(proof('dpop_again').replayed, false);
  assert.equal(proof('bearer').scheme, 'Bearer');
  assert.equal(proof('bearer').typ, undefined, 'no proof');
  assert.equal(proof('replay').replayed, true);
  assert.equal(proof('other_url').htu, `${url}/elsewhere`);
  assert.equal(proof('other_method').htm, 'POST');
  assert.equal(proof('other_key').jkt, r.other_key.jkt);
  assert.equal(proof('other_key').ath_ok, true);
});

test('Ed25519 keys: "Ed25519" by default, "EdDSA" with --alg EdDSA; RSA keys', async () => {
  for (const alg of ['Ed25519', 'EdDSA', 'RS256', 'PS256']) {
    const r = await client(as.info.issuer, '--resource', rsURL('/plain'), '--alg', alg, '--cases', 'dpop');
    assert.equal(r.cases.dpop.body.alg, alg);
    assert.equal(r.cases.dpop.body.jkt, r.key.jkt);
    assert.deepEqual(r.token.cnf, { jkt: r.key.jkt });
  }
});

test('nonces: at the token endpoint and at the resource, one retry each; an opaque bound token', async () => {
  const r = await client(nonceAs.info.issuer, '--resource', 'http://127.0.0.1:1/opaque', '--url', rsURL('/nonce'), '--cases', 'dpop,replay,other_key');
  assert.equal(r.token.nonce_retry, true, 'the token endpoint asked for a nonce');
  assert.equal(r.token.format, 'opaque');
  assert.equal(r.cases.dpop.nonce_retry.status, 401);
  assert.equal(r.cases.dpop.nonce_retry.dpop_nonce, true);
  assert.equal(r.cases.dpop.status, 200);
  assert.equal(r.cases.dpop.body.nonce, 'nonce-1');
  assert.equal(r.cases.replay.nonce_retry, undefined, 'the replayed proof carries the nonce already');
  assert.equal(r.cases.other_key.nonce_retry.status, 401, 'the second key has no nonce yet');
  assert.equal(r.cases.other_key.status, 200);
});

test('bad arguments exit 2', async () => {
  const r = await runScript('dpop-client.mjs', ['--resource', 'http://127.0.0.1:1/x']);
  assert.equal(r.code, 2);
  const r2 = await runScript('dpop-client.mjs', ['--issuer', as.info.issuer, '--resource', 'http://127.0.0.1:1/x', '--cases', 'replay']);
  assert.equal(r2.code, 2);
});
