import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PkceError, TokenError, buildCreateAuthCodeRequest, createCodeChallenge, createFlow, openRouter, readCreateAuthCodeResponse } from "../../../src/index.ts";
import type { CreateAuthKeysCodeRequest, OpenRouterHeadlessOptions, OpenRouterOptions } from "../../../src/index.ts";
import { rejection, thrown } from "../helpers/errors.ts";
import { fetchRecorder, json, text } from "../helpers/fetch.ts";
import { openRouterSchema, validate } from "../helpers/schema.ts";
import { errorSurfaces } from "../helpers/secrets.ts";
import { MemoryStorage } from "../helpers/storage.ts";

const CALLBACK = "https://app.example/callback";
const STATE = "fQ0Ab2YxT1n7cVvWqL3m9sR8uK4hJ6gE5dC2bA1zX0w";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const API_KEY = "sk-or-v1-apikey-SENTINEL-0000000000000000";
const WORKSPACE = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
// A key not shaped like OpenRouter's (a proxy's), with characters that get percent-encoded.
const PROXY_KEY = "proxy/KEY+SENTINEL=1~x";

function authUrl(options: Partial<OpenRouterOptions> = {}, method: "S256" | "plain" = "S256"): URL {
  return openRouter({ callbackUrl: CALLBACK, ...options }).authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: method });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("openRouter() authorization URL", () => {
  it("is {baseUrl}/auth with exactly callback_url, code_challenge and code_challenge_method", () => {
    const url = authUrl();
    expect(url.origin + url.pathname).toBe("https://openrouter.ai/auth");
    expect([...url.searchParams.keys()]).toEqual(["callback_url", "code_challenge", "code_challenge_method"]);
    expect(url.searchParams.get("callback_url")).toBe(`${CALLBACK}?state=${STATE}`);
    expect(url.searchParams.get("code_challenge")).toBe(CHALLENGE);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.hash).toBe("");
  });

  it("carries state inside callback_url's own query, not as a parameter of /auth", () => {
    const url = authUrl();
    expect(url.searchParams.has("state")).toBe(false);
    expect(new URL(url.searchParams.get("callback_url")!).searchParams.get("state")).toBe(STATE);
  });

  it("appends state to a callback URL that has a query, keeping that query byte for byte", () => {
    const url = authUrl({ callbackUrl: "https://app.example/cb?from=menu&x=%7E" });
    expect(url.searchParams.get("callback_url")).toBe(`https://app.example/cb?from=menu&x=%7E&state=${STATE}`);
  });

  it("sends the method it is given, plain included", () => {
    const url = authUrl({ codeChallengeMethod: "plain" }, "plain");
    expect(url.searchParams.get("code_challenge_method")).toBe("plain");
  });

  it.each([
    { baseUrl: "https://openrouter.example", auth: "https://openrouter.example/auth" },
    { baseUrl: "https://openrouter.example/", auth: "https://openrouter.example/auth" },
    { baseUrl: "https://proxy.example/openrouter/", auth: "https://proxy.example/openrouter/auth" },
    { baseUrl: "http://localhost:5173", auth: "http://localhost:5173/auth" },
  ])("builds $auth from baseUrl $baseUrl", ({ baseUrl, auth }) => {
    const url = authUrl({ baseUrl });
    expect(url.origin + url.pathname).toBe(auth);
  });

  it.each([
    { setting: { keyLabel: "My app & co" }, param: "key_label", value: "My app & co" },
    { setting: { keyLabel: "k".repeat(100) }, param: "key_label", value: "k".repeat(100) },
    { setting: { keyLabel: "\u{1F600}".repeat(100) }, param: "key_label", value: "\u{1F600}".repeat(100) },
    { setting: { keyLabel: "é".repeat(100) }, param: "key_label", value: "é".repeat(100) },
    { setting: { limit: 0 }, param: "limit", value: "0" },
    { setting: { limit: 12.5 }, param: "limit", value: "12.5" },
    { setting: { usageLimitType: "daily" as const }, param: "usage_limit_type", value: "daily" },
    { setting: { usageLimitType: "weekly" as const }, param: "usage_limit_type", value: "weekly" },
    { setting: { usageLimitType: "monthly" as const }, param: "usage_limit_type", value: "monthly" },
    { setting: { expiresAt: new Date("2030-01-02T03:04:05.678Z") }, param: "expires_at", value: "2030-01-02T03:04:05Z" },
    { setting: { expiresAt: "2030-01-02T03:04:05Z" }, param: "expires_at", value: "2030-01-02T03:04:05Z" },
    { setting: { expiresAt: "2030-01-02T04:04:05+01:00" }, param: "expires_at", value: "2030-01-02T03:04:05Z" },
    { setting: { expiresAt: "2030-01-02T03:04:05.999Z" }, param: "expires_at", value: "2030-01-02T03:04:05Z" },
    { setting: { expiresAt: "2030-01-02T03:04:05.123456Z" }, param: "expires_at", value: "2030-01-02T03:04:05Z" },
    { setting: { expiresAt: "2030-01-02t03:04:05z" }, param: "expires_at", value: "2030-01-02T03:04:05Z" },
    { setting: { expiresAt: "2030-01-02" }, param: "expires_at", value: "2030-01-02T00:00:00Z" },
    { setting: { expiresAt: "9999-12-31T23:59:59Z" }, param: "expires_at", value: "9999-12-31T23:59:59Z" },
    { setting: { expiresAt: new Date(Date.UTC(10000, 0, 1) - 1) }, param: "expires_at", value: "9999-12-31T23:59:59Z" },
  ])("adds $param=$value for $setting and nothing else", ({ setting, param, value }) => {
    const url = authUrl(setting);
    expect([...url.searchParams.keys()]).toEqual(["callback_url", "code_challenge", "code_challenge_method", param]);
    expect(url.searchParams.get(param)).toBe(value);
  });

  it("adds every key setting when all are set", () => {
    const url = authUrl({ keyLabel: "Chat", limit: 5, usageLimitType: "monthly", expiresAt: "2031-06-07T08:09:10Z" });
    expect(Object.fromEntries(url.searchParams)).toEqual({
      callback_url: `${CALLBACK}?state=${STATE}`,
      code_challenge: CHALLENGE,
      code_challenge_method: "S256",
      key_label: "Chat",
      limit: "5",
      usage_limit_type: "monthly",
      expires_at: "2031-06-07T08:09:10Z",
    });
  });
});

