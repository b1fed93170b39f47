// RoBERTa and XLM-RoBERTa (model_type "roberta", "xlm-roberta"): BERT's encoder under embeddings whose positions
// count the real tokens from padding_idx + 1 (fairseq's numbering), so a model reads max_position_embeddings -
// padding_idx - 1 tokens at most. Keys as Hugging Face's RobertaModel / XLMRobertaModel.
#include <ATen/ATen.h>

#include "models/bert.h"

namespace sbert::roberta {

class RobertaModel : public Encoder {
 public:
  RobertaModel(const bert::Config& c, std::string model_type, std::string model_class)
      : config(c), model_type_(std::move(model_type)), model_class_(std::move(model_class)) {
    embeddings = register_module("embeddings", std::make_shared<bert::BertEmbeddings>(c, c.pad_token_id));
    encoder = register_module("encoder", std::make_shared<bert::BertEncoder>(c));
  }

  at::Tensor forward(const ops::Context& ctx, const EncoderInput& in, std::vector<at::Tensor>* hidden_states) override {
    const ops::Tokens tokens(in.attention_mask);
    // padding_idx + the count of non-padding ids up to and including each token; padding_idx at padding ids.
    auto real = in.input_ids.ne(config.pad_token_id).to(at::kLong);
    auto positions = real.cumsum(1) * real + config.pad_token_id;
    auto types = in.token_type_ids.defined() ? in.token_type_ids : at::zeros_like(in.input_ids);
    auto hidden = embeddings->forward(ctx, tokens.take(in.input_ids), tokens.take(types), tokens.take(positions));
    return tokens.restore(encoder->forward(ctx, hidden, tokens, hidden_states));
  }

  void init_weights(uint64_t seed) override { nn::init_normal(*this, config.initializer_range, seed); }

  EncoderInfo info() const override {
    return {model_type_,         model_class_,          config.vocab_size,       config.hidden_size, max_tokens(), config.type_vocab_size,
            config.num_hidden_layers, config.num_attention_heads};
  }

  const bert::Config config;
  std::shared_ptr<bert::BertEmbeddings> embeddings;
  std::shared_ptr<bert::BertEncoder> encoder;

 private:
  int64_t max_tokens() const { return std::max<int64_t>(0, config.max_position_embeddings - config.pad_token_id - 1); }
  std::string model_type_, model_class_;
};

bert::Config read_config(const ConfigReader& c) {
  auto config = bert::Config::read(c);
  // Unlike BERT, pad_token_id sets where positions start: it must be a row of both tables.
  if (!c.has("pad_token_id")) config.pad_token_id = 1;
  if (config.pad_token_id < 0 || config.pad_token_id + 1 >= config.max_position_embeddings || config.pad_token_id >= config.vocab_size) {
    c.fail("pad_token_id", "must be a token id below vocab_size and max_position_embeddings - 1, got " + std::to_string(config.pad_token_id));
  }
  return config;
}

Architecture architecture(std::string model_type, std::string model_class) {
  Architecture a;
  a.model_type = model_type;
  a.prefixes = {"roberta."};
  a.build = [model_type, model_class](const ConfigReader& c) -> std::shared_ptr<Encoder> {
    return std::make_shared<RobertaModel>(read_config(c), model_type, model_class);
  };
  return a;
}

}  // namespace sbert::roberta

namespace sbert {

Architecture roberta_architecture() { return roberta::architecture("roberta", "RobertaModel"); }
Architecture xlm_roberta_architecture() { return roberta::architecture("xlm-roberta", "XLMRobertaModel"); }

}  // namespace sbert
