#include "engine/model_path.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "common/error.h"

namespace strata {

std::string resolve_model_path(const std::string& given) {
  if (!given.empty()) return given;
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates{fs::path(kDefaultModelRelPath)};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // <source>/<build dir>/strata, or one level deeper (<build dir>/cli/strata).
    candidates.push_back(exe.parent_path().parent_path() / kDefaultModelRelPath);
    candidates.push_back(exe.parent_path().parent_path().parent_path() / kDefaultModelRelPath);
  }
  std::string looked;
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c, ec)) return c.string();
    looked += (looked.empty() ? "" : ", ") + c.lexically_normal().string();
  }
  fail("no model given (-m MODEL) and the default model {} does not exist yet (looked in: {})",
       kDefaultModelRelPath, looked);
}

TensorType parse_kv_type(const std::string& name) {
  if (name == "f16" || name == "F16") return TensorType::F16;
  if (name == "f32" || name == "F32") return TensorType::F32;
  fail("unsupported KV cache type '{}' (use f16 or f32)", name);
}

}  // namespace strata
