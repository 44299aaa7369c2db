// Tree-shaking of the BUILT dist/pkce-flow.js (run `npm run build` first). A user who imports a few
// names gets a bundle of only what those names need: `createFlow` + `oauth2` carries no OpenRouter
// code, `createFlow` + `openRouter` no discovery or RFC 6749 token request, and `createPkcePair`
// neither the flow, nor storage, nor a provider. dist is one file, so `"sideEffects": false` does not
// help here: every top-level statement of dist must be droppable on its own (pure annotations, no
// module-level side effects). Bundled with esbuild, the bundler size-limit uses.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";

const ESM = fileURLToPath(new URL("../../dist/pkce-flow.js", import.meta.url));

/** Minified ESM bundle of `contents`, an entry module that imports from dist/pkce-flow.js. */
async function bundle(contents: string): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: process.cwd(), sourcefile: "entry.js", loader: "js" },
    bundle: true,
    write: false,
    minify: true,
    format: "esm",
    treeShaking: true,
    platform: "browser",
    target: "es2022",
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** An entry that imports `names` and uses them, so the bundler must keep them. */
const entry = (names: readonly string[]): string =>
  `import { ${names.join(", ")} } from ${JSON.stringify(ESM)};\nconsole.log(${names.join(", ")});\n`;

const OPENROUTER = ["openrouter.ai", "/api/v1/auth/keys"];
const OAUTH2 = [".well-known", "grant_type"];
const FLOW_AND_STORAGE = ["sessionStorage", "pkce-flow:", "history", "replaceState", "fetch"];

interface Case {
  names: string[];
  /** Must be in the bundle: shows the entry really pulled in the code it names. */
  present: string[];
  /** Must not be in the bundle. */
  absent: string[];
}

const CASES: Case[] = [
  {
    names: ["createFlow", "oauth2"],
    present: ["sessionStorage", "pkce-flow:", "replaceState", "grant_type"],
    absent: OPENROUTER,
  },
  {
    names: ["createFlow", "openRouter"],
    present: ["sessionStorage", "pkce-flow:", "replaceState", ...OPENROUTER],
    absent: OAUTH2,
  },
  {
    names: ["createPkcePair"],
    present: ["SHA-256", "getRandomValues"],
    absent: [...FLOW_AND_STORAGE, ...OPENROUTER, ...OAUTH2, "callback_url", "response_type"],
  },
  {
    names: ["parseCallback"],
    present: ["invalid_callback", "state_mismatch"],
    absent: [...FLOW_AND_STORAGE, ...OPENROUTER, ...OAUTH2, "SHA-256", "getRandomValues"],
  },
];

let full: string;
const bundles = new Map<string, string>();

beforeAll(async () => {
  if (!existsSync(ESM)) throw new Error("dist/pkce-flow.js is missing: run `npm run build` first.");
  full = await bundle(`import * as lib from ${JSON.stringify(ESM)};\nconsole.log(lib);\n`);
  for (const { names } of CASES) bundles.set(names.join(), await bundle(entry(names)));
});

describe("tree-shaking of dist/pkce-flow.js (esbuild, minified ESM)", () => {
  it("keeps everything in a bundle of the whole namespace (positive control)", () => {
    const needles = [...OPENROUTER, ...OAUTH2, "sessionStorage", "pkce-flow:", "replaceState", "fetch", "SHA-256"];
    expect(needles.filter((needle) => !full.includes(needle))).toEqual([]);
  });

  it.each(CASES.map((c) => [c.names.join(", "), c] as const))("import { %s } carries only what it uses", (_, { names, present, absent }) => {
    const code = bundles.get(names.join())!;
    expect(present.filter((needle) => !code.includes(needle)), "missing from the bundle").toEqual([]);
    expect(absent.filter((needle) => code.includes(needle)), "leaked into the bundle").toEqual([]);
    expect(code.length).toBeLessThan(full.length);
  });

  it("bundles createPkcePair in under a fifth of the whole library", () => {
    expect(bundles.get("createPkcePair")!.length).toBeLessThan(full.length / 5);
  });
});
