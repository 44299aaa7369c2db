import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { createServer as createViteServer, preview } from "vite";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createEmulator, type EmulatorLog } from "../../demo/emulator/emulator.ts";
import { openRouterEmulator } from "../../demo/emulator/plugin.ts";
import { startEmulator, type RunningEmulator } from "../../demo/emulator/server.ts";
import { forEachEngine } from "../support/engine.ts";

// RFC 7636 appendix B: a verifier and its S256 challenge, computed independently of the emulator.
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const S256_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CALLBACK = "http://127.0.0.1:5173/callback?state=abc123&next=%2Fhome";
const TTL = 600_000;
const DEMO_KEY = "sk-or-v1-emulator-demo";

// --- OpenAPI schemas (official excerpt) through Ajv ---------------------------------------------

const spec = JSON.parse(readFileSync(new URL("../fixtures/openrouter-oauth.openapi.json", import.meta.url), "utf8")) as object;
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i);
ajv.addFormat("uuid", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
ajv.addFormat("uri", { validate: (value: string) => URL.canParse(value) });
ajv.addFormat("double", { type: "number", validate: Number.isFinite });
ajv.addSchema(spec, "openapi");

function schema(path: "/auth/keys" | "/auth/keys/code" | "/key", where: string): (data: unknown) => void {
  const method = path === "/key" ? "get" : "post";
  const pointer = `/paths/${path.replaceAll("/", "~1")}/${method}/${where.replaceAll("application/json", "application~1json")}`;
  const validate = ajv.getSchema(`openapi#${pointer}`);
  if (!validate) throw new Error(`no schema at ${pointer}`);
  return (data) => {
    if (!validate(data)) throw new Error(`${path} ${where}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(data)}`);
  };
}

function schemaAccepts(check: (data: unknown) => void, data: unknown): boolean {
  try {
    check(data);
    return true;
  } catch {
    return false;
  }
}

const exchangeOk = schema("/auth/keys", "responses/200/content/application/json/schema");
const exchangeError = (status: 400 | 403) => schema("/auth/keys", `responses/${status}/content/application/json/schema`);
const codeRequestBody = schema("/auth/keys/code", "requestBody/content/application/json/schema");
const codeOk = schema("/auth/keys/code", "responses/200/content/application/json/schema");
const codeError = (status: 400 | 401) => schema("/auth/keys/code", `responses/${status}/content/application/json/schema`);
const keyOk = schema("/key", "responses/200/content/application/json/schema");
const keyUnauthorized = schema("/key", "responses/401/content/application/json/schema");

// --- one emulator for the file, with a clock tests can move -------------------------------------

let running: RunningEmulator;
let url: string;
let clock = Date.now();

beforeAll(async () => {
  running = await startEmulator({ now: () => clock });
  url = running.url;
});
afterAll(() => running.close());
beforeEach(() => {
  clock = Date.now();
  running.emulator.reset();
});

const log = (): EmulatorLog => running.emulator.log;

function authUrl(params: Record<string, string>): string {
  return `${url}/auth?${new URLSearchParams(params).toString()}`;
}

async function openConsent(params: Record<string, string>): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await fetch(authUrl(params), { redirect: "manual" });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

function submitDecision(html: string, decision: string): Promise<Response> {
  const request = /name="request" value="([^"]+)"/.exec(html)?.[1] ?? "";
  const body = new URLSearchParams({ request, decision });
  return fetch(`${url}/auth`, { method: "POST", body, redirect: "manual" });
}

/** Goes through the consent page and returns where the user is sent back to. */
async function authorize(params: Record<string, string>, decision: "allow" | "deny" = "allow"): Promise<string> {
  const page = await openConsent(params);
  expect(page.status).toBe(200);
  const res = await submitDecision(page.html, decision);
  expect(res.status).toBe(303);
  return res.headers.get("location")!;
}

async function codeFor(params: Record<string, string>): Promise<string> {
  return new URL(await authorize({ callback_url: CALLBACK, ...params })).searchParams.get("code")!;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : JSON.parse(text), headers: res.headers };
}

const exchange = (body: unknown, headers?: Record<string, string>) => post("/api/v1/auth/keys", body, headers);
const createCode = (body: unknown, key: string | null = DEMO_KEY) => post("/api/v1/auth/keys/code", body, key === null ? {} : { Authorization: `Bearer ${key}` });

