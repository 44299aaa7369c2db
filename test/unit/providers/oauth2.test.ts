import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PkceError, discover, oauth2 } from "../../../src/index.ts";
import type { OAuth2Options } from "../../../src/index.ts";
import { rejection, thrown } from "../helpers/errors.ts";
import { fetchRecorder, hang, json, text } from "../helpers/fetch.ts";
import { goodClaims, jwt } from "../helpers/jwt.ts";

const STATE = "fQ0Ab2YxT1n7cVvWqL3m9sR8uK4hJ6gE5dC2bA1zX0w";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const OPTIONS: OAuth2Options = {
  clientId: "my-spa",
  authorizationEndpoint: "https://as.example/authorize",
  tokenEndpoint: "https://as.example/token",
  redirectUri: "https://app.example/callback",
};

function authUrl(options: Partial<OAuth2Options> = {}): URL {
  return oauth2({ ...OPTIONS, ...options }).authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256" });
}

describe("oauth2() authorization URL", () => {
  it("carries exactly response_type, client_id, redirect_uri, state, code_challenge and code_challenge_method=S256", () => {
    const url = authUrl();
    expect(url.origin + url.pathname).toBe("https://as.example/authorize");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: "my-spa",
      redirect_uri: "https://app.example/callback",
      state: STATE,
      code_challenge: CHALLENGE,
      code_challenge_method: "S256",
    });
    expect([...url.searchParams.keys()]).toHaveLength(6);
  });

  it.each([
    { scope: "openid profile", sent: "openid profile" },
    { scope: ["openid", "profile", "email"], sent: "openid profile email" },
    { scope: ["openid"], sent: "openid" },
  ])("sends scope $scope as '$sent'", ({ scope, sent }) => {
    expect(authUrl({ scope, issuer: "https://as.example" }).searchParams.get("scope")).toBe(sent);
  });

  it.each([{ scope: "" }, { scope: [] as string[] }])("leaves scope out when it is $scope", ({ scope }) => {
    expect(authUrl({ scope }).searchParams.has("scope")).toBe(false);
  });

  it("adds extraParams", () => {
    const url = authUrl({ extraParams: { prompt: "consent", audience: "https://api.example" } });
    expect(url.searchParams.get("prompt")).toBe("consent");
    expect(url.searchParams.get("audience")).toBe("https://api.example");
  });

  it("keeps the authorization endpoint's own query", () => {
    const url = authUrl({ authorizationEndpoint: "https://as.example/authorize?tenant=acme&p=B2C_1_signin" });
    expect(url.searchParams.get("tenant")).toBe("acme");
    expect(url.searchParams.get("p")).toBe("B2C_1_signin");
    expect(url.searchParams.get("state")).toBe(STATE);
  });

  it("sends redirect_uri exactly as configured, without normalising it", () => {
    expect(authUrl({ redirectUri: "http://127.0.0.1:8080" }).searchParams.get("redirect_uri")).toBe("http://127.0.0.1:8080");
  });
});

