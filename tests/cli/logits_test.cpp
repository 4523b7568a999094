// `strata logits` end to end: the dumped logits and the greedy ids match llama.cpp's reference
// for a golden model; bad input is one clear error line and a non-zero exit.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the strata binary with `args` (shell syntax), capturing stdout and stderr.
Result strata(const std::string& args) {
  const std::string err_path = testing::TempDir() + "logits_test_stderr.txt";
  const std::string cmd = std::string(STRATA_BINARY) + " " + args + " 2>" + err_path;
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_path);
  return r;
}

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
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, first_line(kDir + "greedy.txt", 1) + "\n");
  const std::string got = slurp(out);
  const std::string ref = slurp(kDir + "logits.f32");
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
    EXPECT_EQ(r.code, 1) << tokens;
    EXPECT_EQ(r.err.rfind("strata: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(LogitsCommand, MissingModelAndUnwritableOutputAreErrors) {
  auto r = strata("logits -m /nonexistent/model.gguf --tokens 1,2 -o /dev/null");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nonexistent"), std::string::npos) << r.err;
  r = strata("logits -m " + kDir + "model.gguf --tokens 1,2 -o /nonexistent/dir/out.f32");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

}  // namespace
