// Build step after tsc: the CLI as one CommonJS file (dist/ferry-cli.cjs) and a V8 code cache
// for it (dist/ferry-cli.cache), which bin/ferry.js uses for `ferry copy` and `ferry sync`.
// Node 20 has no module.enableCompileCache: loading the CLI's ES modules one by one costs
// about 35 ms of every run, the bundle with its cache about 10 (docs/decisions.md).
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'ferry-cli.cjs');
const cache = join(root, 'dist', 'ferry-cli.cache');

const { dependencies } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
// commander is bundled (it is on every run's path); every other package stays a require() of
// node_modules.
const external = Object.keys(dependencies)
  .filter((name) => name !== 'commander')
  .flatMap((name) => [name, `${name}/*`]);

// Only copy and sync run from the bundle: the other commands' modules (the service, its
// database and HTTP server) are left out, so the bundle, its cache and the memory they take
// stay small. Each becomes a stub that says so, should anything ever load it from here.
const SERVICE_COMMANDS = /^\.\/(serve|worker|demo|demo-service|region|admin)\.js$/;
const leaveOut = {
  name: 'leave-out-service-commands',
  setup(b) {
    b.onResolve({ filter: SERVICE_COMMANDS }, (args) => ({
      path: args.path,
      namespace: 'left-out',
    }));
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not in dist/ferry-cli.cjs: run it through dist/cli/main.js`)});`,
      loader: 'js',
    }));
  },
};

// The cache must never outlive the bundle it was made for.
await rm(cache, { force: true });
await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external,
  plugins: [leaveOut],
  logLevel: 'warning',
});
// Compiled by a fresh Node with the same binary, as bin/ferry.js will compile it.
execFileSync(
  process.execPath,
  [
    '-e',
    `const fs = require('node:fs'), vm = require('node:vm'), { wrap } = require('node:module');
     const [bundle, cache] = process.argv.slice(1);
     const script = new vm.Script(wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle });
     fs.writeFileSync(cache, script.createCachedData());`,
    bundle,
    cache,
  ],
  { stdio: 'inherit' },
);
