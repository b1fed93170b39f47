/**
 * Request counters and a latency histogram per route, rendered with the batcher's gauges in the Prometheus text
 * exposition format (version 0.0.4).
 */
import type { BatcherStats } from "./batcher.js";

/** Upper bounds of the latency buckets, in seconds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

const escapeLabel = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export class ServerMetrics {
  /** `route\0status` → count */
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();

  observe(route: string, status: number, seconds: number): void {
    const key = `${route}\0${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let h = this.latency.get(route);
    if (h === undefined) {
      h = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(route, h);
    }
    LATENCY_BUCKETS.forEach((le, i) => {
      if (seconds <= le) h.counts[i]!++;
    });
    h.sum += seconds;
    h.count++;
  }

  render(batcher: BatcherStats, inFlightRequests: number): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    metric(
      "sbert_http_requests_total",
      "counter",
      "HTTP requests answered, by route and status code.",
      [...this.requests].map(([key, n]) => {
        const [route, status] = key.split("\0");
        return `sbert_http_requests_total{route="${escapeLabel(route!)}",status="${status}"} ${n}`;
      }),
    );
    metric(
      "sbert_http_request_duration_seconds",
      "histogram",
      "Time from receiving a request to answering it, by route.",
      [...this.latency].flatMap(([route, h]) => {
        const r = escapeLabel(route);
        return [
          ...LATENCY_BUCKETS.map((le, i) => `sbert_http_request_duration_seconds_bucket{route="${r}",le="${le}"} ${h.counts[i]}`),
          `sbert_http_request_duration_seconds_bucket{route="${r}",le="+Inf"} ${h.count}`,
          `sbert_http_request_duration_seconds_sum{route="${r}"} ${h.sum}`,
          `sbert_http_request_duration_seconds_count{route="${r}"} ${h.count}`,
        ];
      }),
    );
    metric("sbert_texts_total", "counter", "Texts encoded.", [`sbert_texts_total ${batcher.texts}`]);
    metric("sbert_batches_total", "counter", "Encode calls (batches).", [`sbert_batches_total ${batcher.batches}`]);
    metric("sbert_cancelled_texts_total", "counter", "Texts dropped unencoded because their client went away.", [`sbert_cancelled_texts_total ${batcher.cancelledTexts}`]);
    metric("sbert_refused_requests_total", "counter", "Requests refused because the queue was full.", [`sbert_refused_requests_total ${batcher.refusedRequests}`]);
    metric("sbert_queue_texts", "gauge", "Texts waiting for a batch.", [`sbert_queue_texts ${batcher.queuedTexts}`]);
    metric("sbert_running_batches", "gauge", "Encode calls running now.", [`sbert_running_batches ${batcher.runningBatches}`]);
    metric("sbert_requests_in_flight", "gauge", "Embedding requests being answered now.", [`sbert_requests_in_flight ${inFlightRequests}`]);
    return out.join("\n") + "\n";
  }
}