describe("openRouter() options", () => {
  it("describes itself as the openrouter provider of its server, S256 by default, accepting stateless callbacks", () => {
    const provider = openRouter({ callbackUrl: "http://127.0.0.1:3000" });
    expect(provider).toMatchObject({
      id: "openrouter https://openrouter.ai",
      redirectUri: "http://127.0.0.1:3000/",
      codeChallengeMethod: "S256",
      statelessCallback: true,
      headless: false,
    });
    expect(provider.issuer).toBeUndefined();
  });

  it.each([
    ["https://openrouter.ai", "https://staging.openrouter.example"],
    ["https://openrouter.ai", "https://openrouter.ai/eu"],
    ["http://localhost:5173/openrouter", "http://localhost:5174/openrouter"],
  ])("binds transactions to the server: %s and %s give different ids", (a, b) => {
    const id = (baseUrl: string) => openRouter({ callbackUrl: CALLBACK, baseUrl }).id;
    expect(id(a)).not.toBe(id(b));
    expect(id(a)).toBe(`openrouter ${a}`);
  });

  it("gives one id for spellings of one server (trailing slashes)", () => {
    expect(openRouter({ callbackUrl: CALLBACK, baseUrl: "https://openrouter.ai//" }).id).toBe(openRouter({ callbackUrl: CALLBACK }).id);
  });

  it.each<[string, Partial<OpenRouterOptions>]>([
    ["no callbackUrl", { callbackUrl: undefined as unknown as string }],
    ["an http callback on a public host", { callbackUrl: "http://app.example/callback" }],
    ["a callback with a fragment", { callbackUrl: "https://app.example/callback#done" }],
    ["a callback with user:password", { callbackUrl: "https://user:pass@app.example/callback" }],
    ["a javascript: callback", { callbackUrl: "javascript:alert(1)" }],
    ["a relative callback", { callbackUrl: "/callback" }],
    ["a callback that already carries state", { callbackUrl: "https://app.example/callback?state=fixed" }],
    ["a callback that already carries code", { callbackUrl: "https://app.example/callback?code=fixed" }],
    ["an http baseUrl on a public host", { baseUrl: "http://openrouter.ai" }],
    ["a baseUrl with a query", { baseUrl: "https://openrouter.ai/?region=eu" }],
    ["a baseUrl with an empty query", { baseUrl: "https://openrouter.ai/?" }],
    ["a baseUrl with a query and a path", { baseUrl: "https://proxy.example/or?x=1" }],
    ["a baseUrl with a fragment", { baseUrl: "https://openrouter.ai/#eu" }],
    ["a baseUrl that is no URL", { baseUrl: "openrouter.ai" }],
    ["a key label of 101 characters", { keyLabel: "k".repeat(101) }],
    ["a key label of 101 emoji", { keyLabel: "\u{1F600}".repeat(101) }],
    ["a key label that is no string", { keyLabel: 5 as unknown as string }],
    ["a limit of -1", { limit: -1 }],
    ["a limit of NaN", { limit: Number.NaN }],
    ["a limit of Infinity", { limit: Number.POSITIVE_INFINITY }],
    ["a limit given as a string", { limit: "5" as unknown as number }],
    ["an expiry in the past", { expiresAt: new Date(Date.now() - 60_000) }],
    ["an expiry that is no date", { expiresAt: "next tuesday" }],
    ["an expiry that is an invalid Date", { expiresAt: new Date(Number.NaN) }],
    ["an expiry given as a number", { expiresAt: 1_900_000_000_000 as unknown as Date }],
    ["an expiry of null (the preset has no 'no expiry')", { expiresAt: null as unknown as Date }],
    ["an expiry in the year 10000", { expiresAt: "+010000-01-01T00:00:00Z" }],
    ["an expiry Date in the year 10000", { expiresAt: new Date(Date.UTC(10000, 0, 1)) }],
    ["an expiry that crosses into the year 10000 through its offset", { expiresAt: "9999-12-31T23:30:00-01:00" }],
    ["an expiry in a format engines disagree on", { expiresAt: "Jan 1 2099" }],
    ["an expiry with an impossible month", { expiresAt: "2099-13-01T00:00:00Z" }],
    ["a headless flag that is no boolean", { headless: "yes" as unknown as false }],
    ["a usage limit type of yearly", { usageLimitType: "yearly" as "daily" }],
    ["a challenge method of S512", { codeChallengeMethod: "S512" as "S256" }],
  ])("throws invalid_config for %s", (_, options) => {
    const error = thrown(() => openRouter({ callbackUrl: CALLBACK, ...options }));
    expect(error).toBeInstanceOf(PkceError);
    expect(error.code).toBe("invalid_config");
  });

  it("compares the expiry with the current time", () => {
    vi.spyOn(Date, "now").mockReturnValue(Date.parse("2040-01-01T00:00:00Z"));
    expect(thrown(() => openRouter({ callbackUrl: CALLBACK, expiresAt: "2031-01-01T00:00:00Z" })).code).toBe("invalid_config");
  });
});

