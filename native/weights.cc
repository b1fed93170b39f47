#include "weights.h"

#include <ATen/ATen.h>

#include <fstream>

#include "errors.h"

namespace sbert {

namespace {

at::ScalarType dtype_from_name(const std::string& dtype, const std::string& where) {
  if (dtype == "F32") return at::kFloat;
  if (dtype == "F16") return at::kHalf;
  if (dtype == "BF16") return at::kBFloat16;
  if (dtype == "F64") return at::kDouble;
  if (dtype == "I64") return at::kLong;
  if (dtype == "I32") return at::kInt;
  if (dtype == "I16") return at::kShort;
  if (dtype == "I8") return at::kChar;
  if (dtype == "U8") return at::kByte;
  if (dtype == "BOOL") return at::kBool;
  fail(ErrorCode::Format, where + ": unknown dtype '" + dtype + "'");
}

at::Tensor as_float32_if_floating(at::Tensor t) { return at::isFloatingType(t.scalar_type()) ? t.to(at::kFloat) : t; }

}  // namespace

NamedTensors read_tensors(const std::vector<TensorFile>& files) {
  NamedTensors out;
  for (const auto& file : files) {
    std::ifstream in(file.path, std::ios::binary);
    if (!in) fail(ErrorCode::FileNotFound, "cannot open " + file.path);
    for (const auto& spec : file.tensors) {
      const std::string where = file.path + " tensor '" + spec.name + "'";
      const auto dtype = dtype_from_name(spec.dtype, where);
      const bool strided = !spec.stride.empty();
      const int64_t bytes = spec.end - spec.begin;
      const int64_t item = static_cast<int64_t>(c10::elementSize(dtype));
      at::Tensor t;
      if (strided) {
        if (spec.stride.size() != spec.shape.size()) fail(ErrorCode::Format, where + ": stride and shape differ in length");
        if (bytes < 0 || bytes % item != 0) fail(ErrorCode::Format, where + ": its storage is not a whole number of elements");
        t = at::empty({bytes / item}, at::TensorOptions().dtype(dtype));
      } else {
        t = at::empty(spec.shape, at::TensorOptions().dtype(dtype));
        if (bytes != static_cast<int64_t>(t.nbytes())) {
          fail(ErrorCode::Format, where + ": " + std::to_string(bytes) + " bytes for shape " + shape_str(spec.shape) + " of " + spec.dtype +
                                      ", which needs " + std::to_string(t.nbytes()));
        }
      }
      in.seekg(spec.begin);
      in.read(static_cast<char*>(t.data_ptr()), bytes);
      if (!in || in.gcount() != bytes) fail(ErrorCode::Format, where + ": the file ends before the tensor's data does");
      if (strided) {
        // Reject views that reach outside their storage before making them.
        int64_t last = spec.storage_offset;
        for (size_t d = 0; d < spec.shape.size(); ++d) {
          if (spec.shape[d] == 0) last = -1;
          if (last >= 0) last += (spec.shape[d] - 1) * spec.stride[d];
        }
        if (spec.storage_offset < 0 || last >= t.numel()) fail(ErrorCode::Format, where + ": the view lies outside its storage");
        t = t.as_strided(spec.shape, spec.stride, spec.storage_offset).contiguous();
      }
      out.emplace_back(spec.name, as_float32_if_floating(std::move(t)));
    }
  }
  return out;
}

}  // namespace sbert
