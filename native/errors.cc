#include "errors.h"

namespace sbert {

// The spellings TypeScript's SbertErrorCode uses.
const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::Native: return "ERR_NATIVE";
    case ErrorCode::FileNotFound: return "ERR_FILE_NOT_FOUND";
    case ErrorCode::Format: return "ERR_FORMAT";
    case ErrorCode::Weights: return "ERR_WEIGHTS";
    case ErrorCode::Config: return "ERR_CONFIG";
    case ErrorCode::Device: return "ERR_DEVICE";
    case ErrorCode::Disposed: return "ERR_DISPOSED";
    case ErrorCode::Input: return "ERR_INPUT";
  }
  return "ERR_NATIVE";
}

}  // namespace sbert
