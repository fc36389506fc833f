-- rsguard API keys in PostgreSQL (package apikey/sqlstore), PostgreSQL 12 or
-- later. Idempotent: every statement may run again on a database that has
-- the tables already (sqlstore.Migrate runs this file in one transaction).

-- One row per key, keyed by the key's public id. Only the SHA-256 of the
-- whole key is stored (32 bytes, apikey.HashKey); the key itself never is.
CREATE TABLE IF NOT EXISTS rsguard_api_keys (
    id        text PRIMARY KEY CHECK (id ~ '^[0-9A-Za-z]{12}$'),
    hash      bytea NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    owner     text NOT NULL DEFAULT '',
    client_id text NOT NULL DEFAULT '',
    tenant    text NOT NULL DEFAULT '',
    scopes    text[] NOT NULL DEFAULT '{}',
    created   timestamptz,
    expires   timestamptz,                    -- NULL: never
    revoked   boolean NOT NULL DEFAULT false,
    state     text NOT NULL DEFAULT ''        -- '': the client's state
              CHECK (state IN ('', 'allowed', 'deprecated', 'blocked')),
    CHECK (owner <> '' OR client_id <> '')
);

-- The migration policy per client (apikey.ClientPolicy), keyed by the
-- client's name: a key's client_id, or its owner when it has none
-- (apikey.Record.Client), the same name as the OAuth client_id of the
-- client once it has moved.
CREATE TABLE IF NOT EXISTS rsguard_api_key_clients (
    client     text PRIMARY KEY,
    state      text NOT NULL DEFAULT ''
               CHECK (state IN ('', 'allowed', 'deprecated', 'blocked')),
    deprecated timestamptz,
    cutoff     timestamptz
);

-- Usage, summed over every replica: one row per UTC day, credential kind,
-- client and key id. kind 'api_key': key_id and client are the key's, or
-- both '' for keys that matched no record; kind 'oauth': client is the
-- OAuth client_id ('' when the token had none, or was refused before its
-- client was known), key_id ''; kind 'anonymous': requests without a
-- credential, counted in refused, client and key_id ''.
CREATE TABLE IF NOT EXISTS rsguard_api_key_usage (
    day            date NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('api_key', 'oauth', 'anonymous')),
    client         text NOT NULL,
    key_id         text NOT NULL,
    accepted       bigint NOT NULL DEFAULT 0,
    refused        bigint NOT NULL DEFAULT 0,
    policy_refused bigint NOT NULL DEFAULT 0, -- refused as blocked or retired
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,      -- accepted or refused
    last_accepted  timestamptz,               -- NULL: none accepted
    state          text NOT NULL DEFAULT '',  -- the key's state at last_seen
    PRIMARY KEY (day, kind, client, key_id)
);
