/**
 * A readers–writer lock for one model: encode batches share it, training steps take it alone, so a step never
 * changes weights under a running encode and an encode never sees half an update. Waiters are served in order.
 */
export class ReadWriteLock {
  private readers = 0;
  private writer = false;
  private readonly queue: { write: boolean; wake: () => void }[] = [];

  async read<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.readers--;
      this.drain();
    }
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.drain();
    }
  }

  private acquire(write: boolean): Promise<void> {
    if (this.queue.length === 0 && this.canEnter(write)) {
      this.enter(write);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ write, wake: resolve }));
  }

  private canEnter(write: boolean): boolean {
    return write ? !this.writer && this.readers === 0 : !this.writer;
  }

  private enter(write: boolean): void {
    if (write) this.writer = true;
    else this.readers++;
  }

  private drain(): void {
    while (this.queue.length > 0 && this.canEnter(this.queue[0]!.write)) {
      const next = this.queue.shift()!;
      this.enter(next.write);
      next.wake();
    }
  }
}
