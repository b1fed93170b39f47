// Sentence-transformers pooling over token embeddings, mask-aware, several modes concatenated in the order given.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace sbert {

enum class PoolingMode { Cls, Max, Mean, MeanSqrtLen, WeightedMean, LastToken };

PoolingMode parse_pooling_mode(const std::string& name);
// Every mode's name (as sentence-transformers spells it), in PoolingMode's order.
const std::vector<std::string>& pooling_mode_names();

struct PoolingConfig {
  std::vector<PoolingMode> modes;
  bool include_prompt = true;
};

// token_embeddings [B, L, H], attention_mask [B, L] (0/1). prompt_length < 0 means no prompt.
// With include_prompt = false the first prompt_length positions are left out of every mode.
// token_weights_sum [B], when defined (WordWeights), replaces the token count (mean, mean_sqrt_len_tokens) and the
// sum of position weights (weightedmean) as the divisor, as sentence-transformers' Pooling does.
at::Tensor pool(const PoolingConfig& config, const at::Tensor& token_embeddings, const at::Tensor& attention_mask,
                int64_t prompt_length, const at::Tensor& token_weights_sum = {});

// Per row of input_ids [B, L], the last position whose id is not pad_token_id: where transformers'
// *ForSequenceClassification on decoders reads its score, whichever side the padding is on. A row without the pad id
// gives its last token; a row of pad ids only its first. Only the row's own tokens (attention_mask) are candidates:
// where transformers would land on padding (a row of pad ids only, padded on the left; a tokenizer that pads with
// another id, padded on the right) it reads a state that depends on the batch around the row, and this gives what it
// reads for the row alone. pad_token_id < 0 (none set): each row's last token.
at::Tensor last_non_pad_positions(const at::Tensor& input_ids, const at::Tensor& attention_mask, int64_t pad_token_id);

}  // namespace sbert
