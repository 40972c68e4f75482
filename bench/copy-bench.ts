// `npm run bench`: Ferry against skopeo and against a raw streaming copier, on one generated
// workload (8 repositories × 6 tags, ~330 MB, multi-arch tags, shared base layers, one
// 64 MiB layer), each tool into its own fresh registry, several runs; then Ferry's and
// skopeo's peak memory copying one image with a 1 GiB layer and one with a 64 MiB layer.
// Prints the medians against the targets and writes bench/RESULTS.md. See bench/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { LocalRegistry } from '../src/cli/local-registry.js';
import {
  generateWorkload,
  pushImage,
  type PushedImage,
  type Workload,
} from '../test/helpers/images.js';
import { Resources } from './cleanup.js';
import {
  assertSucceeded,
  measure,
  startCpuProbe,
  waitForQuietCpu,
  type Measured,
} from './measure.js';
import { planFromWorkload, rawCopy, type RawPlan } from './raw-copy.js';
import {
  describeWorkload,
  loadAverages,
  machineFacts,
  megabytes,
  memoryTable,
  runsTable,
  seconds,
  summarize,
  summaryTable,
  toolNotes,
  writeResults,
  type BenchResult,
  type MemoryRecord,
  type RunRecord,
  type ToolRun,
  type WorkloadFacts,
} from './report.js';
import { skopeoSyncArgs, verifyCopy } from './verify.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const TOOLS = ['ferry', 'skopeo', 'raw'] as const;
type Tool = (typeof TOOLS)[number];

interface Options {
  runs: number;
  totalBytes: number;
  tools: Tool[];
  memory: boolean;
  results: boolean;
}

const USAGE = `usage: npm run bench -- [--runs N] [--tools ferry,skopeo,raw] [--total-mb MB] [--skip-memory] [--no-results]
  --runs N         timed runs of each tool (default 3); the summary shows medians
  --tools LIST     which tools to time (default all three)
  --total-mb MB    distinct bytes of the workload (default 330; smaller for a quick try)
  --skip-memory    skip the 1 GiB / 64 MiB peak memory copies
  --no-results     print only; leave bench/RESULTS.md alone`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '3' },
      tools: { type: 'string', default: TOOLS.join(',') },
      'total-mb': { type: 'string', default: '330' },
      'skip-memory': { type: 'boolean', default: false },
      'no-results': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const runs = Number(values.runs);
  const totalMb = Number(values['total-mb']);
  const tools = values.tools.split(',').map((t) => t.trim());
  const unknown = tools.filter((t) => !(TOOLS as readonly string[]).includes(t));
  if (!Number.isInteger(runs) || runs < 1 || !(totalMb >= 100) || unknown.length > 0) {
    throw new Error(`bad arguments\n${USAGE}`);
  }
  return {
    runs,
    totalBytes: Math.round(totalMb * 1e6),
    tools: tools as Tool[],
    memory: !values['skip-memory'],
    results: !values['no-results'],
  };
}

/**
 * Gets the machine ready for a timing: writes back dirty pages (so the previous copy's disk
 * writes do not land inside the next timing) and waits for other processes to leave the CPUs
 * idle. Returns how busy they were, for the record.
 */
async function settle(bench: Bench): Promise<void> {
  // Not spawnSync: a blocked event loop stops draining the registries' stderr pipes.
  await new Promise((resolve) => spawn('sync', { stdio: 'ignore' }).once('close', resolve));
  const busy = await waitForQuietCpu(15, 60_000, (b) =>
    log(`CPUs ${b.toFixed(0)}% busy with other work; waiting up to 60 s for quiet`),
  );
  bench.busyBefore.push(busy);
}

/** Runs one timed section after `settle`, recording how much CPU other processes took meanwhile. */
async function timing<T>(bench: Bench, target: LocalRegistry, fn: () => Promise<T>): Promise<T> {
  await settle(bench);
  const probe = await startCpuProbe([bench.source.pid, target.pid]);
  const result = await fn();
  bench.othersDuring.push(await probe.othersPercent());
  return result;
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function ferrySummary(run: Measured): string {
  return (
    run.output
      .trim()
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('ferry:')) ?? '(no summary line)'
  );
}

