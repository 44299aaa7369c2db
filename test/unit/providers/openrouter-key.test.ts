import { afterEach, describe, expect, it, vi } from "vitest";
import { PkceError, TokenError, getOpenRouterKey, isPkceError, openRouterKeyLinks } from "../../../src/index.ts";
import spec from "../../fixtures/openrouter-oauth.openapi.json";
import { rejection } from "../helpers/errors.ts";
import { fetchRecorder, hang, json, text } from "../helpers/fetch.ts";
import { validate, type Schema } from "../helpers/schema.ts";
import { errorSurfaces, leaked } from "../helpers/secrets.ts";

// A realistic key whose every part is a sentinel, so a leak of the key in any form shows.
const KEY = "sk-or-v1-5e471ce1de5e471ce1de5e471ce1de5e471ce1de5e471ce1de5e471ce1de";
const BASE = "https://openrouter.example";

// The official schema of GET /key's 200 answer.
const KEY_SCHEMA = (spec.paths as unknown as Record<string, { get: { responses: Record<string, { content: { "application/json": { schema: Schema } } }> } }>)["/key"]!.get
  .responses["200"]!.content["application/json"].schema;
const DATA_SCHEMA = KEY_SCHEMA.properties!["data"]!;

// Every field of the schema, each with a value no other field has, so a mix-up shows.
const DATA = {
  label: "Chat app key",
  limit: 10,
  limit_remaining: 7.25,
  limit_reset: "weekly",
  usage: 2.75,
  usage_daily: 0.5,
  usage_weekly: 1.5,
  usage_monthly: 2.5,
  byok_usage: 3.5,
  byok_usage_daily: 0.125,
  byok_usage_weekly: 0.25,
  byok_usage_monthly: 0.375,
  include_byok_in_limit: true,
  is_free_tier: false,
  is_management_key: false,
  is_provisioning_key: false,
  creator_user_id: "user_2yOPcMpKoQhcd4bVgSMlELRaIah",
  expires_at: "2027-12-31T23:59:59Z",
  rate_limit: { requests: -1, interval: "10s", note: "This field is deprecated and safe to ignore." },
};

const camel = (name: string) => name.replace(/_(.)/g, (_, c: string) => c.toUpperCase());

function answering(status: number, body: unknown) {
  return fetchRecorder(() => json(status, body));
}

