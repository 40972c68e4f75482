// Where a copier's time goes, for the engine's authors: puts a counting reverse proxy in front
// of registry A and of registry B, runs Ferry's sync of the benchmark workload and its no-op
// re-run (and skopeo's, for comparison) through them, and prints the requests by kind plus
// the time from process start to the first request, across the requests, and after the
// last one (start-up, network work, shutdown). The proxy adds latency, so these times are
// not benchmark numbers; the counts are exact. `npx tsx bench/request-count.ts [--skip-skopeo]`
import { spawn } from 'node:child_process';
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { generateWorkload } from '../test/helpers/images.js';
import { Resources } from './cleanup.js';
import { withThisNode } from '../test/helpers/node-env.js';
import { markdownTable } from './report.js';
import { skopeoSyncArgs, verifyCopy } from './verify.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;

/** A counting proxy: every request as `side METHOD kind`, with its arrival time. */
interface Counter {
  host: string;
  server: Server;
  agent: HttpAgent;
  seen: { key: string; at: bigint }[];
  /** TCP connections accepted (a client that reuses connections opens few). */
  connections: number;
}

function kind(method: string, path: string): string {
  if (path === '/v2/' || path === '/v2') return 'ping';
  if (path.startsWith('/v2/_catalog')) return 'catalog';
  if (path.includes('/tags/list')) return 'tag list';
  if (path.includes('/manifests/sha256:')) return 'manifest by digest';
  if (path.includes('/manifests/')) return 'manifest by tag';
  if (path.includes('/blobs/uploads/')) {
    if (method === 'POST') return path.includes('mount=') ? 'mount' : 'upload start';
    return 'upload';
  }
  if (path.includes('/blobs/')) return 'blob';
  return path;
}

// Hop-by-hop headers stay on their own hop: passing a `Connection: close` through would make
// the proxy close the client's connection, and the counts of connections would be the proxy's.
function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { connection: _c, 'keep-alive': _k, ...rest } = headers;
  return rest;
}

async function startCounter(side: string, upstreamPort: number): Promise<Counter> {
  const seen: Counter['seen'] = [];
  const agent = new HttpAgent({ keepAlive: true });
  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    seen.push({
      key: `${side} ${method} ${kind(method, req.url ?? '')}`,
      at: process.hrtime.bigint(),
    });
    // The Host header goes through unchanged, so distribution builds upload Locations that
    // point back at this proxy and the PUTs are counted too.
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port: upstreamPort,
        method,
        path: req.url,
        headers: endToEnd(req.headers),
        agent,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, endToEnd(up.headers));
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => res.destroy(err));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const counter: Counter = { host: `127.0.0.1:${port}`, server, agent, seen, connections: 0 };
  server.on('connection', () => counter.connections++);
  return counter;
}

async function run(
  label: string,
  command: string,
  args: string[],
  counters: Counter[],
): Promise<string[]> {
  for (const c of counters) {
    c.seen.length = 0;
    c.connections = 0;
  }
  const started = process.hrtime.bigint();
  const child = spawn(command, args, {
    cwd: ROOT,
    env: withThisNode(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const ended = process.hrtime.bigint();
  if (code !== 0) throw new Error(`${label} exited with ${String(code)}: ${stderr}`);
  const all = counters.flatMap((c) => c.seen);
  const counts = new Map<string, number>();
  for (const s of all) counts.set(s.key, (counts.get(s.key) ?? 0) + 1);
  const times = all.map((s) => s.at).sort((a, b) => (a < b ? -1 : 1));
  const ms = (a: bigint, b: bigint): string => `${(Number(b - a) / 1e6).toFixed(0)} ms`;
  const first = times[0] ?? ended;
  const last = times[times.length - 1] ?? ended;
  return [
    `### ${label}`,
    '',
    `${all.length} requests; start to first request ${ms(started, first)}, first to last ` +
      `request ${ms(first, last)}, last request to exit ${ms(last, ended)} (total ${ms(started, ended)}); ` +
      `TCP connections opened: ${counters.map((c) => `${c.connections} to ${c.seen[0]?.key.split(' ')[0] ?? '?'}`).join(', ')}`,
    '',
    markdownTable(
      ['Request', 'Count'],
      [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => [k, String(n)]),
    ),
    '',
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'skip-skopeo': { type: 'boolean', default: false } } });
  const resources = new Resources();
  const counters: Counter[] = [];
  try {
    const scratch = await resources.tempDir('ferry-reqcount-');
    const source = await resources.startRegistry();
    const workload = await generateWorkload(source.url, {
      repositories: 8,
      tagsPerRepository: 6,
      totalBytes: 330e6,
      largeLayerSize: 64 * MiB,
      multiArchTags: 8,
      seed: 'ferry-bench',
    });
    const out: string[] = [];
    const viaProxies = async (
      tool: string,
      commandsFor: (src: string, dst: string) => Promise<[string, string[]][]>,
    ): Promise<void> => {
      await resources.withRegistry(async (target) => {
        const a = await startCounter('A', source.port);
        const b = await startCounter('B', target.port);
        counters.push(a, b);
        const commands = await commandsFor(a.host, b.host);
        for (const label of [`${tool} copy`, `${tool} no-op re-run`]) {
          for (const [i, [command, args]] of commands.entries()) {
            const part = commands.length > 1 ? ` (process ${i + 1} of ${commands.length})` : '';
            out.push(...(await run(`${label}${part}`, command, args, [a, b])));
          }
        }
        await verifyCopy(source.url, target.url, workload.images);
      });
    };
    await viaProxies('ferry', async (src, dst) => [
      [join(ROOT, 'bin', 'ferry'), ['sync', src, dst]],
    ]);
    if (!values['skip-skopeo']) {
      // As in copy-bench.ts: one skopeo sync per parent path keeps the target layout Ferry's.
      const groups = new Map<string, string[]>();
      for (const r of workload.repositories) {
        groups.set(posix.dirname(r), [...(groups.get(posix.dirname(r)) ?? []), r]);
      }
      await viaProxies('skopeo', async (src, dst) => {
        const commands: [string, string[]][] = [];
        for (const [parent, repositories] of groups) {
          const file = join(scratch, `${parent.replaceAll('/', '_')}.yaml`);
          const images = Object.fromEntries(repositories.map((r) => [r, '.*']));
          await writeFile(
            file,
            stringify({ [src]: { 'tls-verify': false, 'images-by-tag-regex': images } }),
          );
          commands.push(['skopeo', skopeoSyncArgs(file, `${dst}/${parent}`)]);
        }
        return commands;
      });
    }
    console.log(out.join('\n'));
  } finally {
    for (const c of counters) {
      c.server.close();
      c.agent.destroy();
    }
    await resources.release();
  }
}

main().catch((err: unknown) => {
  console.error(`[request-count] failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
