// Turns the benchmark's measurements into the summary table (medians, ratios, targets) and
// into bench/RESULTS.md, with the machine and workload they were measured on.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg, release } from 'node:os';
import { format, resolveConfig } from 'prettier';

/** One tool's timed sync in one run. */
export interface ToolRun {
  ms: number;
  /** The same command again with the target already full (absent for raw). */
  noopMs?: number;
  peakRssBytes?: number;
  /** Notes about this run (what a tool printed, what its re-run did). */
  notes: string[];
}

/** One run: each tool against its own fresh target registry. */
export interface RunRecord {
  run: number;
  order: string[];
  /** The busiest the CPUs were (other processes) just before one of this run's timings, in percent. */
  maxBusyBefore?: number;
  /** The most CPU other processes took during one of this run's timings, in percent of all CPUs. */
  maxOthersDuring?: number;
  ferry?: ToolRun;
  skopeo?: ToolRun;
  raw?: ToolRun;
}

/** One single-image copy under the memory measurement. */
export interface MemoryRecord {
  tool: 'ferry' | 'skopeo';
  /** 1, 2, …: the copies are repeated and the median taken. */
  repeat: number;
  /** `1 GiB` or `64 MiB`. */
  layer: string;
  peakRssBytes: number | undefined;
  ms: number;
  rssSource: string;
}

/** The workload's numbers, as printed and written. */
export interface WorkloadFacts {
  repositories: number;
  tags: number;
  multiArchTags: number;
  manifests: number;
  blobs: number;
  totalUniqueBytes: number;
  totalRepositoryBytes: number;
  largeLayerBytes: number;
  generationMs: number;
}

/** Everything one benchmark run measured. */
export interface BenchResult {
  startedAt: Date;
  /** `machineFacts()` taken at the start (the commit can move during a run). */
  machine: string[];
  command: string;
  runs: RunRecord[];
  memory: MemoryRecord[];
  workload: WorkloadFacts;
  loadBefore: number[];
  loadAfter: number[];
  totalMs: number;
}

/** A row of the summary table. */
export interface SummaryRow {
  metric: string;
  value: string;
  target: string;
  result: '' | 'PASS' | 'MISS' | 'n/a';
}

