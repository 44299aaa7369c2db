import { isPkceError, logoutUrl, refresh, revoke } from "../../../src/index.ts";

/**
 * One user's tokens after sign-in: kept in memory (default) or in `storage`, refreshed `early` ms
 * before they expire, shared safely by tabs that share `storage`, and ended by `signOut()`.
 */
export function createSession(provider, { storage = null, key = "session", early = 60_000 } = {}) {
  let memory = null;
  let timer;
  const read = () => (storage ? JSON.parse(storage.getItem(key) ?? "null") : memory);
  const write = (tokens) => {
    if (!storage) memory = tokens;
    else if (tokens) storage.setItem(key, JSON.stringify(tokens));
    else storage.removeItem(key);
  };

  function keep(result, previous) {
    // A refresh without a new ID token keeps the earlier ID token and its claims; `raw` (the
    // whole response) is not kept.
    const { raw, ...tokens } = { ...result, idToken: result.idToken ?? previous?.idToken, claims: result.claims ?? previous?.claims };
    write(tokens);
    schedule(tokens);
    return tokens;
  }

  function schedule(tokens) {
    clearTimeout(timer);
    if (!tokens?.refreshToken || tokens.expiresAt === undefined) return;
    const wait = Math.min(Math.max(0, tokens.expiresAt - early - Date.now()), 2 ** 31 - 1);
    // Refused (the grant is gone): signed out here. Offline or timed out: the next call retries.
    timer = setTimeout(() => session.refresh().catch((error) => isPkceError(error, "token_error") && write(null)), wait);
  }

  const session = {
    /** The current tokens, or null when signed out. */
    get tokens() {
      return read();
    },
    /** Call with the result of `flow.handleCallback()`. */
    signedIn: (result) => keep(result, null),
    /** Refreshes now. Tabs sharing `storage` take turns; each sends the newest refresh token. */
    refresh: () =>
      refresh(provider, () => read()?.refreshToken, {
        claims: read()?.claims,
        save: (result) => void keep(result, read()),
      }).then(read),
    /** Forgets the tokens, revokes the refresh token, and ends the server's session. */
    async signOut({ postLogoutRedirectUri } = {}) {
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
