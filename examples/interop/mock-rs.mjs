#!/usr/bin/env node
// mock-rs.mjs — TEST-ONLY stand-in for the Go MCP server (examples/mcpserver), so client.mjs can
// be proven before the Go side exists. It imitates rsguard's contract, nothing more:
//   - RFC 9728 metadata at the path-inserted well-known URL of the resource;
//   - 401 + WWW-Authenticate: Bearer resource_metadata="…", scope="inventory:read"
//     (error="invalid_token" when a token was sent and failed);
//   - JWT access tokens checked against the issuer's JWKS (node:crypto): typ at+jwt, iss, aud = resource, exp;
//   - minimal MCP over Streamable HTTP (JSON responses): initialize, notifications/*, ping,
//     tools/list, tools/call, with a per-tool scope → 403 error="insufficient_scope", scope="<needed>".
//
//   node mock-rs.mjs --issuer http://127.0.0.1:AS [--port 0] [--path /mcp]
// prints one JSON line: {"url":"http://127.0.0.1:P/mcp","resource":"…","resource_metadata":"…"}

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import { verifyAccessToken } from './lib/jwt.mjs';
import { installShutdown } from './lib/shutdown.mjs';

const TOOLS = {
  inventory_read: { scope: ['inventory:read'], description: 'List the inventory (needs inventory:read).' },
  inventory_write: { scope: ['inventory:write'], description: 'Change a stock level (needs inventory:write).' },
  inventory_admin: { scope: ['inventory:admin'], description: 'Purge the inventory (needs inventory:admin).' },
};
const BASE_SCOPE = ['inventory:read'];

const { values } = parseArgs({
  options: {
    issuer: { type: 'string' },
    port: { type: 'string', default: '0' },
    path: { type: 'string', default: '/mcp' },
  },
});
if (!values.issuer) {
  console.error('mock-rs: --issuer is required');
  process.exit(2);
}
const issuer = values.issuer;

const asMeta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(5000) })).json();
let jwks = { keys: [] };
let jwksFetchedAt = 0;
async function refreshJwks() {
  if (Date.now() - jwksFetchedAt < 1000) return; // at most one refetch a second
  jwksFetchedAt = Date.now();
  jwks = await (await fetch(asMeta.jwks_uri, { signal: AbortSignal.timeout(5000) })).json();
}
await refreshJwks();

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const resource = `${origin}${values.path}`;
const metadataPath = `/.well-known/oauth-protected-resource${values.path}`;
const resourceMetadata = `${origin}${metadataPath}`;
const sessions = new Map(); // id -> principal (iss|sub|client_id)

function challenge(res, status, { scope = BASE_SCOPE, error, description } = {}) {
  let v = `Bearer resource_metadata="${resourceMetadata}"`;
  if (scope.length) v += `, scope="${scope.join(' ')}"`;
  if (error) v += `, error="${error}"`;
  if (description) v += `, error_description="${description}"`;
  res.writeHead(status, {
    'www-authenticate': v,
    'access-control-expose-headers': 'WWW-Authenticate',
    'cache-control': 'no-store',
    'content-type': 'application/json',
  });
  res.end(JSON.stringify(error ? { error, error_description: description } : {}));
}

async function authenticate(req) {
  const h = req.headers.authorization ?? '';
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(h);
  if (!m) return { error: h ? 'invalid_request' : undefined };
  const verify = () => verifyAccessToken(m[1], jwks, { issuer, audience: resource });
  try {
    return { claims: verify().payload };
  } catch (err) {
    if (/no unique key/.test(err.message)) {
      await refreshJwks();
      try { return { claims: verify().payload }; } catch (e2) { return { error: 'invalid_token', description: e2.message }; }
    }
    return { error: 'invalid_token', description: err.message };
  }
}

function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new Error('body too large')); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

