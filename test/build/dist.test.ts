// Checks the BUILT package in dist/ (run `npm run build` first): what a user of the ESM build or
// of the <script> tag actually gets.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import vm from "node:vm";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser.ts";

type Library = typeof import("../../src/index.ts");

const DIST = fileURLToPath(new URL("../../dist/", import.meta.url));
const ESM = `${DIST}pkce-flow.js`;
const IIFE = `${DIST}pkce-flow.iife.js`;
const RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const read = (file: string): string => readFileSync(file, "utf8");
const catchSync = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
};

let expectedNames: string[];
let esm: Library;

beforeAll(async () => {
  expectedNames = Object.keys(await import("../../src/index.ts")).sort();
  esm = (await import(/* @vite-ignore */ pathToFileURL(ESM).href)) as Library;
});

describe("dist files", () => {
  it.each(["pkce-flow.js", "pkce-flow.js.map", "pkce-flow.iife.js", "pkce-flow.iife.js.map", "index.d.ts"])("contains %s", (file) => {
    expect(existsSync(`${DIST}${file}`)).toBe(true);
  });

  it("declares every runtime export in index.d.ts", () => {
    const declarations = read(`${DIST}index.d.ts`);
    for (const name of expectedNames) expect(declarations).toMatch(new RegExp(`\\b${name}\\b`));
  });

  it.each(["pkce-flow.js", "pkce-flow.iife.js"])("keeps %s free of eval, new Function, innerHTML and document.write", (file) => {
    const code = read(`${DIST}${file}`);
    for (const banned of [/\beval\s*\(/, /new\s+Function\b/, /\binnerHTML\b/, /\bouterHTML\b/, /document\.write/]) {
      expect(code).not.toMatch(banned);
    }
  });

  it("has an ESM build that imports nothing (zero dependencies)", () => {
    const code = read(ESM);
    expect(code).not.toMatch(/^\s*import[\s{*]/m);
    expect(code).not.toMatch(/\bimport\s*\(/);
    expect(code).not.toMatch(/\brequire\s*\(/);
  });

  it("ships a minified IIFE that points at its source map", () => {
    const code = read(IIFE);
    const lines = code.split("\n").filter((line) => line.trim() !== "");
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(lines.at(-1)).toBe("//# sourceMappingURL=pkce-flow.iife.js.map");
    expect(code.length).toBeLessThan(read(ESM).length);
    const map = JSON.parse(read(`${IIFE}.map`)) as { version: number; sources: string[]; mappings: string };
    expect(map.version).toBe(3);
    expect(map.sources.some((source) => source.endsWith("src/callback.ts"))).toBe(true);
    expect(map.mappings.length).toBeGreaterThan(0);
  });
});

describe("ESM build", () => {
  it("exposes exactly the runtime names of src/index.ts", () => {
    expect(expectedNames.length).toBeGreaterThan(0);
    expect(Object.keys(esm).sort()).toEqual(expectedNames);
  });

  it("loads in plain Node and computes the RFC 7636 Appendix B challenge", () => {
    const script = `
      const lib = await import(${JSON.stringify(pathToFileURL(ESM).href)});
      const challenge = await lib.createCodeChallenge(${JSON.stringify(RFC_VERIFIER)});
      process.stdout.write(JSON.stringify({ names: Object.keys(lib).sort(), challenge }));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(JSON.parse(out)).toEqual({ names: expectedNames, challenge: RFC_CHALLENGE });
  });

  it("throws errors with literal names", () => {
    const mismatch = catchSync(() => esm.parseCallback("https://app.example/cb?code=c&state=a", { state: "b" }));
    expect((mismatch as Error).name).toBe("PkceError");
    expect(esm.isPkceError(mismatch, "state_mismatch")).toBe(true);
    const refused = catchSync(() => esm.parseCallback("https://app.example/cb?error=access_denied"));
    expect((refused as Error).name).toBe("AuthorizationError");
  });
});

describe("IIFE build in another realm (node:vm)", () => {
  let iife: Library;
  let realmError: ErrorConstructor;

  beforeAll(() => {
    const context = vm.createContext({ crypto: globalThis.crypto, URL, URLSearchParams, TextEncoder, btoa });
    vm.runInContext(read(IIFE), context, { filename: "pkce-flow.iife.js" });
    iife = context["PkceFlow"] as Library;
    realmError = vm.runInContext("Error", context) as ErrorConstructor;
  });

  it("defines PkceFlow with exactly the ESM names", () => {
    expect(Object.keys(iife).sort()).toEqual(expectedNames);
  });

  it("computes the Appendix B challenge", async () => {
    await expect(iife.createCodeChallenge(RFC_VERIFIER)).resolves.toBe(RFC_CHALLENGE);
  });

  it("throws errors that the ESM copy's isPkceError recognises across realms", () => {
    const mismatch = catchSync(() => iife.parseCallback("https://app.example/cb?code=c&state=a", { state: "b" }));
    expect(mismatch).toBeInstanceOf(realmError);
    expect(mismatch).not.toBeInstanceOf(Error); // really another realm
    expect(mismatch).not.toBeInstanceOf(esm.PkceError);
    expect((mismatch as Error).name).toBe("PkceError");
    expect(esm.isPkceError(mismatch, "state_mismatch")).toBe(true);
    expect(esm.isPkceError(mismatch, "state_missing")).toBe(false);

    const refused = catchSync(() => iife.parseCallback("https://app.example/cb?error=access_denied"));
    expect((refused as Error).name).toBe("AuthorizationError");
    expect(esm.isPkceError(refused, "authorization_error")).toBe(true);
    const token = new iife.TokenError(400, "invalid_grant", null);
    expect(token.name).toBe("TokenError");
    expect(esm.isPkceError(token, "token_error")).toBe(true);
  });

  it("recognises errors of the ESM copy with its own isPkceError", () => {
    const mismatch = catchSync(() => esm.parseCallback("https://app.example/cb?code=c&state=a", { state: "b" }));
    expect(mismatch).not.toBeInstanceOf(iife.PkceError);
    expect(iife.isPkceError(mismatch, "state_mismatch")).toBe(true);
    expect(iife.isPkceError(new esm.TokenError(500, null, null), "token_error")).toBe(true);
    expect(iife.isPkceError(new TypeError("x"))).toBe(false);
  });
});

describe("IIFE build as a classic <script> in Chromium", () => {
  let browser: Browser;
  let server: Server;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    // Only these paths are served; the page's CSP forbids eval and inline script.
    const routes: Record<string, { type: string; body: () => string }> = {
      "/": {
        type: "text/html; charset=utf-8",
        body: () => '<!doctype html><meta charset="utf-8"><title>t</title><link rel="icon" href="data:,"><script src="/probe.js"></script><script src="/pkce-flow.iife.js"></script>',
      },
      "/probe.js": { type: "text/javascript", body: () => "window.globalsBefore = Object.getOwnPropertyNames(window);" },
      "/pkce-flow.iife.js": { type: "text/javascript", body: () => read(IIFE) },
      "/pkce-flow.iife.js.map": { type: "application/json", body: () => read(`${IIFE}.map`) },
    };
    server = createServer((req, res) => {
      const route = routes[new URL(req.url ?? "/", "http://127.0.0.1").pathname];
      if (!route) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": route.type, "content-security-policy": "script-src 'self'; object-src 'none'" });
      res.end(route.body());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    browser = await launchChromium();
    page = await browser.newPage();
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it("loads without errors and defines only the PkceFlow global", async () => {
    const added = await page.evaluate(() => {
      const w = window as unknown as { globalsBefore: string[] };
      return Object.getOwnPropertyNames(window).filter((name) => !w.globalsBefore.includes(name) && name !== "globalsBefore");
    });
    expect(added).toEqual(["PkceFlow"]);
    expect(problems).toEqual([]);
  });

  it("defines window.PkceFlow with exactly the ESM names", async () => {
    const names = await page.evaluate(() => Object.keys((window as unknown as { PkceFlow: object }).PkceFlow).sort());
    expect(names).toEqual(expectedNames);
  });

  it("runs the Appendix B vector and parseCallback, with error names that survive minification", async () => {
    const result = await page.evaluate(async (verifier) => {
      const P = (window as unknown as { PkceFlow: Library }).PkceFlow;
      const outcome = (fn: () => unknown) => {
        try {
          fn();
          return null;
        } catch (e) {
          const error = e as { name: string; code: string };
          return { name: error.name, code: error.code, isError: e instanceof Error, isPkce: e instanceof P.PkceError, guard: P.isPkceError(e) };
        }
      };
      let invalidVerifier: string | null = null;
      try {
        await P.createCodeChallenge("too-short");
      } catch (e) {
        invalidVerifier = `${(e as Error).name}/${(e as { code: string }).code}`;
      }
      return {
        secure: window.isSecureContext,
        challenge: await P.createCodeChallenge(verifier),
        plain: await P.createCodeChallenge(verifier, "plain"),
        parsed: P.parseCallback("https://app.example/cb?code=abc&state=xyz&iss=https%3A%2F%2Fas.example", { state: "xyz", issuer: "https://as.example" }),
        mismatch: outcome(() => P.parseCallback("https://app.example/cb?code=abc&state=xyz", { state: "other" })),
        refused: outcome(() => P.parseCallback("https://app.example/cb?error=access_denied&state=xyz", { state: "xyz" })),
        token: outcome(() => {
          throw new P.TokenError(400, "invalid_grant", null);
        }),
        invalidVerifier,
      };
    }, RFC_VERIFIER);
    expect(result).toEqual({
      secure: true,
      challenge: RFC_CHALLENGE,
      plain: RFC_VERIFIER,
      parsed: { code: "abc", state: "xyz", iss: "https://as.example" },
      mismatch: { name: "PkceError", code: "state_mismatch", isError: true, isPkce: true, guard: true },
      refused: { name: "AuthorizationError", code: "authorization_error", isError: true, isPkce: true, guard: true },
      token: { name: "TokenError", code: "token_error", isError: true, isPkce: true, guard: true },
      invalidVerifier: "PkceError/invalid_argument",
    });
    expect(problems).toEqual([]);
  });
});