describe("consent page, GET /auth", () => {
  it("shows the callback origin and every key setting received, with Allow and Deny buttons", async () => {
    const page = await openConsent({
      callback_url: CALLBACK,
      code_challenge: S256_CHALLENGE,
      code_challenge_method: "S256",
      key_label: "Demo key",
      limit: "12.5",
      usage_limit_type: "weekly",
      expires_at: "2099-12-31T23:59:59Z",
    });
    expect(page.status).toBe(200);
    expect(page.html).toContain("127.0.0.1:5173</span> wants to connect to your OpenRouter account");
    expect(page.html).toContain('<strong id="callback-origin">http://127.0.0.1:5173</strong>');
    for (const shown of ["<dd>Demo key</dd>", "<dd>12.5</dd>", "<dd>weekly</dd>", "<dd>2099-12-31T23:59:59Z</dd>", "<dd>S256</dd>"]) {
      expect(page.html).toContain(shown);
    }
    expect(page.html).toMatch(/<button type="submit" name="decision" value="allow" id="allow">Allow<\/button>/);
    expect(page.html).toMatch(/<button type="submit" name="decision" value="deny" id="deny">Deny<\/button>/);
    expect(page.html).not.toContain("<script");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self' http://127.0.0.1:5173;");
    expect(log().authRequests).toEqual([
      expect.objectContaining({ status: 200, error: null, codeChallengeMethod: "S256", decision: null, params: expect.objectContaining({ key_label: "Demo key", limit: "12.5" }) }),
    ]);
  });

  it("escapes every echoed value, so markup in key_label stays text", async () => {
    const attack = `"><script>alert(1)</script><img src=x onerror=alert(1)>`;
    const page = await openConsent({ callback_url: CALLBACK, key_label: attack, usage_limit_type: "daily" });
    expect(page.status).toBe(200);
    expect(page.html).not.toContain("<script");
    expect(page.html).not.toContain("<img");
    expect(page.html).toContain("&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62;");
    expect(log().authRequests[0]!.params.key_label).toBe(attack);
  });

  it("binds a challenge sent without a method to plain (RFC 7636 default) and records it", async () => {
    const page = await openConsent({ callback_url: CALLBACK, code_challenge: VERIFIER });
    expect(page.status).toBe(200);
    expect(page.html).toContain("plain (no code_challenge_method sent");
    expect(log().authRequests[0]!.codeChallengeMethod).toBe("plain");
  });

  it("Allow sends the user back with code appended, the callback's own query kept byte for byte", async () => {
    const location = await authorize({ callback_url: CALLBACK, code_challenge: S256_CHALLENGE, code_challenge_method: "S256" });
    expect(location).toMatch(/^http:\/\/127\.0\.0\.1:5173\/callback\?state=abc123&next=%2Fhome&code=[A-Za-z0-9_-]{43}$/);
    expect(log().authRequests[0]!.decision).toBe("allow");
  });

  it("Allow adds ?code= to a callback without a query", async () => {
    const location = await authorize({ callback_url: "https://app.example:8443/cb" });
    expect(location).toMatch(/^https:\/\/app\.example:8443\/cb\?code=[A-Za-z0-9_-]{43}$/);
  });

  it("Deny sends error=access_denied with a description and no code", async () => {
    const location = new URL(await authorize({ callback_url: CALLBACK }, "deny"));
    expect(location.searchParams.get("state")).toBe("abc123");
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("error_description")).toMatch(/denied/);
    expect(location.searchParams.has("code")).toBe(false);
    expect(log().authRequests[0]!.decision).toBe("deny");
  });

  it("answers each consent request once, so a double click cannot mint two codes", async () => {
    const page = await openConsent({ callback_url: CALLBACK });
    expect((await submitDecision(page.html, "allow")).status).toBe(303);
    const second = await submitDecision(page.html, "allow");
    expect(second.status).toBe(400);
    expect(second.headers.get("location")).toBeNull();
    expect(await second.text()).toContain("already answered or has expired");
  });

  it("refuses a decision on a consent page left open for 10 minutes", async () => {
    const page = await openConsent({ callback_url: CALLBACK });
    clock += TTL;
    const res = await submitDecision(page.html, "allow");
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });

  it.each([
    ["http on a non-loopback host", { callback_url: "http://app.example/cb" }, "https, or http on localhost"],
    ["http on another loopback address", { callback_url: "http://127.0.0.2:5173/cb" }, "https, or http on localhost"],
    ["a javascript: URL", { callback_url: "javascript:alert(1)" }, "https, or http on localhost"],
    ["a data: URL", { callback_url: "data:text/html,hi" }, "https, or http on localhost"],
    ["a fragment", { callback_url: "https://app.example/cb#x" }, "fragment"],
    ["an empty fragment", { callback_url: "https://app.example/cb#" }, "fragment"],
    ["user:password", { callback_url: "https://user:pw@app.example/cb" }, "user name or password"],
    ["a relative URL", { callback_url: "/callback" }, "absolute URL"],
    ["a newline inside", { callback_url: "https://app.exa\nmple/cb" }, "control characters"],
    ["no callback_url and no code_challenge (headless needs PKCE)", {}, "code_challenge is required without callback_url"],
    ["no callback_url and a challenge method only", { code_challenge_method: "S256" }, "code_challenge is required without callback_url"],
    ["two callback_url", "callback_url=https%3A%2F%2Fa.example%2F&callback_url=https%3A%2F%2Fb.example%2F", "at most once"],
    ["method S512", { callback_url: CALLBACK, code_challenge: S256_CHALLENGE, code_challenge_method: "S512" }, "Invalid code_challenge_method"],
    ["method s256 (case matters)", { callback_url: CALLBACK, code_challenge: S256_CHALLENGE, code_challenge_method: "s256" }, "Invalid code_challenge_method"],
    ["a challenge too short", { callback_url: CALLBACK, code_challenge: "abc", code_challenge_method: "S256" }, "43 to 128"],
    ["an S256 challenge of 44 characters", { callback_url: CALLBACK, code_challenge: `${S256_CHALLENGE}A`, code_challenge_method: "S256" }, "43 base64url"],
    ["an S256 challenge with a tilde", { callback_url: CALLBACK, code_challenge: `${S256_CHALLENGE.slice(1)}~`, code_challenge_method: "S256" }, "43 base64url"],
    ["a negative limit", { callback_url: CALLBACK, limit: "-1" }, "limit"],
    ["a non-numeric limit", { callback_url: CALLBACK, limit: "0x10" }, "limit"],
    ["a yearly usage_limit_type", { callback_url: CALLBACK, usage_limit_type: "yearly" }, "usage_limit_type"],
    ["expires_at in the past", { callback_url: CALLBACK, expires_at: "2020-01-01T00:00:00Z" }, "in the future"],
    ["a 101-character key_label", { callback_url: CALLBACK, key_label: "x".repeat(101) }, "key_label"],
  ])("shows a 400 page instead of redirecting for %s", async (_, params, message) => {
    const res = await fetch(`${url}/auth?${new URLSearchParams(params).toString()}`, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("form-action 'none'");
    const html = await res.text();
    expect(html).toContain(message);
    expect(html).not.toContain('id="allow"');
    expect(log().authRequests).toEqual([expect.objectContaining({ status: 400, error: expect.stringContaining(message) })]);
  });

  it.each(["https://app.example/cb", "https://app.example:8443/cb", "http://localhost:3000/cb", "http://127.0.0.1:49152/cb", "http://[::1]:5173/cb"])(
    "accepts the callback %s",
    async (callback) => {
      expect((await openConsent({ callback_url: callback })).status).toBe(200);
    },
  );
});