describe("oauth2() options", () => {
  it("describes itself: S256, the redirect URI as given, the issuer and requireIssuer", () => {
    const provider = oauth2({ ...OPTIONS, issuer: "https://as.example", requireIssuer: true });
    expect(provider).toMatchObject({ codeChallengeMethod: "S256", redirectUri: OPTIONS.redirectUri, issuer: "https://as.example", requireIssuer: true });
    expect(provider.statelessCallback).toBeFalsy();
    expect(oauth2(OPTIONS).requireIssuer).toBe(false);
  });

  it("gives clients of different servers, endpoints or client ids different provider ids", () => {
    const ids = new Set([
      oauth2(OPTIONS).id,
      oauth2({ ...OPTIONS, clientId: "other" }).id,
      oauth2({ ...OPTIONS, authorizationEndpoint: "https://other.example/authorize" }).id,
      oauth2({ ...OPTIONS, issuer: "https://as.example" }).id,
      // Same issuer and client, another token endpoint (issue 16 item 10).
      oauth2({ ...OPTIONS, issuer: "https://as.example", tokenEndpoint: "https://as.example/v2/token" }).id,
      oauth2({ ...OPTIONS, issuer: "https://as.example", authorizationEndpoint: "https://as.example/v2/authorize" }).id,
    ]);
    expect(ids.size).toBe(6);
    // The redirect URI and scope do not split transactions: one client, one server.
    expect(oauth2({ ...OPTIONS, scope: "email" }).id).toBe(oauth2(OPTIONS).id);
    expect(oauth2(OPTIONS).id).toBe(oauth2({ ...OPTIONS }).id);
  });

  it.each<[string, Partial<OAuth2Options>]>([
    ["no clientId", { clientId: undefined as unknown as string }],
    ["an empty clientId", { clientId: "" }],
    ["an http authorization endpoint on a public host", { authorizationEndpoint: "http://as.example/authorize" }],
    ["an http token endpoint on a public host", { tokenEndpoint: "http://as.example/token" }],
    ["a token endpoint with a fragment", { tokenEndpoint: "https://as.example/token#x" }],
    ["an authorization endpoint with user:password", { authorizationEndpoint: "https://u:p@as.example/authorize" }],
    ["a javascript: redirect URI", { redirectUri: "javascript:alert(1)" }],
    ["a redirect URI with a fragment", { redirectUri: "https://app.example/callback#x" }],
    ["an http redirect URI on a public host", { redirectUri: "http://app.example/callback" }],
    ["an empty issuer", { issuer: "" }],
    ["a scope that is no string", { scope: 5 as unknown as string }],
    ["extraParams overriding state", { extraParams: { state: "fixed" } }],
    ["extraParams overriding code_challenge", { extraParams: { code_challenge: "x" } }],
    ["extraParams overriding code_challenge_method", { extraParams: { code_challenge_method: "plain" } }],
    ["extraParams overriding response_type", { extraParams: { response_type: "token" } }],
    ["extraParams overriding client_id", { extraParams: { client_id: "evil" } }],
    ["extraParams overriding redirect_uri", { extraParams: { redirect_uri: "https://evil.example/" } }],
    ["extraParams overriding scope", { extraParams: { scope: "admin" } }],
    ["an extraParams value that is an object", { extraParams: { prompt: {} as unknown as string } }],
  ])("throws invalid_config for %s", (_, options) => {
    const error = thrown(() => oauth2({ ...OPTIONS, ...options }));
    expect(error).toBeInstanceOf(PkceError);
    expect(error.code).toBe("invalid_config");
  });

  it("accepts http endpoints on loopback hosts", () => {
    const provider = oauth2({ ...OPTIONS, authorizationEndpoint: "http://localhost:3000/auth", tokenEndpoint: "http://127.0.0.1:3000/token", redirectUri: "http://[::1]:5173/" });
    expect(provider.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256" }).origin).toBe("http://localhost:3000");
  });
});

describe("oauth2() token request and result", () => {
  const provider = oauth2({ ...OPTIONS, redirectUri: "http://127.0.0.1:8080" });

  it("is a form POST of grant_type, code, the byte-identical redirect_uri, client_id and code_verifier", async () => {
    const request = provider.tokenRequest({ code: "c0de/+=", codeVerifier: VERIFIER, codeChallengeMethod: "S256", redirectUri: "http://127.0.0.1:8080" });
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://as.example/token");
    expect(request.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(request.headers.has("authorization")).toBe(false);
    const body = await request.text();
    expect(Object.fromEntries(new URLSearchParams(body))).toEqual({
      grant_type: "authorization_code",
      code: "c0de/+=",
      redirect_uri: "http://127.0.0.1:8080",
      client_id: "my-spa",
      code_verifier: VERIFIER,
    });
    expect(body).toBe(`grant_type=authorization_code&code=c0de%2F%2B%3D&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080&client_id=my-spa&code_verifier=${VERIFIER}`);
  });

  it("maps every RFC 6749 5.1 field and keeps the whole body in raw", () => {
    vi.spyOn(Date, "now").mockReturnValue(1_700_000_000_000);
    const body = { access_token: "at", token_type: "Bearer", expires_in: 3600, refresh_token: "rt", scope: "openid", id_token: "h.p.s", extra: { a: 1 } };
    expect(provider.parseResult(body, {})).toEqual({ accessToken: "at", tokenType: "Bearer", expiresIn: 3600, expiresAt: 1_700_003_600_000, refreshToken: "rt", scope: "openid", idToken: "h.p.s", raw: body });
  });

  it("leaves optional fields out when they are absent, null or empty strings", () => {
    const body = { access_token: "at", token_type: "Bearer", refresh_token: null, scope: "", id_token: "", expires_in: "" };
    const result = provider.parseResult(body, {});
    expect(result).toEqual({ accessToken: "at", tokenType: "Bearer", raw: body });
    for (const name of ["refreshToken", "scope", "idToken", "expiresIn", "expiresAt"]) expect(name in result).toBe(false);
  });

  it.each(["Bearer", "bearer", "BEARER", "bEaReR"])("accepts token_type %s (RFC 6749 7.1, case-insensitive) and keeps its spelling", (type) => {
    expect(provider.parseResult({ access_token: "at", token_type: type }, {}).tokenType).toBe(type);
  });

  it.each(["mac", "DPoP", "N_A", "Bearer ", "Bearerx", "Basic"])("refuses token_type %j as invalid_response", (type) => {
    const error = thrown(() => provider.parseResult({ access_token: "secret-at", token_type: type }, {}));
    expect(error.code).toBe("invalid_response");
    expect(error.message).not.toContain("secret-at");
  });

  it.each([
    [3600, 3600],
    ["3600", 3600],
    [0, 0],
    ["0", 0],
    [1.5, 1.5],
  ])("reads expires_in %j as %d and sets expiresAt from the clock when the answer arrived", (sent, seconds) => {
    vi.spyOn(Date, "now").mockReturnValue(1_700_000_000_000);
    const result = provider.parseResult({ access_token: "at", token_type: "Bearer", expires_in: sent }, {});
    expect(result.expiresIn).toBe(seconds);
    expect(result.expiresAt).toBe(1_700_000_000_000 + seconds * 1000);
  });

  it("accepts the longest expires_in whose expiresAt a Date can still hold", () => {
    vi.spyOn(Date, "now").mockReturnValue(1_700_000_000_000);
    const seconds = (8.64e15 - 1_700_000_000_000) / 1000;
    const { expiresAt } = provider.parseResult({ access_token: "at", token_type: "Bearer", expires_in: seconds }, {});
    expect(expiresAt).toBe(8.64e15);
    expect(new Date(expiresAt!).getTime()).toBe(8.64e15);
  });

  it.each([
    ["no access_token", { token_type: "Bearer" }],
    ["no token_type", { access_token: "x" }],
    ["an empty access_token", { access_token: "", token_type: "Bearer" }],
    ["a negative expires_in", { access_token: "x", token_type: "Bearer", expires_in: -1 }],
    ["expires_in as a negative string", { access_token: "x", token_type: "Bearer", expires_in: "-1" }],
    ["expires_in as a decimal string", { access_token: "x", token_type: "Bearer", expires_in: "3600.5" }],
    ["expires_in as an exponent string", { access_token: "x", token_type: "Bearer", expires_in: "1e3" }],
    ["expires_in as a padded string", { access_token: "x", token_type: "Bearer", expires_in: " 3600" }],
    ["expires_in as digits beyond any finite number", { access_token: "x", token_type: "Bearer", expires_in: "9".repeat(400) }],
    ["expires_in as a boolean", { access_token: "x", token_type: "Bearer", expires_in: true }],
    ["an expires_in of 1e308 (finite, but expiresAt would be Infinity)", { access_token: "x", token_type: "Bearer", expires_in: 1e308 }],
    ["an expires_in whose expiresAt is past what a Date holds", { access_token: "x", token_type: "Bearer", expires_in: 8.64e12 }],
    ["expires_in as 300 digits (finite, but expiresAt would be Infinity)", { access_token: "x", token_type: "Bearer", expires_in: "9".repeat(300) }],
    ["a refresh_token that is no string", { access_token: "x", token_type: "Bearer", refresh_token: 1 }],
    ["an id_token that is no string", { access_token: "x", token_type: "Bearer", id_token: {} }],
  ])("rejects a body with %s as invalid_response", (_, body) => {
    expect(thrown(() => provider.parseResult(body, {})).code).toBe("invalid_response");
  });
});

afterEach(() => vi.restoreAllMocks());

describe("oauth2() parameters: extraParams and per-request params", () => {
  const RESERVED = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "response_mode", "request", "request_uri"];
  // Every reserved name in several spellings: as is, upper case, mixed case, padded with whitespace.
  const variants = RESERVED.flatMap((name) => [name, name.toUpperCase(), name[0]!.toUpperCase() + name.slice(1), ` ${name}`, `${name}\t`, `\n${name.toUpperCase()} `]);

  it.each(variants)("refuses extraParams %j with invalid_config", (name) => {
    const error = thrown(() => oauth2({ ...OPTIONS, extraParams: { [name]: "x" } }));
    expect(error.code).toBe("invalid_config");
  });

  it.each(variants)("refuses per-request params %j with invalid_argument", (name) => {
    const provider = oauth2(OPTIONS);
    const error = thrown(() => provider.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params: { [name]: "x" } }));
    expect(error.code).toBe("invalid_argument");
  });

  it("refuses every reserved name in any mix of case with any surrounding whitespace, in params and extraParams (property)", () => {
    const provider = oauth2(OPTIONS);
    const spaced = fc
      .record({
        name: fc.constantFrom(...RESERVED),
        upper: fc.array(fc.boolean(), { minLength: 21, maxLength: 21 }),
        before: fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\ufeff"), maxLength: 3 }),
        after: fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\ufeff"), maxLength: 3 }),
      })
      .map(({ name, upper, before, after }) => before + [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join("") + after);
    fc.assert(
      fc.property(spaced, fc.oneof(fc.string(), fc.integer(), fc.boolean()), (name, value) => {
        expect(thrown(() => provider.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params: { [name]: value } })).code).toBe("invalid_argument");
        expect(thrown(() => oauth2({ ...OPTIONS, extraParams: { [name]: value } })).code).toBe("invalid_config");
      }),
    );
  });

  it.each(["prompt=login", ["prompt", "login"], 5])("refuses params or extraParams that are not an object (%j)", (params) => {
    const provider = oauth2(OPTIONS);
    const given = params as unknown as Record<string, string>;
    expect(thrown(() => provider.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params: given })).code).toBe("invalid_argument");
    expect(thrown(() => oauth2({ ...OPTIONS, extraParams: given })).code).toBe("invalid_config");
  });

  it("accepts names that only contain a reserved one (control for the property above)", () => {
    const url = authUrl({ extraParams: { "x-state": "1", scopes: "2", nonce_hint: "3", "code challenge": "4" } });
    expect(url.searchParams.get("x-state")).toBe("1");
    expect(url.searchParams.get("nonce_hint")).toBe("3");
  });

  it.each([null, undefined, {}, [], () => "x", Symbol("x"), 10n])("refuses a params value of type %s", (value) => {
    const provider = oauth2(OPTIONS);
    const params = { prompt: value } as unknown as Record<string, string>;
    expect(thrown(() => provider.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params })).code).toBe("invalid_argument");
    expect(thrown(() => oauth2({ ...OPTIONS, extraParams: params })).code).toBe("invalid_config");
  });

  it("sends strings, numbers and booleans as String(value); params win over extraParams for this request only", () => {
    const provider = oauth2({ ...OPTIONS, extraParams: { prompt: "consent", max_age: 0, audience: "https://api.example" } });
    const url = provider.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params: { prompt: "login", login_hint: "alice@example.com", ui_locales: "de", foo: true, max_age: 300 } });
    expect(url.searchParams.getAll("prompt")).toEqual(["login"]);
    expect(url.searchParams.get("login_hint")).toBe("alice@example.com");
    expect(url.searchParams.get("foo")).toBe("true");
    expect(url.searchParams.getAll("max_age")).toEqual(["300"]);
    expect(url.searchParams.get("audience")).toBe("https://api.example");
    expect(url.searchParams.get("state")).toBe(STATE);
    const next = provider.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256" });
    expect(next.searchParams.get("prompt")).toBe("consent");
    expect(next.searchParams.get("max_age")).toBe("0");
    expect(next.searchParams.has("login_hint")).toBe(false);
  });
});

