import { chromium, type Browser } from "playwright-core";
import { CHROMIUM } from "../../vite.config.ts";

/** Launches Debian's headless Chromium with this machine's flags (never a downloaded browser). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ ...CHROMIUM, headless: true });
}
