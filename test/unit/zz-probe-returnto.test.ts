// Probe (passes): returnTo inputs that try to leave the origin are refused or stored as a path
// that stays on it, whatever the router does with it (resolved against the page or the origin).
import { expect, it } from "vitest";
import { createFlow, oauth2 } from "../../src/index.ts";
import { pageUrl, restorePageAfterEach } from "./helpers/page.ts";
import { MemoryStorage } from "./helpers/storage.ts";

restorePageAfterEach();

const NASTY = [
  "//evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\t/evil.example", "/\n/evil.example", " //evil.example",
  "\u0000//evil.example", "/%2f/evil.example", "/%2F%2Fevil.example", "/%5c/evil.example", "/.//evil.example", "/x/..//evil.example",
  "/%2e//evil.example", "https:evil.example", "https:/evil.example", "https:\\\\evil.example", "http://evil.example", "javascript:alert(1)",
  "／／evil.example", "/\u3002/evil", "///evil.example", "https://app//evil", `${location.origin}//evil.example`, `${location.origin}/\\evil.example`,
  `${location.origin.replace("//", "/\\")}/x`, "data:text/html,x", "blob:https://evil.example/x", `${location.origin}@evil.example`, "?//evil", "#//evil",
];

it("never stores a returnTo that navigates off-origin", async () => {
  for (const input of NASTY) {
    const storage = new MemoryStorage();
    const flow = createFlow(oauth2({ clientId: "spa", authorizationEndpoint: "https://as.example/a", tokenEndpoint: "https://as.example/t", redirectUri: pageUrl() }), { storage, navigate: () => {} });
    await flow.authorize({ returnTo: input }).catch(() => {});
    const stored = [...storage.data.values()].map((v) => JSON.parse(v).returnTo as string | null);
    for (const path of stored) {
      if (path === null) continue;
      expect(path.startsWith("/") && !/^\/[/\\]/.test(path), `${JSON.stringify(input)} -> ${path}`).toBe(true);
      expect(new URL(path, location.href).origin).toBe(location.origin);
      expect(new URL(path, "https://app.example/deep/page").origin).toBe("https://app.example");
    }
  }
});
