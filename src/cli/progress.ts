// Shows a copy's progress: a live status line on a terminal, plain lines otherwise, and one
// summary line at the end.
import type { CopyEvent, ImageResult } from '../registry/copy/engine.js';
import { describeError } from '../errors/catalog.js';

/** Where progress goes. */
export interface ProgressOutput {
  /** Result lines and the summary. */
  out: NodeJS.WritableStream;
  /** The live line (a terminal), or undefined for plain output. */
  live?: NodeJS.WritableStream & { columns?: number };
  /** No output but the summary (used with --json, which prints its own document). */
  quiet?: boolean;
}

/** Formats a byte count: `12.3 MB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Tallies of a run. */
export interface Summary {
  images: number;
  copied: number;
  skipped: number;
  planned: number;
  conflicts: number;
  failed: number;
  bytes: number;
  seconds: number;
}

/** Tracks events and renders them. */
export class ProgressDisplay {
  private readonly started = Date.now();
  private total = 0;
  private bytesDone = 0;
  private readonly bytesTotalByImage = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private readonly results: ImageResult[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastLine = '';

  constructor(private readonly output: ProgressOutput) {}

  /** Sets how many images the run covers (known once planned). */
  setTotal(n: number): void {
    this.total = n;
    if (this.output.live && !this.output.quiet && !this.timer) {
      this.timer = setInterval(() => this.render(), 200);
      this.timer.unref();
    }
  }

  /** Takes one engine event. */
  onEvent = (e: CopyEvent): void => {
    switch (e.type) {
      case 'image-start':
        this.inFlight.add(e.image);
        break;
      case 'image-bytes-total':
        this.bytesTotalByImage.set(e.image, e.total);
        break;
      case 'blob-progress':
        this.bytesDone += e.delta;
        break;
      case 'image-done':
        this.inFlight.delete(e.image);
        this.results.push(e.result);
        if (!this.output.quiet) this.printResult(e.result);
        break;
    }
  };

  private printResult(r: ImageResult): void {
    const line =
      r.status === 'failed' || r.status === 'conflict'
        ? `${r.status.padEnd(8)} ${r.src} -> ${r.dst}: ${describeError(r.error)}`
        : `${r.status.padEnd(8)} ${r.src} -> ${r.dst} ${r.digest ?? ''}${r.bytes > 0 ? ` (${formatBytes(r.bytes)})` : ''}`;
    this.clearLive();
    this.output.out.write(`${line}\n`);
    this.render();
  }

  private clearLive(): void {
    if (this.output.live && this.lastLine) {
      this.output.live.write('\r\x1b[K');
      this.lastLine = '';
    }
  }

  private render(): void {
    const live = this.output.live;
    if (!live || this.output.quiet || this.total === 0) return;
    const seconds = (Date.now() - this.started) / 1000;
    let bytesTotal = 0;
    for (const v of this.bytesTotalByImage.values()) bytesTotal += v;
    const rate = seconds > 0 ? this.bytesDone / seconds : 0;
    let line =
      `images ${this.results.length}/${this.total}` +
      ` | ${formatBytes(this.bytesDone)}${bytesTotal > 0 ? ` of ${formatBytes(bytesTotal)}` : ''}` +
      ` | ${formatBytes(rate)}/s | ${this.inFlight.size} in flight`;
    const width = live.columns ?? 120;
    if (line.length > width - 1) line = line.slice(0, width - 1);
    live.write(`\r\x1b[K${line}`);
    this.lastLine = line;
  }

  /** Stops the live line and prints the summary line; returns the tallies. */
  finish(): Summary {
    if (this.timer) clearInterval(this.timer);
    this.clearLive();
    const count = (s: ImageResult['status']): number =>
      this.results.filter((r) => r.status === s).length;
    const summary: Summary = {
      images: this.results.length,
      copied: count('copied'),
      skipped: count('skipped'),
      planned: count('planned'),
      conflicts: count('conflict'),
      failed: count('failed'),
      bytes: this.results.reduce((n, r) => n + r.bytes, 0),
      seconds: (Date.now() - this.started) / 1000,
    };
    if (!this.output.quiet) this.output.out.write(`${formatSummary(summary)}\n`);
    return summary;
  }
}

/** The one-line summary: `48 images: 40 copied, 8 skipped, ...; 330.2 MB in 12.3 s (26.8 MB/s)`. */
export function formatSummary(s: Summary): string {
  const parts = [`${s.copied} copied`, `${s.skipped} skipped`];
  if (s.planned > 0) parts.push(`${s.planned} to copy (dry run)`);
  parts.push(`${s.conflicts} conflicts`, `${s.failed} failed`);
  const rate = s.seconds > 0 ? s.bytes / s.seconds : 0;
  const verb = s.planned > 0 ? 'to transfer' : 'transferred';
  return (
    `ferry: ${s.images} images: ${parts.join(', ')}; ${formatBytes(s.bytes)} ${verb}` +
    ` in ${s.seconds.toFixed(1)} s (${formatBytes(rate)}/s)`
  );
}
