// Training's dropout (native()._testing.dropout: the function every dropout layer of the model calls while training) against
// the Bernoulli process it stands for: each element zeroed with probability p, independently, the others scaled
// by 1 / (1 - p) exactly as libtorch scales its noise; replayed by the generator's seed and state. The counts are
// held to 5 standard deviations of their binomial distributions (a false failure about once in 3.5 million runs).
import { describe, expect, test } from "vitest";

import { native } from "../../lib/native.js";

const ROWS = 1024;
const COLS = 1024;
const N = ROWS * COLS;

function input(): Float32Array {
  const x = new Float32Array(N);
  for (let i = 0; i < N; i++) x[i] = 1 + ((i * 37) % 101) / 7;
  return x;
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function within(count: number, trials: number, p: number, what: string) {
  const sd = Math.sqrt(trials * p * (1 - p));
  expect(Math.abs(count - trials * p), `${what}: ${count} of ${trials}, expected ${(trials * p).toFixed(0)} ± ${(5 * sd).toFixed(0)}`).toBeLessThan(5 * sd);
}

describe("training dropout", () => {
  test.each([0.1, 0.5])("p = %s: drops each element independently with probability p and scales the rest as libtorch does", (p) => {
    const x = input();
    native()._testing.manualSeed(11);
    const y = native()._testing.dropout({ data: x, shape: [ROWS, COLS] }, p);
    expect(y.shape).toEqual([ROWS, COLS]);
    const scale = Math.fround(1 / Math.fround(1 - p));
    let dropped = 0;
    let bothDropped = 0;
    const byLane = new Array<number>(8).fill(0);
    const perRow: number[] = [];
    for (let r = 0; r < ROWS; r++) {
      let rowDropped = 0;
      for (let c = 0; c < COLS; c++) {
        const i = r * COLS + c;
        const v = y.data[i]!;
        if (v === 0) {
          dropped++;
          rowDropped++;
          byLane[i % 8]!++;
          if (i > 0 && y.data[i - 1] === 0) bothDropped++;
        } else if (v !== Math.fround(x[i]! * scale)) {
          throw new Error(`element ${i}: ${v}, expected 0 or ${Math.fround(x[i]! * scale)}`);
        }
      }
      perRow.push(rowDropped);
    }
    within(dropped, N, p, "dropped elements");
    // Neighbours independent: both of a pair dropped with probability p².
    within(bothDropped, N - 1, p * p, "neighbouring pairs both dropped");
    // No position within a vector of 8 favoured.
    byLane.forEach((count, lane) => within(count, N / 8, p, `dropped at lane ${lane}`));
    // Rows vary as binomial counts do: the variance of per-row counts against COLS p (1 - p). Its sampling
    // standard deviation over 1024 rows is ~4.4% of it; 25% is far outside that.
    const mean = perRow.reduce((a, b) => a + b, 0) / ROWS;
    const variance = perRow.reduce((a, b) => a + (b - mean) ** 2, 0) / (ROWS - 1);
    expect(Math.abs(variance / (COLS * p * (1 - p)) - 1)).toBeLessThan(0.25);
  });

  test("the seed replays the noise, each call draws new noise, and p = 0 returns the input", () => {
    const x = input();
    const t = { data: x, shape: [ROWS, COLS] };
    native()._testing.manualSeed(3);
    const a = native()._testing.dropout(t, 0.3).data;
    const b = native()._testing.dropout(t, 0.3).data;
    native()._testing.manualSeed(3);
    const again = native()._testing.dropout(t, 0.3).data;
    expect(bytes(again).equals(bytes(a))).toBe(true);
    // Two calls in a row: independent masks agree on (1 - 0.3)² + 0.3² = 58% of elements.
    let same = 0;
    for (let i = 0; i < N; i++) if ((a[i] === 0) === (b[i] === 0)) same++;
    within(same, N, 0.58, "elements whose fate two calls share");
    // The generator's saved state replays as well (checkpoints and the gradient cache rely on it).
    const state = native()._testing.rngState();
    const c = native()._testing.dropout(t, 0.3).data;
    native()._testing.setRngState(state);
    const cAgain = native()._testing.dropout(t, 0.3).data;
    expect(bytes(cAgain).equals(bytes(c))).toBe(true);
    expect(bytes(c).equals(bytes(a))).toBe(false);
    expect(bytes(native()._testing.dropout(t, 0).data).equals(bytes(x))).toBe(true);
  });

  test("p outside [0, 1) is an error naming it", () => {
    expect(() => native()._testing.dropout({ data: new Float32Array(4), shape: [4] }, 1)).toThrow(/p must be in \[0, 1\), got 1/);
    expect(() => native()._testing.dropout({ data: new Float32Array(4), shape: [4] }, -0.5)).toThrow(/p must be in \[0, 1\)/);
  });
});