/** Context every tool run needs. */
interface Bench {
  resources: Resources;
  /** The `ferry` executable (bin/ferry) of the private copy made at the start (see `snapshotFerry`). */
  ferry: string;
  scratch: string;
  source: LocalRegistry;
  workload: Workload;
  plan: RawPlan;
  /** Repositories grouped by parent path, for skopeo (see `skopeoSync`). */
  skopeoGroups: Map<string, string[]>;
  /** CPU busy percentages seen just before each timing. */
  busyBefore: number[];
  /** Percent of the CPUs other processes used during each timing. */
  othersDuring: number[];
}

async function timeFerry(bench: Bench, target: LocalRegistry): Promise<ToolRun> {
  const args = ['sync', bench.source.host, target.host];
  const opts = { cwd: ROOT, scratch: bench.scratch };
  const first = await timing(bench, target, () =>
    measure(bench.resources, bench.ferry, args, opts),
  );
  assertSucceeded('ferry sync', first);
  await verifyCopyOrThrow(bench, target, 'ferry');
  const again = await timing(bench, target, () =>
    measure(bench.resources, bench.ferry, args, opts),
  );
  assertSucceeded('ferry sync (no-op re-run)', again);
  await verifyCopyOrThrow(bench, target, 'ferry no-op');
  const notes = [`copy: \`${ferrySummary(first)}\``, `re-run: \`${ferrySummary(again)}\``];
  return { ms: first.ms, noopMs: again.ms, peakRssBytes: first.peakRssBytes, notes };
}

/**
 * skopeo 1.9.3's `sync --src yaml` names each target repository `DEST/<last path component>`
 * (`ns2/team/app1` becomes `DEST/app1`), and `--scoped` would put the source host:port in the
 * path, which is not a valid name. So skopeo runs once per parent path (`ns1`, `ns2/team`,
 * `ns3`) with DEST set to that path: the target layout is then exactly Ferry's. The runs are
 * sequential, as one sync's images are; the time is their sum.
 */
async function skopeoSync(bench: Bench, target: LocalRegistry): Promise<Measured> {
  let ms = 0;
  let peak = 0;
  let output = '';
  let last: Measured | undefined;
  for (const [parent, repositories] of bench.skopeoGroups) {
    const yamlFile = join(bench.scratch, `skopeo-${parent.replaceAll('/', '_') || 'root'}.yaml`);
    const source = {
      [bench.source.host]: {
        'tls-verify': false,
        'images-by-tag-regex': Object.fromEntries(repositories.map((r) => [r, '.*'])),
      },
    };
    await writeFile(yamlFile, stringify(source));
    const dest = parent === '.' ? target.host : `${target.host}/${parent}`;
    const run = await measure(bench.resources, 'skopeo', skopeoSyncArgs(yamlFile, dest), {
      cwd: ROOT,
      scratch: bench.scratch,
    });
    assertSucceeded(`skopeo sync to ${dest}`, run);
    ms += run.ms;
    peak = Math.max(peak, run.peakRssBytes ?? 0);
    output += run.output;
    last = run;
  }
  if (!last) throw new Error('no repositories to sync');
  return { ...last, ms, output, peakRssBytes: peak || undefined };
}

function skopeoActivity(run: Measured): string {
  const lines = run.output.split('\n');
  const count = (re: RegExp): number => lines.filter((l) => re.test(l)).length;
  let synced = 0;
  for (const m of run.output.matchAll(/Synced (\d+) images?/g)) synced += Number(m[1]);
  return (
    `${synced} images synced; ${count(/^Copying (blob|config) /)} "Copying blob/config" lines ` +
    `(${count(/already exists/)} of them "skipped: already exists"), ` +
    `${count(/Skipping: image already present/)} "Skipping: image already present at destination", ` +
    `${count(/^Writing manifest to/)} manifests and ${count(/^Writing manifest list to/)} indexes written`
  );
}

async function timeSkopeo(bench: Bench, target: LocalRegistry): Promise<ToolRun> {
  const first = await timing(bench, target, () => skopeoSync(bench, target));
  await verifyCopyOrThrow(bench, target, 'skopeo');
  const again = await timing(bench, target, () => skopeoSync(bench, target));
  await verifyCopyOrThrow(bench, target, 'skopeo no-op');
  const notes = [`copy: ${skopeoActivity(first)}`, `re-run: ${skopeoActivity(again)}`];
  return { ms: first.ms, noopMs: again.ms, peakRssBytes: first.peakRssBytes, notes };
}