function rpc(msg, claims, sessionId) {
  const granted = new Set(String(claims.scope ?? '').split(' ').filter(Boolean));
  switch (msg.method) {
    case 'initialize':
      return {
        protocolVersion: msg.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'rsguard-mock-rs', version: '0.0.0' },
      };
    case 'ping':
      return {};
    case 'tools/list':
      return {
        tools: Object.entries(TOOLS).map(([name, t]) => ({
          name, description: t.description, inputSchema: { type: 'object', properties: {} },
        })),
      };
    case 'tools/call': {
      const name = msg.params?.name;
      const who = { tool: name, sub: claims.sub, client_id: claims.client_id, scope: [...granted].join(' '), session: sessionId, arguments: msg.params?.arguments ?? {} };
      return { content: [{ type: 'text', text: JSON.stringify(who) }], isError: false };
    }
    default:
      return undefined;
  }
}

server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, origin);
    if (url.pathname === metadataPath) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, undefined, { allow: 'GET, HEAD' });
      return json(res, 200, {
        resource,
        authorization_servers: [issuer],
        scopes_supported: Object.values(TOOLS).flatMap((t) => t.scope),
        bearer_methods_supported: ['header'],
        resource_name: 'rsguard mock MCP server',
      });
    }
    if (url.pathname !== values.path) return json(res, 404, { error: 'not found' });

    const auth = await authenticate(req);
    if (!auth.claims) {
      if (auth.error === 'invalid_request') return challenge(res, 400, { error: 'invalid_request', description: 'malformed Authorization header' });
      return challenge(res, 401, { error: auth.error, description: auth.error && 'the access token is not valid here' });
    }
    const principal = `${auth.claims.iss}|${auth.claims.sub}|${auth.claims.client_id}`;

    if (req.method === 'GET') return json(res, 405, undefined, { allow: 'POST, DELETE' });
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'DELETE') {
      if (sid && sessions.get(sid) === principal) sessions.delete(sid);
      return json(res, 204);
    }
    if (req.method !== 'POST') return json(res, 405, undefined, { allow: 'POST, DELETE' });

    let msg;
    try { msg = JSON.parse(await readBody(req)); } catch { return json(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } }); }
    if (Array.isArray(msg)) return json(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'batches are not supported' } });

    // per-tool scope check, before the tool runs
    if (msg.method === 'tools/call') {
      const tool = TOOLS[msg.params?.name];
      if (!tool) return json(res, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32602, message: `unknown tool ${msg.params?.name}` } });
      const granted = new Set(String(auth.claims.scope ?? '').split(' '));
      if (!tool.scope.every((s) => granted.has(s))) {
        return challenge(res, 403, { scope: tool.scope, error: 'insufficient_scope', description: `${msg.params.name} needs ${tool.scope.join(' ')}` });
      }
    }

    let sessionId = sid;
    const headers = {};
    if (msg.method === 'initialize') {
      sessionId = crypto.randomUUID();
      sessions.set(sessionId, principal);
      headers['mcp-session-id'] = sessionId;
    } else if (!sid) {
      return json(res, 400, { jsonrpc: '2.0', id: msg.id ?? null, error: { code: -32000, message: 'missing Mcp-Session-Id' } });
    } else if (sessions.get(sid) !== principal) {
      return json(res, 404, { jsonrpc: '2.0', id: msg.id ?? null, error: { code: -32001, message: 'session not found' } });
    }

    if (msg.id === undefined) return json(res, 202, undefined, headers); // notification
    const result = rpc(msg, auth.claims, sessionId);
    if (result === undefined) return json(res, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'method not found' } }, headers);
    return json(res, 200, { jsonrpc: '2.0', id: msg.id, result }, headers);
  } catch (err) {
    console.error('mock-rs:', err);
    if (!res.headersSent) json(res, 500, { error: 'server_error' });
  }
});

installShutdown('mock-rs', server, { maxLifetime: 600 });

process.stdout.write(`${JSON.stringify({ url: resource, resource, resource_metadata: resourceMetadata, pid: process.pid })}\n`);
