/**
 * Micro-batching: texts (or text pairs: any item type) of concurrent requests wait in one queue and are encoded together, up to
 * `maxBatchSize` texts per call, waiting at most `maxWaitMs` (from the oldest queued text) for a batch to
 * fill. A request larger than a batch is spread over several; each request gets its rows back in order.
 * The queue holds at most `maxQueuedTexts` texts (a request that does not fit is refused with QueueFullError),
 * and a request whose signal aborts leaves it at once.
 */

export interface BatcherOptions {
  maxBatchSize: number;
  maxWaitMs: number;
  /** Encode calls allowed to run at once. Default 1: one call already keeps libtorch's threads busy. */
  concurrency?: number;
  /** Most texts waiting for a batch. Default: no limit. */
  maxQueuedTexts?: number;
}

/** The queue cannot take a request now; it may later. */
export class QueueFullError extends Error {
  constructor(
    readonly queued: number,
    readonly limit: number,
  ) {
    super(`the queue holds ${queued} texts; the limit is ${limit}`);
    this.name = "QueueFullError";
  }
}

export interface BatcherStats {
  requests: number;
  texts: number;
  batches: number;
  largestBatch: number;
  /** Texts dropped unencoded because their request was cancelled. */
  cancelledTexts: number;
  /** Requests refused because the queue was full. */
  refusedRequests: number;
  queuedTexts: number;
  runningBatches: number;
}

interface Job<T> {
  texts: T[];
  results: Float32Array[];
  /** Next text to hand to a batch. */
  next: number;
  /** Texts not yet encoded. */
  remaining: number;
  enqueuedAt: number;
  done: boolean;
  resolve(rows: Float32Array[]): void;
  reject(e: unknown): void;
}

interface Part<T> {
  job: Job<T>;
  start: number;
  count: number;
}

export class MicroBatcher<T = string> {
  private readonly jobs: Job<T>[] = [];
  private queued = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly concurrency: number;
  readonly stats = { requests: 0, texts: 0, batches: 0, largestBatch: 0, cancelledTexts: 0, refusedRequests: 0 };

  constructor(
    private readonly encode: (texts: T[]) => Promise<Float32Array[]>,
    private readonly options: BatcherOptions,
  ) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) throw new RangeError(`maxBatchSize must be a positive integer, got ${options.maxBatchSize}`);
    if (!(options.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${options.maxWaitMs}`);
    this.concurrency = options.concurrency ?? 1;
  }

  /** The embeddings of `texts`, in order. When `signal` aborts, texts not yet in a batch are dropped and the promise rejects. */
  submit(texts: T[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new Error("the batcher is closed"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (texts.length === 0) return Promise.resolve([]);
    const limit = this.options.maxQueuedTexts ?? Infinity;
    if (this.queued + texts.length > limit) {
      this.stats.refusedRequests++;
      return Promise.reject(new QueueFullError(this.queued, limit));
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.stats.cancelledTexts += this.fail(job, signal!.reason);
        this.schedule();
      };
      const job: Job<T> = {
        texts,
        results: new Array(texts.length),
        next: 0,
        remaining: texts.length,
        enqueuedAt: Date.now(),
        done: false,
        resolve: (rows) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(rows);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.jobs.push(job);
      this.queued += texts.length;
      this.stats.requests++;
      this.schedule();
    });
  }

  snapshot(): BatcherStats {
    return { ...this.stats, queuedTexts: this.queued, runningBatches: this.running };
  }

  private schedule(): void {
    while (this.running < this.concurrency && this.jobs.length > 0) {
      const full = this.queued >= this.options.maxBatchSize;
      const waited = Date.now() - this.jobs[0]!.enqueuedAt;
      if (!full && waited < this.options.maxWaitMs && !this.closed) {
        if (this.timer === undefined) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.schedule();
          }, this.options.maxWaitMs - waited);
        }
        return;
      }
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      this.runBatch();
    }
    if (this.running === 0 && this.jobs.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private runBatch(): void {
    const parts: Part<T>[] = [];
    const texts: T[] = [];
    while (texts.length < this.options.maxBatchSize && this.jobs.length > 0) {
      const job = this.jobs[0]!;
      const count = Math.min(job.texts.length - job.next, this.options.maxBatchSize - texts.length);
      parts.push({ job, start: job.next, count });
      for (let i = 0; i < count; i++) texts.push(job.texts[job.next + i]!);
      job.next += count;
      if (job.next === job.texts.length) this.jobs.shift();
    }
    this.queued -= texts.length;
    this.running++;
    this.stats.batches++;
    this.stats.texts += texts.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, texts.length);
    const settle = (rows: Float32Array[] | undefined, error: unknown): void => {
      // Counted as finished before any request hears back, so stats seen by a client are settled.
      this.running--;
      if (rows !== undefined && rows.length !== texts.length) error = new Error(`encode returned ${rows.length} rows for ${texts.length} texts`);
      if (rows === undefined || error !== undefined) {
        for (const { job } of parts) this.fail(job, error);
      } else {
        let offset = 0;
        for (const { job, start, count } of parts) {
          for (let i = 0; i < count; i++) job.results[start + i] = rows[offset + i]!;
          offset += count;
          job.remaining -= count;
          if (job.remaining === 0 && !job.done) {
            job.done = true;
            job.resolve(job.results);
          }
        }
      }
      this.schedule();
    };
    let call: Promise<Float32Array[]>;
    try {
      call = this.encode(texts);
    } catch (e) {
      call = Promise.reject(e);
    }
    call.then(
      (rows) => settle(rows, undefined),
      (e: unknown) => settle(undefined, e ?? new Error("encode failed")),
    );
  }

  /** A failed or cancelled job is rejected once and its texts still queued are dropped; returns how many. */
  private fail(job: Job<T>, e: unknown): number {
    if (job.done) return 0;
    job.done = true;
    const at = this.jobs.indexOf(job);
    const dropped = at === -1 ? 0 : job.texts.length - job.next;
    if (at !== -1) this.jobs.splice(at, 1);
    this.queued -= dropped;
    job.reject(e);
    return dropped;
  }

  /** Stops taking work; resolves once every queued text has been encoded. */
  close(): Promise<void> {
    this.closed = true;
    this.schedule();
    if (this.running === 0 && this.jobs.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
