// Tokenizer encode throughput: 1 MiB of English text (the licence texts in
// /usr/share/common-licenses, repeated) through the Qwen3 tokenizer on one core.
// Goal: under 0.5 s per MiB.
//
//   build-<you>/bench/tokenizer_bench [HF_DIR_OR_GGUF (default ../shared/vocab/hf/qwen3)] [FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "loader/tokenizer/tokenizer.h"

namespace {

std::string english_text(const char* file, size_t bytes) {
  std::string corpus;
  const auto slurp = [&](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    corpus += ss.str();
  };
  if (file != nullptr) {
    slurp(file);
  } else {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator("/usr/share/common-licenses")) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& p : files) slurp(p);
  }
  if (corpus.empty()) strata::fail("no text to tokenize");
  std::string text;
  while (text.size() < bytes) text += corpus;
  text.resize(bytes);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string vocab = argc > 1 ? argv[1] : "../shared/vocab/hf/qwen3";
    const auto t_load = std::chrono::steady_clock::now();
    const auto tok = strata::Tokenizer::from_path(vocab);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
    const std::string text = english_text(argc > 2 ? argv[2] : nullptr, size_t{1} << 20);

    std::vector<double> runs;
    size_t n_tokens = 0;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      n_tokens = tok->encode(text, false, false).size();
      runs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(runs.begin(), runs.end());
    const double mb = static_cast<double>(text.size()) / (1 << 20);
    std::printf("tokenizer: %s (load %.2f s)\n", vocab.c_str(), load_s);
    std::printf("encode 1 MiB English, 1 thread: median %.3f s (best %.3f s) = %.2f MiB/s, %zu tokens, %.0f tokens/s\n",
                runs[runs.size() / 2], runs[0], mb / runs[runs.size() / 2], n_tokens,
                static_cast<double>(n_tokens) / runs[runs.size() / 2]);
    std::printf("goal < 0.5 s: %s\n", runs[runs.size() / 2] < 0.5 ? "met" : "NOT met");
    return 0;
  } catch (const strata::Error& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
  }
}
