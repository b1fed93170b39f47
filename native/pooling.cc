#include "pooling.h"

#include <ATen/ATen.h>

#include <limits>

#include "errors.h"

namespace sbert {

const std::vector<std::string>& pooling_mode_names() {
  // In PoolingMode's order.
  static const std::vector<std::string> names = {"cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"};
  return names;
}

PoolingMode parse_pooling_mode(const std::string& name) {
  const auto& names = pooling_mode_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<PoolingMode>(i);
  }
  fail(ErrorCode::Config, "pooling mode '" + name + "' is not one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken");
}

// Zeroes the prompt positions, right after any left padding.
static at::Tensor exclude_prompt(const at::Tensor& mask, int64_t prompt_length) {
  auto first_real = mask.to(at::kInt).argmax(1);
  auto positions = at::arange(mask.size(1), mask.options().dtype(at::kLong)).unsqueeze(0);
  auto in_prompt = positions < (first_real + prompt_length).unsqueeze(1);
  return mask.masked_fill(in_prompt, 0);
}

at::Tensor last_non_pad_positions(const at::Tensor& input_ids, const at::Tensor& attention_mask, int64_t pad_token_id) {
  const auto real = attention_mask.ne(0);
  const auto keep = pad_token_id < 0 ? real : real.logical_and(input_ids.ne(pad_token_id));
  // The largest kept position index (argmax's first-index rule gives 0 when only position 0 is kept); a row with
  // none kept falls back to its first real token.
  auto positions = at::arange(input_ids.size(1), input_ids.options().dtype(at::kLong)).unsqueeze(0);
  auto last = (positions * keep.to(at::kLong)).argmax(1);
  auto first_real = real.to(at::kLong).argmax(1);
  return at::where(keep.any(1), last, first_real);
}

at::Tensor pool(const PoolingConfig& config, const at::Tensor& tokens, const at::Tensor& attention_mask, int64_t prompt_length,
                const at::Tensor& token_weights_sum) {
  if (config.modes.empty()) fail(ErrorCode::Config, "Pooling has no pooling mode");
  at::Tensor mask = attention_mask;
  if (!config.include_prompt && prompt_length > 0) mask = exclude_prompt(mask, prompt_length);

  const int64_t hidden = tokens.size(2);
  const auto float_mask = mask.unsqueeze(-1).to(tokens.scalar_type());  // [B, L, 1], broadcasts over H
  at::Tensor mean_sum, mean_count;
  auto mean_parts = [&]() {
    if (!mean_sum.defined()) {
      mean_sum = (tokens * float_mask).sum(1);
      mean_count = (token_weights_sum.defined() ? token_weights_sum.unsqueeze(-1) : float_mask.sum(1)).clamp_min(1e-9);
    }
  };

  std::vector<at::Tensor> parts;
  for (PoolingMode mode : config.modes) {
    switch (mode) {
      case PoolingMode::Cls: {
        // The [CLS] token: the first attended position of the batch's own mask (index 0 with right padding),
        // whether or not a prompt is excluded from the other modes.
        auto first = attention_mask.to(at::kInt).argmax(1).view({-1, 1, 1}).expand({-1, 1, hidden});
        parts.push_back(tokens.gather(1, first).squeeze(1));
        break;
      }
      case PoolingMode::Max:
        parts.push_back(tokens.masked_fill(float_mask == 0, -std::numeric_limits<float>::infinity()).amax(1));
        break;
      case PoolingMode::Mean:
        mean_parts();
        parts.push_back(mean_sum / mean_count);
        break;
      case PoolingMode::MeanSqrtLen:
        mean_parts();
        parts.push_back(mean_sum / mean_count.sqrt());
        break;
      case PoolingMode::WeightedMean: {
        auto weights = at::arange(1, tokens.size(1) + 1, tokens.options()).view({1, -1, 1}) * float_mask;
        auto divisor = token_weights_sum.defined() ? token_weights_sum.unsqueeze(-1) : weights.sum(1);
        parts.push_back((tokens * weights).sum(1) / divisor.clamp_min(1e-9));
        break;
      }
      case PoolingMode::LastToken: {
        // Index of the last attended token, found from the end; a row with none gathers position 0 (then masked to 0).
        const int64_t seq_len = tokens.size(1);
        auto flipped = mask.flip({1}).max(1);
        auto values = std::get<0>(flipped);
        auto from_end = std::get<1>(flipped);
        from_end = at::where(values == 0, at::full_like(from_end, seq_len - 1), from_end);
        auto index = (seq_len - 1 - from_end).view({-1, 1, 1}).expand({-1, 1, hidden});
        parts.push_back((tokens * float_mask).gather(1, index).squeeze(1));
        break;
      }
    }
  }
  return parts.size() == 1 ? parts[0] : at::cat(parts, 1);
}

}  // namespace sbert
