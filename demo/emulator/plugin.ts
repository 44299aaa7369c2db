import type { Plugin } from "vite";
import { createEmulator, type EmulatorOptions } from "./emulator.ts";

/**
 * Mounts the emulator on Vite's dev and preview servers, under `/openrouter` unless told otherwise,
 * so the demo can point the openRouter preset's `baseUrl` at `${location.origin}/openrouter`.
 */
export function openRouterEmulator(options: EmulatorOptions = {}): Plugin {
  const emulator = createEmulator({ basePath: "/openrouter", ...options });
  return {
    name: "pkce-flow:openrouter-emulator",
    configureServer(server) {
      server.middlewares.use(emulator.handle);
    },
    configurePreviewServer(server) {
      server.middlewares.use(emulator.handle);
    },
  };
}
