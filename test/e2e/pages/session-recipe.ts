import { isPkceError, logoutUrl, refresh, revoke, type OAuth2Provider, type OAuth2Result } from "../../../src/index.ts";

/** What a session keeps: the token response without `raw`, with the latest ID token and claims. */
export type Tokens = Omit<OAuth2Result, "raw">;

export interface SessionOptions {
  /** Where tokens live: memory when null (the default), else e.g. sessionStorage or localStorage. */
  storage?: Storage | null;
  /** The storage key. */
  key?: string;
  /** Refresh this many ms before the access token expires. */
  early?: number;
}

/**
 * One user's tokens after sign-in: kept in memory or in `storage`, refreshed `early` ms before they
 * expire, shared safely by tabs that share `storage`, and ended by `signOut()`.
 */
export function createSession(provider: OAuth2Provider, { storage = null, key = "session", early = 60_000 }: SessionOptions = {}) {
  let memory: Tokens | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const read = (): Tokens | null => (storage ? JSON.parse(storage.getItem(key) ?? "null") : memory);
  const write = (tokens: Tokens | null) => {
    if (!storage) memory = tokens;
    else if (tokens) storage.setItem(key, JSON.stringify(tokens));
    else storage.removeItem(key);
  };

  function keep({ raw, ...result }: OAuth2Result, previous: Tokens | null): Tokens {
    // A refresh without a new ID token keeps the earlier ID token and its claims; `raw` (the
    // whole response) is not kept.
    const idToken = result.idToken ?? previous?.idToken;
    const claims = result.claims ?? previous?.claims;
    const tokens: Tokens = { ...result, ...(idToken && { idToken }), ...(claims && { claims }) };
    write(tokens);
    schedule(tokens);
    return tokens;
  }

  function schedule(tokens: Tokens | null) {
    clearTimeout(timer);
    if (!tokens?.refreshToken || tokens.expiresAt === undefined) return;
    const wait = Math.min(Math.max(0, tokens.expiresAt - early - Date.now()), 2 ** 31 - 1);
    // Refused (the grant is gone): signed out here. Offline or timed out: the next call retries.
    timer = setTimeout(() => session.refresh().catch((error) => isPkceError(error, "token_error") && write(null)), wait);
  }

  const session = {
    /** The current tokens, or null when signed out. */
    get tokens(): Tokens | null {
      return read();
    },
    /** Call with the result of `flow.handleCallback()`. */
    signedIn: (result: OAuth2Result) => keep(result, null),
    /** Refreshes now. Tabs sharing `storage` take turns; each sends the newest refresh token. */
    refresh: (): Promise<Tokens | null> =>
      refresh(provider, () => read()?.refreshToken, {
        claims: read()?.claims,
        save: (result) => void keep(result, read()),
      }).then(read),
    /** Forgets the tokens, revokes the refresh token, and ends the server's session. */
    async signOut({ postLogoutRedirectUri }: { postLogoutRedirectUri?: string } = {}) {
      const tokens = read();
      clearTimeout(timer);
      write(null);
      if (tokens?.refreshToken && provider.revocationEndpoint) {
        await revoke(provider, tokens.refreshToken, { tokenTypeHint: "refresh_token" }).catch(() => {});
      }
      if (provider.endSessionEndpoint) {
        location.assign(logoutUrl(provider, { idTokenHint: tokens?.idToken, postLogoutRedirectUri }));
      }
    },
  };
  schedule(read());
  return session;
}
