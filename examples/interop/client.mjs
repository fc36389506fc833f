#!/usr/bin/env node
// client.mjs — an MCP client built on the official TypeScript SDK (@modelcontextprotocol/sdk):
// Client + StreamableHTTPClientTransport + the SDK's OAuth machinery. From no token it follows
// 401 → RFC 9728 protected-resource metadata → RFC 8414 AS metadata → token, then runs
// initialize → tools/list → tools/call, and prints ONE JSON line describing every step.
//
//   node client.mjs --server http://127.0.0.1:PORT/mcp --mode client_credentials|authcode
//        [--issuer URL] [--client-id ID] [--client-secret S] [--scope "a b"]
//        [--tool NAME[=JSON_ARGS]]… [--expect-403 NAME[=JSON_ARGS]]… [--accumulate-scopes]
//        [--timeout MS]
//
// --tool and --expect-403 run in the order given. Exit 0 when every step went as expected,
// 1 when a step did not, 2 on bad arguments, 3 on timeout. See README.md for the JSON schema.

import * as crypto from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

import { describeToken } from './lib/jwt.mjs';
import { CookieJar, followAuthorization } from './lib/headless.mjs';

const CALLBACK = 'http://127.0.0.1/callback';
const USAGE = 'usage: node client.mjs --server URL --mode client_credentials|authcode [--issuer URL] '
  + '[--client-id ID] [--client-secret S] [--scope "a b"] [--tool NAME[=JSON]]… [--expect-403 NAME[=JSON]]… '
  + '[--accumulate-scopes] [--timeout MS]';

// ---------------------------------------------------------------------------------------------
// arguments (order of --tool / --expect-403 matters, so parse by hand)

