// Errors raised by model code. They carry a code that the N-API boundary turns into SbertError.code,
// so model code stays free of N-API.
#pragma once

#include <stdexcept>
#include <string>

namespace sbert {

enum class ErrorCode { Native, FileNotFound, Format, Weights, Config, Device, Disposed, Input };

const char* error_code_name(ErrorCode code);

class SbertException : public std::runtime_error {
 public:
  SbertException(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw SbertException(code, message); }

// Renders a shape as "[2, 3]" for messages.
template <typename Sizes>
std::string shape_str(const Sizes& sizes) {
  std::string out = "[";
  bool first = true;
  for (auto s : sizes) {
    if (!first) out += ", ";
    out += std::to_string(s);
    first = false;
  }
  return out + "]";
}

}  // namespace sbert
