import { describe, expect, expectTypeOf, it } from "vitest";
import { createCodeChallenge, createFlow, oauth2, openRouter } from "../../src/index.ts";
import type { AuthorizationParams, OAuth2Result, OpenRouterResult, Provider, TokenParams } from "../../src/index.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";
import { MemoryStorage } from "./helpers/storage.ts";

/** A hand-written provider: any plain object with this shape drives createFlow. */
function custom(id: string, seen: { auth: AuthorizationParams[]; token: TokenParams[] }): Provider<{ token: string }> {
  return {
    id,
    redirectUri: "https://app.example/cb",
    codeChallengeMethod: "S256",
    authorizationUrl(params) {
      seen.auth.push(params);
      const url = new URL("https://idp.example/authorize");
      url.searchParams.set("s", params.state);
      return url;
    },
    tokenRequest(params) {
      seen.token.push(params);
      return new Request("https://idp.example/token", { method: "POST", body: params.code });
    },
    parseResult: (body) => ({ token: String(body["t"]) }),
  };
}

describe("Provider", () => {
  it("lets createFlow drive a plain object: state and challenge in, stored verifier and redirect URI out", async () => {
    const seen = { auth: [] as AuthorizationParams[], token: [] as TokenParams[] };
    const storage = new MemoryStorage();
    const recorder = fetchRecorder(() => json(200, { t: "tok" }));
    const flow = createFlow(custom("idp", seen), { storage, fetch: recorder.fetch });
    const url = await flow.authorize();
    const state = url.searchParams.get("s")!;
    const { codeVerifier } = JSON.parse(storage.getItem(`pkce-flow:${state}`)!) as { codeVerifier: string };
    expect(seen.auth).toEqual([{ state, codeChallenge: await createCodeChallenge(codeVerifier), codeChallengeMethod: "S256" }]);
    const result = await flow.handleCallback(`https://app.example/cb?code=the-code&state=${state}`);
    expect(result).toEqual({ token: "tok" });
    expect(seen.token).toEqual([{ code: "the-code", codeVerifier, codeChallengeMethod: "S256", redirectUri: "https://app.example/cb" }]);
    expect(storage.length).toBe(0);
    expect(await recorder.calls[0]!.body).toBe("the-code");
  });

  it("scopes transactions by provider id: a flow never takes another provider's transaction", async () => {
    const storage = new MemoryStorage();
    const seen = { auth: [] as AuthorizationParams[], token: [] as TokenParams[] };
    const recorder = fetchRecorder(() => json(200, { t: "tok" }));
    const a = createFlow(custom("a", seen), { storage, fetch: recorder.fetch });
    const b = createFlow(custom("b", seen), { storage, fetch: recorder.fetch });
    const url = await a.authorize();
    const callback = `https://app.example/cb?code=c&state=${url.searchParams.get("s")}`;
    expect(b.isCallback(callback)).toBe(false);
    expect(await b.handleCallback(callback)).toBeNull();
    expect(a.isCallback(callback)).toBe(true);
    expect(await a.handleCallback(callback)).toEqual({ token: "tok" });
    expect(recorder.calls).toHaveLength(1);
  });

  it("carries each preset's result type through createFlow", () => {
    const or = createFlow(openRouter({ callbackUrl: "https://app.example/cb" }));
    const o2 = createFlow(oauth2({ clientId: "c", authorizationEndpoint: "https://as.example/a", tokenEndpoint: "https://as.example/t", redirectUri: "https://app.example/cb" }));
    expectTypeOf(or.handleCallback).returns.resolves.toEqualTypeOf<OpenRouterResult | null>();
    expectTypeOf(o2.handleCallback).returns.resolves.toEqualTypeOf<OAuth2Result | null>();
    expect(or.status).toBe("idle");
    expect(o2.status).toBe("idle");
  });
});