describe("exchange, POST /api/v1/auth/keys", () => {
  it("trades an S256 code and its verifier for a key, as the OpenAPI schema describes", async () => {
    const code = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256", key_label: "Mine", limit: "5", usage_limit_type: "monthly" });
    const res = await exchange({ code, code_verifier: VERIFIER, code_challenge_method: "S256" });
    expect(res.status).toBe(200);
    exchangeOk(res.body);
    expect(res.body.key).toMatch(/^sk-or-v1-[0-9a-f]{64}$/);
    expect(res.body.user_id).toMatch(/^user_[A-Za-z0-9]{27}$/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(log().keys).toEqual([
      expect.objectContaining({ key: res.body.key, userId: res.body.user_id, source: "auth", keyLabel: "Mine", limit: 5, usageLimitType: "monthly", expiresAt: null }),
    ]);
  });

  it("trades a plain code whose verifier equals the challenge", async () => {
    const code = await codeFor({ code_challenge: VERIFIER, code_challenge_method: "plain" });
    const res = await exchange({ code, code_verifier: VERIFIER, code_challenge_method: "plain" });
    expect(res.status).toBe(200);
    exchangeOk(res.body);
  });

  it("trades a code created without a challenge for the code alone", async () => {
    const res = await exchange({ code: await codeFor({}) });
    expect(res.status).toBe(200);
    exchangeOk(res.body);
  });

  it.each([
    ["a wrong verifier", { code_verifier: "x".repeat(43), code_challenge_method: "S256" }],
    ["the challenge sent as verifier", { code_verifier: S256_CHALLENGE, code_challenge_method: "S256" }],
    ["no verifier", { code_challenge_method: "S256" }],
  ])("refuses %s with 403", async (_, rest) => {
    const code = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256" });
    const res = await exchange({ code, ...rest });
    expect(res.status).toBe(403);
    exchangeError(403)(res.body);
    expect(res.body.error).toEqual({ code: 403, message: "Invalid code or code_verifier" });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("refuses a code already exchanged with 403 (single use)", async () => {
    const code = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256" });
    const body = { code, code_verifier: VERIFIER, code_challenge_method: "S256" };
    expect((await exchange(body)).status).toBe(200);
    const again = await exchange(body);
    expect(again.status).toBe(403);
    exchangeError(403)(again.body);
    expect(log().keys).toHaveLength(1);
  });

  it("burns a code on a failed attempt too", async () => {
    const code = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256" });
    expect((await exchange({ code, code_verifier: "y".repeat(43), code_challenge_method: "S256" })).status).toBe(403);
    expect((await exchange({ code, code_verifier: VERIFIER, code_challenge_method: "S256" })).status).toBe(403);
  });

  it("refuses an unknown code with 403", async () => {
    const res = await exchange({ code: "auth_code_abc123def456", code_verifier: VERIFIER, code_challenge_method: "S256" });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe("Invalid code or code_verifier");
  });

  it("accepts a code until 10 minutes have passed and refuses it from then on with 403 expired", async () => {
    const body = { code_verifier: VERIFIER, code_challenge_method: "S256" };
    const fresh = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256" });
    const stale = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256" });
    clock += TTL - 1;
    expect((await exchange({ code: fresh, ...body })).status).toBe(200);
    clock += 1;
    const res = await exchange({ code: stale, ...body });
    expect(res.status).toBe(403);
    exchangeError(403)(res.body);
    expect(res.body.error.message).toBe("Authorization code expired");
  });

  it.each([
    ["S256 at /auth, plain at the exchange", { code_challenge: S256_CHALLENGE, code_challenge_method: "S256" }, { code_verifier: VERIFIER, code_challenge_method: "plain" }],
    ["S256 at /auth, no method at the exchange", { code_challenge: S256_CHALLENGE, code_challenge_method: "S256" }, { code_verifier: VERIFIER }],
    ["plain at /auth, S256 at the exchange", { code_challenge: VERIFIER, code_challenge_method: "plain" }, { code_verifier: VERIFIER, code_challenge_method: "S256" }],
    ["no challenge at /auth, S256 at the exchange", {}, { code_verifier: VERIFIER, code_challenge_method: "S256" }],
  ])("refuses a method mismatch with 400: %s", async (_, authParams, rest) => {
    const res = await exchange({ code: await codeFor(authParams), ...rest });
    expect(res.status).toBe(400);
    exchangeError(400)(res.body);
    expect(res.body.error).toEqual({ code: 400, message: "Invalid code_challenge_method" });
  });

  it("treats a missing method as plain when /auth got a challenge without one", async () => {
    const code = await codeFor({ code_challenge: VERIFIER });
    expect((await exchange({ code, code_verifier: VERIFIER })).status).toBe(200);
  });

  it.each([
    ["a body that is not JSON", "{code:", {}],
    ["a JSON array", "[]", {}],
    ["no code", { code_verifier: VERIFIER }, {}],
    ["a numeric code", { code: 42 }, {}],
    ["an unknown method", { code: "abc", code_challenge_method: "S512" }, {}],
    ["an unknown field", { code: "abc", grant_type: "authorization_code" }, {}],
    ["a form body", "code=abc", { "Content-Type": "application/x-www-form-urlencoded" }],
  ])("refuses %s with 400", async (_, body, headers) => {
    const res = await exchange(body, headers);
    expect(res.status).toBe(400);
    exchangeError(400)(res.body);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(log().exchanges).toEqual([expect.objectContaining({ status: 400 })]);
  });

  it.each(["GET", "PUT", "DELETE", "PATCH"])("refuses %s with 405 and the error body", async (method) => {
    const res = await fetch(`${url}/api/v1/auth/keys`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST, OPTIONS");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await res.json()).toEqual({ error: { code: 405, message: expect.any(String) } });
  });
});

describe("CORS", () => {
  it.each(["/api/v1/auth/keys", "/api/v1/auth/keys/code"])("answers a preflight for %s from another origin", async (path) => {
    const res = await fetch(url + path, {
      method: "OPTIONS",
      headers: { Origin: "http://localhost:5173", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,authorization" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toBe("POST, OPTIONS");
    expect(res.headers.get("access-control-allow-headers")).toBe("Content-Type, Authorization");
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
  });
});

describe("create a code, POST /api/v1/auth/keys/code", () => {
  const valid = { callback_url: "https://myapp.com/auth/callback", code_challenge: S256_CHALLENGE, code_challenge_method: "S256", limit: 100 };

  it.each([
    ["no Authorization header", null],
    ["an unknown key", "sk-or-v1-not-a-key"],
  ])("refuses %s with 401", async (_, key) => {
    const res = await createCode(valid, key);
    expect(res.status).toBe(401);
    codeError(401)(res.body);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(log().codeRequests).toEqual([expect.objectContaining({ status: 401, code: null })]);
  });

  // `schema` says whether the official schema itself refuses the body too; the others are OpenRouter's documented rules.
  it.each([
    ["no callback_url", { callback_url: undefined }, true],
    ["a numeric callback_url", { callback_url: 42 }, true],
    ["an http callback_url off loopback", { callback_url: "http://myapp.com/cb" }, false],
    ["a callback_url with a fragment", { callback_url: "https://myapp.com/cb#x" }, false],
    ["a numeric code_challenge", { code_challenge: 42 }, true],
    ["a code_challenge outside RFC 7636", { code_challenge: "short" }, false],
    ["an S256 code_challenge of 44 characters", { code_challenge: `${S256_CHALLENGE}A` }, false],
    ["code_challenge_method S512", { code_challenge_method: "S512" }, true],
    ["code_challenge_method null", { code_challenge_method: null }, true],
    ["expires_at that is no date-time", { expires_at: "tomorrow" }, true],
    ["expires_at without seconds", { expires_at: "2099-12-31T23:59Z" }, true],
    ["expires_at in the past", { expires_at: "2020-01-01T00:00:00Z" }, false],
    ["a 101-character key_label", { key_label: "é".repeat(101) }, true],
    ["a numeric key_label", { key_label: 5 }, true],
    ["a string limit", { limit: "100" }, true],
    ["a negative limit", { limit: -1 }, false],
    ["usage_limit_type yearly", { usage_limit_type: "yearly" }, true],
    ["a workspace_id that is no UUID", { workspace_id: "ws-1" }, true],
    ["an unknown field", { keyLabel: "camelCase" }, false],
  ])("refuses %s with 400", async (_, patch, schemaRefuses) => {
    const body = JSON.parse(JSON.stringify({ ...valid, ...patch })) as unknown;
    expect(schemaAccepts(codeRequestBody, body)).toBe(!schemaRefuses);
    const res = await createCode(body);
    expect(res.status).toBe(400);
    codeError(400)(res.body);
    expect(log().codeRequests).toEqual([expect.objectContaining({ status: 400, code: null })]);
  });

  it("refuses a body that is not JSON with 400", async () => {
    const res = await createCode("{");
    expect(res.status).toBe(400);
    codeError(400)(res.body);
  });

  it("creates a schema-valid code that the exchange accepts like one from /auth", async () => {
    const body = { ...valid, key_label: "CLI", usage_limit_type: "daily", expires_at: "2099-01-01T00:00:00Z", workspace_id: "0f8fad5b-d9cb-469f-a165-70867728950e" };
    codeRequestBody(body);
    const created = await createCode(body);
    expect(created.status).toBe(200);
    codeOk(created.body);
    expect(created.body.data.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const res = await exchange({ code: created.body.data.id, code_verifier: VERIFIER, code_challenge_method: "S256" });
    expect(res.status).toBe(200);
    exchangeOk(res.body);
    expect(log().keys).toEqual([
      expect.objectContaining({ source: "keys/code", keyLabel: "CLI", limit: 100, usageLimitType: "daily", expiresAt: "2099-01-01T00:00:00Z", workspaceId: body.workspace_id }),
    ]);
    expect(log().codeRequests).toEqual([expect.objectContaining({ status: 200, code: created.body.data.id })]);
  });

  it("accepts a key it minted as Bearer, and gives each key's app a stable app_id", async () => {
    const minted = await exchange({ code: (await createCode({ callback_url: CALLBACK })).body.data.id });
    expect(minted.status).toBe(200);
    const first = await createCode({ callback_url: CALLBACK }, minted.body.key);
    const second = await createCode({ callback_url: CALLBACK }, minted.body.key);
    expect(first.status).toBe(200);
    expect(second.body.data.app_id).toBe(first.body.data.app_id);
    expect(first.body.data.id).not.toBe(second.body.data.id);
  });
});

describe("headless, GET /auth without callback_url", () => {
  const headless = { code_challenge: S256_CHALLENGE, code_challenge_method: "S256", key_label: "CLI" };

  it("shows a consent page that says a code will be shown, whose form may post only here", async () => {
    const page = await openConsent(headless);
    expect(page.status).toBe(200);
    expect(page.html).toContain('id="headless"');
    expect(page.html).not.toContain("callback-origin");
    expect(page.html).toContain("<dd>CLI</dd>");
    expect(page.headers.get("content-security-policy")).toContain("form-action 'self';");
    expect(log().authRequests).toEqual([expect.objectContaining({ status: 200, codeChallengeMethod: "S256", params: headless })]);
  });

  it("Allow shows the code on the page in #code, and nowhere else: no redirect", async () => {
    const page = await openConsent(headless);
    const res = await submitDecision(page.html, "allow");
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("content-security-policy")).toContain("form-action 'none'");
    const code = /<code id="code">([A-Za-z0-9_-]{43})<\/code>/.exec(await res.text())?.[1];
    expect(code).toBeDefined();
    const exchanged = await exchange({ code, code_verifier: VERIFIER, code_challenge_method: "S256" });
    expect(exchanged.status).toBe(200);
    exchangeOk(exchanged.body);
    expect(log().keys).toEqual([expect.objectContaining({ source: "auth", keyLabel: "CLI" })]);
  });

  it("the shown code is single use and bound to the verifier like any other", async () => {
    const page = await openConsent(headless);
    const code = /<code id="code">([^<]+)<\/code>/.exec(await (await submitDecision(page.html, "allow")).text())![1];
    expect((await exchange({ code, code_verifier: "z".repeat(43), code_challenge_method: "S256" })).status).toBe(403);
    expect((await exchange({ code, code_verifier: VERIFIER, code_challenge_method: "S256" })).status).toBe(403);
  });

  it("Deny shows a page without a code", async () => {
    const page = await openConsent(headless);
    const res = await submitDecision(page.html, "deny");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="denied"');
    expect(html).not.toContain('id="code"');
    expect(log().authRequests[0]!.decision).toBe("deny");
  });
});

/** Mints a key through /auth with `settings` and the exchange; returns it. */
async function mintKey(settings: Record<string, string> = {}): Promise<string> {
  const code = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256", ...settings });
  const res = await exchange({ code, code_verifier: VERIFIER, code_challenge_method: "S256" });
  expect(res.status).toBe(200);
  return res.body.key as string;
}

async function keyInfo(key: string | null, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${url}/api/v1/key`, { headers: { ...(key === null ? {} : { Authorization: `Bearer ${key}` }), ...headers } });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const control = (path: string, body: unknown) => post(`/__emulator/${path}`, body);

describe("key information, GET /api/v1/key", () => {
  it("answers for a minted key with the settings chosen at /auth, valid against the official schema", async () => {
    const key = await mintKey({ key_label: "Chat", limit: "12.5", usage_limit_type: "weekly", expires_at: "2099-01-02T03:04:05Z" });
    const res = await keyInfo(key, { Origin: "http://localhost:5173" });
    expect(res.status).toBe(200);
    keyOk(res.body);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.body.data).toMatchObject({
      label: "Chat",
      limit: 12.5,
      limit_remaining: 12.5,
      limit_reset: "weekly",
      usage: 0,
      usage_daily: 0,
      expires_at: "2099-01-02T03:04:05Z",
      is_free_tier: false,
      creator_user_id: expect.stringMatching(/^user_/),
    });
    expect(log().keyRequests).toEqual([{ at: expect.any(String), origin: "http://localhost:5173", status: 200, keyHash: sha256(key) }]);
    expect(JSON.stringify(log().keyRequests)).not.toContain(key);
  });

  it("answers nulls for a key without limit, reset or expiry, labelled with the app's host", async () => {
    const res = await keyInfo(await mintKey());
    keyOk(res.body);
    expect(res.body.data).toMatchObject({ label: "127.0.0.1:5173", limit: null, limit_remaining: null, limit_reset: null, expires_at: null });
  });

  it("counts spending (POST /__emulator/spend) into usage and what remains of the limit", async () => {
    const key = await mintKey({ limit: "5" });
    expect((await control("spend", { key, amount: 1.25 })).status).toBe(200);
    const res = await keyInfo(key);
    keyOk(res.body);
    expect(res.body.data).toMatchObject({ usage: 1.25, usage_monthly: 1.25, limit: 5, limit_remaining: 3.75 });
    expect((await control("spend", { key, amount: -1 })).status).toBe(400);
    expect((await control("spend", { key: "sk-or-v1-unknown", amount: 1 })).status).toBe(400);
  });

  it.each([
    ["no Authorization header", null],
    ["a key it never minted", "sk-or-v1-0000000000000000000000000000000000000000000000000000000000000000"],
    ["the demo key (not one minted by an exchange)", DEMO_KEY],
  ])("answers 401 for %s, valid against the schema", async (_, key) => {
    const res = await keyInfo(key);
    expect(res.status).toBe(401);
    keyUnauthorized(res.body);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("answers 401 once the key is revoked through POST /__emulator/revoke (by key or by hash)", async () => {
    const [a, b] = [await mintKey(), await mintKey()];
    expect((await control("revoke", { key: a })).status).toBe(200);
    expect((await control("revoke", { hash: sha256(b) })).status).toBe(200);
    for (const key of [a, b]) {
      const res = await keyInfo(key);
      expect(res.status).toBe(401);
      keyUnauthorized(res.body);
    }
    expect((await control("revoke", { key: "sk-or-v1-unknown" })).status).toBe(400);
    // A revoked key cannot create codes either.
    expect((await createCode({ callback_url: CALLBACK }, a)).status).toBe(401);
  });

  it("answers 401 once the key has expired", async () => {
    const key = await mintKey({ expires_at: new Date(clock + 60_000).toISOString() });
    expect((await keyInfo(key)).status).toBe(200);
    clock += 60_000;
    expect((await keyInfo(key)).status).toBe(401);
  });

  it("answers a preflight for GET with an Authorization header from another origin", async () => {
    const res = await fetch(`${url}/api/v1/key`, {
      method: "OPTIONS",
      headers: { Origin: "http://localhost:5173", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain("GET");
    expect(res.headers.get("access-control-allow-headers")).toMatch(/authorization/i);
  });

  it("refuses POST with 405", async () => {
    const res = await fetch(`${url}/api/v1/key`, { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, OPTIONS");
  });
});

describe("the key's pages, /keys/{sha256} and /logs?api_key_hash=", () => {
  it("shows the settings page of an issued key, whose Revoke button makes the key answer 401", async () => {
    const key = await mintKey({ key_label: "Mine", limit: "3" });
    const page = await fetch(`${url}/keys/${sha256(key)}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<span id="label">Mine</span>');
    expect(html).toContain(sha256(key));
    expect(html).not.toContain(key);
    expect(html).toContain('id="revoke"');
    expect(page.headers.get("content-security-policy")).toContain("form-action 'self';");
    const revoked = await fetch(`${url}/keys/${sha256(key)}`, { method: "POST", body: new URLSearchParams({ action: "revoke" }) });
    expect(revoked.status).toBe(200);
    expect(await revoked.text()).toContain('id="revoked"');
    expect((await keyInfo(key)).status).toBe(401);
    // The page stays for the owner, now without the button.
    expect(await (await fetch(`${url}/keys/${sha256(key)}`)).text()).not.toContain('id="revoke"');
  });

  it("shows the activity page of an issued key with its usage", async () => {
    const key = await mintKey();
    await control("spend", { key, amount: 0.5 });
    const page = await fetch(`${url}/logs?api_key_hash=${sha256(key)}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<strong id="usage">0.5</strong>');
    expect(html).not.toContain(key);
  });

  it.each([
    ["the hash of a key it never issued", () => `/keys/${sha256("sk-or-v1-other")}`],
    ["an uppercase hash", async () => `/keys/${sha256(await mintKey()).toUpperCase()}`],
    ["the key itself instead of its hash", async () => `/keys/${await mintKey()}`],
    ["no hash", () => "/keys/"],
    ["activity of an unknown hash", () => `/logs?api_key_hash=${sha256("nope")}`],
    ["activity without a hash", () => "/logs"],
  ])("answers 404 for %s", async (_, path) => {
    const res = await fetch(url + (await path()));
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('id="not-found"');
  });
});

describe("Cross-Origin-Opener-Policy switch, /__emulator/config", () => {
  const consentCoop = async () => (await openConsent({ callback_url: CALLBACK })).headers.get("cross-origin-opener-policy");

  it("is off by default, on after POST {coop: true} for /auth's pages and redirects, off again on reset", async () => {
    expect(await consentCoop()).toBeNull();
    expect(await (await fetch(`${url}/__emulator/config`)).json()).toEqual({ coop: false });
    const set = await control("config", { coop: true });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ coop: true });
    expect(await consentCoop()).toBe("same-origin");
    const page = await openConsent({ callback_url: CALLBACK });
    const decided = await submitDecision(page.html, "allow");
    expect(decided.status).toBe(303);
    expect(decided.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    // The URL the library builds is untouched: the switch lives in the emulator, not in /auth's query.
    expect(log().authRequests.at(-1)!.params).toEqual({ callback_url: CALLBACK });
    expect((await control("config", { coop: false })).body).toEqual({ coop: false });
    expect(await consentCoop()).toBeNull();
    await control("config", { coop: true });
    running.emulator.reset();
    expect(await consentCoop()).toBeNull();
  });

  it("refuses a body that is no object or a coop that is no boolean with 400", async () => {
    expect((await control("config", { coop: "yes" })).status).toBe(400);
    expect((await control("config", "[]")).status).toBe(400);
    expect(running.emulator.config.coop).toBe(false);
  });

  it("can start on, from the emulator's options", async () => {
    const other = await startEmulator({ coop: true });
    try {
      const res = await fetch(`${other.url}/auth?${new URLSearchParams({ callback_url: CALLBACK })}`);
      expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
      other.emulator.reset();
      expect(other.emulator.config.coop).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe("introspection, /__emulator", () => {
  it("serves the log of what happened and resets it", async () => {
    const code = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256", key_label: "typed in the form" });
    await exchange({ code, code_verifier: VERIFIER, code_challenge_method: "S256" }, { Origin: "http://localhost:5173" });
    const served = (await (await fetch(`${url}/__emulator/log`)).json()) as EmulatorLog;
    expect(served).toEqual(JSON.parse(JSON.stringify(log())));
    expect(served.authRequests).toHaveLength(1);
    expect(served.authRequests[0]!.params).toEqual({ callback_url: CALLBACK, code_challenge: S256_CHALLENGE, code_challenge_method: "S256", key_label: "typed in the form" });
    expect(served.exchanges).toEqual([
      {
        at: expect.any(String),
        origin: "http://localhost:5173",
        contentType: "application/json",
        authorization: false,
        body: { code, code_verifier: VERIFIER, code_challenge_method: "S256" },
        status: 200,
        error: null,
      },
    ]);
    expect(served.keys).toHaveLength(1);

    const reset = await fetch(`${url}/__emulator/reset`, { method: "POST" });
    expect(reset.status).toBe(200);
    expect(log()).toEqual({ authRequests: [], exchanges: [], codeRequests: [], keys: [], keyRequests: [] });
    expect((await exchange({ code: await codeFor({}) })).status).toBe(200);
  });

  it("forgets codes on reset", async () => {
    const code = await codeFor({});
    running.emulator.reset();
    expect((await exchange({ code })).status).toBe(403);
  });
});

describe("mounting", () => {
  it("owns only its paths under basePath and hands the rest to next()", async () => {
    const emulator = createEmulator({ basePath: "/openrouter/" });
    expect(emulator.basePath).toBe("/openrouter");
    const server = createServer((req, res) => emulator.handle(req, res, () => res.end("app")));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await (await fetch(`${origin}/auth?callback_url=${encodeURIComponent(CALLBACK)}`)).text()).toBe("app");
      expect(await (await fetch(`${origin}/openrouter/elsewhere`)).text()).toBe("app");
      expect(await (await fetch(`${origin}/openrouterauth`)).text()).toBe("app");
      expect((await fetch(`${origin}/openrouter/auth?callback_url=${encodeURIComponent(CALLBACK)}`)).status).toBe(200);
      expect(emulator.log.authRequests).toHaveLength(1);
      const page = await (await fetch(`${origin}/openrouter/auth?callback_url=${encodeURIComponent(CALLBACK)}`)).text();
      expect(page).toContain('action="/openrouter/auth"');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("answers 404 for a path it does not own when there is no next()", async () => {
    expect((await fetch(`${url}/nothing-here`)).status).toBe(404);
  });

  it.each(["dev", "preview"] as const)("serves the emulator under /openrouter on Vite's %s server", async (kind) => {
    const root = mkdtempSync(join(tmpdir(), "emulator-vite-"));
    writeFileSync(join(root, "index.html"), "<!doctype html><title>app</title>");
    const config = {
      configFile: false as const,
      root,
      logLevel: "silent" as const,
      plugins: [openRouterEmulator()],
      server: { host: "127.0.0.1", port: 0 },
      preview: { host: "127.0.0.1", port: 0 },
      build: { outDir: root },
    };
    const server = kind === "dev" ? await (await createViteServer(config)).listen() : await preview(config);
    try {
      const base = server.resolvedUrls!.local[0]!.replace(/\/$/, "");
      const page = await fetch(`${base}/openrouter/auth?callback_url=${encodeURIComponent(`${base}/callback`)}`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("wants to connect to your OpenRouter account");
      const created = await fetch(`${base}/openrouter/api/v1/auth/keys/code`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${DEMO_KEY}` },
        body: JSON.stringify({ callback_url: `${base}/callback` }),
      });
      expect(created.status).toBe(200);
    } finally {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("in a browser", () => {
  let app: Server;
  let appOrigin: string;
  let app6: Server;

  const page = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<!doctype html><title>app</title><p>${req.url?.replace(/[<&]/g, "") ?? ""}</p>`);
  };

  beforeAll(async () => {
    app = createServer(page);
    app6 = createServer(page);
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => app6.listen(0, "::1", resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    app?.closeAllConnections();
    app?.close();
    app6?.closeAllConnections();
    app6?.close();
  });

  forEachEngine((engine) => {
    it("lets a page on another loopback origin exchange a code with fetch, and read the error of a second try", async () => {
      expect(new URL(appOrigin).origin).not.toBe(new URL(url).origin);
      const code = await codeFor({ code_challenge: S256_CHALLENGE, code_challenge_method: "S256" });
      const tab = await engine.newPage();
      try {
        await tab.goto(`${appOrigin}/`);
        const results = await tab.evaluate(
          async ({ endpoint, body }) => {
            const send = async () => {
              const res = await fetch(endpoint, { method: "POST", headers: { "Content-Type": "application/json" }, body });
              return { status: res.status, body: (await res.json()) as unknown };
            };
            return [await send(), await send()];
          },
          { endpoint: `${url}/api/v1/auth/keys`, body: JSON.stringify({ code, code_verifier: VERIFIER, code_challenge_method: "S256" }) },
        );
        expect(results[0]!.status).toBe(200);
        exchangeOk(results[0]!.body);
        expect(results[1]).toEqual({ status: 403, body: { error: { code: 403, message: "Invalid code or code_verifier" } } });
        expect(log().exchanges.map((e) => e.origin)).toEqual([appOrigin, appOrigin]);
      } finally {
        await tab.close();
      }
    });

    it.each([
      ["127.0.0.1", () => `${appOrigin}/callback?state=s1`],
      ["[::1]", () => `http://[::1]:${(app6.address() as AddressInfo).port}/callback?state=s1`],
    ])("follows Allow on the consent page back to a callback on %s, past the page's CSP", async (_, callback) => {
      const tab = await engine.newPage();
      try {
        await tab.goto(authUrl({ callback_url: callback(), code_challenge: S256_CHALLENGE, code_challenge_method: "S256" }));
        expect(await tab.evaluate(() => document.querySelector("button#allow")?.textContent?.trim())).toBe("Allow");
        await tab.click("button#allow");
        await tab.waitForURL((u) => u.searchParams.has("code"));
        const back = new URL(await tab.url());
        expect(back.href.startsWith(`${callback()}&code=`)).toBe(true);
        const res = await exchange({ code: back.searchParams.get("code"), code_verifier: VERIFIER, code_challenge_method: "S256" });
        expect(res.status).toBe(200);
      } finally {
        await tab.close();
      }
    });

    it("follows Deny on the consent page back with error=access_denied", async () => {
      const tab = await engine.newPage();
      try {
        await tab.goto(authUrl({ callback_url: `${appOrigin}/callback?state=s2` }));
        await tab.click("#deny");
        await tab.waitForURL((u) => u.searchParams.has("error"));
        const back = new URL(await tab.url());
        expect(back.searchParams.get("error")).toBe("access_denied");
        expect(back.searchParams.get("state")).toBe("s2");
      } finally {
        await tab.close();
      }
    });
  });
});