describe("openRouter() token request", () => {
  const provider = openRouter({ callbackUrl: CALLBACK, baseUrl: "https://openrouter.example" });
  const request = () => provider.tokenRequest({ code: "the-code", codeVerifier: VERIFIER, codeChallengeMethod: "S256", redirectUri: CALLBACK });

  it("is POST {baseUrl}/api/v1/auth/keys with a JSON body and no Authorization header", async () => {
    const r = request();
    expect(r.method).toBe("POST");
    expect(r.url).toBe("https://openrouter.example/api/v1/auth/keys");
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.headers.has("authorization")).toBe(false);
    expect(JSON.parse(await r.text())).toEqual({ code: "the-code", code_verifier: VERIFIER, code_challenge_method: "S256" });
  });

  it("sends a body valid against OpenRouter's OpenAPI schema", async () => {
    expect(validate(openRouterSchema("/auth/keys", "request"), JSON.parse(await request().text()))).toEqual([]);
  });

  it("goes to https://openrouter.ai by default", () => {
    const r = openRouter({ callbackUrl: CALLBACK }).tokenRequest({ code: "c", codeVerifier: VERIFIER, codeChallengeMethod: "plain", redirectUri: CALLBACK });
    expect(r.url).toBe("https://openrouter.ai/api/v1/auth/keys");
  });

  it.each([
    { body: { key: "sk-or-v1-abc", user_id: "user_2yOP" }, result: { key: "sk-or-v1-abc", userId: "user_2yOP" } },
    { body: { key: "sk-or-v1-abc", user_id: null }, result: { key: "sk-or-v1-abc", userId: null } },
    { body: { key: "sk-or-v1-abc" }, result: { key: "sk-or-v1-abc", userId: null } },
  ])("reads $body as $result", ({ body, result }) => {
    expect(provider.parseResult(body, {})).toEqual(result);
  });

  it.each([{}, { key: "" }, { key: 1 }, { key: null }, { key: "sk-or-v1-abc", user_id: 7 }])("rejects %j with invalid_response", (body) => {
    expect(thrown(() => provider.parseResult(body, {})).code).toBe("invalid_response");
  });
});

