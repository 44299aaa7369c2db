// The generic demo: discovery, the Authorization Code + PKCE flow against any OpenID Connect
// server, and the session after it (userinfo, refresh, revoke, sign out).
import { createFlow, discover, isPkceError, logoutUrl, refresh, revoke, userinfo, type FlowSnapshot, type OAuth2Provider, type OAuth2Result } from "../src/index.ts";
import { demoSettings, maskKey } from "./shared.ts";

const $ = (id: string) => document.getElementById(id)!;
const { oidcIssuer, oidcClientId } = demoSettings();
const LOGOUT_STATE = "pkce-demo:logout-state";
const show = (snapshot: FlowSnapshot) => {
  $("status").textContent = snapshot.status;
  $("status").dataset["status"] = snapshot.status;
  $("error").textContent = snapshot.error ? `${snapshot.error.code}: ${snapshot.error.message}` : "";
  $("error").dataset["code"] = snapshot.error?.code ?? "";
};
const fail = (error: unknown) => show({ status: "failed", ...(isPkceError(error) ? { error } : {}) });
// Only the last characters of a token: enough to see it change, too little to use it.
const lastFour = (token: string | undefined) => (token ? `…${token.slice(-4)}` : "(none)");

// The session, in memory only (README "Sessions"): a reload signs the user out of this page.
let session: OAuth2Result | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

function countdown(): void {
  const left = session?.expiresAt === undefined ? null : Math.max(0, Math.round((session.expiresAt - Date.now()) / 1000));
  $("countdown").textContent = left === null ? "no expiry given" : left > 0 ? `${left} s left` : "expired: refresh";
  $("countdown").dataset["seconds"] = left === null ? "" : String(left);
}

async function loadUserinfo(provider: OAuth2Provider): Promise<void> {
  const out = $("userinfo");
  try {
    out.textContent = JSON.stringify(await userinfo(provider, session!.accessToken, { claims: session!.claims }), null, 2);
    out.dataset["state"] = "ok";
  } catch (error) {
    out.textContent = isPkceError(error) ? `${error.code}: ${error.message}` : String(error);
    out.dataset["state"] = "error";
  }
}

function showSession(result: OAuth2Result, previous?: OAuth2Result): void {
  // A refresh without a new ID token keeps the earlier one and its claims.
  session = { ...result, ...(result.claims ? {} : { claims: previous?.claims, idToken: previous?.idToken }) } as OAuth2Result;
  $("result").hidden = false;
  $("access-token").textContent = maskKey(result.accessToken);
  $("token-type").textContent = result.tokenType;
  $("expires-in").textContent = String(result.expiresIn ?? "?");
  $("scope").textContent = result.scope ?? "";
  $("claims").textContent = session.claims ? JSON.stringify(session.claims, null, 2) : "(no ID token)";
  $("refresh-token").textContent = lastFour(result.refreshToken);
  $("rotated").textContent = previous ? (result.refreshToken === previous.refreshToken ? "(not rotated)" : `(rotated: was ${lastFour(previous.refreshToken)})`) : "";
  countdown();
  timer ??= setInterval(countdown, 1000);
}

if (!oidcIssuer) {
  $("error").textContent = "No OpenID Connect server configured: run `npm run demo`.";
} else {
  $("issuer").textContent = oidcIssuer;
  // Back from the server's sign-out page: the state we sent comes back.
  const back = new URL(location.href);
  const state = back.searchParams.get("state");
  if (state && !back.searchParams.has("code") && !back.searchParams.has("error") && state === sessionStorage.getItem(LOGOUT_STATE)) {
    sessionStorage.removeItem(LOGOUT_STATE);
    back.searchParams.delete("state");
    history.replaceState(history.state, "", back.pathname + back.search + back.hash);
    $("signed-out").hidden = false;
  }
  try {
    const provider = await discover(oidcIssuer, {
      clientId: oidcClientId,
      redirectUri: `${location.origin}${location.pathname}`,
      scope: ["openid", "profile", "email"],
    });
    const flow = createFlow(provider);
    flow.subscribe(show);
    $("settings").addEventListener("submit", (event) => {
      event.preventDefault();
      flow.start().catch(fail);
    });
    // The same sign-in in a popup: this page (the notes) stays as it is. popup() comes first in
    // the click, before any await, or the browser blocks the window.
    $("connect-popup").addEventListener("click", () => {
      flow.popup().then(async (result) => {
        showSession(result);
        await loadUserinfo(provider);
      }, fail);
    });
    $("refresh").addEventListener("click", () => {
      const previous = session!;
      refresh(provider, () => session?.refreshToken, { claims: previous.claims })
        .then((result) => {
          showSession(result, previous);
          return loadUserinfo(provider);
        })
        .catch(fail);
    });
    $("revoke").addEventListener("click", async () => {
      try {
        // The refresh token first (it could mint new access tokens), then the access token.
        if (session!.refreshToken) await revoke(provider, session!.refreshToken, { tokenTypeHint: "refresh_token" });
        await revoke(provider, session!.accessToken, { tokenTypeHint: "access_token" });
        $("rotated").textContent = "(revoked)";
        await loadUserinfo(provider);
      } catch (error) {
        fail(error);
      }
    });
    $("signout").addEventListener("click", () => {
      const logoutState = crypto.randomUUID();
      sessionStorage.setItem(LOGOUT_STATE, logoutState);
      const url = logoutUrl(provider, { idTokenHint: session?.idToken, postLogoutRedirectUri: `${location.origin}${location.pathname}`, state: logoutState });
      session = undefined;
      location.assign(url);
    });
    // Enabled only now: a click before discovery finished would submit the form natively (or
    // reach popup() only after discovery's await, when the browser blocks popups).
    $("connect").removeAttribute("disabled");
    $("connect-popup").removeAttribute("disabled");
    const result = await flow.handleCallback().catch(() => null);
    if (result) {
      showSession(result);
      await loadUserinfo(provider);
    }
  } catch (error) {
    fail(error);
  }
}
