// Linear layers: y = x · Wᵀ + b, for one layer or several over the same input (Q, K and V), in whichever way the
// call's context and the product's shape say (choose_linear_path), with the weights prepared for that way once and
// kept until the weights change.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ops/context.h"
#include "ops/pointwise.h"

namespace sbert::ops {

// Inference precision of a linear layer: float32; int8 weights (per-channel symmetric scales) with dynamically
// quantized activations (oneDNN's per-batch scales, or over few rows sbert-node's kernel with one scale per row);
// or bf16 weights and inputs, multiplied with float32 sums (oneDNN's bf16 GEMM), the output float32 (bf16 out of
// linear_activation).
enum class Precision { Float32, Int8, Bf16 };

// The names TypeScript spells them with ("float32", "int8", "bf16"), in enum order; parse gives nullopt for others.
const std::vector<std::string>& precision_names();
std::optional<Precision> parse_precision(const std::string& name);

// The CPU features a precision may need.
struct CpuFeatures {
  bool avx512_bf16 = false;
  bool amx_bf16 = false;
};
CpuFeatures cpu_features();  // this CPU's
// Throws (an Input error naming `option` and the missing feature) where `cpu` cannot run `precision` natively:
// bf16 needs AVX512_BF16 or AMX-BF16, without which oneDNN emulates bf16 products more slowly than float32 runs.
void check_precision(Precision precision, const CpuFeatures& cpu, const std::string& option);

// How one product runs.
enum class LinearPath {
  Aten,        // at::linear: training, autograd, GPUs, and what no faster path takes
  Blas,        // float32 through BLAS, cut by output columns over the call's parts for few rows
  Panels,      // float32 on sbert-node's kernel, weights packed once into panels
  Int8Panels,  // int8 on sbert-node's kernel
  OneDnn,      // float32 through oneDNN
  OneDnnInt8,  // int8 through oneDNN's dynamic quantization
  Bf16,        // bf16 weights and inputs through libtorch's bf16 product (oneDNN), float32 output
};

// What choose_linear_path decides from: nothing else about a product matters.
struct LinearQuery {
  bool inference;      // float32 on CPU, no autograd, not training
  int64_t rows;        // rows of x
  Precision precision;
  LinearBackend backend;
  bool own_kernels;    // the context allows sbert-node's kernels
  kernels::Isa isa;    // the instruction set they run on
  bool onednn_plain;   // libtorch's oneDNN multiplies plain float32 weights (no copy of them to prepare)
};

// The one place that decides how a product runs (a pure function: the unit tests call it).
LinearPath choose_linear_path(const LinearQuery& q);
const char* linear_path_name(LinearPath path);
// Below this many rows sbert-node's panel kernel takes a float32 product over from BLAS, on `isa`.
int64_t panel_rows(kernels::Isa isa);

// How a linear layer keeps its weight [out, in] in memory, decided once when the layer is made from what the CPU
// and libtorch are (not from settings, which may change later: either layout serves every path). Column-major
// ([in, out] row-major in memory) is BLAS's no-transpose case, which packs the weight faster (measured with
// OpenBLAS: 15-20% for a sentence's few rows, 3-8% for a batch). Where large products run on oneDNN's plain path
// (AVX-512, libtorch >= 2.0), weights of more than 4 MiB are read faster row-major.
enum class WeightLayout { ColumnMajor, RowMajor };
struct WeightLayoutQuery {
  kernels::Isa isa;   // the best this CPU runs
  bool onednn_plain;  // libtorch's oneDNN multiplies plain float32 weights
  int64_t in, out;
};
WeightLayout choose_weight_layout(const WeightLayoutQuery& q);
// An uninitialised float32 weight [out, in] for a new layer, in the layout chosen for this CPU.
at::Tensor empty_linear_weight(int64_t out, int64_t in);

// A layer's weights in the forms some path runs them in (packed panels, oneDNN's layout, int8), keyed by form (and
// variant) and by the tensors they were made from, identity and version: made on first use, made again after any of those
// tensors is written in place or replaced. Forms made from an older version are dropped when it is noticed.
class PreparedWeights {
 public:
  enum class Form { Panels, Int8Panels, OneDnn, OneDnnInt8, Bf16 };
  struct Value {
    at::Tensor data;     // panels, int8 panels, the oneDNN weight or the bf16 weight
    at::Tensor scales;   // int8 panels: float32 scale per output column
    at::Tensor bias;     // several layers: their biases side by side
    c10::IValue packed;  // oneDNN int8: the prepacked weight
  };
  // `variant` tells apart forms made differently for the same tensors (int8 panels per instruction set).
  Value get(Form form, int variant, const std::vector<at::Tensor>& sources, const std::function<Value()>& make) const;

 private:
  struct Entry {
    Form form;
    int variant;
    std::vector<at::Tensor> sources;
    std::vector<int64_t> versions;
    Value value;
  };
  mutable std::mutex mutex_;
  mutable std::vector<Entry> entries_;
};

// One layer's parameters as the ops see them.
struct LinearWeights {
  const at::Tensor& weight;  // [out, in]
  const at::Tensor& bias;    // [out] or undefined
};

// A LoRA adapter of one layer (peft's lora_A and lora_B weights).
struct LoraWeights {
  const at::Tensor& a;  // [r, in]
  const at::Tensor& b;  // [out, r]
  double scaling;       // lora_alpha / r, or lora_alpha / sqrt(r) (rsLoRA)
  double dropout;       // on the adapter's input, in training only
};

// y + lora_B(lora_A(dropout(x))) * scaling, as peft's LoRA layer adds it to the base layer's output y (x float32,
// or bf16 from linear_activation).
at::Tensor add_lora(const Context& ctx, const at::Tensor& y, const at::Tensor& x, const LoraWeights& lora);

// The layers' outputs over x ([..., in] -> [..., out_i] each), as if each ran alone; x float32, or bf16 from
// linear_activation. At inference they run as one product over the layers' weights side by side, and the outputs
// are views into its result.
std::vector<at::Tensor> linear(const Context& ctx, const std::vector<LinearWeights>& layers, Precision precision, const at::Tensor& x,
                               const PreparedWeights& prepared);

// act(x · Wᵀ + b) for one layer whose output is the input of another linear layer only (a feed-forward block's
// first layer). At bf16 precision over a batch (libtorch >= 2.0), oneDNN applies GELU (erf or tanh) to its float32 sums
// and rounds the result to bf16 once, which stays bf16: the next bf16 layer multiplies it as it is, and any
// other precision's linear widens it first. Otherwise float32, as activation(linear(...)).
at::Tensor linear_activation(const Context& ctx, const LinearWeights& layer, Precision precision, Activation act, const at::Tensor& x,
                             const PreparedWeights& prepared);

// Runs fn(begin, end) over [0, count) as the context's parts when `elements` (what the work touches) is worth the
// hand-off, else once. Elementwise and row-wise passes give the same bits either way.
void over_ranges(const Context& ctx, int64_t count, int64_t elements, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace sbert::ops
