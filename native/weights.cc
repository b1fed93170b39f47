#include "weights.h"

#include <ATen/ATen.h>

#include <fstream>
#include <memory>

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

namespace {

// Checks a tensor's byte range against its dtype, shape and (for torch.save views) strides, without reading it.
at::ScalarType check_spec(const TensorSpec& spec, const std::string& where) {
  const auto dtype = dtype_from_name(spec.dtype, where);
  const int64_t bytes = spec.end - spec.begin;
  const int64_t item = static_cast<int64_t>(c10::elementSize(dtype));
  if (spec.stride.empty()) {
    int64_t numel = 1;
    for (int64_t d : spec.shape) {
      if (d < 0) fail(ErrorCode::Format, where + ": negative dimension in shape " + shape_str(spec.shape));
      numel *= d;
    }
    if (bytes != numel * item) {
      fail(ErrorCode::Format, where + ": " + std::to_string(bytes) + " bytes for shape " + shape_str(spec.shape) + " of " + spec.dtype +
                                  ", which needs " + std::to_string(numel * item));
    }
    return dtype;
  }
  if (spec.stride.size() != spec.shape.size()) fail(ErrorCode::Format, where + ": stride and shape differ in length");
  if (bytes < 0 || bytes % item != 0) fail(ErrorCode::Format, where + ": its storage is not a whole number of elements");
  // Reject views that reach outside their storage before making them.
  int64_t last = spec.storage_offset;
  for (size_t d = 0; d < spec.shape.size(); ++d) {
    if (spec.shape[d] == 0) last = -1;
    if (last >= 0) last += (spec.shape[d] - 1) * spec.stride[d];
  }
  if (spec.storage_offset < 0 || last >= bytes / item) fail(ErrorCode::Format, where + ": the view lies outside its storage");
  return dtype;
}

at::Tensor read_spec(std::ifstream& in, const TensorSpec& spec, at::ScalarType dtype, const std::string& where) {
  const bool strided = !spec.stride.empty();
  const int64_t bytes = spec.end - spec.begin;
  const int64_t item = static_cast<int64_t>(c10::elementSize(dtype));
  at::Tensor t = strided ? at::empty({bytes / item}, at::TensorOptions().dtype(dtype)) : at::empty(spec.shape, at::TensorOptions().dtype(dtype));
  in.clear();
  in.seekg(spec.begin);
  in.read(static_cast<char*>(t.data_ptr()), bytes);
  if (!in || in.gcount() != bytes) fail(ErrorCode::Format, where + ": the file ends before the tensor's data does");
  if (strided) t = t.as_strided(spec.shape, spec.stride, spec.storage_offset).contiguous();
  return as_float32_if_floating(std::move(t));
}

std::shared_ptr<std::ifstream> open_file(const std::string& path) {
  auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*in) fail(ErrorCode::FileNotFound, "cannot open " + path);
  return in;
}

}  // namespace

LazyTensors lazy_tensors(const std::vector<TensorFile>& files) {
  LazyTensors out;
  for (const auto& file : files) {
    auto in = open_file(file.path);
    for (const auto& spec : file.tensors) {
      const std::string where = file.path + " tensor '" + spec.name + "'";
      const auto dtype = check_spec(spec, where);
      out.push_back({spec.name, spec.shape, [in, spec, dtype, where]() { return read_spec(*in, spec, dtype, where); },
                     at::isFloatingType(dtype) ? at::kFloat : dtype});
    }
  }
  return out;
}

NamedTensors read_tensors(const std::vector<TensorFile>& files) {
  NamedTensors out;
  for (auto& t : lazy_tensors(files)) out.emplace_back(t.name, t.read());
  return out;
}

}  // namespace sbert
