import { afterEach, beforeEach } from "vitest";

/**
 * Puts the page back as it was after each test: the address bar (the browser project's test page
 * has its own query, which the runner may need) and sessionStorage.
 */
export function restorePageAfterEach(): void {
  let original = "";
  beforeEach(() => {
    original = location.href;
    sessionStorage.clear();
  });
  afterEach(() => {
    history.replaceState(history.state, "", original);
    sessionStorage.clear();
  });
}

/** The current page's URL without query and fragment: a same-origin callback / redirect URI. */
export function pageUrl(): string {
  return location.origin + location.pathname;
}

/** Shows `url` (same origin) in the address bar, as the provider's redirect would. */
export function showInAddressBar(url: string | URL): void {
  const target = new URL(url);
  if (target.origin !== location.origin) throw new Error("showInAddressBar needs a same-origin URL");
  history.replaceState(history.state, "", target.pathname + target.search + target.hash);
}
