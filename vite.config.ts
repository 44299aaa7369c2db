/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { playwright } from "@vitest/browser-playwright";
import { webdriverio } from "@vitest/browser-webdriverio";
import { openRouterEmulator } from "./demo/emulator/plugin.ts";
import { oidcDevServer } from "./demo/oidc/plugin.ts";
import { demoPages } from "./demo/plugin.ts";

/** Debian's Chromium with the flags this machine needs (no sandbox as root, closed network). */
export const CHROMIUM = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ],
};

/**
 * Debian's Firefox ESR through playwright-core's WebDriver BiDi (channel "moz-firefox"): no
 * Juggler-patched Firefox download. playwright-core is pinned to 1.64.1 because 1.65 sends a BiDi
 * command ESR 153 does not have. Site icons off: their fetches on every page load only add noise.
 */
export const FIREFOX = {
  channel: "moz-firefox",
  executablePath: process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr",
  firefoxUserPrefs: { "browser.chrome.site_icons": false },
};

/**
 * Unit test files that do not run in WebKit, and why (each is a difference in the test scaffolding,
 * not in the library; see README "Browser support"):
 * - pkce, random: `vi.stubGlobal("crypto", ...)` does not replace what the library's `crypto`
 *   resolves to in WebKit (JavaScriptCore), so the stubbed-crypto cases see the real one;
 * - flow: its page helper (test/unit/helpers/page.ts) calls `history.replaceState` around every
 *   test, more often than WebKit allows (100 calls per 10 s, then SecurityError), so every test
 *   after the first few dozen fails.
 */
const WEBKIT_UNIT_EXCLUDED = ["test/unit/pkce.test.ts", "test/unit/random.test.ts", "test/unit/flow.test.ts"];

export default defineConfig({
  // `npm run demo`: the demo pages, the OpenRouter emulator under /openrouter and an OpenID
  // Connect server on its own port. PKCE_DEMO_EMULATOR_URL points the pages at another emulator.
  plugins: [
    openRouterEmulator(),
    oidcDevServer(),
    demoPages({ emulatorUrl: process.env.PKCE_DEMO_EMULATOR_URL, oidcIssuer: process.env.PKCE_DEMO_OIDC_ISSUER }),
  ],
  server: { host: "127.0.0.1" },
  build: {
    lib: {
      entry: "src/index.ts",
      name: "PkceFlow",
      formats: ["es", "iife"],
      fileName: (format) => (format === "es" ? "pkce-flow.js" : "pkce-flow.iife.js"),
    },
    sourcemap: true,
    minify: true,
    target: "es2022",
    emptyOutDir: true,
  },
  test: {
    // Two at a time even on two cores: e2e files mostly wait on browsers and servers.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: "unit", environment: "happy-dom", include: ["test/unit/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "browser",
          include: ["test/unit/**/*.test.ts"],
          globalSetup: ["test/support/webkit-vitest.ts"],
          browser: {
            enabled: true,
            headless: true,
            // Every unit test in Chromium and in Firefox; in WebKit all but WEBKIT_UNIT_EXCLUDED.
            instances: [
              { browser: "chromium", provider: playwright({ launchOptions: CHROMIUM }) },
              { browser: "firefox", provider: playwright({ launchOptions: FIREFOX }) },
              {
                // @vitest/browser-webdriverio knows Safari, not WebKitGTK: test/support/webkit-vitest.ts
                // (the global setup below) starts Xvfb and WebKitWebDriver behind a proxy that asks
                // for MiniBrowser instead. MiniBrowser has no headless mode (Xvfb stands in).
                browser: "safari",
                name: "webkit",
                headless: false,
                // PKCE_WEBKIT_ALL_UNITS=1 runs them anyway (to see whether they pass yet).
                exclude: process.env.PKCE_WEBKIT_ALL_UNITS ? [] : WEBKIT_UNIT_EXCLUDED,
                provider: webdriverio({
                  hostname: "127.0.0.1",
                  path: "/",
                  get port() {
                    return (globalThis as { __pkceWebKitPort?: number }).__pkceWebKitPort ?? 0;
                  },
                }),
              },
            ],
            screenshotFailures: false,
          },
        },
      },
      {
        extends: true,
        test: { name: "build", environment: "node", include: ["test/build/**/*.test.ts"], testTimeout: 30_000 },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Files in parallel: each starts its own servers on free ports and its own browsers.
          fileParallelism: true,
          // A worker keeps its modules from one e2e file to the next (playwright-core, Vite,
          // oidc-provider take seconds to import); no file leaves state behind in them.
          isolate: false,
        },
      },
    ],
  },
});
