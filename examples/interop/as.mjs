#!/usr/bin/env node
// as.mjs — a real OAuth 2.1 authorization server (oidc-provider v9) for rsguard's interop tests.
//
//   node as.mjs [--port 0] [--alg RS256|PS256|ES256|EdDSA] [--scopes "…"] [--user-scopes "…"]
//               [--ttl 300] [--max-lifetime 600] [--default-resource URL]
//               [--opaque RESOURCE]… [--introspection [--rs-jwks FILE]] [--dpop [--dpop-nonce]]
//
// Listens on 127.0.0.1 only. Once listening it prints exactly one JSON line to stdout
// ({"issuer":"http://127.0.0.1:PORT",…}); everything else goes to stderr. It exits on SIGTERM,
// SIGINT, when its stdin (if a pipe) is closed, or after --max-lifetime seconds.
// See README.md for the clients, scopes and the full contract.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

import { installShutdown } from './lib/shutdown.mjs';

// oidc-provider prints its notices with console.info (stdout). stdout carries our one JSON line
// and nothing else, so route console.log/info to stderr before the provider is loaded.
console.log = console.error;
console.info = console.error;

const { default: Provider, errors } = await import('oidc-provider');

const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const RESOURCE_SCOPES = ['inventory:read', 'inventory:write', 'inventory:admin'];
const TEST_USER = 'alice';
const CALLBACK = 'http://127.0.0.1/callback';

// With --introspection, the resource server's registrations at this authorization server, one per
// client authentication method (RFC 7662 §2.1): they may introspect every token. rsguard-rs-jwt
// exists only with --rs-jwks (its public keys). Secrets are test fixtures.
const RS_CLIENTS = [
  { client_id: 'rsguard-rs-basic', client_secret: 'rsguard-rs-basic-secret', token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'rsguard-rs-post', client_secret: 'rsguard-rs-post-secret', token_endpoint_auth_method: 'client_secret_post' },
  { client_id: 'rsguard-rs-jwt', token_endpoint_auth_method: 'private_key_jwt' },
];

// A scope's level is what follows its last ':' (inventory:read → read). The static clients'
// allow-lists and the test user's default scopes follow --scopes by level, so that a server
// with other scopes (notes:read notes:write) gets the same fixtures.
const level = (scope) => scope.slice(scope.lastIndexOf(':') + 1);
const notAdmin = (scope) => level(scope) !== 'admin';

// Pre-registered clients: who may get which of the resource scopes. Secrets are test fixtures,
// never real credentials. A client left with no scope (e.g. a reader when no scope ends in
// ':read') is not registered at all.
const CC_CLIENTS = [
  { client_id: 'rsguard-cc', client_secret: 'rsguard-cc-secret', may: () => true },
  { client_id: 'rsguard-writer', client_secret: 'rsguard-writer-secret', may: notAdmin },
  { client_id: 'rsguard-reader', client_secret: 'rsguard-reader-secret', may: (s) => level(s) === 'read' },
];

function staticClients(scopes, opts) {
  const rs = !opts.introspection ? [] : RS_CLIENTS
    .filter((c) => c.token_endpoint_auth_method !== 'private_key_jwt' || opts.rsJwks)
    .map((c) => ({
      ...c,
      ...(c.token_endpoint_auth_method === 'private_key_jwt' ? { jwks: opts.rsJwks } : {}),
      // Introspection only: no grant, no redirect.
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    }));
  return CC_CLIENTS.map(({ may, ...c }) => ({ ...c, scope: scopes.filter(may).join(' ') }))
    .filter((c) => c.scope !== '')
    .map((c) => ({
      ...c,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })).concat([{
      // A confidential authorization_code client (PKCE still required) with refresh tokens.
      client_id: 'rsguard-web',
      client_secret: 'rsguard-web-secret',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [CALLBACK],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: ['openid', 'offline_access', ...scopes].join(' '),
    }], rs);
}

