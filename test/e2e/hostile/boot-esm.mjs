// Starts the page with the ESM build.
import * as lib from "/dist/pkce-flow.js";

window.hostileApp(lib);
