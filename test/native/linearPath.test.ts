// The one decision of how a linear layer's product runs (native ops::choose_linear_path), as a table.
import { expect, test } from "vitest";

import { native } from "../../lib/native.js";

type Query = Parameters<ReturnType<typeof native>["_testing"]["chooseLinearPath"]>[0];
const base: Query = { inference: true, rows: 8, precision: "float32", backend: "auto", ownKernels: true, isa: "avx2", onednnPlain: true };
const choose = (q: Partial<Query>) => native()._testing.chooseLinearPath({ ...base, ...q });

test("training and autograd always take libtorch's own op", () => {
  for (const rows of [1, 63, 64, 4096]) {
    for (const precision of ["float32", "int8", "bf16"] as const) expect(choose({ inference: false, rows, precision })).toBe("aten");
  }
});

test("float32: few rows on the panel kernel where the context allows it, else BLAS or oneDNN by backend and ISA", () => {
  for (const isa of ["generic", "avx2", "avx512"] as const) {
    expect(choose({ rows: 1, isa })).toBe("panels");
    expect(choose({ rows: 63, isa })).toBe("panels");
    // "auto" takes oneDNN's AVX-512 products where the context runs AVX-512 and oneDNN takes the plain weights
    expect(choose({ rows: 64, isa })).toBe(isa === "avx512" ? "onednn" : "blas");
    expect(choose({ rows: 4096, isa })).toBe(isa === "avx512" ? "onednn" : "blas");
    expect(choose({ rows: 64, isa, onednnPlain: false })).toBe("blas");
    expect(choose({ rows: 64, isa, backend: "blas", ownKernels: false })).toBe("blas");
    expect(choose({ rows: 1, isa, ownKernels: false })).toBe(isa === "avx512" ? "onednn" : "blas");
    expect(choose({ rows: 1, isa, ownKernels: false, backend: "blas" })).toBe("blas");
    expect(choose({ rows: 1, isa, ownKernels: false, backend: "onednn" })).toBe("onednn");
    expect(choose({ rows: 500, isa, backend: "onednn", ownKernels: false })).toBe("onednn");
  }
});

test("int8: few rows on the int8 kernel, else oneDNN's dynamic quantization; without the kernel few rows stay float32", () => {
  expect(choose({ precision: "int8", rows: 1 })).toBe("int8-panels");
  expect(choose({ precision: "int8", rows: 63 })).toBe("int8-panels");
  expect(choose({ precision: "int8", rows: 64 })).toBe("onednn-int8");
  expect(choose({ precision: "int8", rows: 8, ownKernels: false })).toBe("aten");
  expect(choose({ precision: "int8", rows: 8, ownKernels: false, backend: "onednn" })).toBe("onednn");
  expect(choose({ precision: "int8", rows: 200, ownKernels: false, backend: "blas" })).toBe("onednn-int8");
});

test("bf16: libtorch's bf16 product over any rows, whatever the backend and kernels", () => {
  for (const rows of [1, 8, 63, 64, 500]) {
    for (const backend of ["auto", "blas", "onednn"] as const) {
      for (const ownKernels of [true, false]) {
        for (const isa of ["generic", "avx2", "avx512"] as const) expect(choose({ precision: "bf16", rows, backend, ownKernels, isa })).toBe("bf16");
      }
    }
  }
});

test("bad queries are clear errors", () => {
  expect(() => choose({ precision: "fp16" as "bf16" })).toThrow(/precision must be "float32", "int8" or "bf16"/);
  expect(() => choose({ isa: "neon" as "avx2" })).toThrow(/isa must be/);
  expect(() => choose({ backend: "mkl" as "auto" })).toThrow(/backend must be/);
});

test("weight layout: row-major only for weights over 4 MiB where AVX-512 products run on oneDNN's plain path", () => {
  const layout = (q: Partial<Parameters<ReturnType<typeof native>["_testing"]["chooseWeightLayout"]>[0]>) =>
    native()._testing.chooseWeightLayout({ isa: "avx512", onednnPlain: true, in: 768, out: 3072, ...q });
  expect(layout({})).toBe("row-major");
  expect(layout({ in: 3072, out: 768 })).toBe("row-major");
  // 4 MiB exactly is not over it; MiniLM's and BERT-base's attention shapes stay column-major
  expect(layout({ in: 1024, out: 1024 })).toBe("column-major");
  expect(layout({ in: 1024, out: 1025 })).toBe("row-major");
  for (const [i, o] of [[384, 1536], [1536, 384], [768, 768]]) expect(layout({ in: i, out: o })).toBe("column-major");
  expect(layout({ onednnPlain: false })).toBe("column-major");
  expect(layout({ isa: "avx2" })).toBe("column-major");
  expect(layout({ isa: "generic" })).toBe("column-major");
});
