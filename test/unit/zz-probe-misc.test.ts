import { describe, expect, it } from "vitest";
import { TokenError, buildCreateAuthCodeRequest, discover, getOpenRouterKey, logoutUrl, oauth2, openRouterKeyLinks, readCreateAuthCodeResponse, refresh, revoke, userinfo } from "../../src/index.ts";
import { rejection, thrown } from "./helpers/errors.ts";
import { fetchRecorder, json, text } from "./helpers/fetch.ts";
import { goodClaims, jwt } from "./helpers/jwt.ts";

const ISSUER = "https://as.example";
const provider = oauth2({
  clientId: "my-spa",
  issuer: ISSUER,
  authorizationEndpoint: `${ISSUER}/authorize`,
  tokenEndpoint: `${ISSUER}/token`,
  redirectUri: "https://app.example/callback",
  scope: ["openid"],
  userinfoEndpoint: `${ISSUER}/me`,
});
const NONCE = "n-0S6_WzA2Mj";
const body = (extra: Record<string, unknown> = {}) => ({ access_token: "at", token_type: "Bearer", ...extra });

describe("probe: misc", () => {
  it("O1 an ID token whose exp is 1e400 (JSON.parse gives Infinity) never expires and is accepted", () => {
    const c = goodClaims();
    const raw = JSON.stringify(c).replace(/"exp":\d+/, '"exp":1e400');
    const token = jwt(raw, { raw: true });
    // FAILS: accepted, claims.exp === Infinity (iat gets a finiteness check, exp does not)
    expect(thrown(() => provider.parseResult(body({ id_token: token }), { nonce: NONCE })).code).toBe("invalid_id_token");
  });

  it("O2 expires_in 1e308 passes as finite, but expiresAt becomes Infinity (not a time)", () => {
    const bare = oauth2({ clientId: "c", authorizationEndpoint: `${ISSUER}/a`, tokenEndpoint: `${ISSUER}/t`, redirectUri: "https://app.example/cb" });
    let result: unknown;
    let code: string | undefined;
    try {
      result = bare.parseResult(body({ expires_in: 1e308 }), {});
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    // FAILS: resolves with expiresAt: Infinity
    expect(code ?? Number.isFinite((result as { expiresAt: number }).expiresAt)).toSatisfy((v) => v === "invalid_response" || v === true);
  });

  it("O3 readCreateAuthCodeResponse keeps an echoed API key in the TokenError message and errorDescription", async () => {
    const apiKey = "sk-or-v1-0123456789abcdef0123456789abcdef";
    const request = buildCreateAuthCodeRequest({ callbackUrl: "https://app.example/cb" }, { apiKey });
    expect(request.headers.get("authorization")).toBe(`Bearer ${apiKey}`);
    const error = await rejection(readCreateAuthCodeResponse(json(401, { error: { code: 401, message: `Invalid API key ${apiKey}` } })));
    expect(error).toBeInstanceOf(TokenError);
    // FAILS: both contain the key
    expect(error.message).not.toContain(apiKey);
    expect((error as TokenError).errorDescription ?? "").not.toContain(apiKey);
  });

  it("O4 discover() without options: a raw TypeError after the metadata request, not a PkceError", async () => {
    const meta = { issuer: ISSUER, authorization_endpoint: `${ISSUER}/a`, token_endpoint: `${ISSUER}/t` };
    const original = globalThis.fetch;
    globalThis.fetch = fetchRecorder(() => json(200, meta)).fetch;
    try {
      // FAILS: "expected a PkceError, got TypeError: Cannot destructure property 'fetch' of 'options' as it is undefined."
      expect((await rejection(discover(ISSUER, undefined as never))).code).toBe("invalid_config");
    } finally {
      globalThis.fetch = original;
    }
  });

  it("O5 a signal that is not an AbortSignal: raw TypeError (userinfo), not a PkceError", async () => {
    const recorder = fetchRecorder(() => json(200, { sub: "alice" }));
    // FAILS: "expected a PkceError, got TypeError: outer.addEventListener is not a function"
    expect((await rejection(userinfo(provider, "at", { fetch: recorder.fetch, signal: {} as AbortSignal }))).code).toBe("invalid_argument");
  });

  it("S1 (sound) echoes of the refresh token: raw, %-encoded lower/upper, form (+), JSON \\u-escaped in the body", async () => {
    const T = "rt /+~é";
    const forms = [T, encodeURIComponent(T), encodeURIComponent(T).toLowerCase(), new URLSearchParams({ t: T }).toString().slice(2)];
    const bodyText = `{"error":"invalid_grant","error_description":"${forms.join(" | ")} | \\u0072t \\u002f+~\\u00e9"}`;
    const recorder = fetchRecorder(() => text(400, bodyText, "application/json"));
    const error = (await rejection(refresh(provider, T, { fetch: recorder.fetch }))) as TokenError;
    expect(error.errorDescription).toBe("[redacted] | [redacted] | [redacted] | [redacted] | [redacted]");
  });
  it("O4b options: null (not undefined) gives raw TypeErrors across the after-sign-in API", async () => {
    const fetch = fetchRecorder(() => json(200, {})).fetch;
    const original = globalThis.fetch;
    globalThis.fetch = fetch;
    const calls: Array<[string, () => unknown]> = [
      ["refresh", () => refresh(provider, "rt", null as never)],
      ["revoke", () => revoke({ ...provider, revocationEndpoint: `${ISSUER}/r` }, "rt", null as never)],
      ["userinfo", () => userinfo(provider, "at", null as never)],
      ["logoutUrl", () => logoutUrl({ ...provider, endSessionEndpoint: `${ISSUER}/l` }, null as never)],
      ["getOpenRouterKey", () => getOpenRouterKey("sk-or-v1-x", null as never)],
      ["openRouterKeyLinks", () => openRouterKeyLinks("sk-or-v1-x", null as never)],
    ];
    const raw: string[] = [];
    try {
      for (const [name, call] of calls) {
        try {
          await call();
        } catch (e) {
          if (!(e instanceof Error && "code" in e)) raw.push(`${name}: ${String(e)}`);
        }
      }
    } finally {
      globalThis.fetch = original;
    }
    // FAILS: every one of them throws a TypeError
    expect(raw).toEqual([]);
  });
  it("O6 discover(): the server's issuer text enters the message raw (markup, control characters), unlike TokenError's", async () => {
    const evil = '<img src=x onerror=alert(1)>\u202e\n';
    const recorder = fetchRecorder(() => json(200, { issuer: evil, authorization_endpoint: `${ISSUER}/a`, token_endpoint: `${ISSUER}/t` }));
    const error = await rejection(discover(ISSUER, { clientId: "c", redirectUri: "https://app.example/cb", fetch: recorder.fetch }));
    expect(error.code).toBe("invalid_config");
    // FAILS: message ends with `got <img src=x onerror=alert(1)>\u202e\n`
    expect(error.message).not.toMatch(/[<>\u202e\n]/);
  });
});
