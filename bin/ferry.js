#!/usr/bin/env node
// The `ferry` executable: runs the compiled CLI (npm run build writes dist/).
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`ferry: ${err?.message ?? err}\n`);
    process.exitCode = 1;
  },
);
