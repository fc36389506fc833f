#!/usr/bin/env node
// ts-server.mjs — a small MCP server on the official MCP TypeScript SDK (1.32.2), protected the way
// that SDK says a resource server is: its own requireBearerAuth middleware and its
// mcpAuthMetadataRouter (RFC 9728 metadata). Written for rsguard's checker command (cmd/mcpcheck),
// which examples/mcpcheck runs against it to report what the SDK does and does not do. Not rsguard
// code, and not the SDK's bundled example (which binds every interface on fixed ports).
//
//   node ts-server.mjs --issuer URL [--scopes "notes:read notes:write"] [--max-lifetime 600]
//
// - Listens on 127.0.0.1 only, on a free port. Once listening it prints exactly one JSON line to
//   stdout: {"url":"http://127.0.0.1:P/mcp","resource_metadata":"…","issuer":"…","pid":N};
//   everything else goes to stderr.
// - The MCP endpoint (Streamable HTTP, stateful sessions) is /mcp; the resource is its URL.
// - Tokens are JWTs of --issuer (http on loopback, or https), verified with jose against the JWK
//   Set its RFC 8414 metadata names: signature, "iss", "exp" (the SDK's middleware requires an
//   expiry too); the audience is checked by requireBearerAuth's expectedResource.
// - The first scope (notes:read) is required on every request: the 401 challenge names it. The
//   tools: list_notes (notes:read), add_note {"text"} (notes:read and notes:write). The SDK has no
//   per-tool scopes; a tools/call of add_note goes through a second requireBearerAuth that
//   requires both, so that a token without notes:write gets 403 insufficient_scope (step-up).
// - Exits on SIGTERM, SIGINT, when its stdin (if a pipe) is closed, or after --max-lifetime
//   seconds (default 600, 0 = never). Exit status 0; 2 on bad flags or an unreachable issuer.

import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import { installShutdown } from './lib/shutdown.mjs';

// stdout carries our one JSON line and nothing else: the SDK's and Express's notices go to stderr.
console.log = console.error;
console.info = console.error;

const { createRemoteJWKSet, jwtVerify } = await import('jose');
const { z } = await import('zod');
const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { createMcpExpressApp } = await import('@modelcontextprotocol/sdk/server/express.js');
const { requireBearerAuth } = await import('@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js');
const { mcpAuthMetadataRouter, getOAuthProtectedResourceMetadataUrl } = await import('@modelcontextprotocol/sdk/server/auth/router.js');
const { InvalidTokenError } = await import('@modelcontextprotocol/sdk/server/auth/errors.js');
const { isInitializeRequest } = await import('@modelcontextprotocol/sdk/types.js');

const MCP_PATH = '/mcp';
const FETCH_TIMEOUT_MS = 5000;

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      issuer: { type: 'string' },
      scopes: { type: 'string', default: 'notes:read notes:write' },
      'max-lifetime': { type: 'string', default: '600' },
    },
  });
  if (!values.issuer) throw new Error('--issuer is required');
  const issuer = new URL(values.issuer);
  if (issuer.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)) {
    throw new Error('--issuer must be https (http only on loopback)');
  }
  const scopes = values.scopes.split(' ').filter(Boolean);
  if (scopes.length !== 2) throw new Error('--scopes must name two scopes: read, then write');
  const maxLifetime = Number(values['max-lifetime']);
  if (!Number.isInteger(maxLifetime) || maxLifetime < 0) throw new Error('--max-lifetime must be a whole number of seconds');
  return { issuer: values.issuer, scopes, maxLifetime };
}

// metadataURL is the issuer's RFC 8414 metadata URL: the well-known suffix inserted before the
// issuer's path (RFC 8414 §3.1).
function metadataURL(issuer) {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname;
  return new URL(`/.well-known/oauth-authorization-server${path}`, u.origin).href;
}

async function fetchJSON(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error' });
  if (!res.ok) throw new Error(`${url}: status ${res.status}`);
  return res.json();
}

// newVerifier returns the SDK's OAuthTokenVerifier for JWTs of the issuer. A token that does not
// verify is an InvalidTokenError (the SDK answers anything else with 500); its message, which the
// SDK copies into the challenge's error_description unescaped, is chosen here: jose's error code,
// never jose's text or anything of the token.
function newVerifier(asMeta, resource) {
  const jwks = createRemoteJWKSet(new URL(asMeta.jwks_uri), { timeoutDuration: FETCH_TIMEOUT_MS });
  return {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, jwks, { issuer: asMeta.issuer, requiredClaims: ['exp'] }));
      } catch (err) {
        throw new InvalidTokenError(`The access token is not valid (${String(err?.code ?? 'ERR_JWT_INVALID').replace(/[^A-Z0-9_]/g, '')})`);
      }
      const aud = [payload.aud ?? []].flat();
      return {
        token,
        clientId: typeof payload.client_id === 'string' ? payload.client_id : '',
        scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
        expiresAt: payload.exp,
        // The resource the token was issued for (RFC 8707), compared by requireBearerAuth with
        // expectedResource: ours if the audience names it, else the first audience.
        resource: aud.includes(resource) ? new URL(resource) : (URL.canParse(aud[0]) ? new URL(aud[0]) : undefined),
        extra: { sub: payload.sub },
      };
    },
  };
}