describe("buildCreateAuthCodeRequest", () => {
  const full: CreateAuthKeysCodeRequest = {
    callbackUrl: CALLBACK,
    codeChallenge: CHALLENGE,
    codeChallengeMethod: "S256",
    expiresAt: new Date("2030-01-02T03:04:05.000Z"),
    keyLabel: "Agent key",
    limit: 100,
    usageLimitType: "weekly",
    workspaceId: WORKSPACE,
  };

  it("builds POST {baseUrl}/api/v1/auth/keys/code with the Bearer API key and a JSON body", async () => {
    const r = buildCreateAuthCodeRequest(full, { apiKey: API_KEY });
    expect(r.method).toBe("POST");
    expect(r.url).toBe("https://openrouter.ai/api/v1/auth/keys/code");
    expect(r.headers.get("authorization")).toBe(`Bearer ${API_KEY}`);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(await r.text())).toEqual({
      callback_url: CALLBACK,
      code_challenge: CHALLENGE,
      code_challenge_method: "S256",
      expires_at: "2030-01-02T03:04:05Z",
      key_label: "Agent key",
      limit: 100,
      usage_limit_type: "weekly",
      workspace_id: WORKSPACE,
    });
  });

  it.each([
    { name: "every field", params: full },
    { name: "only the callback", params: { callbackUrl: CALLBACK } },
    { name: "no expiry", params: { callbackUrl: CALLBACK, expiresAt: null } },
  ])("sends a body valid against OpenRouter's OpenAPI schema with $name", async ({ params }) => {
    const body: unknown = JSON.parse(await buildCreateAuthCodeRequest(params, { apiKey: API_KEY }).text());
    expect(validate(openRouterSchema("/auth/keys/code", "request"), body)).toEqual([]);
  });

  it("sends only callback_url when nothing else is set, and expires_at null when asked for no expiry", async () => {
    expect(JSON.parse(await buildCreateAuthCodeRequest({ callbackUrl: CALLBACK }, { apiKey: API_KEY }).text())).toEqual({ callback_url: CALLBACK });
    expect(JSON.parse(await buildCreateAuthCodeRequest({ callbackUrl: CALLBACK, expiresAt: null }, { apiKey: API_KEY }).text())).toEqual({
      callback_url: CALLBACK,
      expires_at: null,
    });
  });

  it("uses the given baseUrl", () => {
    expect(buildCreateAuthCodeRequest({ callbackUrl: CALLBACK }, { apiKey: API_KEY, baseUrl: "http://localhost:5173/" }).url).toBe(
      "http://localhost:5173/api/v1/auth/keys/code",
    );
  });

  it.each([
    ["no apiKey", {}],
    ["an empty apiKey", { apiKey: "" }],
    ["an apiKey that is no string", { apiKey: 42 }],
  ])("throws invalid_argument for %s", (_, init) => {
    const error = thrown(() => buildCreateAuthCodeRequest({ callbackUrl: CALLBACK }, init as { apiKey: string }));
    expect(error.code).toBe("invalid_argument");
  });

  it.each<[string, Partial<CreateAuthKeysCodeRequest>]>([
    ["a workspace id that is no UUID", { workspaceId: "workspace-1" }],
    ["a UUID with trailing text", { workspaceId: `${WORKSPACE}x` }],
    ["a challenge that is too short", { codeChallenge: "abc" }],
    ["a challenge with characters outside the unreserved set", { codeChallenge: `${CHALLENGE}+/=` }],
    ["an S256 challenge of 44 characters", { codeChallenge: `${CHALLENGE}A`, codeChallengeMethod: "S256" }],
    ["an S256 challenge of 42 characters", { codeChallenge: CHALLENGE.slice(1), codeChallengeMethod: "S256" }],
    ["an S256 challenge with a dot (unreserved, not base64url)", { codeChallenge: `${CHALLENGE.slice(1)}.`, codeChallengeMethod: "S256" }],
    ["a plain challenge of 129 characters", { codeChallenge: "a".repeat(129), codeChallengeMethod: "plain" }],
    ["a challenge without method of 42 characters", { codeChallenge: "a".repeat(42) }],
    ["a challenge that is no string", { codeChallenge: 43 as unknown as string, codeChallengeMethod: "S256" }],
    ["an expiry in the year 10000", { expiresAt: "+010000-01-01T00:00:00Z" }],
    ["a key label of 101 emoji", { keyLabel: "\u{1F600}".repeat(101) }],
    ["no callbackUrl", { callbackUrl: undefined as unknown as string }],
    ["a challenge method of S512", { codeChallengeMethod: "S512" as "S256" }],
    ["an http callback on a public host", { callbackUrl: "http://app.example/cb" }],
    ["a key label of 101 characters", { keyLabel: "k".repeat(101) }],
    ["a limit of -1", { limit: -1 }],
    ["an expiry in the past", { expiresAt: "2001-01-01T00:00:00Z" }],
    ["a usage limit type of hourly", { usageLimitType: "hourly" as "daily" }],
  ])("throws invalid_config for %s, never showing the API key", (_, params) => {
    const error = thrown(() => buildCreateAuthCodeRequest({ callbackUrl: CALLBACK, ...params }, { apiKey: API_KEY }));
    expect(error.code).toBe("invalid_config");
    expect(error.message).not.toContain(API_KEY);
  });
});

describe("readCreateAuthCodeResponse", () => {
  it("maps {data:{id,app_id,created_at}} to {id, appId, createdAt}", async () => {
    const body = { data: { id: "auth_code_xyz789", app_id: 12345, created_at: "2025-08-24T10:30:00Z" } };
    expect(validate(openRouterSchema("/auth/keys/code", "200"), body)).toEqual([]);
    await expect(readCreateAuthCodeResponse(json(200, body))).resolves.toEqual({ id: "auth_code_xyz789", appId: 12345, createdAt: "2025-08-24T10:30:00Z" });
  });

  it.each([
    { status: 401, body: { error: { code: 401, message: "Missing Authentication header" } }, error: "401" },
    { status: 409, body: { error: { code: 409, message: "Resource conflict. Please try again later." } }, error: "409" },
    { status: 500, body: { error: { code: 500, message: "Internal Server Error" } }, error: "500" },
  ])("turns a $status answer into a TokenError", async ({ status, body, error }) => {
    const caught = await rejection(readCreateAuthCodeResponse(json(status, body)));
    expect(caught).toBeInstanceOf(TokenError);
    expect(caught).toMatchObject({ status, error, errorDescription: body.error.message });
  });

  it("blanks anything shaped like an OpenRouter key from the error and its message, and names the code endpoint", async () => {
    const echoed = "sk-or-v1-0123456789abcdef0123456789abcdef";
    const body = { error: { code: 401, message: `Invalid API key ${echoed} (also tried SK-OR-V1-ffff_00-11)` } };
    const caught = (await rejection(readCreateAuthCodeResponse(json(401, body)))) as TokenError;
    expect(caught).toBeInstanceOf(TokenError);
    expect(caught.errorDescription).toBe("Invalid API key [redacted] (also tried [redacted])");
    expect(caught.message).toBe("code endpoint: HTTP 401 (401: Invalid API key [redacted] (also tried [redacted]))");
    for (const surface of errorSurfaces(caught)) expect(surface).not.toMatch(/sk-or-v1-0|ffff_00/i);
  });

  it.each([
    ["the built request", (request: Request) => request],
    ["the API key itself", () => ` ${PROXY_KEY}\n`],
  ])("blanks the exact API key in every echoed form when given %s", async (_, sent) => {
    const request = buildCreateAuthCodeRequest({ callbackUrl: CALLBACK }, { apiKey: PROXY_KEY });
    const body = { error: { code: 403, message: `key ${PROXY_KEY} / ${encodeURIComponent(PROXY_KEY)} / ${new URLSearchParams({ k: PROXY_KEY }).toString().slice(2)}` } };
    const caught = (await rejection(readCreateAuthCodeResponse(json(403, body), sent(request)))) as TokenError;
    expect(caught.errorDescription).toBe("key [redacted] / [redacted] / [redacted]");
    for (const surface of errorSurfaces(caught)) expect(surface).not.toContain("SENTINEL");
  });

  it("keeps a proxy key's echo when not told the key (only key-shaped text is known then)", async () => {
    const caught = (await rejection(readCreateAuthCodeResponse(json(403, { error: { code: 403, message: `key ${PROXY_KEY}` } })))) as TokenError;
    expect(caught.errorDescription).toBe(`key ${PROXY_KEY}`);
  });

  it.each([42, {}, "two words", ""])("refuses a sent key or request %j with invalid_argument, without reading the answer", async (sent) => {
    const response = json(401, { error: { code: 401, message: "x" } });
    expect((await rejection(readCreateAuthCodeResponse(response, sent as string))).code).toBe("invalid_argument");
    expect(response.bodyUsed).toBe(false);
  });

  it.each([
    ["no data", json(200, {})],
    ["data that is no object", json(200, { data: "code" })],
    ["an app_id that is a string", json(200, { data: { id: "c", app_id: "12345", created_at: "2025-08-24T10:30:00Z" } })],
    ["no id", json(200, { data: { app_id: 1, created_at: "2025-08-24T10:30:00Z" } })],
    ["an HTML page", text(200, "<html></html>", "text/html")],
  ])("rejects an answer with %s as invalid_response", async (_, response) => {
    expect((await rejection(readCreateAuthCodeResponse(response))).code).toBe("invalid_response");
  });
});

