#include "engine/routing_trace.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "common/error.h"
#include "common/read_file.h"

namespace strata {
namespace {

constexpr const char* kMagic = "strata-routing-trace";
constexpr int kVersion = 1;
// Far above any model's layer or expert count; keeps a hostile header from sizing huge buffers.
constexpr int kMaxDim = 1 << 16;

void check_shape(int n_layer, int n_expert, int n_used) {
  if (n_layer < 1 || n_layer > kMaxDim || n_expert < 1 || n_expert > kMaxDim || n_used < 1 || n_used > n_expert) {
    fail("routing trace shape is invalid: {} layers, {} experts, {} used", n_layer, n_expert, n_used);
  }
}

}  // namespace

RoutingTrace::RoutingTrace(int n_layer, int n_expert, int n_used)
    : n_layer_(n_layer), n_expert_(n_expert), n_used_(n_used) {
  check_shape(n_layer, n_expert, n_used);
}

size_t RoutingTrace::offset(int64_t token, int layer) const {
  STRATA_CHECK(token >= 0 && token < n_tokens_ && layer >= 0 && layer < n_layer_);
  return (static_cast<size_t>(token) * static_cast<size_t>(n_layer_) + static_cast<size_t>(layer)) *
         static_cast<size_t>(n_used_);
}

std::span<const int32_t> RoutingTrace::experts(int64_t token, int layer) const {
  return {experts_.data() + offset(token, layer), static_cast<size_t>(n_used_)};
}

std::span<const float> RoutingTrace::weights(int64_t token, int layer) const {
  return {weights_.data() + offset(token, layer), static_cast<size_t>(n_used_)};
}

void RoutingTrace::record(int64_t token, int layer, std::span<const int32_t> experts, std::span<const float> weights) {
  STRATA_CHECK(token >= 0 && token <= n_tokens_ && layer >= 0 && layer < n_layer_);
  STRATA_CHECK(experts.size() == static_cast<size_t>(n_used_) && weights.size() == experts.size());
  if (token == n_tokens_) {
    ++n_tokens_;
    const size_t size = static_cast<size_t>(n_tokens_) * static_cast<size_t>(n_layer_) * static_cast<size_t>(n_used_);
    experts_.resize(size, -1);
    weights_.resize(size, 0.0f);
  }
  const size_t at = offset(token, layer);
  for (size_t i = 0; i < experts.size(); ++i) {
    STRATA_CHECK(experts[i] >= 0 && experts[i] < n_expert_);
    experts_[at + i] = experts[i];
    weights_[at + i] = weights[i];
  }
}

void RoutingTrace::save(const std::string& path) const {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "{} {} layers {} experts {} used {}\n", kMagic, kVersion, n_layer_,
                 n_expert_, n_used_);
  for (int64_t t = 0; t < n_tokens_; ++t) {
    for (int l = 0; l < n_layer_; ++l) {
      if (!has(t, l)) continue;
      fmt::format_to(std::back_inserter(out), "{} {}", t, l);
      for (int32_t e : experts(t, l)) fmt::format_to(std::back_inserter(out), " {}", e);
      // Shortest round-trip form: a replay reproduces the recorded weights bit for bit.
      for (float w : weights(t, l)) fmt::format_to(std::back_inserter(out), " {}", w);
      out.push_back('\n');
    }
  }
  write_whole_file(path, std::string_view(out.data(), out.size()));
}

RoutingTrace RoutingTrace::load(const std::string& path) {
  std::string text;
  try {
    text = read_whole_file(path);
  } catch (const Error& e) {
    throw Error(fmt::format("routing trace: {}", e.what()));
  }
  return parse(text, path);
}

RoutingTrace RoutingTrace::parse(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  std::string line;
  int line_no = 1;
  auto bad = [&](const std::string& why) -> Error {
    return Error(fmt::format("routing trace '{}' line {}: {}", path, line_no, why));
  };
  if (!std::getline(in, line)) throw Error(fmt::format("routing trace '{}' is empty", path));
  std::istringstream head(line);
  std::string magic, w_layers, w_experts, w_used, rest;
  int version = 0, n_layer = 0, n_expert = 0, n_used = 0;
  if (!(head >> magic >> version >> w_layers >> n_layer >> w_experts >> n_expert >> w_used >> n_used) ||
      magic != kMagic || w_layers != "layers" || w_experts != "experts" || w_used != "used" || (head >> rest)) {
    throw bad(fmt::format("not a routing trace header (expected '{} {} layers L experts E used K')", kMagic, kVersion));
  }
  if (version != kVersion) throw bad(fmt::format("unsupported routing trace version {}", version));
  try {
    check_shape(n_layer, n_expert, n_used);
  } catch (const Error& e) {
    throw bad(e.what());
  }
  RoutingTrace trace(n_layer, n_expert, n_used);
  std::vector<int32_t> experts(static_cast<size_t>(n_used));
  std::vector<float> weights(static_cast<size_t>(n_used));
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::istringstream fields(line);
    int64_t token = -1;
    int layer = -1;
    if (!(fields >> token >> layer)) throw bad("expected '<token> <layer> <experts...> <weights...>'");
    if (token < 0 || token > trace.n_tokens()) {
      throw bad(fmt::format("token {} does not follow token {} (tokens must be numbered from 0 without gaps)", token,
                            trace.n_tokens() - 1));
    }
    if (layer < 0 || layer >= n_layer) throw bad(fmt::format("layer {} is out of range (0..{})", layer, n_layer - 1));
    for (auto& e : experts) {
      if (!(fields >> e)) throw bad(fmt::format("expected {} experts", n_used));
      if (e < 0 || e >= n_expert) throw bad(fmt::format("expert {} is out of range (0..{})", e, n_expert - 1));
    }
    for (size_t i = 0; i < experts.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (experts[i] == experts[j]) throw bad(fmt::format("expert {} is listed twice", experts[i]));
      }
    }
    for (auto& w : weights) {
      std::string word;
      if (!(fields >> word)) throw bad(fmt::format("expected {} weights after the experts", n_used));
      char* end = nullptr;
      w = std::strtof(word.c_str(), &end);
      if (end == word.c_str() || *end != '\0' || !std::isfinite(w)) throw bad(fmt::format("'{}' is not a weight", word));
    }
    if (fields >> rest) throw bad(fmt::format("unexpected '{}' after the weights", rest));
    if (token < trace.n_tokens() && trace.has(token, layer)) {
      throw bad(fmt::format("token {} layer {} is listed twice", token, layer));
    }
    trace.record(token, layer, experts, weights);
  }
  if (trace.n_tokens() == 0) throw Error(fmt::format("routing trace '{}' has no tokens", path));
  // Every token must list the same layers, or a replay would find holes.
  for (int l = 0; l < n_layer; ++l) {
    const bool first = trace.has(0, l);
    for (int64_t t = 1; t < trace.n_tokens(); ++t) {
      if (trace.has(t, l) != first) {
        throw Error(fmt::format("routing trace '{}': token {} {} layer {}, token 0 {}", path, t,
                                first ? "lacks" : "has", l, first ? "has it" : "does not"));
      }
    }
  }
  return trace;
}

}  // namespace strata