describe("oauth2() OpenID Connect", () => {
  const ISSUER = "https://as.example";
  const NONCE = "n-0S6_WzA2Mj";
  const oidc = oauth2({ ...OPTIONS, issuer: ISSUER, scope: ["openid", "profile"] });
  const body = (claims: Record<string, unknown> = goodClaims(), extra: Record<string, unknown> = {}) => ({ access_token: "secret-at", token_type: "Bearer", id_token: jwt(claims), ...extra });

  it.each([
    ["openid", true],
    ["openid profile", true],
    ["profile  openid", true],
    [["email", "openid"], true],
    ["profile", false],
    ["openidx", false],
    [undefined, false],
  ])("with scope %j asks the flow for a nonce: %s", (scope, nonce) => {
    expect(oauth2({ ...OPTIONS, issuer: ISSUER, scope: scope as string }).nonce).toBe(nonce);
  });

  it("requires an issuer when the scope includes openid", () => {
    expect(thrown(() => oauth2({ ...OPTIONS, scope: "openid" })).code).toBe("invalid_config");
    expect(thrown(() => oauth2({ ...OPTIONS, scope: ["profile", "openid"] })).message).toMatch(/issuer/);
    expect(oauth2({ ...OPTIONS, scope: "profile" }).issuer).toBeUndefined();
  });

  it("sends the transaction's nonce in the authorization URL", () => {
    const url = oidc.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", nonce: NONCE });
    expect(url.searchParams.get("nonce")).toBe(NONCE);
    expect(oidc.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256" }).searchParams.has("nonce")).toBe(false);
  });

  it("checks the ID token against the issuer, client and nonce, and gives its claims, frozen", () => {
    const claims = goodClaims({ name: "Alice" });
    const result = oidc.parseResult(body(claims), { nonce: NONCE });
    expect(result.claims).toEqual(claims);
    expect(Object.isFrozen(result.claims)).toBe(true);
    expect(result.idToken).toBe(jwt(claims));
  });

  it.each<[string, Record<string, unknown>, string | undefined]>([
    ["another nonce", goodClaims({ nonce: "other" }), NONCE],
    ["another audience", goodClaims({ aud: "other-client" }), NONCE],
    ["another issuer", goodClaims({ iss: "https://evil.example" }), NONCE],
    ["a nonce although the transaction sent none", goodClaims(), undefined],
  ])("refuses an ID token with %s as invalid_id_token, with nothing of the response in the error", (_, claims, nonce) => {
    const response = body(claims, { refresh_token: "secret-rt" });
    const error = thrown(() => oidc.parseResult(response, { nonce }));
    expect(error.code).toBe("invalid_id_token");
    for (const secret of ["secret-at", "secret-rt", response.id_token, NONCE]) {
      expect(error.message).not.toContain(secret);
      expect(String(error.stack)).not.toContain(secret);
    }
  });

  it("refuses a token response without id_token, unless its scope shows openid was not granted", () => {
    expect(thrown(() => oidc.parseResult({ access_token: "at", token_type: "Bearer" }, { nonce: NONCE })).code).toBe("invalid_id_token");
    expect(thrown(() => oidc.parseResult({ access_token: "at", token_type: "Bearer", scope: "openid profile" }, { nonce: NONCE })).code).toBe("invalid_id_token");
    expect(thrown(() => oidc.parseResult({ access_token: "at", token_type: "Bearer", id_token: "" }, { nonce: NONCE })).code).toBe("invalid_id_token");
    const result = oidc.parseResult({ access_token: "at", token_type: "Bearer", scope: "profile" }, { nonce: NONCE });
    expect(result.accessToken).toBe("at");
    expect("claims" in result).toBe(false);
  });

  it("checks the token type before the ID token", () => {
    expect(thrown(() => oidc.parseResult(body(goodClaims(), { token_type: "mac" }), { nonce: NONCE })).code).toBe("invalid_response");
  });

  it("leaves an ID token unchecked and without claims when the scope has no openid", () => {
    const plain = oauth2({ ...OPTIONS, scope: "profile" });
    const result = plain.parseResult(body(goodClaims({ aud: "someone-else" })), {});
    expect(result.idToken).toBeTruthy();
    expect("claims" in result).toBe(false);
  });
});

describe("oauth2() optional endpoints", () => {
  it("keeps userinfo, revocation and end-session endpoints, normalised", () => {
    const provider = oauth2({ ...OPTIONS, userinfoEndpoint: "https://as.example/me", revocationEndpoint: "http://127.0.0.1:9/revoke", endSessionEndpoint: "https://as.example/logout?x=1" });
    expect(provider).toMatchObject({
      clientId: "my-spa",
      authorizationEndpoint: "https://as.example/authorize",
      tokenEndpoint: "https://as.example/token",
      userinfoEndpoint: "https://as.example/me",
      revocationEndpoint: "http://127.0.0.1:9/revoke",
      endSessionEndpoint: "https://as.example/logout?x=1",
    });
    expect(oauth2(OPTIONS).userinfoEndpoint).toBeUndefined();
  });

  it.each(["userinfoEndpoint", "revocationEndpoint", "endSessionEndpoint"])("refuses an insecure or malformed %s with invalid_config naming it", (name) => {
    for (const value of ["http://as.example/x", "https://u:p@as.example/x", "https://as.example/x#f", "not a url", 5]) {
      const error = thrown(() => oauth2({ ...OPTIONS, [name]: value }));
      expect(error.code).toBe("invalid_config");
      expect(error.message.startsWith(name)).toBe(true);
    }
  });
});

describe("discover", () => {
  const ISSUER = "https://as.example";
  const CLIENT = { clientId: "my-spa", redirectUri: "https://app.example/callback" };
  const metadata = (overrides: Record<string, unknown> = {}) => ({
    issuer: ISSUER,
    authorization_endpoint: `${ISSUER}/authorize`,
    token_endpoint: `${ISSUER}/token`,
    code_challenge_methods_supported: ["S256"],
    ...overrides,
  });

  it("reads {issuer}/.well-known/openid-configuration and returns an oauth2 provider for it", async () => {
    const recorder = fetchRecorder(() => json(200, metadata()));
    const provider = await discover(ISSUER, { ...CLIENT, scope: ["openid"], fetch: recorder.fetch });
    expect(recorder.calls.map((c) => c.request.url)).toEqual([`${ISSUER}/.well-known/openid-configuration`]);
    expect(recorder.calls[0]!.request.method).toBe("GET");
    expect(recorder.calls[0]!.init).toMatchObject({ redirect: "manual", credentials: "omit" });
    expect(provider).toMatchObject({ issuer: ISSUER, redirectUri: CLIENT.redirectUri, requireIssuer: false });
    const url = provider.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256" });
    expect(url.origin + url.pathname).toBe(`${ISSUER}/authorize`);
    expect(url.searchParams.get("client_id")).toBe("my-spa");
    expect(url.searchParams.get("scope")).toBe("openid");
    expect(provider.tokenRequest({ code: "c", codeVerifier: VERIFIER, codeChallengeMethod: "S256", redirectUri: CLIENT.redirectUri }).url).toBe(`${ISSUER}/token`);
  });

  it.each([
    { issuer: "https://as.example", first: "https://as.example/.well-known/openid-configuration", second: "https://as.example/.well-known/oauth-authorization-server" },
    {
      issuer: "https://as.example/tenant",
      first: "https://as.example/tenant/.well-known/openid-configuration",
      second: "https://as.example/.well-known/oauth-authorization-server/tenant",
    },
  ])("falls back from $first to $second on 404", async ({ issuer, first, second }) => {
    const recorder = fetchRecorder((_, i) => (i === 0 ? json(404, { error: "not_found" }) : json(200, metadata({ issuer }))));
    const provider = await discover(issuer, { ...CLIENT, fetch: recorder.fetch });
    expect(recorder.calls.map((c) => c.request.url)).toEqual([first, second]);
    expect(provider.issuer).toBe(issuer);
  });

  it.each([
    { flag: true, requireIssuer: true },
    { flag: false, requireIssuer: false },
    { flag: undefined, requireIssuer: false },
    { flag: "true", requireIssuer: false },
  ])("sets requireIssuer $requireIssuer when authorization_response_iss_parameter_supported is $flag", async ({ flag, requireIssuer }) => {
    const recorder = fetchRecorder(() => json(200, metadata({ authorization_response_iss_parameter_supported: flag })));
    expect((await discover(ISSUER, { ...CLIENT, fetch: recorder.fetch })).requireIssuer).toBe(requireIssuer);
  });

  it("accepts metadata that does not list code_challenge_methods_supported", async () => {
    const recorder = fetchRecorder(() => json(200, metadata({ code_challenge_methods_supported: undefined })));
    await expect(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch })).resolves.toMatchObject({ codeChallengeMethod: "S256" });
  });

  it.each<[string, Record<string, unknown>]>([
    ["a different issuer", { issuer: "https://evil.example" }],
    ["the issuer with a trailing slash", { issuer: `${ISSUER}/` }],
    ["no issuer", { issuer: undefined }],
    ["only plain PKCE", { code_challenge_methods_supported: ["plain"] }],
    ["no PKCE method at all", { code_challenge_methods_supported: [] }],
    ["code_challenge_methods_supported that is no list", { code_challenge_methods_supported: "S256" }],
    ["an http authorization endpoint on a public host", { authorization_endpoint: "http://as.example/authorize" }],
    ["an http token endpoint on a public host", { token_endpoint: "http://as.example/token" }],
  ])("refuses metadata with %s as invalid_config", async (_, overrides) => {
    const recorder = fetchRecorder(() => json(200, metadata(overrides)));
    expect((await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch }))).code).toBe("invalid_config");
  });

  it.each([
    ["a 500", () => json(500, { error: "server_error" })],
    ["a non-JSON 200", () => text(200, "<html>metadata</html>", "text/html")],
    ["metadata that is a JSON array", () => json(200, [metadata()])],
    ["a redirect", () => new Response(null, { status: 302, headers: { Location: "https://evil.example/" } })],
    ["metadata without a token endpoint", () => json(200, metadata({ token_endpoint: undefined }))],
  ])("rejects %s as invalid_response", async (_, respond) => {
    const recorder = fetchRecorder(respond);
    expect((await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch }))).code).toBe("invalid_response");
    expect(recorder.calls).toHaveLength(1);
  });

  it("rejects 404 at both locations as invalid_response", async () => {
    const recorder = fetchRecorder(() => text(404, "Not Found"));
    expect((await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch }))).code).toBe("invalid_response");
    expect(recorder.calls).toHaveLength(2);
  });

  it("rejects a failed fetch as network_error without trying the other location", async () => {
    const recorder = fetchRecorder(() => Promise.reject(new TypeError("Failed to fetch")));
    expect((await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch }))).code).toBe("network_error");
    expect(recorder.calls).toHaveLength(1);
  });

  it("honours timeoutMs and signal", async () => {
    const recorder = fetchRecorder((call) => hang(call.signal));
    expect((await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch, timeoutMs: 5 }))).code).toBe("timeout");
    expect((await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch, signal: AbortSignal.abort() }))).code).toBe("aborted");
  });

  it.each([
    ["an http issuer on a public host", "http://as.example"],
    ["an issuer with a query", "https://as.example/?tenant=a"],
    ["an issuer with a fragment", "https://as.example/#a"],
  ])("refuses %s as invalid_config before any request", async (_, issuer) => {
    const recorder = fetchRecorder(() => json(200, metadata({ issuer })));
    expect((await rejection(discover(issuer, { ...CLIENT, fetch: recorder.fetch }))).code).toBe("invalid_config");
    expect(recorder.calls).toHaveLength(0);
  });

  it("exposes the validated metadata, deep-frozen, and fills the optional endpoints from it", async () => {
    const doc = metadata({
      userinfo_endpoint: `${ISSUER}/me`,
      revocation_endpoint: `${ISSUER}/token/revocation`,
      end_session_endpoint: `${ISSUER}/session/end`,
      scopes_supported: ["openid", "email"],
      mtls_endpoint_aliases: { token_endpoint: `${ISSUER}/mtls/token` },
    });
    const recorder = fetchRecorder(() => json(200, doc));
    const provider = await discover(ISSUER, { ...CLIENT, scope: "openid", fetch: recorder.fetch });
    expect(provider.metadata).toEqual(doc);
    expect(Object.isFrozen(provider.metadata)).toBe(true);
    expect(Object.isFrozen(provider.metadata!["scopes_supported"])).toBe(true);
    expect(Object.isFrozen(provider.metadata!["mtls_endpoint_aliases"])).toBe(true);
    expect(provider).toMatchObject({ userinfoEndpoint: `${ISSUER}/me`, revocationEndpoint: `${ISSUER}/token/revocation`, endSessionEndpoint: `${ISSUER}/session/end`, nonce: true });
    // The provider still works as one: an ID token is checked against the discovered issuer.
    expect(provider.parseResult({ access_token: "at", token_type: "Bearer", id_token: jwt(goodClaims({}, { iss: ISSUER })) }, { nonce: "n-0S6_WzA2Mj" }).claims?.sub).toBe("alice");
  });

  it("leaves endpoints the metadata does not name undefined", async () => {
    const recorder = fetchRecorder(() => json(200, metadata()));
    const provider = await discover(ISSUER, { ...CLIENT, fetch: recorder.fetch });
    expect([provider.userinfoEndpoint, provider.revocationEndpoint, provider.endSessionEndpoint]).toEqual([undefined, undefined, undefined]);
  });

  it.each([
    ["userinfo_endpoint", "http://as.example/me"],
    ["revocation_endpoint", "https://u:p@as.example/revoke"],
    ["end_session_endpoint", "javascript:alert(1)"],
    ["userinfo_endpoint", 42],
  ])("refuses metadata whose %s is %j as invalid_config", async (name, value) => {
    const recorder = fetchRecorder(() => json(200, metadata({ [name]: value })));
    expect((await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch }))).code).toBe("invalid_config");
  });

  it("accepts metadata holding an array of 400,000 elements (under 1 MiB) and freezes it", async () => {
    const doc = JSON.stringify(metadata({ scopes_supported: new Array(400_000).fill(0) }));
    expect(doc.length).toBeLessThan(1_048_576);
    const recorder = fetchRecorder(() => text(200, doc, "application/json"));
    const provider = await discover(ISSUER, { ...CLIENT, fetch: recorder.fetch });
    expect((provider.metadata!["scopes_supported"] as unknown[]).length).toBe(400_000);
    expect(Object.isFrozen(provider.metadata!["scopes_supported"])).toBe(true);
  });

  it.each([
    ["no options", undefined],
    ["null options", null],
    ["options without a clientId", { redirectUri: CLIENT.redirectUri }],
    ["an insecure redirectUri", { clientId: "my-spa", redirectUri: "http://app.example/cb" }],
    ["a reserved name in extraParams", { ...CLIENT, scope: "openid", extraParams: { state: "x" } }],
  ])("refuses %s with invalid_config before any request", async (_, options) => {
    const recorder = fetchRecorder(() => json(200, metadata()));
    vi.stubGlobal("fetch", recorder.fetch);
    try {
      expect((await rejection(discover(ISSUER, options as never))).code).toBe("invalid_config");
    } finally {
      vi.unstubAllGlobals();
    }
    expect(recorder.calls).toHaveLength(0);
  });

  it.each([
    ["timeoutMs Infinity", { timeoutMs: Number.POSITIVE_INFINITY }],
    ["timeoutMs 0", { timeoutMs: 0 }],
    ["a signal that is not an AbortSignal", { signal: {} as AbortSignal }],
  ])("refuses %s with invalid_argument before any request", async (_, send) => {
    const recorder = fetchRecorder(() => json(200, metadata()));
    expect((await rejection(discover(ISSUER, { ...CLIENT, ...send, fetch: recorder.fetch }))).code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
  });

  it("shows a received issuer without markup, control or bidi characters, cut to 200 characters", async () => {
    const evil = `<img src=x onerror=alert(1)>\u202e\r\nforged log line ${"x".repeat(300)}`;
    const recorder = fetchRecorder(() => json(200, metadata({ issuer: evil })));
    const error = await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch }));
    expect(error.code).toBe("invalid_config");
    expect(error.message).not.toMatch(/[<>\u202e\r\n]/);
    expect(error.message).toContain(`expected ${ISSUER}, got ?img src=x onerror=alert(1)????forged log line x`);
    expect(error.message.length).toBeLessThan(300);
  });

  it("names the expected and the received issuer when they differ", async () => {
    const recorder = fetchRecorder(() => json(200, metadata({ issuer: "https://evil.example" })));
    const error = await rejection(discover(ISSUER, { ...CLIENT, fetch: recorder.fetch }));
    expect(error.message).toMatch(/issuer differs/);
    expect(error.message).toContain(`expected ${ISSUER}, got https://evil.example`);
  });
});
