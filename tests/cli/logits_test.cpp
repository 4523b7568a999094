// `strata logits` end to end: the dumped logits and the greedy ids match llama.cpp's reference
// for a golden model; bad input is one clear error line and a non-zero exit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/run_command.h"

namespace {

using strata::test::file_content;

strata::test::CommandResult strata(const std::string& args) { return strata::test::run_strata(args); }

const std::string kDir = std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-f32/";

std::string first_line(const std::string& path, int skip = 0) {
  std::ifstream in(path);
  std::string line;
  for (int i = 0; i <= skip; ++i) std::getline(in, line);
  return line;
}

std::string commas(std::string s) {
  std::replace(s.begin(), s.end(), ' ', ',');
  return s;
}

TEST(LogitsCommand, DumpMatchesReferenceAndGreedyIdsMatch) {
  const std::string out = testing::TempDir() + "strata_logits.f32";
  const auto r = strata("logits -m " + kDir + "model.gguf --tokens " + commas(first_line(kDir + "tokens.txt")) +
                        " -o " + out + " --gen 24");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, first_line(kDir + "greedy.txt", 1) + "\n");
  const std::string got = file_content(out);
  const std::string ref = file_content(kDir + "logits.f32");
  ASSERT_EQ(got.size(), ref.size());
  std::vector<float> a(got.size() / 4), b(ref.size() / 4);
  std::memcpy(a.data(), got.data(), got.size());
  std::memcpy(b.data(), ref.data(), ref.size());
  float max_ref = 0.0f, worst = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(b[i]));
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  }
  // F32 model with an F32 KV cache: float32 summation order only (see tests/engine/golden_test.cpp).
  EXPECT_LE(worst, 1e-3f * max_ref);
}

TEST(LogitsCommand, BadTokenListsAreOneLineErrors) {
  for (const std::string tokens : {"1,x,3", "1,,2", "99999", "-1"}) {
    const auto r = strata("logits -m " + kDir + "model.gguf --tokens " + tokens + " --gen 1");
    EXPECT_EQ(r.exit_code, 1) << tokens;
    EXPECT_EQ(r.err.rfind("strata: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(LogitsCommand, MissingModelAndUnwritableOutputAreErrors) {
  auto r = strata("logits -m /nonexistent/model.gguf --tokens 1,2 -o /dev/null");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nonexistent"), std::string::npos) << r.err;
  r = strata("logits -m " + kDir + "model.gguf --tokens 1,2 -o /nonexistent/dir/out.f32");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

}  // namespace