async function info(body: unknown, status = 200) {
  return getOpenRouterKey(KEY, { baseUrl: BASE, fetch: answering(status, body).fetch });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("getOpenRouterKey", () => {
  it("sends GET {baseUrl}/api/v1/key with the key as Bearer, without cookies or redirects", async () => {
    const recorder = answering(200, { data: DATA });
    await getOpenRouterKey(KEY, { baseUrl: `${BASE}/`, fetch: recorder.fetch });
    expect(recorder.calls).toHaveLength(1);
    const [{ request, init }] = recorder.calls as [(typeof recorder.calls)[0]];
    expect(request.method).toBe("GET");
    expect(request.url).toBe(`${BASE}/api/v1/key`);
    expect(request.headers.get("authorization")).toBe(`Bearer ${KEY}`);
    expect(init).toMatchObject({ redirect: "manual", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
  });

  it("goes to https://openrouter.ai by default and sends a trimmed key", async () => {
    const recorder = answering(200, { data: DATA });
    await getOpenRouterKey(` ${KEY}\n`, { fetch: recorder.fetch });
    expect(recorder.calls[0]!.request.url).toBe("https://openrouter.ai/api/v1/key");
    expect(recorder.calls[0]!.request.headers.get("authorization")).toBe(`Bearer ${KEY}`);
  });

  it("maps every field of the official schema, camelCased, from a schema-valid answer", async () => {
    expect(validate(KEY_SCHEMA, { data: DATA })).toEqual([]);
    await expect(info({ data: DATA })).resolves.toEqual({
      label: "Chat app key",
      limit: 10,
      limitRemaining: 7.25,
      limitReset: "weekly",
      usage: 2.75,
      usageDaily: 0.5,
      usageWeekly: 1.5,
      usageMonthly: 2.5,
      byokUsage: 3.5,
      byokUsageDaily: 0.125,
      byokUsageWeekly: 0.25,
      byokUsageMonthly: 0.375,
      includeByokInLimit: true,
      isFreeTier: false,
      isManagementKey: false,
      isProvisioningKey: false,
      creatorUserId: "user_2yOPcMpKoQhcd4bVgSMlELRaIah",
      expiresAt: "2027-12-31T23:59:59Z",
      rateLimit: { requests: -1, interval: "10s", note: "This field is deprecated and safe to ignore." },
    });
  });

  it("gives exactly the schema's fields, no more and no fewer", async () => {
    const result = await info({ data: DATA });
    expect(Object.keys(result).sort()).toEqual(Object.keys(DATA_SCHEMA.properties!).map(camel).sort());
    expect(Object.keys(result.rateLimit).sort()).toEqual(Object.keys(DATA_SCHEMA.properties!["rate_limit"]!.properties!).sort());
  });

  it("leaves out fields the schema does not name", async () => {
    const result = await info({ data: { ...DATA, secret_internal: "x", rate_limit: { ...DATA.rate_limit, extra: 1 } }, meta: 1 });
    expect(result).not.toHaveProperty("secretInternal");
    expect(result).not.toHaveProperty("secret_internal");
    expect(result.rateLimit).not.toHaveProperty("extra");
  });

  it.each([
    ["no limit, no reset, no creator, no expiry", { limit: null, limit_remaining: null, limit_reset: null, creator_user_id: null, expires_at: null }],
    ["no expires_at at all (the schema does not require it)", { expires_at: undefined }],
  ])("reads null for %s", async (_, patch) => {
    const data = JSON.parse(JSON.stringify({ ...DATA, ...patch })) as Record<string, unknown>;
    expect(validate(KEY_SCHEMA, { data })).toEqual([]);
    const result = await info({ data });
    for (const name of Object.keys(patch)) expect(result[camel(name) as keyof typeof result]).toBeNull();
  });

  // Every way the schema can be broken, field by field: each mutation is first shown to break the
  // schema, then shown to be refused.
  const wrong = (schema: Schema): unknown[] => {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const values: unknown[] = [undefined];
    if (!types.includes("null")) values.push(null);
    if (!types.includes("string")) values.push("1");
    if (!types.includes("number") && !types.includes("integer")) values.push(1);
    if (!types.includes("boolean")) values.push(true);
    if (!types.includes("object")) values.push({});
    values.push([]);
    if (types.includes("integer")) values.push(1.5);
    if (schema.format === "date-time") values.push("next week", "2027-12-31", "2027-13-45T99:99:99Z");
    return values;
  };
  const mutations = Object.entries(DATA_SCHEMA.properties!).flatMap(([name, schema]) =>
    wrong(schema)
      .filter((value) => value !== undefined || DATA_SCHEMA.required!.includes(name))
      .map((value) => ({ name, value, label: `data.${name} = ${value === undefined ? "missing" : JSON.stringify(value)}` })),
  );
  const nested = Object.entries(DATA_SCHEMA.properties!["rate_limit"]!.properties!).flatMap(([name, schema]) =>
    wrong(schema).map((value) => ({ name, value, label: `data.rate_limit.${name} = ${value === undefined ? "missing" : JSON.stringify(value)}` })),
  );

  it.each(mutations)("rejects $label with invalid_response", async ({ name, value }) => {
    const data: Record<string, unknown> = { ...DATA, [name]: value };
    if (value === undefined) delete data[name];
    expect(validate(KEY_SCHEMA, { data })).not.toEqual([]);
    const error = await rejection(info({ data }));
    expect(error.code).toBe("invalid_response");
    expect(error.message).toContain(name);
  });

  it.each(nested)("rejects $label with invalid_response", async ({ name, value }) => {
    const rate: Record<string, unknown> = { ...DATA.rate_limit, [name]: value };
    if (value === undefined) delete rate[name];
    const data = { ...DATA, rate_limit: rate };
    expect(validate(KEY_SCHEMA, { data })).not.toEqual([]);
    expect((await rejection(info({ data }))).code).toBe("invalid_response");
  });

  it.each([
    ["no data", {}],
    ["data that is null", { data: null }],
    ["data that is a list", { data: [DATA] }],
    ["data that is a string", { data: "key" }],
  ])("rejects an answer with %s with invalid_response", async (_, body) => {
    expect((await rejection(info(body))).code).toBe("invalid_response");
  });

  it("rejects an answer that is no JSON object with invalid_response", async () => {
    const error = await rejection(getOpenRouterKey(KEY, { fetch: fetchRecorder(() => text(200, "<html>Sign in</html>", "text/html")).fetch }));
    expect(error.code).toBe("invalid_response");
  });

  it.each([
    { status: 401, message: "User not found." },
    { status: 401, message: "Key revoked" },
    { status: 500, message: "Internal Server Error" },
  ])("turns $status into a TokenError with that status", async ({ status, message }) => {
    const error = await rejection(info({ error: { code: status, message } }, status));
    expect(error).toBeInstanceOf(TokenError);
    expect(isPkceError(error, "token_error")).toBe(true);
    expect(error).toMatchObject({ status, error: String(status), errorDescription: message });
    expect(error.message).toMatch(new RegExp(`^key endpoint: HTTP ${status}`));
  });

  it("never shows the key, even when the server echoes it in its error", async () => {
    const body = { error: { code: 401, message: `Invalid key ${KEY} (Bearer ${KEY})`, metadata: { key: KEY } }, user_id: KEY };
    const error = await rejection(info(body, 401));
    expect(error).toBeInstanceOf(TokenError);
    expect(leaked(errorSurfaces(error), { KEY })).toEqual([]);
    expect((error as TokenError).errorDescription).toContain("[redacted]");
  });

  it("never shows the key when an error code is the key itself", async () => {
    const error = await rejection(info({ error: KEY, error_description: KEY }, 400));
    expect(leaked(errorSurfaces(error), { KEY })).toEqual([]);
  });

  it("never shows the key in a network error's cause", async () => {
    const failing = () => Promise.reject(new TypeError(`Failed to fetch with Authorization: Bearer ${KEY}`));
    const error = await rejection(getOpenRouterKey(KEY, { fetch: failing as typeof fetch }));
    expect(error.code).toBe("network_error");
    expect(leaked(errorSurfaces(error), { KEY })).toEqual([]);
  });

  it("refuses a redirect with invalid_response and never follows it", async () => {
    const recorder = fetchRecorder(() => new Response(null, { status: 302, headers: { Location: "https://elsewhere.example/" } }));
    expect((await rejection(getOpenRouterKey(KEY, { fetch: recorder.fetch }))).code).toBe("invalid_response");
    expect(recorder.calls).toHaveLength(1);
  });

  it("times out with timeout, and rejects aborted when the caller aborts", async () => {
    const hanging = fetchRecorder((call) => hang(call.signal));
    expect((await rejection(getOpenRouterKey(KEY, { fetch: hanging.fetch, timeoutMs: 20 }))).code).toBe("timeout");
    const controller = new AbortController();
    const pending = getOpenRouterKey(KEY, { fetch: hanging.fetch, signal: controller.signal });
    controller.abort();
    expect((await rejection(pending)).code).toBe("aborted");
  });

  it("sends nothing for a signal that is already aborted", async () => {
    const recorder = answering(200, { data: DATA });
    expect((await rejection(getOpenRouterKey(KEY, { fetch: recorder.fetch, signal: AbortSignal.abort() }))).code).toBe("aborted");
    expect(recorder.calls).toHaveLength(0);
  });

  it("refuses an answer over 1 MiB with invalid_response", async () => {
    const big = { data: { ...DATA, label: "x".repeat(1 << 20) } };
    expect((await rejection(info(big))).code).toBe("invalid_response");
  });

  it.each([
    ["a plain object", {}],
    ["a string", "abort"],
    ["an object with the listener methods", { aborted: false, addEventListener() {}, removeEventListener() {} }],
  ])("refuses a signal that is %s with invalid_argument before sending", async (_, signal) => {
    const recorder = answering(200, { data: DATA });
    expect((await rejection(getOpenRouterKey(KEY, { fetch: recorder.fetch, signal: signal as AbortSignal }))).code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
  });

  it("takes null options as none: GET https://openrouter.ai/api/v1/key with the global fetch", async () => {
    const recorder = answering(200, { data: DATA });
    vi.stubGlobal("fetch", recorder.fetch);
    try {
      await expect(getOpenRouterKey(KEY, null as never)).resolves.toMatchObject({ label: DATA.label });
    } finally {
      vi.unstubAllGlobals();
    }
    expect(recorder.calls.map((c) => c.request.url)).toEqual(["https://openrouter.ai/api/v1/key"]);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 2 ** 31])("refuses timeoutMs %s with invalid_argument before sending", async (timeoutMs) => {
    const recorder = answering(200, { data: DATA });
    expect((await rejection(getOpenRouterKey(KEY, { fetch: recorder.fetch, timeoutMs }))).code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
  });

  it.each(["https://openrouter.ai/?region=eu", "http://openrouter.ai", "openrouter.ai"])("refuses the baseUrl %s with invalid_config", async (baseUrl) => {
    expect((await rejection(getOpenRouterKey(KEY, { baseUrl, fetch: answering(200, { data: DATA }).fetch }))).code).toBe("invalid_config");
  });

  it.each([
    ["an empty key", ""],
    ["a key of spaces", "   "],
    ["a key with a newline inside", `${KEY.slice(0, 30)}\n${KEY.slice(30)}`],
    ["a key with NUL inside", `${KEY.slice(0, 30)}\0${KEY.slice(30)}`],
    ["a key with U+2028 inside", `${KEY.slice(0, 30)}\u2028${KEY.slice(30)}`],
    ["a key with a space inside", `${KEY.slice(0, 30)} ${KEY.slice(30)}`],
    ["a key that is no string", 42],
  ])("refuses %s with invalid_argument, sending nothing and showing no part of it", async (_, key) => {
    const recorder = answering(200, { data: DATA });
    const error = await rejection(getOpenRouterKey(key as string, { fetch: recorder.fetch }));
    expect(error).toBeInstanceOf(PkceError);
    expect(error.code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
    expect(leaked(errorSurfaces(error), { head: KEY.slice(9, 30), tail: KEY.slice(30) })).toEqual([]);
  });
});

describe("openRouterKeyLinks", () => {
  // FIPS 180-2 SHA-256 test vectors (one block, two blocks).
  it.each([
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ["abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
  ])("links the key %s to its settings and activity by the lowercase hex SHA-256", async (key, hash) => {
    const { settingsUrl, logsUrl } = await openRouterKeyLinks(key);
    expect(settingsUrl).toBeInstanceOf(URL);
    expect(settingsUrl.href).toBe(`https://openrouter.ai/keys/${hash}`);
    expect(logsUrl.href).toBe(`https://openrouter.ai/logs?api_key_hash=${hash}`);
  });

  it("uses the baseUrl, path included, and never puts the key itself in a URL", async () => {
    const { settingsUrl, logsUrl } = await openRouterKeyLinks(KEY, { baseUrl: "http://127.0.0.1:5173/openrouter/" });
    expect(settingsUrl.href).toMatch(/^http:\/\/127\.0\.0\.1:5173\/openrouter\/keys\/[0-9a-f]{64}$/);
    expect(logsUrl.origin + logsUrl.pathname).toBe("http://127.0.0.1:5173/openrouter/logs");
    expect(logsUrl.searchParams.get("api_key_hash")).toBe(settingsUrl.pathname.split("/").pop());
    expect(settingsUrl.href + logsUrl.href).not.toContain(KEY.slice(9));
  });

  it("hashes the trimmed key, as getOpenRouterKey sends it", async () => {
    expect((await openRouterKeyLinks(" abc\n")).settingsUrl.href).toBe((await openRouterKeyLinks("abc")).settingsUrl.href);
  });

  it.each([
    ["a key with a newline inside", "ab\nc"],
    ["an empty key", ""],
    ["a non-ASCII key", "ключ"],
  ])("refuses %s with invalid_argument", async (_, key) => {
    expect((await rejection(openRouterKeyLinks(key))).code).toBe("invalid_argument");
  });

  it("refuses a baseUrl with a query with invalid_config", async () => {
    expect((await rejection(openRouterKeyLinks(KEY, { baseUrl: "https://openrouter.ai?x" }))).code).toBe("invalid_config");
  });

  it("takes null options as none (https://openrouter.ai)", async () => {
    expect((await openRouterKeyLinks("abc", null as never)).settingsUrl.href).toBe("https://openrouter.ai/keys/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("rejects with crypto_unavailable without crypto.subtle (insecure context)", async () => {
    // The getter on Crypto's prototype, not the global: WebKit keeps `crypto` itself unstubbable.
    const subtle = vi.spyOn(Object.getPrototypeOf(globalThis.crypto) as Crypto, "subtle", "get").mockReturnValue(undefined as unknown as SubtleCrypto);
    const error = await rejection(openRouterKeyLinks(KEY)).finally(() => subtle.mockRestore());
    expect(error.code).toBe("crypto_unavailable");
    expect(leaked(errorSurfaces(error), { KEY })).toEqual([]);
  });
});
