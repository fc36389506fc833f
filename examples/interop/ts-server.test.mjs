// Proves ts-server.mjs (an MCP server on the TypeScript SDK, requireBearerAuth) against as.mjs
// (oidc-provider) and client.mjs (the TypeScript SDK client): its contract, and what the SDK's
// middleware answers. examples/mcpcheck runs rsguard's checker command against the same server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startScript, stop, runScript } from './lib/proc.mjs';

const SCOPES = 'notes:read notes:write';
let as;
let rs;

before(async () => {
  as = await startScript('as.mjs', ['--port', '0', '--alg', 'ES256', '--scopes', SCOPES]);
  rs = await startScript('ts-server.mjs', ['--issuer', as.info.issuer]);
});

after(async () => {
  await stop(rs?.child);
  await stop(as?.child);
});

const post = (headers, body) => fetch(rs.info.url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
  body: JSON.stringify(body),
  signal: AbortSignal.timeout(10_000),
});
const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } } };

test('prints its URL, on 127.0.0.1, and serves RFC 9728 metadata naming the issuer', async () => {
  const url = new URL(rs.info.url);
  assert.equal(url.hostname, '127.0.0.1');
  assert.equal(url.pathname, '/mcp');
  assert.equal(rs.info.resource_metadata, `${url.origin}/.well-known/oauth-protected-resource/mcp`);
  const res = await fetch(rs.info.resource_metadata, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.deepEqual(await res.json(), {
    resource: rs.info.url,
    authorization_servers: [as.info.issuer],
    scopes_supported: ['notes:read', 'notes:write'],
    resource_name: 'rsguard interop TypeScript SDK server',
  });
});

test('requireBearerAuth: 401 with resource_metadata and scope, and error="invalid_token" even without a token', async () => {
  const none = await post({}, initialize);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'),
    `Bearer error="invalid_token", error_description="Missing Authorization header", scope="notes:read", resource_metadata="${rs.info.resource_metadata}"`);
  assert.equal(none.headers.get('access-control-expose-headers'), null);

  const garbage = await post({ authorization: 'Bearer not.a.token' }, initialize);
  assert.equal(garbage.status, 401);
  assert.match(garbage.headers.get('www-authenticate'), /^Bearer error="invalid_token", error_description="The access token is not valid \(ERR_[A-Z_]+\)", scope="notes:read", resource_metadata="[^"]+"$/);
});

test('the TypeScript SDK client: client_credentials, list_notes and add_note; the reader is refused add_note with 403', async () => {
  const cc = await runScript('client.mjs', ['--server', rs.info.url, '--issuer', as.info.issuer, '--mode', 'client_credentials',
    '--scope', SCOPES, '--tool', 'list_notes', '--tool', 'add_note={"text":"from client.mjs"}']);
  assert.equal(cc.code, 0, `${cc.stdout}\n${cc.stderr}`);
  assert.equal(cc.json.ok, true);

  const reader = await runScript('client.mjs', ['--server', rs.info.url, '--issuer', as.info.issuer, '--mode', 'client_credentials',
    '--client-id', 'rsguard-reader', '--client-secret', 'rsguard-reader-secret', '--scope', 'notes:read',
    '--tool', 'list_notes', '--expect-403', 'add_note={"text":"refused"}']);
  assert.equal(reader.code, 0, `${reader.stdout}\n${reader.stderr}`);
  const refused = reader.json.steps.find((s) => s.step === 'tools/call' && s.tool === 'add_note');
  assert.ok(refused, JSON.stringify(reader.json.steps));
  assert.equal(refused.insufficient_scope, true, JSON.stringify(refused));
  assert.equal(refused.challenge_scope, SCOPES, JSON.stringify(refused));
});

test('bad flags exit 2', async () => {
  const r = await runScript('ts-server.mjs', []);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--issuer is required/);
});
