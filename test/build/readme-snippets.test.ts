// The README's recipes must compile as written: every ```ts, ```tsx and ```js block is type-checked
// against the built declarations (dist/index.d.ts, as an app installing the package sees them) and
// React's own types. Run `npm run build` first (npm test does).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const README = readFileSync(join(REPO, "README.md"), "utf8");
const BLOCKS = [...README.matchAll(/^```(ts|tsx|js)\n([\s\S]*?)^```$/gm)].map((match, index) => ({
  lang: match[1]!,
  code: match[2]!,
  line: README.slice(0, match.index).split("\n").length + 1,
  file: `snippet-${index}.${match[1]}`,
}));

// What the recipes leave to the app: the functions they call but do not define.
const APP_GLOBALS = `
declare function saveKey(key: string): void;
declare function showText(text: string): void;
declare const flow: import("pkce-flow").Flow<unknown>;
`;

describe("README recipes", () => {
  it("has TypeScript and JavaScript recipes to check", () => {
    expect(BLOCKS.filter((b) => b.lang === "tsx").length).toBeGreaterThan(0);
    expect(BLOCKS.filter((b) => b.lang === "ts").length).toBeGreaterThan(0);
  });

  it("type-checks every ts, tsx and js block against the built declarations", () => {
    const dir = join(REPO, "node_modules", ".cache", "readme-snippets");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const block of BLOCKS) writeFileSync(join(dir, block.file), block.code);
    writeFileSync(join(dir, "app.d.ts"), APP_GLOBALS);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "ESNext",
          moduleResolution: "bundler",
          moduleDetection: "force",
          lib: ["ES2022", "DOM", "DOM.Iterable"],
          jsx: "react-jsx",
          strict: true,
          allowJs: true,
          checkJs: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["react"],
          paths: { "pkce-flow": [join(REPO, "dist", "index.d.ts")] },
        },
        include: ["*.ts", "*.tsx", "*.js"],
      }),
    );
    let output = "";
    try {
      execFileSync(join(REPO, "node_modules", ".bin", "tsc"), ["-p", dir], { encoding: "utf8", stdio: "pipe" });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    // Name each failing block by its README line, so the message points at the recipe.
    const located = output.replace(/snippet-(\d+)\.(?:tsx?|js)\((\d+),\d+\)/g, (_, index: string, line: string) => `README.md:${BLOCKS[Number(index)]!.line + Number(line) - 1}`);
    expect(located).toBe("");
  }, 60_000);
});
