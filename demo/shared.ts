/** Demo settings injected by the dev server as <meta> tags (no inline script, so a strict CSP holds). */
export function demoSettings(): { emulatorUrl: string; oidcIssuer: string | null; oidcClientId: string } {
  const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content || null;
  return {
    emulatorUrl: new URL(meta("pkce-demo-emulator") ?? "/openrouter", location.origin).href.replace(/\/$/, ""),
    oidcIssuer: meta("pkce-demo-oidc-issuer"),
    oidcClientId: meta("pkce-demo-oidc-client") ?? "pkce-flow-spa",
  };
}

/** `sk-or-v1-1234…abcd`: enough to recognise a key, too little to use it. */
export function maskKey(key: string): string {
  return key.length > 16 ? `${key.slice(0, 12)}…${key.slice(-4)}` : "…";
}