describe("buildCreateAuthCodeRequest challenges and base URLs", () => {
  it.each([
    { name: "an S256 challenge of 43 base64url characters", params: { codeChallenge: CHALLENGE, codeChallengeMethod: "S256" as const } },
    { name: "a plain challenge of 43 characters", params: { codeChallenge: VERIFIER, codeChallengeMethod: "plain" as const } },
    { name: "a plain challenge of 128 characters", params: { codeChallenge: "a~._-".repeat(25) + "abc", codeChallengeMethod: "plain" as const } },
    { name: "a challenge without method (plain to the server)", params: { codeChallenge: "~".repeat(60) } },
  ])("accepts $name", async ({ params }) => {
    const body = JSON.parse(await buildCreateAuthCodeRequest({ callbackUrl: CALLBACK, ...params }, { apiKey: API_KEY }).text()) as Record<string, unknown>;
    expect(body["code_challenge"]).toBe(params.codeChallenge);
    expect(body["code_challenge_method"]).toBe(params.codeChallengeMethod);
  });

  it("accepts exactly the 43-character base64url strings as S256 challenges (property)", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=! ";
    fc.assert(
      fc.property(fc.string({ minLength: 40, maxLength: 46, unit: fc.constantFrom(...alphabet) }), (codeChallenge) => {
        const valid = /^[A-Za-z0-9_-]{43}$/.test(codeChallenge);
        try {
          buildCreateAuthCodeRequest({ callbackUrl: CALLBACK, codeChallenge, codeChallengeMethod: "S256" }, { apiKey: API_KEY });
          return valid;
        } catch (error) {
          return !valid && (error as PkceError).code === "invalid_config";
        }
      }),
      { numRuns: 200 },
    );
  });

  it.each(["https://openrouter.ai/?region=eu", "https://openrouter.ai?", "https://openrouter.ai/#x"])("refuses the baseUrl %s with invalid_config", (baseUrl) => {
    expect(thrown(() => buildCreateAuthCodeRequest({ callbackUrl: CALLBACK }, { apiKey: API_KEY, baseUrl })).code).toBe("invalid_config");
  });
});

