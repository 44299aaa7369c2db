import { createPkcePair } from "../src/index.ts";

const app = document.querySelector("#app")!;
const pair = await createPkcePair();
app.textContent = `verifier ${pair.codeVerifier} -> challenge ${pair.codeChallenge}`;