// newMcpServer is one session's MCP server: two tools over an in-memory list of notes.
function newMcpServer(notes) {
  const server = new McpServer({ name: 'rsguard-interop-ts', version: '1.0.0' });
  server.registerTool('list_notes', { description: 'Every note (needs the read scope).' }, async () => ({
    content: [{ type: 'text', text: JSON.stringify({ notes }) }],
  }));
  server.registerTool('add_note', {
    description: 'Add a note (needs the read and write scopes).',
    inputSchema: { text: z.string().max(1000) },
  }, async ({ text }, extra) => {
    notes.push({ text, by: extra.authInfo?.clientId ?? '' });
    return { content: [{ type: 'text', text: `added note ${notes.length}` }] };
  });
  return server;
}

async function main() {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`ts-server: ${err.message}`);
    process.exit(2);
  }
  let asMeta;
  try {
    asMeta = await fetchJSON(metadataURL(opts.issuer));
    if (asMeta.issuer !== opts.issuer) throw new Error(`metadata issuer ${asMeta.issuer}, want ${opts.issuer}`);
    if (!asMeta.jwks_uri) throw new Error('metadata has no jwks_uri');
  } catch (err) {
    console.error(`ts-server: issuer ${opts.issuer}: ${err.message}`);
    process.exit(2);
  }

  // Listen first: the resource is the URL of the port we got.
  const httpServer = http.createServer();
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', resolve);
  });
  const resource = `http://127.0.0.1:${httpServer.address().port}${MCP_PATH}`;
  const resourceURL = new URL(resource);
  const resourceMetadata = getOAuthProtectedResourceMetadataUrl(resourceURL);
  const [readScope, writeScope] = opts.scopes;

  // The SDK's Express app: JSON bodies, and DNS rebinding protection (Host must be loopback).
  const app = createMcpExpressApp({ host: '127.0.0.1' });
  app.use(mcpAuthMetadataRouter({
    oauthMetadata: asMeta,
    resourceServerUrl: resourceURL,
    scopesSupported: opts.scopes,
    resourceName: 'rsguard interop TypeScript SDK server',
  }));
  const verifier = newVerifier(asMeta, resource);
  const bearer = (requiredScopes) => requireBearerAuth({
    verifier,
    requiredScopes,
    resourceMetadataUrl: resourceMetadata,
    expectedResource: resourceURL,
  });
  const auth = bearer([readScope]);
  const writeAuth = bearer([readScope, writeScope]);
  // Per-tool scopes, which the SDK does not have: a tools/call of add_note (alone or in a batch)
  // must also pass writeAuth.
  const toolScopes = (req, res, next) => {
    const calls = [req.body].flat().filter((m) => m && m.method === 'tools/call');
    if (calls.some((m) => m.params?.name === 'add_note')) return writeAuth(req, res, next);
    return next();
  };

  const notes = [];
  const sessions = new Map(); // Mcp-Session-Id -> transport
  const maxSessions = 100;
  app.post(MCP_PATH, auth, toolScopes, async (req, res) => {
    const id = req.headers['mcp-session-id'];
    try {
      if (id) {
        const transport = sessions.get(id);
        if (!transport) {
          res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
          return;
        }
        await transport.handleRequest(req, res, req.body);
        return;
      }
      if (!isInitializeRequest(req.body)) {
        res.status(400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null });
        return;
      }
      if (sessions.size >= maxSessions) {
        res.status(503).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Too many open sessions' }, id: null });
        return;
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await newMcpServer(notes).connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      console.error('ts-server: POST /mcp:', err?.message);
      if (!res.headersSent) res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
    }
  });
  // GET (the SSE stream) and DELETE (end of session) of a session.
  const inSession = async (req, res) => {
    const transport = sessions.get(req.headers['mcp-session-id'] ?? '');
    if (!transport) {
      res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      return;
    }
    try {
      await transport.handleRequest(req, res);
    } catch (err) {
      console.error(`ts-server: ${req.method} /mcp:`, err?.message);
      if (!res.headersSent) res.status(500).end();
    }
  };
  app.get(MCP_PATH, auth, inSession);
  app.delete(MCP_PATH, auth, inSession);
  httpServer.on('request', app);

  installShutdown('ts-server', httpServer, {
    maxLifetime: opts.maxLifetime,
    beforeClose: () => {
      for (const transport of sessions.values()) transport.close().catch(() => {});
    },
  });

  process.stdout.write(`${JSON.stringify({ url: resource, resource_metadata: resourceMetadata, issuer: asMeta.issuer, pid: process.pid })}\n`);
}

await main();
