// Server-side rendering: the BUILT ESM bundle (run `npm run build` first) imported in plain Node,
// where there is no window. Importing it and creating flows must touch no browser global, and the
// first real call must fail with a PkceError rather than a ReferenceError.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const ESM = fileURLToPath(new URL("../../dist/pkce-flow.js", import.meta.url));
const BROWSER_GLOBALS = ["window", "self", "document", "location", "history", "sessionStorage", "localStorage", "navigator"];

/**
 * Runs `body` as an ES module in a fresh `node` process after defining, on globalThis, a getter for
 * each browser global that records the access and throws. `lib` is the imported bundle; the
 * script's `out` object is printed as JSON, with `touched` listing the globals read.
 */
function runInNode(body: string): { touched: string[] } & Record<string, unknown> {
  const script = `
    const touched = [];
    for (const name of ${JSON.stringify(BROWSER_GLOBALS)}) {
      Object.defineProperty(globalThis, name, {
        configurable: true,
        get() {
          touched.push(name);
          throw new ReferenceError(name + " is not defined (server-side rendering)");
        },
      });
    }
    const out = {};
    try {
      const lib = await import(${JSON.stringify(pathToFileURL(ESM).href)});
      ${body}
    } catch (error) {
      out.uncaught = String(error && error.stack || error);
    }
    process.stdout.write(JSON.stringify({ ...out, touched }));`;
  const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 });
  return JSON.parse(stdout) as { touched: string[] } & Record<string, unknown>;
}

const OAUTH2 = `{
  clientId: "spa",
  authorizationEndpoint: "https://as.example/authorize",
  tokenEndpoint: "https://as.example/token",
  redirectUri: "https://app.example/callback",
  issuer: "https://as.example",
  scope: ["openid", "profile"],
}`;

describe("the ESM bundle in plain Node (server-side rendering)", () => {
  it("is built", () => {
    expect(existsSync(ESM)).toBe(true);
  });

  it("imports without touching window, document, location, history or storage", () => {
    const result = runInNode(`out.names = Object.keys(lib).length;`);
    expect(result.uncaught).toBeUndefined();
    expect(result.names).toBeGreaterThan(0);
    expect(result.touched).toEqual([]);
  });

  it("creates OpenRouter and oauth2 flows, reads their status and subscribes, touching no browser global", () => {
    const result = runInNode(`
      const router = lib.createFlow(lib.openRouter({ callbackUrl: "https://app.example/" }));
      const generic = lib.createFlow(lib.oauth2(${OAUTH2}));
      const unsubscribe = router.subscribe(() => {});
      unsubscribe();
      out.statuses = [router.status, generic.status, router.snapshot().status, generic.snapshot().status];`);
    expect(result.uncaught).toBeUndefined();
    expect(result.statuses).toEqual(["idle", "idle", "idle", "idle"]);
    expect(result.touched).toEqual([]);
  });

  it("uses only what it is given: an explicit storage, fetch and navigate run the whole start without a browser global", () => {
    const result = runInNode(`
      const data = new Map();
      const storage = {
        get length() { return data.size; },
        key: (i) => [...data.keys()][i] ?? null,
        getItem: (k) => data.get(k) ?? null,
        setItem: (k, v) => void data.set(k, String(v)),
        removeItem: (k) => void data.delete(k),
      };
      const navigated = [];
      const flow = lib.createFlow(lib.openRouter({ callbackUrl: "https://app.example/" }), {
        storage,
        fetch: () => Promise.reject(new Error("no network here")),
        navigate: (url) => navigated.push(url),
      });
      await flow.start();
      out.navigated = navigated.map((url) => new URL(url).origin + new URL(url).pathname);
      out.stored = [...data.keys()].every((key) => key.startsWith("pkce-flow:")) && data.size === 1;
      out.status = flow.status;`);
    expect(result.uncaught).toBeUndefined();
    expect(result.navigated).toEqual(["https://openrouter.ai/auth"]);
    expect(result.stored).toBe(true);
    expect(result.status).toBe("redirecting");
    expect(result.touched).toEqual([]);
  });

  it("rejects start() without sessionStorage with storage_unavailable, never a ReferenceError, and navigates nowhere", () => {
    const result = runInNode(`
      const navigated = [];
      const flow = lib.createFlow(lib.oauth2(${OAUTH2}), { navigate: (url) => navigated.push(url) });
      try {
        await flow.start();
        out.outcome = "resolved";
      } catch (error) {
        out.outcome = { name: error.name, code: error.code, isPkceError: lib.isPkceError(error, "storage_unavailable") };
      }
      out.navigated = navigated.length;`);
    expect(result.uncaught).toBeUndefined();
    expect(result.outcome).toEqual({ name: "PkceError", code: "storage_unavailable", isPkceError: true });
    expect(result.navigated).toBe(0);
    // The default storage is read at the first call, and only then.
    expect(new Set(result.touched)).toEqual(new Set(["sessionStorage"]));
  });
});
