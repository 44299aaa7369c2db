import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createEmulator, type Emulator, type EmulatorOptions } from "./emulator.ts";

export interface StartOptions extends EmulatorOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
}

export interface RunningEmulator {
  /** Base URL including basePath, without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  emulator: Emulator;
  close(): Promise<void>;
}

/** Serves the emulator on its own HTTP server (tests, or a demo app served from elsewhere). */
export async function startEmulator(options: StartOptions = {}): Promise<RunningEmulator> {
  const { port = 0, host = "127.0.0.1", ...emulatorOptions } = options;
  const emulator = createEmulator(emulatorOptions);
  const server = createServer((req, res) => emulator.handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostname = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${hostname}:${address.port}${emulator.basePath}`,
    emulator,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Browsers keep connections alive; without this close() would wait for them to time out.
        server.closeAllConnections();
      }),
  };
}
