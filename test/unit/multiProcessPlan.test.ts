import { describe, expect, test } from "vitest";

import { defaultChunkSize, planPool } from "../../lib/multiProcess/MultiProcessPool.js";

describe("planPool", () => {
  test("without CUDA: four CPU workers at most, one per core at most, the cores split among them", () => {
    expect(planPool({}, { cores: 16, cudaDevices: 0 })).toEqual({ devices: ["cpu", "cpu", "cpu", "cpu"], threadsPerProcess: 4 });
    expect(planPool({}, { cores: 2, cudaDevices: 0 })).toEqual({ devices: ["cpu", "cpu"], threadsPerProcess: 1 });
    expect(planPool({}, { cores: 1, cudaDevices: 0 })).toEqual({ devices: ["cpu"], threadsPerProcess: 1 });
    expect(planPool({ processes: 3 }, { cores: 16, cudaDevices: 0 })).toEqual({ devices: ["cpu", "cpu", "cpu"], threadsPerProcess: 5 });
    expect(planPool({ threadsPerProcess: 2 }, { cores: 16, cudaDevices: 0 })).toEqual({ devices: Array(8).fill("cpu"), threadsPerProcess: 2 });
    expect(planPool({ threadsPerProcess: 8 }, { cores: 2, cudaDevices: 0 })).toEqual({ devices: ["cpu"], threadsPerProcess: 8 });
  });

  test("with CUDA: one worker per device by default, or devices in turn", () => {
    expect(planPool({}, { cores: 16, cudaDevices: 2 })).toEqual({ devices: ["cuda:0", "cuda:1"], threadsPerProcess: 8 });
    expect(planPool({ processes: 3 }, { cores: 12, cudaDevices: 2 })).toEqual({ devices: ["cuda:0", "cuda:1", "cuda:0"], threadsPerProcess: 4 });
  });

  test("targetDevices as given", () => {
    expect(planPool({ targetDevices: ["cuda:1", "cpu"] }, { cores: 8, cudaDevices: 2 })).toEqual({ devices: ["cuda:1", "cpu"], threadsPerProcess: 4 });
    expect(planPool({ targetDevices: ["cpu", "cpu"], processes: 2, threadsPerProcess: 3 }, { cores: 8, cudaDevices: 0 })).toEqual({ devices: ["cpu", "cpu"], threadsPerProcess: 3 });
  });

  test("bad options name the argument", () => {
    const machine = { cores: 4, cudaDevices: 0 };
    expect(() => planPool({ processes: 0 }, machine)).toThrow(/processes must be a positive integer, got 0/);
    expect(() => planPool({ processes: 1.5 }, machine)).toThrow(RangeError);
    expect(() => planPool({ threadsPerProcess: -1 }, machine)).toThrow(/threadsPerProcess must be a positive integer/);
    expect(() => planPool({ targetDevices: [] }, machine)).toThrow(/targetDevices must be a non-empty array/);
    expect(() => planPool({ targetDevices: ["cpu", ""] }, machine)).toThrow(TypeError);
    expect(() => planPool({ targetDevices: ["cpu"], processes: 2 }, machine)).toThrow(/processes \(2\) must equal the number of targetDevices \(1\)/);
    expect(() => planPool(null as never, machine)).toThrow(/options must be an object/);
  });
});

describe("defaultChunkSize", () => {
  test("a tenth of each worker's share, at least 1, at most 5000", () => {
    expect(defaultChunkSize(400, 2)).toBe(20);
    expect(defaultChunkSize(401, 2)).toBe(21);
    expect(defaultChunkSize(3, 4)).toBe(1);
    expect(defaultChunkSize(10_000_000, 2)).toBe(5000);
  });
});
