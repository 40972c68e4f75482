#!/usr/bin/env node
// The `ferry` executable: runs the compiled CLI (npm run build writes dist/).
//
// `ferry copy` and `ferry sync` are the commands people run over and over from scripts and
// cron, where start-up is a large part of a run that finds nothing to do. They start from
// dist/ferry-cli.cjs, the same CLI as one file, compiled from the V8 code cache the build
// made beside it (scripts/bundle-cli.mjs): about 20 ms less than loading the ES modules one
// by one. Everything else, and any problem with the bundle, goes through dist/cli/main.js.
import { readFileSync, statSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script, constants } from 'node:vm';

const BUNDLE = fileURLToPath(new URL('../dist/ferry-cli.cjs', import.meta.url));
const CACHE = fileURLToPath(new URL('../dist/ferry-cli.cache', import.meta.url));

/** The bundle's `main`, or undefined when the bundle is missing or older than dist/cli. */
function bundledMain() {
  let source;
  try {
    const built = statSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
    if (statSync(BUNDLE).mtimeMs < built.mtimeMs) return undefined;
    source = readFileSync(BUNDLE, 'utf8');
  } catch {
    return undefined;
  }
  let cachedData;
  try {
    // V8 checks that the cache fits this source and this Node; if not, it compiles anew.
    if (statSync(CACHE).mtimeMs >= statSync(BUNDLE).mtimeMs) cachedData = readFileSync(CACHE);
  } catch {
    // No cache: compile.
  }
  try {
    const script = new Script(Module.wrap(source), {
      filename: BUNDLE,
      ...(cachedData ? { cachedData } : {}),
      importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    const module = { exports: {} };
    script
      .runInThisContext()
      .call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
    return typeof module.exports.main === 'function' ? module.exports.main : undefined;
  } catch {
    // A bundle that does not load (a damaged file): the ES modules still work.
    return undefined;
  }
}

// `ferry ... | head`: when the reader goes away, stop quietly, as Unix tools do on SIGPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const command = process.argv[2];
const main =
  ((command === 'copy' || command === 'sync') && bundledMain()) ||
  (await import('../dist/cli/main.js')).main;

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`ferry: ${err?.message ?? err}\n`);
    process.exitCode = 1;
  },
);