describe("buildCreateAuthCodeRequest API keys a header cannot carry", () => {
  // Each sits inside a key otherwise made of a sentinel, so any leak of any part of it shows.
  const HEAD = "sk-or-v1-LEAKHEAD0123";
  const TAIL = "LEAKTAIL4567-sentinel";
  it.each([
    ["a newline", "\n"],
    ["a carriage return", "\r"],
    ["CRLF and a header", "\r\nX-Evil: 1"],
    ["NUL", "\0"],
    ["a tab", "\t"],
    ["a space", " "],
    ["U+2028", "\u2028"],
    ["U+00A0", "\u00a0"],
    ["DEL", "\u007f"],
    ["a non-ASCII letter", "é"],
    ["an emoji", "\u{1F511}"],
    ["a lone surrogate", "\ud800"],
  ])("refuses a key with %s inside with invalid_argument, showing no part of it", (_, inner) => {
    const apiKey = HEAD + inner + TAIL;
    const error = thrown(() => buildCreateAuthCodeRequest({ callbackUrl: CALLBACK }, { apiKey }));
    expect(error.code).toBe("invalid_argument");
    for (const surface of errorSurfaces(error)) {
      expect(surface).not.toContain("LEAKHEAD");
      expect(surface).not.toContain("LEAKTAIL");
    }
  });

  it("trims whitespace around the key (a pasted key often ends in a newline)", () => {
    expect(buildCreateAuthCodeRequest({ callbackUrl: CALLBACK }, { apiKey: ` ${API_KEY}\n` }).headers.get("authorization")).toBe(`Bearer ${API_KEY}`);
  });

  it("refuses every key that is not printable ASCII once trimmed, and never shows it (property)", () => {
    const unit = fc.oneof(fc.constantFrom(..."abcXYZ019-_~!"), fc.string({ minLength: 1, maxLength: 1, unit: "binary" }), fc.constantFrom("\u2028", "\u0085", "\0", "\n", " ", "\t"));
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20, unit }), (middle) => {
        const apiKey = `sk-or-v1-Q${middle}Z`;
        const valid = /^[\x21-\x7e]+$/.test(apiKey);
        let error: unknown;
        try {
          const request = buildCreateAuthCodeRequest({ callbackUrl: CALLBACK }, { apiKey });
          return valid && request.headers.get("authorization") === `Bearer ${apiKey}`;
        } catch (e) {
          error = e;
        }
        return !valid && isInvalidArgument(error) && errorSurfaces(error).every((s) => !s.includes(apiKey) && !s.includes(`Q${middle}`));
      }),
      { numRuns: 300 },
    );
  });
});

const isInvalidArgument = (error: unknown) => error instanceof PkceError && error.code === "invalid_argument";

describe("openRouter({ headless: true })", () => {
  // Loosely typed on purpose: the refusals below are what plain JavaScript callers could pass.
  const headless = (options: Record<string, unknown> = {}) => openRouter({ headless: true, ...options } as OpenRouterHeadlessOptions);

  it("leaves callback_url out and sends the challenge, its S256 method and the key settings", () => {
    const url = headless({ keyLabel: "CLI", limit: 2 }).authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256" });
    expect(url.origin + url.pathname).toBe("https://openrouter.ai/auth");
    expect(Object.fromEntries(url.searchParams)).toEqual({ code_challenge: CHALLENGE, code_challenge_method: "S256", key_label: "CLI", limit: "2" });
    expect(url.href).not.toContain(STATE);
  });

  it("is a headless S256 provider without a redirect URI, bound to its server apart from redirect flows", () => {
    const provider = headless({ baseUrl: "http://127.0.0.1:9000/openrouter" });
    expect(provider).toMatchObject({ headless: true, redirectUri: "", codeChallengeMethod: "S256", statelessCallback: false });
    expect(provider.id).toContain("http://127.0.0.1:9000/openrouter");
    expect(provider.id).not.toBe(openRouter({ callbackUrl: CALLBACK, baseUrl: "http://127.0.0.1:9000/openrouter" }).id);
  });

  it("exchanges at the usual endpoint with the usual body", async () => {
    const r = headless().tokenRequest({ code: "pasted", codeVerifier: VERIFIER, codeChallengeMethod: "S256", redirectUri: "" });
    expect(r.url).toBe("https://openrouter.ai/api/v1/auth/keys");
    expect(JSON.parse(await r.text())).toEqual({ code: "pasted", code_verifier: VERIFIER, code_challenge_method: "S256" });
  });

  it.each<[string, Record<string, unknown>]>([
    ["a callbackUrl", { callbackUrl: CALLBACK }],
    ["an empty callbackUrl", { callbackUrl: "" }],
    ["the plain method (the code is shown on screen)", { codeChallengeMethod: "plain" }],
    ["a baseUrl with a query", { baseUrl: "https://openrouter.ai/?a=b" }],
    ["an expiry of null", { expiresAt: null as unknown as string }],
  ])("refuses %s with invalid_config", (_, options) => {
    expect(thrown(() => headless(options)).code).toBe("invalid_config");
  });

  it("still needs a callbackUrl without headless", () => {
    // @ts-expect-error callbackUrl is required without headless: true
    expect(thrown(() => openRouter({ headless: false })).code).toBe("invalid_config");
    // @ts-expect-error callbackUrl is required without headless: true
    expect(thrown(() => openRouter({})).code).toBe("invalid_config");
  });
});