function list(v) {
  return String(v).split(/[\s,]+/).filter(Boolean);
}

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: process.env.RSGUARD_AS_PORT ?? '0' },
      alg: { type: 'string', default: process.env.RSGUARD_AS_ALG ?? 'RS256' },
      scopes: { type: 'string', default: RESOURCE_SCOPES.join(' ') },
      'user-scopes': { type: 'string' },
      ttl: { type: 'string', default: '300' },
      'max-lifetime': { type: 'string', default: '600' },
      'default-resource': { type: 'string' },
      opaque: { type: 'string', multiple: true, default: [] },
      introspection: { type: 'boolean', default: false },
      'rs-jwks': { type: 'string' },
      dpop: { type: 'boolean', default: false },
      'dpop-nonce': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const alg = ALGS.find((a) => a.toLowerCase() === values.alg.toLowerCase());
  if (!alg) throw new Error(`--alg must be one of ${ALGS.join(', ')}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0..65535');
  const scopes = list(values.scopes);
  let userScopes = values['user-scopes'] === undefined ? scopes.filter(notAdmin) : list(values['user-scopes']);
  if (userScopes.includes('all')) userScopes = scopes;
  let rsJwks;
  if (values['rs-jwks'] !== undefined) {
    if (!values.introspection) throw new Error('--rs-jwks needs --introspection');
    rsJwks = JSON.parse(fs.readFileSync(values['rs-jwks'], 'utf8'));
    if (!Array.isArray(rsJwks?.keys) || !rsJwks.keys.length) throw new Error('--rs-jwks: not a JWK Set with keys');
    for (const k of rsJwks.keys) {
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
        if (k[priv] !== undefined) throw new Error(`--rs-jwks: a key has the private member "${priv}"`);
      }
    }
  }
  const opaque = values.opaque.flatMap(list);
  for (const r of opaque) {
    if (!isLoopbackResource(r)) throw new Error(`--opaque ${r}: not a loopback http(s) resource`);
  }
  return {
    port,
    alg,
    scopes,
    userScopes,
    ttl: Number(values.ttl),
    maxLifetime: Number(values['max-lifetime']),
    defaultResource: values['default-resource'],
    opaque: new Set(opaque),
    introspection: values.introspection,
    rsJwks,
    dpop: values.dpop || values['dpop-nonce'],
    dpopNonce: values['dpop-nonce'],
  };
}

// One signing key per algorithm, generated at start-up. Every JWK carries kid, alg and use so
// a resource server can pick the key by kid and check that its alg agrees with the JWT header.
function generateKeys() {
  const gen = {
    RS256: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
    PS256: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ES256: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    EdDSA: () => crypto.generateKeyPairSync('ed25519'),
  };
  const jwks = [];
  const kids = {};
  for (const alg of ALGS) {
    const { privateKey } = gen[alg]();
    const jwk = privateKey.export({ format: 'jwk' });
    const kid = `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`;
    jwks.push({ ...jwk, kid, alg, use: 'sig' });
    kids[alg] = kid;
  }
  return { jwks, kids };
}

function isLoopbackResource(resource) {
  const u = URL.parse(resource);
  return !!u && (u.protocol === 'http:' || u.protocol === 'https:')
    && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) && !u.hash && !u.username;
}

async function createServer(opts) {
  const { jwks, kids } = generateKeys();
  const oidcScopes = ['openid', 'offline_access'];
  const allowedForUser = new Set([...oidcScopes, ...opts.userScopes]);

  const configuration = {
    jwks: { keys: jwks },
    clients: staticClients(opts.scopes, opts),
    // Resource scopes are listed here too: it puts them in scopes_supported, lets clients
    // register them (RFC 7591 `scope`) and makes a client's registered scope an allow-list.
    scopes: [...oidcScopes, ...opts.scopes],
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    responseTypes: ['code'],
    pkce: { required: () => true },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    clientBasedCORS: () => false,
    // DPoP proofs at the token endpoint (--dpop): the library's default (ES256, Ed25519, EdDSA)
    // plus the RSA ones, so that a client may prove with any key type rsguard accepts.
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'Ed25519', 'EdDSA', 'RS256', 'PS256'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      // RFC 7662, with --introspection. Only the resource server's clients get answers, and for
      // every token (the default policy answers any confidential client); other callers get
      // {"active": false}.
      introspection: {
        enabled: opts.introspection,
        allowedPolicy: (ctx, client) => RS_CLIENTS.some((c) => c.client_id === client.clientId),
      },
      // RFC 9449, with --dpop: a token request with a DPoP proof gets a DPoP-bound access token
      // (token_type DPoP; cnf.jkt in a JWT, in the introspection answer of an opaque one). With
      // --dpop-nonce the token endpoint requires server nonces (400 use_dpop_nonce + DPoP-Nonce).
      dPoP: {
        enabled: opts.dpop,
        nonceSecret: opts.dpopNonce ? crypto.randomBytes(32) : undefined,
        requireNonce: () => opts.dpopNonce,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource(ctx, client, oneOf) {
          if (oneOf) return oneOf.length === 1 ? oneOf[0] : oneOf;
          return opts.defaultResource;
        },
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator) {
          if (!isLoopbackResource(resourceIndicator)) {
            throw new errors.InvalidTarget('this test authorization server only serves loopback resources');
          }
          // --opaque resources get opaque access tokens (only introspection can tell what they
          // are); every other one an RFC 9068 JWT.
          if (opts.opaque.has(resourceIndicator)) {
            return {
              audience: resourceIndicator,
              scope: opts.scopes.join(' '),
              accessTokenFormat: 'opaque',
              accessTokenTTL: opts.ttl,
            };
          }
          return {
            audience: resourceIndicator,
            scope: opts.scopes.join(' '),
            accessTokenFormat: 'jwt',
            accessTokenTTL: opts.ttl,
            jwt: { sign: { alg: opts.alg } },
          };
        },
      },
    },
    // RFC 7591 `scope` of a dynamically registered client is dropped: the MCP SDK registers
    // with the scope of its first challenge, and oidc-provider would otherwise hold the client
    // to it, refusing every later step-up (invalid_scope). Static clients keep their scope.
    extraClientMetadata: {
      properties: ['rsguard_note'],
      validator(ctx, key, value, metadata) {
        if (ctx?.oidc?.route === 'registration') delete metadata.scope;
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        claims: async () => ({ sub, name: 'Alice Test', email: 'alice@example.test' }),
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? opts.ttl,
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? opts.ttl,
      AuthorizationCode: 60,
      IdToken: 300,
      RefreshToken: 3600,
      Interaction: 300,
      Session: 3600,
      Grant: 3600,
    },
  };

  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, err) => console.error('as: server_error:', err));

  // Headless login + consent: the fixed test user logs in, and is granted every requested
  // scope it may hold (opts.userScopes, plus openid/offline_access); the rest are rejected so
  // the flow ends instead of prompting again.
  async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    if (prompt.name === 'login') {
      return provider.interactionFinished(req, res, { login: { accountId: TEST_USER } }, { mergeWithLastSubmission: false });
    }
    if (prompt.name !== 'consent') throw new Error(`unexpected prompt ${prompt.name}`);
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = prompt.details;
    const split = (scopes) => [scopes.filter((s) => allowedForUser.has(s)), scopes.filter((s) => !allowedForUser.has(s))];
    {
      const [ok, no] = split(missingOIDCScope);
      if (ok.length) grant.addOIDCScope(ok.join(' '));
      if (no.length) grant.rejectOIDCScope(no.join(' '));
    }
    if (missingOIDCClaims.length) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
      const [ok, no] = split(scopes);
      if (ok.length) grant.addResourceScope(indicator, ok.join(' '));
      if (no.length) grant.rejectResourceScope(indicator, no.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((err) => {
        console.error('as: interaction failed:', err.message);
        if (!res.headersSent) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'interaction_failed', error_description: err.message }));
        }
      });
      return;
    }
    callback(req, res);
  });

  const info = {
    issuer,
    port,
    alg: opts.alg,
    kid: kids[opts.alg],
    kids,
    jwks_uri: `${issuer}/jwks`,
    token_endpoint: `${issuer}/token`,
    authorization_endpoint: `${issuer}/auth`,
    registration_endpoint: `${issuer}/reg`,
    metadata: [`${issuer}/.well-known/oauth-authorization-server`, `${issuer}/.well-known/openid-configuration`],
    scopes: opts.scopes,
    user_scopes: opts.userScopes,
    opaque: [...opts.opaque],
    pid: process.pid,
  };
  if (opts.introspection) {
    info.introspection_endpoint = `${issuer}/token/introspection`;
    info.rs_clients = configuration.clients.filter((c) => RS_CLIENTS.some((r) => r.client_id === c.client_id))
      .map(({ client_id, token_endpoint_auth_method }) => ({ client_id, token_endpoint_auth_method }));
  }
  if (opts.dpop) {
    info.dpop = { nonce: opts.dpopNonce };
  }
  return { server, provider, info };
}

async function main() {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`as: ${err.message}`);
    process.exit(2);
  }
  const { server, info } = await createServer(opts);

  installShutdown('as', server, { maxLifetime: opts.maxLifetime });

  process.stdout.write(`${JSON.stringify(info)}\n`);
}

await main();
