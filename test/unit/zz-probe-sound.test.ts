// Attacks that the code withstood; kept as passing evidence of coverage.
import { describe, expect, it } from "vitest";
import { discover, logoutUrl, oauth2, revoke, userinfo } from "../../src/index.ts";
import { rejection, thrown } from "./helpers/errors.ts";
import { fetchRecorder, json, text } from "./helpers/fetch.ts";
import { goodClaims, jwt } from "./helpers/jwt.ts";

const ISSUER = "https://as.example";
const NONCE = "n-0S6_WzA2Mj";
const provider = oauth2({
  clientId: "my-spa",
  issuer: ISSUER,
  authorizationEndpoint: `${ISSUER}/authorize`,
  tokenEndpoint: `${ISSUER}/token`,
  redirectUri: "https://app.example/callback",
  scope: ["openid"],
  userinfoEndpoint: `${ISSUER}/me`,
  revocationEndpoint: `${ISSUER}/revoke`,
  endSessionEndpoint: `${ISSUER}/logout`,
});
const parse = (extra: Record<string, unknown>) => provider.parseResult({ access_token: "at", token_type: "Bearer", ...extra }, { nonce: NONCE });
const idCode = (token: string) => thrown(() => parse({ id_token: token })).code;

describe("probe: sound", () => {
  it.each([
    ["aud array with extra audience, no azp", goodClaims({ aud: ["my-spa", "other"] })],
    ["aud array, azp another client", goodClaims({ aud: ["my-spa", "other"], azp: "other" })],
    ["aud string, azp another client", goodClaims({ azp: "other" })],
    ["exp as string", goodClaims({ exp: String(Math.floor(Date.now() / 1000) + 600) })],
    ["exp missing", goodClaims({ exp: undefined })],
    ["exp negative", goodClaims({ exp: -1 })],
    ["iat string", goodClaims({ iat: "1" })],
    ["iat missing", goodClaims({ iat: undefined })],
    ["nonce missing", goodClaims({ nonce: undefined })],
    ["nonce as number", goodClaims({ nonce: 1 })],
    ["iss trailing slash", goodClaims({ iss: `${ISSUER}/` })],
    ["sub empty", goodClaims({ sub: "" })],
  ])("ID token refused: %s", (_, claims) => {
    expect(idCode(jwt(claims))).toBe("invalid_id_token");
  });

  it("ID token: 2 and 4 segments, non-JSON payload, array payload, padded base64, bad UTF-8 all refused", () => {
    const good = jwt(goodClaims());
    const [h, p] = good.split(".");
    for (const token of [`${h}.${p}`, `${good}.x`, jwt("not json", { raw: true }), jwt([1, 2]), `${h}.${p}=.s`, `${h}.${btoa("\xff\xfe")}.s`]) expect(idCode(token)).toBe("invalid_id_token");
  });

  it("ID token: a __proto__ claim stays an own property, prototype untouched, everything frozen", () => {
    const raw = JSON.stringify(goodClaims({ nested: { deep: [1] } })).replace(/^\{/, '{"__proto__":{"polluted":true},');
    const { claims } = parse({ id_token: jwt(raw, { raw: true }) }) as { claims: Record<string, unknown> };
    expect(Object.getPrototypeOf(claims)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(Object.isFrozen((claims["nested"] as { deep: unknown }).deep)).toBe(true);
  });

  it.each([["1e3"], [" 60"], ["-1"], [-1], ["0x10"], [true], ["9".repeat(400)]])("expires_in %j refused", (value) => {
    const bare = oauth2({ clientId: "c", authorizationEndpoint: `${ISSUER}/a`, tokenEndpoint: `${ISSUER}/t`, redirectUri: "https://app.example/cb" });
    expect(thrown(() => bare.parseResult({ access_token: "at", token_type: "Bearer", expires_in: value }, {})).code).toBe("invalid_response");
  });

  it.each([["mac"], ["Bearer "], ["DPoP"], [1]])("token_type %j refused", (value) => {
    expect(thrown(() => parse({ token_type: value, id_token: jwt(goodClaims()) })).code).toBe("invalid_response");
  });

  it("discover: issuer trailing-slash difference, http endpoint off loopback, array metadata, a 302: all typed", async () => {
    const opts = (respond: () => Response) => ({ clientId: "c", redirectUri: "https://app.example/cb", fetch: fetchRecorder(respond).fetch });
    const meta = { issuer: ISSUER, authorization_endpoint: `${ISSUER}/a`, token_endpoint: `${ISSUER}/t` };
    expect((await rejection(discover(`${ISSUER}/`, opts(() => json(200, meta))))).code).toBe("invalid_config");
    expect((await rejection(discover(ISSUER, opts(() => json(200, { ...meta, token_endpoint: "http://as.example/t" }))))).code).toBe("invalid_config");
    expect((await rejection(discover(ISSUER, opts(() => json(200, { ...meta, userinfo_endpoint: "http://as.example/me" }))))).code).toBe("invalid_config");
    expect((await rejection(discover(ISSUER, opts(() => json(200, [meta]))))).code).toBe("invalid_response");
    expect((await rejection(discover(ISSUER, opts(() => new Response(null, { status: 302, headers: { location: "https://evil.example" } }))))).code).toBe("invalid_response");
    expect((await rejection(discover("http://as.example", opts(() => json(200, meta))))).code).toBe("invalid_config");
  });

  it("userinfo: another sub, no sub, array, HTML: invalid_response; revoke: token in body only", async () => {
    const claims = goodClaims() as never;
    for (const answer of [json(200, { sub: "mallory" }), json(200, { name: "x" }), json(200, [{ sub: "alice" }]), text(200, "<html>", "text/html")]) {
      expect((await rejection(userinfo(provider, "at", { claims, fetch: fetchRecorder(() => answer).fetch }))).code).toBe("invalid_response");
    }
    const recorder = fetchRecorder(() => new Response(null, { status: 200 }));
    await revoke(provider, "rt-secret", { fetch: recorder.fetch });
    expect(recorder.calls[0]!.request.url).toBe(`${ISSUER}/revoke`);
    expect(await recorder.calls[0]!.body).toContain("token=rt-secret");
  });

  it("logoutUrl: strings only, values set (not appended) in the query", () => {
    expect(thrown(() => logoutUrl(provider, { state: 1 as never })).code).toBe("invalid_argument");
    const url = logoutUrl(provider, { idTokenHint: "h", postLogoutRedirectUri: "https://app.example/", state: "s" });
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: "my-spa", id_token_hint: "h", post_logout_redirect_uri: "https://app.example/", state: "s" });
  });
});
