/** Moving a module's weights between model folders and the native side. */
import type { NativeModule, NativeWeights } from "../../types/native.js";
import { readTorchCheckpoint } from "./torchCheckpoint.js";
import { writeSafetensors } from "./safetensors.js";
import { findWeights } from "./weights.js";

/** Locates a folder's weights (safetensors, sharded safetensors, or pytorch_model.bin) as native tensor specs. */
export async function weightsForNative(dir: string): Promise<NonNullable<NativeWeights>> {
  const source = await findWeights(dir);
  if (source.format === "pytorch") {
    return { files: [{ path: source.path, tensors: await readTorchCheckpoint(source.path) }] };
  }
  return {
    files: source.headers.map((h) => ({
      path: h.path,
      tensors: h.entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, begin: e.begin, end: e.end })),
    })),
  };
}

/** Writes the module's weights as float32 `model.safetensors` (metadata `format: pt`, as transformers writes). */
export async function saveWeights(module: NativeModule, path: string): Promise<void> {
  const tensors = module.stateDict().map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: t.data }));
  await writeSafetensors(path, tensors, { format: "pt" });
}
