// Proves client.mjs end to end against as.mjs and the test-only mock-rs.mjs, in both modes,
// including step-up. The Go tests run the same client.mjs against examples/mcpserver instead.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startScript, stop, runScript } from './lib/proc.mjs';

let as;
let rs;

before(async () => {
  as = await startScript('as.mjs', ['--port', '0', '--alg', 'ES256']);
  rs = await startScript('mock-rs.mjs', ['--issuer', as.info.issuer]);
});

after(async () => {
  await stop(rs?.child);
  await stop(as?.child);
});

async function client(...args) {
  const r = await runScript('client.mjs', ['--server', rs.info.url, '--issuer', as.info.issuer, ...args]);
  assert.ok(r.json, `client printed no JSON line; stdout=${r.stdout} stderr=${r.stderr}`);
  return r;
}

const steps = (json, name) => json.steps.filter((s) => s.step === 'tools/call' && (!name || s.tool === name));

test('client_credentials: 401 → metadata → token → initialize → tools; admin refused with 403', async () => {
  const { code, json } = await client('--mode', 'client_credentials', '--scope', 'inventory:read inventory:write',
    '--tool', 'inventory_read', '--tool', 'inventory_write={"sku":"A-1","qty":3}', '--expect-403', 'inventory_admin');
  assert.equal(code, 0, JSON.stringify(json));
  assert.equal(json.ok, true);

  // discovery as the SDK does it: challenge, RFC 9728 metadata from resource_metadata, RFC 8414
  const [first, prm, asm, token] = json.http;
  assert.equal(first.status, 401);
  assert.equal(first.rpc, 'initialize');
  assert.match(first.www_authenticate, /^Bearer resource_metadata="[^"]+", scope="inventory:read"$/);
  assert.equal(prm.url, rs.info.resource_metadata);
  assert.equal(asm.url, `${as.info.issuer}/.well-known/oauth-authorization-server`);
  assert.deepEqual([token.method, token.url, token.status], ['POST', as.info.token_endpoint, 200]);

  assert.equal(json.authorization_server, as.info.issuer);
  assert.equal(json.authorization_server_issuer, as.info.issuer);
  assert.equal(json.resource_metadata.resource, rs.info.resource);
  assert.deepEqual(json.resource_metadata.authorization_servers, [as.info.issuer]);

  const [tok] = json.tokens;
  assert.deepEqual([tok.alg, tok.typ, tok.kid], ['ES256', 'at+jwt', as.info.kid]);
  assert.equal(tok.aud, rs.info.resource);
  assert.equal(tok.iss, as.info.issuer);
  assert.equal(tok.scope, 'inventory:read inventory:write');
  assert.equal(tok.client_id, 'rsguard-cc');

  assert.deepEqual(json.steps.find((s) => s.step === 'tools/list').tools, ['inventory_read', 'inventory_write', 'inventory_admin']);
  const [read, write, admin] = steps(json);
  assert.equal(read.result.json.scope, 'inventory:read inventory:write');
  assert.deepEqual(write.result.json.arguments, { sku: 'A-1', qty: 3 });
  // the SDK tries once more with a fresh token (same scope: client_credentials uses the
  // configured scope, not the challenge's) and then gives up on the identical 403
  assert.equal(admin.ok, true);
  assert.equal(admin.insufficient_scope, true);
  assert.equal(admin.challenge_scope, 'inventory:admin');
  assert.equal(admin.refused_by, 'resource_server');
  assert.deepEqual(admin.statuses, [403, 403]);
  assert.equal(admin.tokens, 1);
});

test('client_credentials: a reader client is refused the write tool; an unexpected refusal fails the run', async () => {
  const ok = await client('--mode', 'client_credentials', '--client-id', 'rsguard-reader', '--client-secret', 'rsguard-reader-secret',
    '--tool', 'inventory_read', '--expect-403', 'inventory_write');
  assert.equal(ok.code, 0, JSON.stringify(ok.json));
  assert.equal(steps(ok.json, 'inventory_write')[0].challenge_scope, 'inventory:write');

  const bad = await client('--mode', 'client_credentials', '--client-id', 'rsguard-reader', '--client-secret', 'rsguard-reader-secret',
    '--tool', 'inventory_write');
  assert.equal(bad.code, 1);
  assert.equal(bad.json.ok, false);
  assert.equal(steps(bad.json, 'inventory_write')[0].ok, false);
});