function parseCli(argv) {
  const o = { actions: [], timeout: 60_000, accumulate: false };
  const need = (i, flag) => {
    if (i >= argv.length) throw new Error(`${flag} needs a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i += 1) {
    let flag = argv[i];
    let value;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const val = () => value ?? need(i += 1, flag);
    switch (flag) {
      case '--server': o.server = val(); break;
      case '--mode': o.mode = val(); break;
      case '--issuer': o.issuer = val(); break;
      case '--client-id': o.clientId = val(); break;
      case '--client-secret': o.clientSecret = val(); break;
      case '--scope': o.scope = val(); break;
      case '--timeout': o.timeout = Number(val()); break;
      case '--accumulate-scopes': o.accumulate = true; break;
      case '--tool':
      case '--expect-403': {
        const spec = val();
        const at = spec.indexOf('=');
        const name = at < 0 ? spec : spec.slice(0, at);
        const args = at < 0 ? {} : JSON.parse(spec.slice(at + 1));
        o.actions.push({ name, args, expect: flag === '--tool' ? 'ok' : '403' });
        break;
      }
      case '-h':
      case '--help':
        console.error(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!o.server) throw new Error('--server is required');
  if (!['client_credentials', 'authcode'].includes(o.mode)) throw new Error('--mode must be client_credentials or authcode');
  if (!Number.isFinite(o.timeout) || o.timeout <= 0) throw new Error('--timeout must be a positive number of ms');
  new URL(o.server); // eslint-disable-line no-new
  if (o.mode === 'client_credentials') {
    o.clientId ??= 'rsguard-cc';
    o.clientSecret ??= 'rsguard-cc-secret';
    o.scope ??= 'inventory:read';
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// the report

const report = {
  ok: false,
  mode: undefined,
  server: undefined,
  client: {},
  steps: [],
  http: [],
  challenges: [],
  authorizations: [],
  tokens: [],
};

function parseChallenge(value) {
  const out = { scheme: value.split(' ')[0] };
  for (const m of value.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

// Wraps fetch so every request the SDK makes (resource server and authorization server) is
// recorded: method, URL without query, status, and the WWW-Authenticate challenge if any.
function tracedFetch(baseFetch = fetch) {
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    let rpcMethod;
    if (typeof init.body === 'string') {
      try { rpcMethod = JSON.parse(init.body).method; } catch { /* not JSON-RPC */ }
    }
    const res = await baseFetch(input, init);
    const entry = { method, url: `${url.origin}${url.pathname}`, status: res.status };
    if (rpcMethod) entry.rpc = rpcMethod;
    const www = res.headers.get('www-authenticate');
    if (www) {
      entry.www_authenticate = www;
      report.challenges.push({ status: res.status, rpc: rpcMethod, ...parseChallenge(www) });
    }
    report.http.push(entry);
    return res;
  };
}

function recordTokens(tokens) {
  report.tokens.push({
    ...describeToken(tokens.access_token),
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    granted_scope: tokens.scope,
    refresh_token: !!tokens.refresh_token,
  });
}

// ---------------------------------------------------------------------------------------------
// OAuth providers

function recordDiscovery(state) {
  report.authorization_server = state.authorizationServerUrl;
  if (state.resourceMetadata) report.resource_metadata = state.resourceMetadata;
  if (state.authorizationServerMetadata) report.authorization_server_issuer = state.authorizationServerMetadata.issuer;
}

class TracedClientCredentialsProvider extends ClientCredentialsProvider {
  saveTokens(tokens) {
    recordTokens(tokens);
    return super.saveTokens(tokens);
  }

  // Recorded only: without discoveryState() the SDK rediscovers as it does by default.
  saveDiscoveryState(state) { recordDiscovery(state); }
}

// An OAuthClientProvider for authorization_code + PKCE whose "browser" is lib/headless.mjs:
// redirectToAuthorization follows the authorization server's redirects with fetch and keeps
// the code for finishAuth. Dynamic registration unless a static client is given.
class HeadlessAuthCodeProvider {
  #clientInfo;
  #tokens;
  #verifier;
  #state;
  #discovery;
  #jar = new CookieJar();

  constructor({ clientId, clientSecret, scope, accumulate }) {
    if (clientId) this.#clientInfo = { client_id: clientId, ...(clientSecret ? { client_secret: clientSecret } : {}) };
    this.accumulate = accumulate;
    this.pendingCode = undefined;
    this.metadata = {
      client_name: 'rsguard interop client',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(scope ? { scope } : {}),
    };
  }

  get redirectUrl() { return CALLBACK; }
  get clientMetadata() { return this.metadata; }
  state() { this.#state = crypto.randomBytes(12).toString('base64url'); return this.#state; }
  clientInformation() { return this.#clientInfo; }
  saveClientInformation(info) {
    if (!this.#clientInfo || this.#clientInfo.client_id !== info.client_id) {
      report.client = { client_id: info.client_id, registered: true, token_endpoint_auth_method: info.token_endpoint_auth_method };
    }
    this.#clientInfo = info;
  }
  tokens() { return this.#tokens; }
  saveTokens(tokens) { recordTokens(tokens); this.#tokens = tokens; }
  saveCodeVerifier(v) { this.#verifier = v; }
  codeVerifier() { return this.#verifier; }
  saveDiscoveryState(s) { recordDiscovery(s); this.#discovery = s; }
  discoveryState() { return this.#discovery; }
  invalidateCredentials(what) {
    if (what === 'all' || what === 'client') this.#clientInfo = undefined;
    if (what === 'all' || what === 'tokens') this.#tokens = undefined;
    if (what === 'all' || what === 'verifier') this.#verifier = undefined;
    if (what === 'all' || what === 'discovery') this.#discovery = undefined;
  }

  async redirectToAuthorization(authorizationUrl) {
    const url = new URL(authorizationUrl);
    const requested = url.searchParams.get('scope') ?? undefined;
    if (this.accumulate && this.#tokens) {
      // SEP-2350 style: keep what the current token holds when asking for more.
      const held = String(describeToken(this.#tokens.access_token).scope ?? this.#tokens.scope ?? '').split(' ');
      const union = [...new Set([...held, ...String(requested ?? '').split(' ')].filter(Boolean))].join(' ');
      if (union) url.searchParams.set('scope', union);
    }
    const entry = {
      client_id: url.searchParams.get('client_id'),
      scope: url.searchParams.get('scope') ?? undefined,
      sdk_scope: requested,
      resource: url.searchParams.get('resource') ?? undefined,
      code_challenge_method: url.searchParams.get('code_challenge_method') ?? undefined,
    };
    report.authorizations.push(entry);
    const trace = (t) => report.http.push({ ...t, headless: true });
    const result = await followAuthorization(url, CALLBACK, { jar: this.#jar, trace });
    entry.hops = result.hops;
    if (result.error) {
      entry.error = result.error;
      throw new Error(`authorization refused: ${result.error}${result.error_description ? ` (${result.error_description})` : ''}`);
    }
    if (result.state !== this.#state) throw new Error('authorization response state mismatch');
    entry.code = true;
    this.pendingCode = result.code;
  }

  takeCode() {
    const c = this.pendingCode;
    this.pendingCode = undefined;
    return c;
  }
}

// ---------------------------------------------------------------------------------------------
// the run

function errorInfo(err) {
  const out = { error_class: err?.constructor?.name, message: String(err?.message ?? err) };
  if (err instanceof StreamableHTTPError) out.http_status = err.code;
  return out;
}

function toolResult(r) {
  const text = (r.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
  let parsed;
  try { parsed = JSON.parse(text); } catch { /* plain text */ }
  return { is_error: !!r.isError, text, ...(parsed !== undefined ? { json: parsed } : {}), ...(r.structuredContent ? { structured: r.structuredContent } : {}) };
}

async function main(o) {
  report.mode = o.mode;
  report.server = o.server;
  const serverUrl = new URL(o.server);
  const fetchFn = tracedFetch();

  let provider;
  if (o.mode === 'client_credentials') {
    provider = new TracedClientCredentialsProvider({
      clientId: o.clientId, clientSecret: o.clientSecret, scope: o.scope, expectedIssuer: o.issuer, clientName: 'rsguard interop client',
    });
    report.client = { client_id: o.clientId, registered: false, scope: o.scope };
  } else {
    provider = new HeadlessAuthCodeProvider({ clientId: o.clientId, clientSecret: o.clientSecret, scope: o.scope, accumulate: o.accumulate });
    if (o.clientId) report.client = { client_id: o.clientId, registered: false };
  }

  // After an authorization redirect the SDK throws UnauthorizedError; the headless provider
  // already holds the code, so finish and retry (a browser-based app would do the same after
  // its callback). Each retry is bounded.
  const finish = async (transport, err) => {
    if (!(err instanceof UnauthorizedError) || !provider.pendingCode) return false;
    await transport.finishAuth(provider.takeCode());
    return true;
  };

  let client;
  let transport;
  {
    const step = { step: 'connect', ok: false };
    report.steps.push(step);
    const before = report.authorizations.length;
    const tokensBefore = report.tokens.length;
    for (let attempt = 0; ; attempt += 1) {
      transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: fetchFn });
      client = new Client({ name: 'rsguard-interop-client', version: '0.0.0' }, { capabilities: {} });
      try {
        await client.connect(transport);
        break;
      } catch (err) {
        if (attempt < 2 && await finish(transport, err)) {
          await transport.close().catch(() => {});
          continue;
        }
        Object.assign(step, errorInfo(err));
        return false;
      }
    }
    const sameIssuer = (a, b) => String(a).replace(/\/$/, '') === String(b).replace(/\/$/, '');
    if (o.issuer && report.authorization_server && !sameIssuer(report.authorization_server, o.issuer)) {
      step.message = `the server's metadata names authorization server ${report.authorization_server}, not ${o.issuer}`;
      return false;
    }
    step.ok = true;
    step.authorizations = report.authorizations.length - before;
    step.tokens = report.tokens.length - tokensBefore;
    step.protocol_version = transport.protocolVersion;
    step.session = !!transport.sessionId;
    step.server_info = client.getServerVersion();
  }

  const run = async (fn) => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await fn();
      } catch (err) {
        if (attempt < 2 && await finish(transport, err)) continue;
        throw err;
      }
    }
  };

  let allOk = true;
  {
    const step = { step: 'tools/list', ok: false };
    report.steps.push(step);
    try {
      const r = await run(() => client.listTools());
      step.ok = true;
      step.tools = r.tools.map((t) => t.name);
    } catch (err) {
      Object.assign(step, errorInfo(err));
      allOk = false;
    }
  }

  for (const action of o.actions) {
    const step = { step: 'tools/call', tool: action.name, expect: action.expect, ok: false };
    report.steps.push(step);
    const before = report.authorizations.length;
    const tokensBefore = report.tokens.length;
    const challengesBefore = report.challenges.length;
    const httpBefore = report.http.length;
    try {
      const r = await run(() => client.callTool({ name: action.name, arguments: action.args }));
      step.result = toolResult(r);
      step.outcome = r.isError ? 'tool_error' : 'ok';
    } catch (err) {
      Object.assign(step, errorInfo(err));
      step.outcome = 'error';
    }
    const seen = report.challenges.slice(challengesBefore);
    const forbidden = seen.filter((c) => c.status === 403);
    step.insufficient_scope = forbidden.some((c) => c.error === 'insufficient_scope');
    if (forbidden.length) step.challenge_scope = forbidden[forbidden.length - 1].scope;
    step.statuses = report.http.slice(httpBefore).filter((h) => h.rpc === 'tools/call').map((h) => h.status);
    step.authorizations = report.authorizations.length - before;
    step.tokens = report.tokens.length - tokensBefore;
    step.step_up = step.insufficient_scope && step.authorizations > 0;
    if (action.expect === 'ok') {
      step.ok = step.outcome === 'ok';
    } else {
      // refused in the end, after a 403 insufficient_scope: either the SDK gave up (the retry
      // got the same 403) or the authorization server would not grant the scope.
      step.ok = step.outcome === 'error' && step.insufficient_scope;
      if (step.ok) step.refused_by = step.http_status === 403 ? 'resource_server' : 'authorization_server';
    }
    if (!step.ok) allOk = false;
  }

  await transport.close().catch(() => {});
  return allOk;
}

let opts;
try {
  opts = parseCli(process.argv.slice(2));
} catch (err) {
  console.error(`client: ${err.message}\n${USAGE}`);
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
  code = report.ok ? 0 : 1;
} catch (err) {
  report.ok = false;
  report.error = String(err?.stack ?? err);
  code = 1;
}
clearTimeout(timer);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(code);
