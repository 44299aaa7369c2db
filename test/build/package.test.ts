// The package as a user gets it (run `npm run build` first): `npm pack` the repo, install the
// tarball into a fresh project in the OS temp dir (offline: no dependencies to fetch) and use it
// from there only, never from the source tree: Node by package name, a Vite app that imports it,
// the IIFE as a classic <script>, and TypeScript against the shipped declarations.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../../demo/emulator/server.ts";
import { launchChromium } from "../support/browser.ts";

const REPO = realpathSync(fileURLToPath(new URL("../..", import.meta.url)));
const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
const RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/** The only files under dist/ a release may ship. */
const DIST_ALLOWED = [/^dist\/pkce-flow\.js(?:\.map)?$/, /^dist\/pkce-flow\.iife\.js(?:\.map)?$/, /^dist\/(?:[\w-]+\/)*[\w-]+\.d\.ts$/];
const DIST_REQUIRED = ["dist/pkce-flow.js", "dist/pkce-flow.js.map", "dist/pkce-flow.iife.js", "dist/pkce-flow.iife.js.map", "dist/index.d.ts"];

interface PackResult {
  filename: string;
  files: { path: string }[];
}
interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}
interface Served {
  url: string;
  /** Paths requested but not found (a page asking for a file the package does not have). */
  missing: string[];
  close(): Promise<void>;
}

/** The environment without what an enclosing `npm test` exports (its prefix, config, package). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^npm_(config|package|lifecycle)_/i.test(name) || name === "INIT_CWD") delete env[name];
  }
  return env;
}

function npm(args: string[], cwd: string): string {
  return execFileSync("npm", args, { cwd, env: cleanEnv(), encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "pipe"] });
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".css": "text/css",
};

/** Serves the files under `root` on 127.0.0.1 (a secure context), scripts from 'self' only. */
async function serveStatic(root: string): Promise<Served> {
  const base = realpathSync(root);
  const missing: string[] = [];
  const server = createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    const file = resolve(base, `.${pathname.endsWith("/") ? `${pathname}index.html` : pathname}`);
    if (!file.startsWith(base + sep) || !existsSync(file) || !statSync(file).isFile()) {
      missing.push(pathname);
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
      "content-security-policy": "script-src 'self'; object-src 'none'; base-uri 'none'",
      "cache-control": "no-store",
    });
    res.end(readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    missing,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((entry) => statSync(join(dir, entry)).isFile())
    .map((entry) => entry.split(sep).join("/"));
}

let tmp: string;
let project: string;
let pack: PackResult;
let tarball: string;
let runtimeNames: string[];
let emulator: RunningEmulator;
let browser: Browser;
const servers: Served[] = [];

