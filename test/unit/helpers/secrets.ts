import { vi } from "vitest";

const METHODS = ["log", "info", "warn", "error", "debug", "trace"] as const;

/** Records everything written to the console (silently) until `restore()`. */
export function recordConsole() {
  const spies = METHODS.map((name) => vi.spyOn(console, name).mockImplementation(() => {}));
  return {
    /** All console output so far, as one string. */
    text(): string {
      return spies
        .flatMap((spy) => spy.mock.calls)
        .map((args) => args.map((a) => (a instanceof Error ? `${String(a)} ${String(a.cause)}` : typeof a === "string" ? a : safeJson(a))).join(" "))
        .join("\n");
    },
    restore(): void {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Every place an error could show a secret: its message, cause, own fields (JSON) and string form. */
export function errorSurfaces(error: unknown): string[] {
  if (!(error instanceof Error)) return [safeJson(error)];
  return [error.message, String(error), String(error.cause), safeJson(error), safeJson(error.cause), error.stack ?? ""];
}

/** The secrets that appear in `surfaces` (empty when none leaked). Ignores empty secrets. */
export function leaked(surfaces: string[], secrets: Record<string, string>): string[] {
  return Object.entries(secrets)
    .filter(([, value]) => value !== "" && surfaces.some((surface) => surface.includes(value)))
    .map(([name]) => name);
}