/** The middle value (mean of the two middle ones for an even count); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] as number) + upper) / 2;
}

/** Seconds, two decimals. */
export function seconds(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`;
}

/** Decimal megabytes (10^6 bytes), one decimal. */
export function megabytes(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / 1e6).toFixed(1)} MB`;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function check(value: number | undefined, limit: number): SummaryRow['result'] {
  if (value === undefined) return 'n/a';
  return value <= limit ? 'PASS' : 'MISS';
}

function percent(value: number | undefined): string {
  return value === undefined ? 'n/a' : `${value.toFixed(0)}%`;
}

function times(value: number | undefined): string {
  return value === undefined ? 'n/a' : `${value.toFixed(2)}×`;
}

function memoryOf(result: BenchResult, tool: string, layer: string): MemoryRecord[] {
  return result.memory.filter((m) => m.tool === tool && m.layer === layer);
}

/** Medians, ratios and the targets, in the order they are printed. */
export function summarize(result: BenchResult): SummaryRow[] {
  const pick = (tool: 'ferry' | 'skopeo' | 'raw', noop = false): number | undefined =>
    median(
      result.runs
        .map((r) => (noop ? r[tool]?.noopMs : r[tool]?.ms))
        .filter((v): v is number => v !== undefined),
    );
  const ferry = pick('ferry');
  const skopeo = pick('skopeo');
  const raw = pick('raw');
  const ferryNoop = pick('ferry', true);
  const skopeoNoop = pick('skopeo', true);
  const peak = (tool: string, layer: string): number | undefined =>
    median(memoryOf(result, tool, layer).flatMap((m) => m.peakRssBytes ?? []));
  const ferryGib = peak('ferry', '1 GiB');
  const ferrySmall = peak('ferry', '64 MiB');
  const difference =
    ferryGib === undefined || ferrySmall === undefined ? undefined : ferryGib - ferrySmall;
  const n = result.runs.length;
  const row = (
    metric: string,
    value: string,
    target = '',
    res: SummaryRow['result'] = '',
  ): SummaryRow => ({ metric, value, target, result: res });
  return [
    row(`ferry sync (median of ${n})`, seconds(ferry)),
    row(`skopeo sync (median of ${n})`, seconds(skopeo)),
    row(`raw copy (median of ${n})`, seconds(raw)),
    row('ferry / skopeo', times(ratio(ferry, skopeo)), '≤ 0.60×', check(ratio(ferry, skopeo), 0.6)),
    row('ferry / raw', times(ratio(ferry, raw)), '≤ 1.20×', check(ratio(ferry, raw), 1.2)),
    row('ferry no-op re-run', seconds(ferryNoop)),
    row('skopeo no-op re-run', seconds(skopeoNoop)),
    row(
      'ferry no-op / skopeo no-op',
      times(ratio(ferryNoop, skopeoNoop)),
      '≤ 0.40×',
      check(ratio(ferryNoop, skopeoNoop), 0.4),
    ),
    row('ferry peak RSS, one 1 GiB layer', megabytes(ferryGib), '≤ 100 MB', check(ferryGib, 100e6)),
    row('ferry peak RSS, one 64 MiB layer', megabytes(ferrySmall)),
    row(
      'ferry peak RSS, 1 GiB minus 64 MiB',
      megabytes(difference),
      '≤ 10 MB',
      check(difference === undefined ? undefined : Math.abs(difference), 10e6),
    ),
    row('skopeo peak RSS, one 1 GiB layer', megabytes(peak('skopeo', '1 GiB'))),
    row('skopeo peak RSS, one 64 MiB layer', megabytes(peak('skopeo', '64 MiB'))),
  ];
}

/** A Markdown table. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The summary as a Markdown table. */
export function summaryTable(rows: SummaryRow[]): string {
  return markdownTable(
    ['Measure', 'Value', 'Target', 'Result'],
    rows.map((r) => [r.metric, r.value, r.target, r.result]),
  );
}

/** Every run's numbers as a Markdown table. */
export function runsTable(result: BenchResult): string {
  return markdownTable(
    [
      'Run',
      'Order',
      'ferry',
      'ferry no-op',
      'skopeo',
      'skopeo no-op',
      'raw',
      'ferry peak RSS',
      "Others' CPU before / during",
    ],
    result.runs.map((r) => [
      String(r.run),
      r.order.join(', '),
      seconds(r.ferry?.ms),
      seconds(r.ferry?.noopMs),
      seconds(r.skopeo?.ms),
      seconds(r.skopeo?.noopMs),
      seconds(r.raw?.ms),
      megabytes(r.ferry?.peakRssBytes),
      `≤ ${percent(r.maxBusyBefore)} / ≤ ${percent(r.maxOthersDuring)}`,
    ]),
  );
}

/** The single-image copies as a Markdown table: medians, then every measurement. */
export function memoryTable(result: BenchResult): string {
  const kinds = [...new Map(result.memory.map((m) => [`${m.tool} ${m.layer}`, m])).values()];
  return markdownTable(
    ['Tool', 'Image', 'Peak RSS (median)', 'Every copy', 'Wall time (median)', 'Measured with'],
    kinds.map(({ tool, layer, rssSource }) => {
      const records = memoryOf(result, tool, layer);
      return [
        tool,
        `one ${layer} layer`,
        megabytes(median(records.flatMap((m) => m.peakRssBytes ?? []))),
        records.map((m) => megabytes(m.peakRssBytes)).join(', '),
        seconds(median(records.map((m) => m.ms))),
        rssSource === 'gnu-time' ? '/usr/bin/time %M' : 'VmHWM polled every 50 ms',
      ];
    }),
  );
}

function firstLine(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split('\n')[0] as string;
  } catch {
    return 'unknown';
  }
}

/** The machine and software the numbers belong to, one fact a line. */
export function machineFacts(): string[] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const memKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  const commit = firstLine('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = firstLine('git', ['status', '--porcelain', '--', 'src']) !== '';
  return [
    `CPU: ${model}, ${firstLine('nproc', [])} CPUs (nproc)`,
    `Memory: ${(memKiB / 1024 / 1024).toFixed(1)} GiB`,
    `Kernel: Linux ${release()}`,
    `Node ${process.version}; ${firstLine('skopeo', ['--version'])}; ${firstLine('docker-registry', ['--version'])}`,
    `Ferry: commit ${commit}${dirty ? ' plus uncommitted changes under src/' : ''}`,
    nodeStartup(),
  ];
}

/**
 * What starting Node costs here, before any Ferry code runs: part of every `ferry` run, and
 * so of the no-op re-run. NODE_EXTRA_CA_CERTS, when the environment sets it, is read at every
 * start by Node 20 (Go programs such as skopeo read certificates only for TLS).
 */
