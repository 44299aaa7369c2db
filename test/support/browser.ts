import { chromium, firefox, type Browser } from "playwright-core";
import { CHROMIUM, FIREFOX } from "../../vite.config.ts";

/**
 * Launches Debian's headless Chromium with this machine's flags (never a downloaded browser).
 * New e2e tests should use `forEachEngine` from ./engine.ts instead, which runs them in Chromium,
 * Firefox and WebKit.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ ...CHROMIUM, headless: true });
}

/** Launches Debian's headless Firefox ESR over WebDriver BiDi (see `FIREFOX` in vite.config.ts). */
export function launchFirefox(): Promise<Browser> {
  return firefox.launch({ ...FIREFOX, headless: true });
}
