/**
 * @module What `/metrics` reports, in the Prometheus text format (version 0.0.4): requests by route and
 * status, their latency as a histogram, bytes received and sent on the wire, and the store's logical and
 * stored bytes. Counted in each process's memory: the workers of one `cairn serve --workers N` answer with
 * the sum of theirs (`MetricsCounts`), and Prometheus sums the servers behind a load balancer.
 */
import type { Server, Socket } from "node:net";
import type { StorageStats } from "@cairn/core";

/** Latency buckets in seconds: fine below 10 ms, where a metadata lookup lands, coarse up to a long upload. */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

interface Histogram {
  labels: string;
  counts: number[];
  sum: number;
  count: number;
}

/** One process's counts as plain data, which workers send each other to add up (see `sumCounts`). */
export interface MetricsCounts {
  /** [label text, requests answered] */
  requests: [string, number][];
  latency: Histogram[];
  received: number;
  sent: number;
  /** When the oldest of the processes counted started (ms since the epoch). */
  startedAt: number;
}

/** The counts of several processes as one's. */
export function sumCounts(all: readonly MetricsCounts[]): MetricsCounts {
  const requests = new Map<string, number>();
  const latency = new Map<string, Histogram>();
  let received = 0;
  let sent = 0;
  let startedAt = Number.POSITIVE_INFINITY;
  for (const one of all) {
    for (const [labels, count] of one.requests) requests.set(labels, (requests.get(labels) ?? 0) + count);
    for (const h of one.latency) {
      const total = latency.get(h.labels);
      if (total === undefined) {
        latency.set(h.labels, { ...h, counts: [...h.counts] });
        continue;
      }
      h.counts.forEach((n, i) => {
        total.counts[i] = (total.counts[i] ?? 0) + n;
      });
      total.sum += h.sum;
      total.count += h.count;
    }
    received += one.received;
    sent += one.sent;
    startedAt = Math.min(startedAt, one.startedAt);
  }
  return { requests: [...requests], latency: [...latency.values()], received, sent, startedAt };
}

/** A label set's text, `{method="GET",route="/x"}`, with values escaped as the format requires. */
function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(
    ([key, value]) => `${key}="${value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`,
  );
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** A number as the format writes it (integers plainly, non-finite values by name). */
function num(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly labelTexts = new Map<string, [string, string]>();
  private readonly startedAt = Date.now();
  // Wire bytes: headers and bodies as the sockets counted them, so the numbers hold for streamed bodies
  // (chunk uploads, file downloads) whose size no header announces.
  private closedReceived = 0;
  private closedSent = 0;
  private readonly sockets = new Set<Socket>();

  /** Counts the bytes of every connection `server` accepts. */
  watch(server: Server): void {
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => {
        this.sockets.delete(socket);
        this.closedReceived += socket.bytesRead;
        this.closedSent += socket.bytesWritten;
      });
    });
  }

  /** Records one answered request. `route` is the route's pattern, so label values stay few. */
  observe(method: string, route: string, status: number, seconds: number): void {
    // The label texts of a (method, route, status) are made once: building them cost more than counting.
    const seen = `${method} ${status} ${route}`;
    let texts = this.labelTexts.get(seen);
    if (texts === undefined) {
      texts = [labelText({ method, route, status: String(status) }), labelText({ method, route })];
      this.labelTexts.set(seen, texts);
    }
    const [key, histogramKey] = texts;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let histogram = this.latency.get(histogramKey);
    if (histogram === undefined) {
      histogram = { labels: histogramKey, counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(histogramKey, histogram);
    }
    // Counts per bucket here; made cumulative when written.
    const bucket = LATENCY_BUCKETS.findIndex((upper) => seconds <= upper);
    if (bucket >= 0) histogram.counts[bucket] = (histogram.counts[bucket] ?? 0) + 1;
    histogram.sum += seconds;
    histogram.count += 1;
  }

  private wireBytes(): { received: number; sent: number } {
    let received = this.closedReceived;
    let sent = this.closedSent;
    for (const socket of this.sockets) {
      received += socket.bytesRead;
      sent += socket.bytesWritten;
    }
    return { received, sent };
  }

  /** This process's counts, copied. */
  counts(): MetricsCounts {
    const wire = this.wireBytes();
    return {
      requests: [...this.requests],
      latency: [...this.latency.values()].map((h) => ({ ...h, counts: [...h.counts] })),
      received: wire.received,
      sent: wire.sent,
      startedAt: this.startedAt,
    };
  }
}

/**
 * The exposition text of `counts` (one process's, or the sum of a server's workers); `store` is the
 * whole-store row of ChunkIndex.stats, when the store keeps one.
 */
export function renderMetrics(
  counts: MetricsCounts,
  store: { stats: StorageStats; packBytes: number } | null,
): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };

  metric("cairn_http_requests_total", "counter", "HTTP requests answered, by method, route and status.");
  for (const [labels, count] of counts.requests) lines.push(`cairn_http_requests_total${labels} ${count}`);

  metric(
    "cairn_http_request_duration_seconds",
    "histogram",
    "Time from a request's arrival to the end of its answer, by method and route.",
  );
  for (const h of counts.latency) {
    const inner = h.labels.slice(1, -1);
    let cumulative = 0;
    LATENCY_BUCKETS.forEach((upper, i) => {
      cumulative += h.counts[i] ?? 0;
      lines.push(`cairn_http_request_duration_seconds_bucket{${inner},le="${upper}"} ${cumulative}`);
    });
    lines.push(`cairn_http_request_duration_seconds_bucket{${inner},le="+Inf"} ${h.count}`);
    lines.push(`cairn_http_request_duration_seconds_sum${h.labels} ${num(h.sum)}`);
    lines.push(`cairn_http_request_duration_seconds_count${h.labels} ${h.count}`);
  }

  metric(
    "cairn_http_received_bytes_total",
    "counter",
    "Bytes received on HTTP connections (headers and bodies).",
  );
  lines.push(`cairn_http_received_bytes_total ${counts.received}`);
  metric("cairn_http_sent_bytes_total", "counter", "Bytes sent on HTTP connections (headers and bodies).");
  lines.push(`cairn_http_sent_bytes_total ${counts.sent}`);

  if (store !== null) {
    metric("cairn_store_logical_bytes", "gauge", "Bytes of every file of every version, as pushed.");
    lines.push(`cairn_store_logical_bytes ${store.stats.logicalBytes}`);
    metric("cairn_store_stored_bytes", "gauge", "Bytes of the unique chunks the versions refer to.");
    lines.push(`cairn_store_stored_bytes ${store.stats.storedBytes}`);
    metric("cairn_store_pack_bytes", "gauge", "Bytes of the pack objects in the blob store.");
    lines.push(`cairn_store_pack_bytes ${store.packBytes}`);
    metric("cairn_store_versions", "gauge", "Versions in the registry.");
    lines.push(`cairn_store_versions ${store.stats.versions}`);
  }

  metric(
    "cairn_process_start_time_seconds",
    "gauge",
    "When this server's oldest process counted here started (Unix time).",
  );
  lines.push(`cairn_process_start_time_seconds ${Math.floor(counts.startedAt / 1000)}`);
  return `${lines.join("\n")}\n`;
}