describe("openRouter() per-request params", () => {
  const url = (params: Record<string, string | number | boolean>, options: Partial<OpenRouterOptions> = {}) =>
    openRouter({ callbackUrl: CALLBACK, keyLabel: "Default", ...options }).authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params });

  it("adds them after the preset's own, as String(value), overriding a key setting for this request", () => {
    const auth = url({ key_label: "This time", limit: 3, flag: true, empty: "" });
    expect([...auth.searchParams.keys()]).toEqual(["callback_url", "code_challenge", "code_challenge_method", "key_label", "limit", "flag", "empty"]);
    expect(Object.fromEntries(auth.searchParams)).toMatchObject({ key_label: "This time", limit: "3", flag: "true", empty: "" });
  });

  it.each([
    "callback_url",
    "code_challenge",
    "code_challenge_method",
    "state",
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "nonce",
    "response_mode",
    "request",
    "request_uri",
    "Callback_URL",
    " state ",
    "CODE_CHALLENGE\t",
  ])("refuses to set %j with invalid_argument", (name) => {
    expect(thrown(() => url({ [name]: "x" })).code).toBe("invalid_argument");
    const headless = openRouter({ headless: true });
    expect(thrown(() => headless.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params: { [name]: "x" } })).code).toBe("invalid_argument");
  });

  it.each([null, undefined, {}, [], () => "x", 1n])("refuses the value %s with invalid_argument", (value) => {
    expect(thrown(() => url({ prompt: value as unknown as string })).code).toBe("invalid_argument");
  });

  it.each<[string, string | number | boolean]>([
    ["limit", "-1e309"],
    ["limit", -1],
    ["limit", "5"],
    ["limit", true],
    ["usage_limit_type", "forever"],
    ["expires_at", "1970-01-01"],
    ["expires_at", "10000-01-01T00:00:00Z"],
    ["expires_at", "tomorrow"],
    ["key_label", "x".repeat(101)],
    ["key_label", 7],
    ["LIMIT", -1],
    [" usage_limit_type ", "yearly"],
  ])("checks the key setting %j = %j as openRouter() does, refusing it with invalid_argument", (name, value) => {
    const configured = { limit: 5, usageLimitType: "daily", expiresAt: "2099-01-01T00:00:00Z" } as const;
    const error = thrown(() => url({ [name]: value }, configured));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toMatch(/^params: (keyLabel|limit|usageLimitType|expiresAt) /);
    const headless = openRouter({ headless: true, ...configured });
    expect(thrown(() => headless.authorizationUrl({ state: STATE, codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params: { [name]: value } })).code).toBe("invalid_argument");
  });

  it("sends a per-request key setting in the form openRouter() sends it (expires_at as ISO 8601 seconds, UTC)", () => {
    const auth = url({ expires_at: "2099-06-01T12:00:00.750+02:00", usage_limit_type: "weekly", limit: 0, key_label: "🔑".repeat(100) });
    expect(Object.fromEntries(auth.searchParams)).toMatchObject({ expires_at: "2099-06-01T10:00:00Z", usage_limit_type: "weekly", limit: "0", key_label: "🔑".repeat(100) });
  });
});

describe("openRouter() providers in a flow", () => {
  const KEY_BODY = { key: "sk-or-v1-from-the-exchange", user_id: null };

  it("never exchanges a transaction started against another baseUrl (staging vs production)", async () => {
    const storage = new MemoryStorage();
    const staging = createFlow(openRouter({ callbackUrl: CALLBACK, baseUrl: "https://staging.openrouter.example" }), { storage });
    const auth = await staging.authorize();
    const state = new URL(auth.searchParams.get("callback_url")!).searchParams.get("state")!;
    const recorder = fetchRecorder(() => json(200, KEY_BODY));
    const production = createFlow(openRouter({ callbackUrl: CALLBACK }), { storage, fetch: recorder.fetch });
    await expect(production.handleCallback(`${CALLBACK}?state=${state}&code=abc`)).resolves.toBeNull();
    expect(recorder.calls).toHaveLength(0);
    expect(storage.keys()).toHaveLength(1);
  });

  it("headless: start() is refused, authorize() gives a URL without callback_url, exchangeCode() sends the pasted code and the verifier once", async () => {
    const storage = new MemoryStorage();
    const recorder = fetchRecorder(() => json(200, KEY_BODY));
    const flow = createFlow(openRouter({ headless: true, baseUrl: "https://openrouter.example" }), { storage, fetch: recorder.fetch });
    expect((await rejection(flow.start())).code).toBe("invalid_config");
    const auth = await flow.authorize();
    expect(auth.searchParams.has("callback_url")).toBe(false);
    const [entry] = [...storage.data.values()].map((v) => JSON.parse(v) as { codeVerifier: string });
    expect(auth.searchParams.get("code_challenge")).toBe(await createCodeChallenge(entry!.codeVerifier));
    await expect(flow.exchangeCode("  pasted-code\n")).resolves.toEqual({ key: KEY_BODY.key, userId: null });
    expect(recorder.calls).toHaveLength(1);
    expect(recorder.calls[0]!.request.url).toBe("https://openrouter.example/api/v1/auth/keys");
    expect(JSON.parse(await recorder.calls[0]!.body)).toEqual({ code: "pasted-code", code_verifier: entry!.codeVerifier, code_challenge_method: "S256" });
    expect(storage.keys()).toEqual([]);
  });

  it("headless: popup() is refused before any window opens, and nothing is stored", async () => {
    const storage = new MemoryStorage();
    const open = vi.spyOn(globalThis, "open").mockImplementation(() => null);
    const flow = createFlow(openRouter({ headless: true }), { storage });
    expect((await rejection(flow.popup())).code).toBe("invalid_config");
    expect(open).not.toHaveBeenCalled();
    expect(storage.keys()).toEqual([]);
    expect(flow.snapshot()).toMatchObject({ status: "failed", error: { code: "invalid_config" } });
  });

  it("headless: a pasted 1-character code never splits the verifier's echo, which would then leak in pieces", async () => {
    const storage = new MemoryStorage();
    // The server echoes the whole request body in its error message.
    const recorder = fetchRecorder(async (call) => json(400, { error: { code: 400, message: `bad request ${await call.body}` } }));
    const flow = createFlow(openRouter({ headless: true, baseUrl: "https://openrouter.example" }), { storage, fetch: recorder.fetch });
    await flow.authorize();
    const [entry] = [...storage.data.values()].map((v) => JSON.parse(v) as { codeVerifier: string });
    const verifier = entry!.codeVerifier;
    // The character of the verifier that leaves its longest piece when cut out (a slip of the mouse).
    const pieces = (c: string) => verifier.toLowerCase().split(c.toLowerCase());
    const pasted = [...verifier].sort((a, b) => Math.max(...pieces(b).map((p) => p.length)) - Math.max(...pieces(a).map((p) => p.length)))[0]!;
    const caught = (await rejection(flow.exchangeCode(pasted))) as TokenError;
    expect(caught).toBeInstanceOf(TokenError);
    expect(recorder.calls).toHaveLength(1);
    const longest = pieces(pasted).filter((p) => p.length >= 8);
    expect(longest.length).toBeGreaterThan(0);
    for (const surface of errorSurfaces(caught)) for (const piece of longest) expect(surface.toLowerCase()).not.toContain(piece);
  });

  it("a redirect flow and a headless flow on one storage never take each other's transactions", async () => {
    const storage = new MemoryStorage();
    const recorder = fetchRecorder(() => json(200, KEY_BODY));
    await createFlow(openRouter({ callbackUrl: CALLBACK }), { storage }).authorize();
    const headless = createFlow(openRouter({ headless: true }), { storage, fetch: recorder.fetch });
    expect((await rejection(headless.exchangeCode("pasted"))).code).toBe("no_transaction");
    expect(recorder.calls).toHaveLength(0);
    expect(storage.keys()).toHaveLength(1);
    // And a stateless callback still finds its one redirect transaction, not counting headless ones.
    await headless.authorize();
    const redirect = createFlow(openRouter({ callbackUrl: CALLBACK }), { storage, fetch: recorder.fetch });
    await expect(redirect.handleCallback(`${CALLBACK}?code=abc`)).resolves.toEqual({ key: KEY_BODY.key, userId: null });
  });
});