beforeAll(async () => {
  runtimeNames = Object.keys(await import("../../src/index.ts")).sort();
  if (!existsSync(join(REPO, "dist/pkce-flow.js"))) throw new Error("dist/ is missing: run `npm run build` first.");
  tmp = realpathSync(mkdtempSync(join(tmpdir(), "pkce-flow-package-")));
  project = join(tmp, "project");
  mkdirSync(project);
  // Browser and emulator start while npm packs and installs.
  const started = Promise.all([launchChromium(), startEmulator()]);
  try {
    const out = npm(["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], REPO);
    [pack] = JSON.parse(out) as [PackResult];
    tarball = join(tmp, pack.filename);
    writeFileSync(join(project, "package.json"), `${JSON.stringify({ type: "module", private: true }, null, 2)}\n`);
    npm(["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--cache", join(tmp, "npm-cache"), tarball], project);
  } finally {
    [browser, emulator] = await started;
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await emulator?.close();
  await Promise.all(servers.map((server) => server.close()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("npm pack", () => {
  it("ships only dist/ (allow-listed files), README.md, LICENSE, CHANGELOG.md and package.json", () => {
    const paths = pack.files.map((file) => file.path).sort();
    const dist = paths.filter((path) => path.startsWith("dist/"));
    expect(paths.filter((path) => !path.startsWith("dist/"))).toEqual(["CHANGELOG.md", "LICENSE", "README.md", "package.json"]);
    expect(dist.filter((path) => !DIST_ALLOWED.some((pattern) => pattern.test(path)))).toEqual([]);
    for (const required of DIST_REQUIRED) expect(dist).toContain(required);
    // Everything the build wrote is shipped (nothing dropped by an ignore file)...
    expect(dist).toEqual(listFiles(join(REPO, "dist")).map((file) => `dist/${file}`).sort());
    // ...and every declaration file belongs to a module of src/ (no stray or stale .d.ts).
    const strayDeclarations = dist
      .filter((path) => path.endsWith(".d.ts"))
      .filter((path) => !existsSync(join(REPO, "src", path.slice("dist/".length).replace(/\.d\.ts$/, ".ts"))));
    expect(strayDeclarations).toEqual([]);
  });

  it("has a package.json without dependencies or install scripts", () => {
    const manifest = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })) as PackageJson;
    expect(manifest.name).toBe("pkce-flow");
    for (const field of ["dependencies", "optionalDependencies", "peerDependencies"] as const) {
      expect(Object.keys(manifest[field] ?? {}), field).toEqual([]);
    }
    const installScripts = Object.keys(manifest.scripts ?? {}).filter((name) => /^(pre|post)?install$|^prepare$/.test(name));
    expect(installScripts).toEqual([]);
  });
});

describe("installed into a fresh project", () => {
  it("imports by package name in Node from the installed copy: exact exports and the RFC 7636 Appendix B vector", () => {
    const script = `
      import * as lib from "pkce-flow";
      const challenge = await lib.createCodeChallenge(${JSON.stringify(RFC_VERIFIER)});
      process.stdout.write(JSON.stringify({ resolved: import.meta.resolve("pkce-flow"), names: Object.keys(lib).sort(), challenge }));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: project, encoding: "utf8", timeout: 20_000 });
    const { resolved, names, challenge } = JSON.parse(out) as { resolved: string; names: string[]; challenge: string };
    expect(realpathSync(fileURLToPath(resolved))).toBe(join(project, "node_modules/pkce-flow/dist/pkce-flow.js"));
    expect(runtimeNames.length).toBeGreaterThan(0);
    expect(names).toEqual(runtimeNames);
    expect(challenge).toBe(RFC_CHALLENGE);
  });
});

/** Drives Connect OpenRouter on `pageUrl` (a page with #connect, #status, #key, #error): Allow, then the key. */
async function connectOpenRouter(pageUrl: string) {
  emulator.emulator.reset();
  const context = await browser.newContext();
  try {
    context.setDefaultTimeout(10_000); // fail inside the test's own timeout, with a useful message
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    await page.goto(pageUrl);
    await page.waitForSelector('#status[data-status="idle"]');
    expect(problems, "errors while loading the page").toEqual([]);
    await Promise.all([page.waitForURL(`${emulator.url}/auth?**`), page.click("#connect")]);
    await Promise.all([page.waitForURL(`${pageUrl}?**`), page.click("#allow")]);
    await page.waitForSelector('#status[data-status="authorized"], #status[data-status="failed"]');
    await page.waitForSelector("#key:not(:empty), #error:not(:empty)");
    return {
      status: await page.getAttribute("#status", "data-status"),
      key: await page.textContent("#key"),
      error: await page.textContent("#error"),
      url: page.url(),
      pending: await page.evaluate(() => Object.keys(sessionStorage).filter((key) => key.startsWith("pkce-flow:"))),
      problems,
    };
  } finally {
    await context.close();
  }
}

function expectConnected(result: Awaited<ReturnType<typeof connectOpenRouter>>, origin: string): void {
  const { log } = emulator.emulator;
  expect(result.error).toBe("");
  expect(result.status).toBe("authorized");
  expect(log.keys).toHaveLength(1);
  expect(result.key).toBe(log.keys[0]!.key);
  expect(log.exchanges).toHaveLength(1);
  expect(log.exchanges[0]).toMatchObject({ status: 200, origin, authorization: false });
  expect(log.authRequests[0]!.params).toMatchObject({ code_challenge_method: "S256" });
  expect(new URL(result.url).searchParams.has("code")).toBe(false);
  expect(result.pending).toEqual([]);
  expect(result.problems).toEqual([]);
}

describe("a Vite app that imports pkce-flow from node_modules", () => {
  let app: string;
  let chunk: { code: string; moduleIds: string[]; map: { sources: string[] } };
  let served: Served;

  beforeAll(async () => {
    app = join(project, "vite-app");
    mkdirSync(app);
    for (const file of ["index.html", "main.js"]) copyFileSync(join(FIXTURES, "vite-app", file), join(app, file));
    writeFileSync(join(app, "config.js"), `export const baseUrl = ${JSON.stringify(emulator.url)};\n`);
    const output = await build({
      root: app,
      configFile: false,
      logLevel: "silent",
      build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
    });
    const results = (Array.isArray(output) ? output : [output]) as { output: { type: string; fileName: string; code?: string; moduleIds?: string[] }[] }[];
    const chunks = results.flatMap((result) => result.output).filter((item) => item.type === "chunk");
    expect(chunks).toHaveLength(1);
    const [entry] = chunks;
    chunk = {
      code: entry!.code ?? "",
      moduleIds: entry!.moduleIds ?? [],
      map: JSON.parse(readFileSync(join(app, "dist", `${entry!.fileName}.map`), "utf8")) as { sources: string[] },
    };
    served = await serveStatic(join(app, "dist"));
    servers.push(served);
  }, 60_000);

  it("bundles the installed dist/pkce-flow.js, with no path into the repo or its src/", () => {
    const installed = join(project, "node_modules/pkce-flow/dist/pkce-flow.js");
    expect(chunk.moduleIds).toContain(installed);
    expect(chunk.moduleIds.filter((id) => id.startsWith(REPO))).toEqual([]);
    expect(chunk.code).toContain("/api/v1/auth/keys"); // the library really is in the bundle
    expect(chunk.code).not.toContain(REPO);
    expect(chunk.code).not.toMatch(/\bsrc\/(?:[\w-]+\/)*[\w-]+\.ts\b/);
    const sources = chunk.map.sources.map((source) => resolve(join(app, "dist", "assets"), source));
    expect(sources).toContain(installed);
    expect(sources.filter((source) => source.startsWith(REPO) || source.endsWith(".ts"))).toEqual([]);
  });

  it("runs Connect OpenRouter from its bundle in Chromium: Allow, callback, key shown", async () => {
    const result = await connectOpenRouter(`${served.url}/`);
    expectConnected(result, served.url);
    expect(emulator.emulator.log.keys[0]!.keyLabel).toBe("vite consumer");
    expect(served.missing).toEqual([]);
  });
});

describe("the installed IIFE as a classic <script> in a plain page", () => {
  it("completes Connect OpenRouter against the emulator: Allow, key shown, one exchange", async () => {
    copyFileSync(join(FIXTURES, "script-tag/index.html"), join(project, "index.html"));
    copyFileSync(join(FIXTURES, "script-tag/app.js"), join(project, "app.js"));
    writeFileSync(join(project, "config.js"), `window.EMULATOR_URL = ${JSON.stringify(emulator.url)};\n`);
    expect(readFileSync(join(project, "index.html"), "utf8")).toContain('src="/node_modules/pkce-flow/dist/pkce-flow.iife.js"');
    const served = await serveStatic(project);
    servers.push(served);
    const result = await connectOpenRouter(`${served.url}/`);
    expectConnected(result, served.url);
    expect(served.missing).toEqual([]);
  });
});

describe("the shipped declarations, type-checked by a strict TypeScript consumer", () => {
  const COMPILER_OPTIONS = {
    target: "ES2022",
    lib: ["ES2022", "DOM"],
    types: [],
    strict: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    noEmit: true,
    skipLibCheck: false, // check dist/*.d.ts themselves too
  };

  /** Writes `consumer-<name>.ts` and a tsconfig for it, runs the repo's tsc, returns exit code and output. */
  function typecheck(name: string, source: string, resolution: { module: string; moduleResolution: string }) {
    writeFileSync(join(project, `consumer-${name}.ts`), source);
    const config = join(project, `tsconfig.${name}.json`);
    writeFileSync(config, JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, ...resolution }, files: [`consumer-${name}.ts`] }, null, 2));
    const run = spawnSync(process.execPath, [TSC, "-p", config, "--pretty", "false"], { cwd: project, encoding: "utf8", timeout: 60_000 });
    return { status: run.status, output: `${run.stdout}${run.stderr}`.replaceAll(project, "<project>") };
  }

  const consumer = (): string => readFileSync(join(FIXTURES, "consumer.ts.txt"), "utf8");

  it("has a consumer that uses createFlow(openRouter()), isPkceError and result.key, and one @ts-expect-error", () => {
    const source = consumer();
    expect(source).toMatch(/createFlow\(\s*openRouter\(/);
    expect(source).toContain('isPkceError(e, "token_error")');
    expect(source).toContain("result.key");
    expect(source.match(/@ts-expect-error/g)).toHaveLength(1);
  });

  it.each([
    { name: "bundler", module: "ESNext", moduleResolution: "bundler" },
    { name: "nodenext", module: "NodeNext", moduleResolution: "NodeNext" },
  ])("passes with moduleResolution $moduleResolution", ({ name, module, moduleResolution }) => {
    const run = typecheck(name, consumer(), { module, moduleResolution });
    expect(run.output).toBe("");
    expect(run.status).toBe(0);
  });

  it("fails on the misuse once its @ts-expect-error is removed (the check is live)", () => {
    const source = consumer().replace(/^.*@ts-expect-error.*\n/m, "");
    const run = typecheck("misuse", source, { module: "ESNext", moduleResolution: "bundler" });
    expect(run.status).not.toBe(0);
    // openRouter() takes OpenRouterOptions (callbackUrl required) or OpenRouterHeadlessOptions.
    expect(run.output).toMatch(/consumer-misuse\.ts\(\d+,\d+\): error TS\d+:.*OpenRouterOptions/);
    expect(run.output.match(/error TS/g)).toHaveLength(1);
  });
});
