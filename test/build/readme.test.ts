// The README's API reference and the shipped TSDoc must not drift from the code (run `npm run
// build` first: the declarations checked are the ones in dist/, i.e. what an editor shows a user).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const DIST = join(REPO, "dist");
const README = readFileSync(join(REPO, "README.md"), "utf8");
const RUNTIME_EXPORTS = Object.keys(await import("../../src/index.ts")).sort();

/** Names of the `### \`name\`` headings in `markdown`, in order. */
const codeHeadings = (markdown: string): string[] => [...markdown.matchAll(/^###[ \t]+`([^`\n]+)`[ \t]*$/gm)].map((match) => match[1]!);

/** The text of the `## title` section, up to the next `## ` heading (empty when there is none). */
function section(markdown: string, title: string): string {
  const start = markdown.search(new RegExp(`^##[ \\t]+${title}[ \\t]*$`, "m"));
  if (start === -1) return "";
  const rest = markdown.slice(start).replace(/^.*\n/, "");
  const end = rest.search(/^##[ \t]/m);
  return end === -1 ? rest : rest.slice(0, end);
}

interface Declaration {
  file: string;
  /** The text before `export declare …`, trailing whitespace removed. */
  before: string;
}

/**
 * Finds `export declare function|class|const name` in the declaration file `file`, following
 * `export { a, b as name } from "./x.js"` and `export * from "./x.js"` to other dist files.
 */
function findDeclaration(file: string, name: string, seen = new Set<string>()): Declaration | null {
  if (seen.has(file) || !existsSync(file)) return null;
  seen.add(file);
  const text = readFileSync(file, "utf8");
  const declaration = new RegExp(`^export declare (?:abstract )?(?:function|class|const|let|var) ${name}\\b`, "m").exec(text);
  if (declaration) return { file, before: text.slice(0, declaration.index).trimEnd() };
  const target = (specifier: string) => join(dirname(file), specifier.replace(/\.js$/, ".d.ts"));
  for (const [, list, specifier] of text.matchAll(/^export\s*\{([^}]*)\}\s*from\s*["']([^"']+)["']/gm)) {
    for (const item of list!.split(",")) {
      const [original, alias] = item.trim().split(/\s+as\s+/);
      if (original && (alias ?? original) === name) return findDeclaration(target(specifier!), original, seen);
    }
  }
  for (const [, specifier] of text.matchAll(/^export\s*\*\s*from\s*["']([^"']+)["']/gm)) {
    const found = findDeclaration(target(specifier!), name, seen);
    if (found) return found;
  }
  return null;
}

describe("README.md API reference", () => {
  it("lists at least one runtime export (src/index.ts was read)", () => {
    expect(RUNTIME_EXPORTS.length).toBeGreaterThan(0);
  });

  it.each(RUNTIME_EXPORTS)("has a ### `%s` heading", (name) => {
    expect(codeHeadings(README)).toContain(name);
  });

  it("has a ## API section whose ### `name` headings each name a real export, once", () => {
    const api = section(README, "API");
    expect(api, "README.md has no ## API section").not.toBe("");
    const headings = codeHeadings(api);
    expect(headings.length).toBeGreaterThan(0);
    expect(headings.filter((name) => !RUNTIME_EXPORTS.includes(name))).toEqual([]);
    expect(headings.filter((name, index) => headings.indexOf(name) !== index)).toEqual([]);
  });

  it.each(["npm ci && npm run demo", "npm ci && npm test"])("gives the set-up command `%s`", (command) => {
    expect(README).toContain(command);
  });
});

describe("TSDoc in the shipped declarations (dist/*.d.ts)", () => {
  it.each(RUNTIME_EXPORTS)("documents %s with a /** */ block", (name) => {
    const found = findDeclaration(join(DIST, "index.d.ts"), name);
    expect(found, `no \`export declare function|class ${name}\` reachable from dist/index.d.ts`).not.toBeNull();
    const where = relative(REPO, found!.file);
    const doc = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/$/.exec(found!.before);
    expect(doc, `${where}: no /** */ block right before \`${name}\``).not.toBeNull();
    const words = doc![1]!.replace(/^\s*\*/gm, "").trim();
    expect(words.length, `${where}: the TSDoc of \`${name}\` is empty`).toBeGreaterThan(0);
  });
});

describe("README.md <script> tags", () => {
  const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;
  const tags = [...README.matchAll(/<script src="(https:\/\/[^"]*pkce-flow[^"]*)"([^>]*)>/g)];

  it("shows the script build from a CDN at least once", () => {
    expect(tags.length).toBeGreaterThan(0);
  });

  it.each(tags.map((tag) => [tag[1]!, tag[2]!] as const))("pins %s to this version with the build's sha384 integrity", async (src, attributes) => {
    expect(src).toBe(`https://cdn.jsdelivr.net/npm/pkce-flow@${VERSION}/dist/pkce-flow.iife.js`);
    const { createHash } = await import("node:crypto");
    const expected = `sha384-${createHash("sha384").update(readFileSync(join(DIST, "pkce-flow.iife.js"))).digest("base64")}`;
    expect(attributes, `the integrity of this build is ${expected}`).toContain(`integrity="${expected}"`);
    expect(attributes).toContain('crossorigin="anonymous"');
  });
});