test('client_credentials: bad secret and wrong expected issuer fail at connect', async () => {
  const secret = await client('--mode', 'client_credentials', '--client-secret', 'wrong');
  assert.equal(secret.code, 1);
  assert.equal(secret.json.steps[0].step, 'connect');
  assert.equal(secret.json.steps[0].ok, false);

  // the SDK binds pre-registered credentials to their issuer: nothing is posted to a token endpoint
  const r = await runScript('client.mjs', ['--server', rs.info.url, '--issuer', 'http://127.0.0.1:1', '--mode', 'client_credentials']);
  assert.equal(r.code, 1);
  assert.equal(r.json.steps[0].ok, false);
  assert.match(r.json.steps[0].message, /bound to authorization server/);
  assert.ok(!r.json.http.some((h) => h.url.endsWith('/token')));
});

test('authcode: DCR + PKCE headless, step-up on 403 insufficient_scope, admin refused', async () => {
  const { code, json } = await client('--mode', 'authcode',
    '--tool', 'inventory_read', '--tool', 'inventory_write', '--tool', 'inventory_read', '--expect-403', 'inventory_admin');
  assert.equal(code, 0, JSON.stringify(json.steps));
  assert.equal(json.client.registered, true);
  assert.ok(json.http.some((h) => h.method === 'POST' && h.url === as.info.registration_endpoint && h.status === 201));

  const [a1, a2, a3, a4] = json.authorizations;
  assert.equal(json.authorizations.length, 4);
  assert.deepEqual([a1.scope, a1.resource, a1.code_challenge_method], ['inventory:read', rs.info.resource, 'S256']);
  assert.equal(a2.scope, 'inventory:write', 'the SDK asks for the challenge scope only');
  assert.equal(a3.scope, 'inventory:read', '… so the next read needs another step-up');
  assert.equal(a4.scope, 'inventory:admin');
  assert.equal(a4.error, 'access_denied', 'the test user may not hold inventory:admin');

  const [read, write, reread, admin] = steps(json);
  assert.equal(read.step_up, false);
  assert.deepEqual(write.statuses, [403, 200]);
  assert.equal(write.step_up, true);
  assert.equal(write.challenge_scope, 'inventory:write');
  assert.equal(write.result.json.scope, 'inventory:write');
  assert.equal(write.result.json.sub, 'alice');
  assert.equal(write.result.json.session, read.result.json.session, 'same MCP session after step-up');
  assert.equal(reread.step_up, true);
  assert.equal(admin.refused_by, 'authorization_server');
  assert.deepEqual(json.tokens.map((t) => t.scope), ['inventory:read', 'inventory:write', 'inventory:read']);
  assert.ok(json.tokens.every((t) => t.typ === 'at+jwt' && t.aud === rs.info.resource && t.sub === 'alice'));
});

test('authcode --accumulate-scopes: step-up keeps held scopes; static client skips DCR', async () => {
  const { code, json } = await client('--mode', 'authcode', '--accumulate-scopes', '--client-id', 'rsguard-web', '--client-secret', 'rsguard-web-secret',
    '--tool', 'inventory_read', '--tool', 'inventory_write', '--tool', 'inventory_read', '--expect-403', 'inventory_admin');
  assert.equal(code, 0, JSON.stringify(json.steps));
  assert.equal(json.client.registered, false);
  assert.ok(!json.http.some((h) => h.url === as.info.registration_endpoint));
  assert.deepEqual(json.authorizations.map((a) => a.scope),
    ['inventory:read', 'inventory:read inventory:write', 'inventory:read inventory:write inventory:admin']);
  const [, write, reread, admin] = steps(json);
  assert.equal(write.result.json.scope, 'inventory:read inventory:write');
  assert.equal(reread.step_up, false);
  // the AS grants read+write and drops admin; the SDK's retry meets the same 403 and stops
  assert.equal(admin.refused_by, 'resource_server');
  assert.equal(admin.http_status, 403);
});

test('authcode: --issuer must match the authorization server the metadata names', async () => {
  const r = await runScript('client.mjs', ['--server', rs.info.url, '--issuer', 'http://127.0.0.1:1', '--mode', 'authcode']);
  assert.equal(r.code, 1);
  assert.equal(r.json.steps[0].ok, false);
  assert.match(r.json.steps[0].message, /names authorization server/);
});