async function timeRaw(bench: Bench, target: LocalRegistry): Promise<ToolRun> {
  const { stats, ms } = await timing(bench, target, async () => {
    const started = process.hrtime.bigint();
    const copied = await rawCopy(bench.plan, bench.source.url, target.url);
    return { stats: copied, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  });
  await verifyCopyOrThrow(bench, target, 'raw');
  const notes = [
    `${stats.blobs} blob uploads (${megabytes(stats.bytes)}), ${stats.manifests} manifests, in process`,
  ];
  return { ms, notes };
}

async function verifyCopyOrThrow(bench: Bench, target: LocalRegistry, what: string): Promise<void> {
  try {
    await verifyCopy(bench.source.url, target.url, bench.workload.images);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

async function timedRuns(bench: Bench, options: Options): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  const timers: Record<Tool, (b: Bench, t: LocalRegistry) => Promise<ToolRun>> = {
    ferry: timeFerry,
    skopeo: timeSkopeo,
    raw: timeRaw,
  };
  for (let run = 1; run <= options.runs; run++) {
    // Rotate who goes first, so no tool always gets the coldest or warmest machine.
    const order = options.tools.map(
      (_, i) => options.tools[(i + run - 1) % options.tools.length] as Tool,
    );
    const record: RunRecord = { run, order };
    bench.busyBefore = [];
    bench.othersDuring = [];
    for (const tool of order) {
      const result = await bench.resources.withRegistry((target) => timers[tool](bench, target));
      record[tool] = result;
      const noop = result.noopMs === undefined ? '' : `, no-op re-run ${seconds(result.noopMs)}`;
      log(`run ${run}/${options.runs} ${tool}: ${seconds(result.ms)}${noop}`);
    }
    record.maxBusyBefore = Math.max(...bench.busyBefore);
    record.maxOthersDuring = Math.max(...bench.othersDuring);
    records.push(record);
  }
  return records;
}

async function memoryRuns(
  bench: Bench,
  tools: readonly Tool[],
  repeats: number,
): Promise<MemoryRecord[]> {
  const images: { layer: string; image: PushedImage }[] = [];
  for (const [layer, repository, size] of [
    ['1 GiB', 'big/gib', GiB],
    ['64 MiB', 'big/mib64', 64 * MiB],
  ] as const) {
    const started = Date.now();
    const image = await pushImage(bench.source.url, repository, 'v1', {
      layers: [{ size, seed: `bench/${repository}` }],
    });
    log(`pushed ${repository}:v1 (one ${layer} layer) in ${seconds(Date.now() - started)}`);
    images.push({ layer, image });
  }
  const records: MemoryRecord[] = [];
  for (let repeat = 1; repeat <= repeats; repeat++) {
    for (const tool of (['ferry', 'skopeo'] as const).filter((t) => tools.includes(t))) {
      for (const { layer, image } of images) {
        const record = await bench.resources.withRegistry(async (target) => {
          const ref = (host: string): string => `${host}/${image.repository}:v1`;
          const run = await timing(bench, target, () =>
            tool === 'ferry'
              ? measure(
                  bench.resources,
                  bench.ferry,
                  ['copy', ref(bench.source.host), ref(target.host)],
                  { cwd: ROOT, scratch: bench.scratch },
                )
              : measure(
                  bench.resources,
                  'skopeo',
                  [
                    'copy',
                    '--preserve-digests',
                    '--src-tls-verify=false',
                    '--dest-tls-verify=false',
                    `docker://${ref(bench.source.host)}`,
                    `docker://${ref(target.host)}`,
                  ],
                  { cwd: ROOT, scratch: bench.scratch },
                ),
          );
          assertSucceeded(`${tool} copy of ${image.repository}:v1`, run);
          await verifyCopy(bench.source.url, target.url, [image]);
          return {
            tool,
            repeat,
            layer,
            peakRssBytes: run.peakRssBytes,
            ms: run.ms,
            rssSource: run.rssSource,
          };
        });
        log(
          `memory ${repeat}/${repeats} ${tool} copy, one ${layer} layer: ` +
            `peak RSS ${megabytes(record.peakRssBytes)}, ${seconds(record.ms)}`,
        );
        records.push(record);
      }
    }
  }
  return records;
}

/**
 * Copies bin/, dist/ and package.json (its `"type": "module"` makes dist/ ES modules) into
 * the scratch folder, with node_modules linked, and returns the copy's bin/ferry: a
 * rebuild of dist/ while the benchmark runs (someone else's `npm run build` or `npm test`)
 * then cannot change or break the CLI between two timings.
 */
async function snapshotFerry(scratch: string): Promise<string> {
  const dir = join(scratch, 'ferry');
  await mkdir(dir);
  // Timestamps kept: bin/ferry.js uses dist/ferry-cli.cjs only when it is not older than dist/cli.
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true, preserveTimestamps: true });
  await cp(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true, preserveTimestamps: true });
  await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return join(dir, 'bin', 'ferry');
}

