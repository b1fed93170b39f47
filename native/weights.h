// Reading checkpoint tensors from byte ranges of files. TypeScript parses and validates the container (a safetensors
// header, or the pickle inside a torch.save zip) and hands over where each tensor's bytes lie. Floating tensors
// come back as float32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "modules.h"

namespace sbert {

struct TensorSpec {
  std::string name;
  std::string dtype;  // safetensors spelling: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL
  std::vector<int64_t> shape;
  int64_t begin = 0;  // absolute byte offsets in the file
  int64_t end = 0;
  // When set, [begin, end) is a whole storage and the tensor is the view (shape, stride, storage_offset) into it,
  // as torch.save records tensors; otherwise the range holds exactly the contiguous tensor.
  std::vector<int64_t> stride;
  int64_t storage_offset = 0;
};

struct TensorFile {
  std::string path;
  std::vector<TensorSpec> tensors;
};

// Every tensor of the files, read now.
NamedTensors read_tensors(const std::vector<TensorFile>& files);
// The same tensors, checked now (dtype, byte counts, view bounds) and read when each is asked for.
LazyTensors lazy_tensors(const std::vector<TensorFile>& files);

}  // namespace sbert
