// The generic demo: discovery, then the Authorization Code + PKCE flow against any OIDC server.
import { createFlow, discover, isPkceError, type FlowSnapshot } from "../src/index.ts";
import { demoSettings, maskKey } from "./shared.ts";

const $ = (id: string) => document.getElementById(id)!;
const { oidcIssuer, oidcClientId } = demoSettings();
const show = (snapshot: FlowSnapshot) => {
  $("status").textContent = snapshot.status;
  $("status").dataset["status"] = snapshot.status;
  $("error").textContent = snapshot.error ? `${snapshot.error.code}: ${snapshot.error.message}` : "";
  $("error").dataset["code"] = snapshot.error?.code ?? "";
};
const fail = (error: unknown) => show({ status: "failed", ...(isPkceError(error) ? { error } : {}) });

// The payload of a JWT, for display only: this page does not validate ID tokens.
function claims(jwt: string): string {
  const part = jwt.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.stringify(JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))), null, 2);
}

if (!oidcIssuer) {
  $("error").textContent = "No OpenID Connect server configured: run `npm run demo`.";
} else {
  $("issuer").textContent = oidcIssuer;
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
    // Enabled only now: a click before discovery finished would submit the form natively.
    $("connect").removeAttribute("disabled");
    const result = await flow.handleCallback().catch(() => null);
    if (result) {
      $("result").hidden = false;
      $("access-token").textContent = maskKey(result.accessToken);
      $("token-type").textContent = result.tokenType;
      $("expires-in").textContent = String(result.expiresIn ?? "?");
      $("scope").textContent = result.scope ?? "";
      $("claims").textContent = result.idToken ? claims(result.idToken) : "(no ID token)";
    }
  } catch (error) {
    fail(error);
  }
}
