#pragma once
// Tokenizers of ../shared/vocab, loaded once per test binary (the HF ones take a while).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "loader/tokenizer/tokenizer.h"

namespace strata::test {

inline const std::string& vocab_dir() {
  static const std::string dir = std::string(STRATA_SHARED_DIR) + "/vocab/";
  return dir;
}

// `rel`: a GGUF file or HF directory under ../shared/vocab.
inline const Tokenizer& shared_tokenizer(const std::string& rel) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[rel];
  if (!slot) slot = Tokenizer::from_path(vocab_dir() + rel);
  return *slot;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// llama.cpp's test vectors `base`.inp / `base`.out: inputs separated (and ended) by
// "\n__ggml_vocab_test__\n", as its test-tokenizer-0 reads them; one line of ids per input.
inline std::vector<std::pair<std::string, std::vector<int32_t>>> read_vectors(const std::string& base) {
  const std::string inp = read_file(base + ".inp");
  const std::string out = read_file(base + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0;;) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    inputs.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::vector<int32_t>> ids;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream nums(line);
    std::vector<int32_t> v;
    for (int32_t x; nums >> x;) v.push_back(x);
    ids.push_back(std::move(v));
  }
  EXPECT_EQ(inputs.size(), ids.size()) << base;
  std::vector<std::pair<std::string, std::vector<int32_t>>> cases;
  for (size_t i = 0; i < inputs.size() && i < ids.size(); ++i) cases.emplace_back(inputs[i], ids[i]);
  return cases;
}

}  // namespace strata::test