function groupByParent(repositories: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const repository of repositories) {
    const parent = posix.dirname(repository);
    groups.set(parent, [...(groups.get(parent) ?? []), repository]);
  }
  return groups;
}

function checkPrerequisites(options: Options): void {
  const missing: string[] = [];
  const onPath = (cmd: string): boolean =>
    spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  if (!onPath('docker-registry')) missing.push('docker-registry (bash scripts/ensure-deps.sh)');
  if (options.tools.includes('skopeo') && !onPath('skopeo')) {
    missing.push('skopeo (bash scripts/ensure-deps.sh)');
  }
  if (options.tools.includes('ferry') && !existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
    missing.push('the compiled CLI in dist/ (npm run build; npm run bench does it)');
  }
  if (missing.length > 0) throw new Error(`missing: ${missing.join(', ')}`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  checkPrerequisites(options);
  const startedAt = new Date();
  const loadBefore = loadAverages();
  const resources = new Resources();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n[bench] ${signal}: stopping registries and child processes`);
    void resources.release().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const machine = machineFacts();
    for (const fact of machine) log(fact);
    const scratch = await resources.tempDir('ferry-bench-');
    const ferry = await snapshotFerry(scratch);
    const source = await resources.startRegistry();
    log(`registry A at ${source.host}; generating the workload`);
    const genStarted = Date.now();
    const workload = await generateWorkload(source.url, {
      repositories: 8,
      tagsPerRepository: 6,
      totalBytes: options.totalBytes,
      largeLayerSize: 64 * MiB,
      multiArchTags: 8,
      baseLayers: 2,
      baseLayerSize: MiB,
      seed: 'ferry-bench',
    });
    const generationMs = Date.now() - genStarted;
    const off = Math.abs(workload.totalUniqueBytes - options.totalBytes) / options.totalBytes;
    if (off > 0.05) {
      throw new Error(
        `the workload holds ${megabytes(workload.totalUniqueBytes)} distinct bytes, ` +
          `not about ${megabytes(options.totalBytes)}: has generateWorkload changed?`,
      );
    }
    const facts: WorkloadFacts = {
      repositories: workload.repositories.length,
      tags: workload.images.length,
      multiArchTags: workload.images.filter((i) => i.children).length,
      manifests: workload.manifestCount,
      blobs: workload.blobCount,
      totalUniqueBytes: workload.totalUniqueBytes,
      totalRepositoryBytes: workload.totalRepositoryBytes,
      largeLayerBytes: workload.largeLayer?.size ?? 0,
      generationMs,
    };
    log(`workload:\n${describeWorkload(facts)}`);
    const bench: Bench = {
      resources,
      ferry,
      scratch,
      source,
      workload,
      plan: planFromWorkload(workload),
      skopeoGroups: groupByParent(workload.repositories),
      busyBefore: [],
      othersDuring: [],
    };
    const runs = await timedRuns(bench, options);
    const memory = options.memory
      ? await memoryRuns(bench, options.tools, Math.min(options.runs, 3))
      : [];
    const result: BenchResult = {
      startedAt,
      machine,
      command: [
        'npm run bench',
        ...(process.argv.length > 2 ? ['--'] : []),
        ...process.argv.slice(2),
      ].join(' '),
      runs,
      memory,
      workload: facts,
      loadBefore,
      loadAfter: loadAverages(),
      totalMs: Date.now() - startedAt.getTime(),
    };
    console.log(`\n${toolNotes(result).join('\n')}\n`);
    console.log(`${runsTable(result)}\n`);
    if (memory.length > 0) console.log(`${memoryTable(result)}\n`);
    console.log(`${summaryTable(summarize(result))}\n`);
    if (options.results) {
      const path = join(ROOT, 'bench', 'RESULTS.md');
      await writeResults(path, result);
      log(`wrote ${path}`);
    }
  } finally {
    await resources.release();
  }
}

main().catch((err: unknown) => {
  console.error(`[bench] failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