function nodeStartup(): string {
  const startMs = (env: NodeJS.ProcessEnv): number => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0'], { env });
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return median(times)!;
  };
  const line = `Node start-up (\`node -e 0\`, median of 5): ${startMs(process.env).toFixed(0)} ms`;
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!extra) return line;
  const { NODE_EXTRA_CA_CERTS: _, ...without } = process.env;
  return `${line}; ${startMs(without).toFixed(0)} ms without NODE_EXTRA_CA_CERTS, which this environment sets (${extra}) and Node 20 reads at every start`;
}

/** The 1-, 5- and 15-minute load averages, for judging whether something else was running. */
export function loadAverages(): number[] {
  return loadavg();
}

function workloadLines(w: WorkloadFacts): string[] {
  return [
    `${w.repositories} repositories × ${w.tags / w.repositories} tags = ${w.tags} tags, ${w.multiArchTags} of them multi-arch (OCI index or Docker manifest list, 2 platforms)`,
    `${w.manifests} manifests, ${w.blobs} distinct blobs, ${megabytes(w.totalUniqueBytes)} distinct bytes (${megabytes(w.totalRepositoryBytes)} counted per repository, what a copier without cross-repository mounts moves)`,
    `One ${megabytes(w.largeLayerBytes)} layer; 2 shared 1 MiB base layers in every image`,
    `Generated and pushed to registry A in ${seconds(w.generationMs)}`,
  ];
}

/** What the tools printed about each run, one line each. */
export function toolNotes(result: BenchResult): string[] {
  return result.runs.flatMap((r) =>
    (['ferry', 'skopeo', 'raw'] as const).flatMap((tool) =>
      (r[tool]?.notes ?? []).map((n) => `Run ${r.run}, ${tool}: ${n}`),
    ),
  );
}

/** Writes bench/RESULTS.md (replacing the previous results; git keeps the history). */
export async function writeResults(path: string, result: BenchResult): Promise<void> {
  const notes = toolNotes(result);
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(', ');
  const text = `# Benchmark results

Written by \`npm run bench\` (\`bench/copy-bench.ts\`); [README.md](README.md) says what is
measured and how to read it. Run on ${result.startedAt.toISOString()} as \`${result.command}\`,
${seconds(result.totalMs)} in all.

## Machine

${result.machine.map((f) => `- ${f}`).join('\n')}
- Load average before / after: ${load(result.loadBefore)} / ${load(result.loadAfter)}

## Workload

${workloadLines(result.workload)
  .map((f) => `- ${f}`)
  .join('\n')}

## Summary

${summaryTable(summarize(result))}

## Every run

Each tool copies into its own fresh, empty registry B; the order rotates between runs.

${runsTable(result)}

## Memory: one image with one large layer

${memoryTable(result)}

## What the tools printed

${notes.map((n) => `- ${n}`).join('\n') || '- nothing of note'}
`;
  // Sections other benchmarks keep in the same file (bench/job-bench.ts) stay as they are.
  const previous = await readFile(path, 'utf8').catch(() => '');
  const kept = previous.indexOf(`\n${JOB_SECTION}`);
  const whole = kept >= 0 ? `${text}${previous.slice(kept)}` : text;
  // Formatted as `npm run format` would, so the committed file passes `prettier --check`.
  const config = (await resolveConfig(path)) ?? {};
  await writeFile(path, await format(whole, { ...config, filepath: path }));
}

/** The heading of the job benchmark's section, which the copy benchmark keeps. */
export const JOB_SECTION = '## Job engine throughput';

/** The workload lines, for the console. */
export function describeWorkload(w: WorkloadFacts): string {
  return workloadLines(w).join('\n');
}

/** Replaces the section under `heading` in a results file (or appends it), keeping the rest. */
export async function writeSection(path: string, heading: string, text: string): Promise<void> {
  const current = await readFile(path, 'utf8').catch(() => '# Benchmark results\n');
  const start = current.indexOf(`\n${heading}\n`);
  let next: string;
  if (start < 0) next = `${current.trimEnd()}\n\n${text}`;
  else {
    const after = current.indexOf('\n## ', start + heading.length + 2);
    next = current.slice(0, start + 1) + text + (after < 0 ? '' : `\n${current.slice(after + 1)}`);
  }
  // Tables padded as `npm run format:check` wants them.
  const config = (await resolveConfig(path)) ?? {};
  await writeFile(path, await format(next, { ...config, filepath: path }));
}