describe("openRouter() key settings as classes (properties)", () => {
  it("accepts a key label exactly when it has at most 100 code points", () => {
    const unit = fc.oneof(fc.constantFrom("a", "é", "\u{1F600}", "\u{1F468}\u200D\u{1F469}", " "), fc.string({ minLength: 1, maxLength: 1, unit: "grapheme" }));
    fc.assert(
      fc.property(fc.string({ minLength: 90, maxLength: 110, unit }), (keyLabel) => {
        const fits = [...keyLabel].length <= 100;
        try {
          const sent = authUrl({ keyLabel }).searchParams.get("key_label");
          return fits && sent === keyLabel;
        } catch (error) {
          return !fits && (error as PkceError).code === "invalid_config";
        }
      }),
      { numRuns: 200 },
    );
  });

  it("sends any future instant up to 9999-12-31T23:59:59Z as that second, UTC, and refuses every later one", () => {
    const now = Date.now();
    fc.assert(
      // A minute ahead at least: the expiry is cut to whole seconds and must still be in the future
      // when the check runs, however slow the machine.
      fc.property(fc.integer({ min: now + 60_000, max: 253402300799999 + 10 ** 12 }), fc.boolean(), (time, asString) => {
        const date = new Date(time);
        const valid = time < 253402300800000;
        try {
          const sent = authUrl({ expiresAt: asString ? date.toISOString() : date }).searchParams.get("expires_at")!;
          return valid && sent === date.toISOString().replace(/\.\d{3}Z$/, "Z");
        } catch (error) {
          return !valid && (error as PkceError).code === "invalid_config";
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("openRouter(): per-request params, their shape and their dates", () => {
  const CB = "https://app.example/callback";
  const CH = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  const auth = (params: unknown, options: Record<string, unknown> = {}) =>
    openRouter({ callbackUrl: CB, ...options }).authorizationUrl({ state: "st", codeChallenge: CH, codeChallengeMethod: "S256", params: params as never });

  it("takes params: null as none, as oauth2() does", () => {
    expect(auth(null).searchParams.get("code_challenge")).toBe(CH);
  });

  it.each(["ab", ["a"], 5])("refuses params %j, which are no object, with invalid_argument", (params) => {
    expect(thrown(() => auth(params)).code).toBe("invalid_argument");
  });

  it.each<[string, () => unknown, string]>([
    ["the expiresAt option", () => auth(undefined, { expiresAt: "2099-02-31" }), "invalid_config"],
    ["a per-request expires_at", () => auth({ expires_at: "2099-02-31T00:00:00Z" }), "invalid_argument"],
    ["a 30th of February", () => auth(undefined, { expiresAt: "2096-02-30T10:00:00Z" }), "invalid_config"],
  ])("refuses a day the month does not have in %s, rather than rolling it into the next month", (_, build, code) => {
    expect(thrown(build).code).toBe(code);
  });

  it("still takes the 29th of February of a leap year", () => {
    expect(auth(undefined, { expiresAt: "2096-02-29T10:00:00Z" }).searchParams.get("expires_at")).toBe("2096-02-29T10:00:00Z");
  });
});
