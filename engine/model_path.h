#pragma once
// Where `strata run`, `logits` and `serve` find a model when no -m is given.
#include <string>

#include "kernels/tensor_type.h"

namespace strata {

// The project's default model, relative to the source tree.
inline constexpr const char* kDefaultModelRelPath = "models/strata-demo.gguf";

// `given` if non-empty. Otherwise the default model, looked up in the current directory and next
// to the source tree the running binary was built in (the binary lives in <source>/<build dir>/).
// Throws strata::Error saying where it looked when the default model does not exist.
std::string resolve_model_path(const std::string& given);

// Parses a KV cache type name ("f16" or "f32"); throws strata::Error for anything else.
TensorType parse_kv_type(const std::string& name);

}  // namespace strata
