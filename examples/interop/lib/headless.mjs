// A headless user agent for the authorization endpoint: follows the authorization server's
// redirects with fetch (redirect: 'manual'), keeps its cookies, and stops at the client's
// redirect_uri, returning the code (or error) it carries. No browser, no listener on redirect_uri.

/** A tiny cookie jar: per origin, name → {value, path}. Enough for oidc-provider's cookies. */
export class CookieJar {
  #byOrigin = new Map();

  store(url, response) {
    const { origin } = new URL(url);
    const jar = this.#byOrigin.get(origin) ?? new Map();
    this.#byOrigin.set(origin, jar);
    for (const line of response.headers.getSetCookie?.() ?? []) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        if (k.toLowerCase() === 'path') path = v || '/';
        if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      const key = `${name}\u0000${path}`;
      if (expired) jar.delete(key);
      else jar.set(key, { name, value, path });
    }
  }

  header(url) {
    const u = new URL(url);
    const jar = this.#byOrigin.get(u.origin);
    if (!jar) return undefined;
    const pairs = [...jar.values()]
      .filter((c) => u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`);
    return pairs.length ? pairs.join('; ') : undefined;
  }
}

/**
 * Follows redirects from authorizationUrl until one points at redirectUri.
 * Returns {code, state, iss, error, error_description, hops}; throws if the chain ends elsewhere.
 * `trace` (optional) receives {method, url, status} for each hop, with the query stripped.
 */
export async function followAuthorization(authorizationUrl, redirectUri, {
  jar = new CookieJar(), fetchFn = fetch, maxHops = 12, timeoutMs = 10_000, trace,
} = {}) {
  const target = new URL(redirectUri);
  let url = new URL(authorizationUrl);
  const signal = AbortSignal.timeout(timeoutMs);
  for (let hop = 0; hop < maxHops; hop += 1) {
    if (url.origin === target.origin && url.pathname === target.pathname) {
      const p = url.searchParams;
      return {
        code: p.get('code') ?? undefined,
        state: p.get('state') ?? undefined,
        iss: p.get('iss') ?? undefined,
        error: p.get('error') ?? undefined,
        error_description: p.get('error_description') ?? undefined,
        hops: hop,
      };
    }
    const headers = {};
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    const res = await fetchFn(url, { redirect: 'manual', headers, signal });
    jar.store(url, res);
    trace?.({ method: 'GET', url: `${url.origin}${url.pathname}`, status: res.status });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      url = new URL(location, url);
      continue;
    }
    const body = (await res.text()).slice(0, 500);
    throw new Error(`authorization stopped at ${url.origin}${url.pathname} with HTTP ${res.status}: ${body}`);
  }
  throw new Error(`authorization did not reach ${redirectUri} within ${maxHops} redirects`);
}
