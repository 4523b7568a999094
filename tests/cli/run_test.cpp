// `strata run` end to end on the golden models: streaming output, determinism, limits, the stats
// line, and one clear error line for every kind of bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/cli/run_command.h"

namespace {

using strata::test::file_content;

strata::test::CommandResult strata(const std::string& args) { return strata::test::run_strata(args); }

// A minimal valid GGUF v3 file of architecture `arch` with one small F32 tensor.
std::string write_gguf_with_arch(const std::string& arch) {
  std::string b = "GGUF";
  auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); };
  auto str = [&](const std::string& s) {
    u64(s.size());
    b += s;
  };
  u32(3);
  u64(1);  // tensors
  u64(1);  // key/values
  str("general.architecture");
  u32(8);  // string
  str(arch);
  str("token_embd.weight");
  u32(2);
  u64(4);
  u64(4);
  u32(0);  // F32
  u64(0);
  b.resize((b.size() + 31) / 32 * 32, '\0');
  b.append(64, '\0');
  const std::string path = testing::TempDir() + "run_test_" + arch + ".gguf";
  std::ofstream(path, std::ios::binary) << b;
  return path;
}

const std::string kModel = std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-f32/model.gguf";

// Exit code 1 and exactly one error line, the last one on stderr (informational log lines about
// the expert store may come before it).
void expect_one_line_error(const strata::test::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ASSERT_FALSE(r.err.empty());
  ASSERT_EQ(r.err.back(), '\n') << r.err;
  const size_t start = r.err.rfind('\n', r.err.size() - 2);
  const std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  EXPECT_EQ(last.rfind("strata: error: ", 0), 0u) << r.err;
  EXPECT_NE(last.find(needle), std::string::npos) << r.err;
  size_t errors = 0;
  for (size_t at = r.err.find("error"); at != std::string::npos; at = r.err.find("error", at + 1)) ++errors;
  EXPECT_EQ(errors, 1u) << r.err;
}

TEST(RunCommand, GreedyIsDeterministicAndShorterRunsArePrefixes) {
  const auto a = strata("run -m " + kModel + " -p 'The quick brown fox' --temp 0 -n 24");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto b = strata("run -m " + kModel + " -p 'The quick brown fox' --temp 0 -n 24");
  EXPECT_EQ(a.out, b.out);
  const auto c = strata("run -m " + kModel + " -p 'The quick brown fox' --temp 0 -n 8 --kv-type f32");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_FALSE(c.out.empty());
  EXPECT_LT(c.out.size(), a.out.size());
  EXPECT_EQ(a.out.substr(0, c.out.size()), c.out);
}

TEST(RunCommand, ReportsSpeedIsaAndExpertModeOnStderr) {
  const auto r = strata("run -m " + kModel + " -p hello -n 4 --seed 7");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generation: 4 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos);
  EXPECT_NE(r.err.find("isa: "), std::string::npos);
  EXPECT_NE(r.err.find("experts: mmap"), std::string::npos);
  EXPECT_NE(r.err.find("time: attention "), std::string::npos) << r.err;
}

// --stats-json: the engine's phase times and the expert store's counters, per layer and per
// expert; the human-readable store summary is on stderr either way.
TEST(RunCommand, StatsJsonHasPhaseTimesAndPerLayerStoreCounters) {
  const std::string path = testing::TempDir() + "run_test_stats.json";
  std::remove(path.c_str());
  const auto r = strata("run -m " + kModel + " -p hello -n 6 --seed 7 --expert-mode direct --stats-json " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("experts requested"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(file_content(path));
  EXPECT_EQ(j.at("generated_tokens").get<int>(), 6);
  EXPECT_GT(j.at("tokens_evaluated").get<int>(), 6);
  const auto& ms = j.at("ms_per_token");
  EXPECT_GT(ms.at("attention").get<double>(), 0.0);
  EXPECT_GT(ms.at("experts").get<double>(), 0.0);
  EXPECT_GE(ms.at("total").get<double>(), ms.at("attention").get<double>() + ms.at("experts").get<double>());
  const auto& store = j.at("expert_store");
  ASSERT_EQ(store.at("layers").size(), 2u);  // the golden model's two layers
  EXPECT_GT(store.at("total").at("requests").get<uint64_t>(), 0u);
  EXPECT_EQ(store.at("experts").at(0).size(), 8u);  // its 8 experts
  const auto& memory = j.at("memory");
  EXPECT_GE(memory.at("peak_rss_bytes").get<uint64_t>(), memory.at("rss_bytes").get<uint64_t>());
  EXPECT_GT(memory.at("anon_bytes").get<uint64_t>(), 0u);
  EXPECT_NE(r.err.find("memory: peak RSS "), std::string::npos) << r.err;
  std::remove(path.c_str());
  // The mapped file's modes count their tier-1 bytes the same way.
  const auto m = strata("run -m " + kModel + " -p hello -n 2 --expert-mode mmap-plain --stats-json " + path);
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const auto mj = nlohmann::json::parse(file_content(path));
  EXPECT_GT(mj.at("expert_store").at("total").at("bytes_tier1").get<uint64_t>(), 0u);
  EXPECT_GT(mj.at("ms_per_token").at("total").get<double>(), 0.0);
  std::remove(path.c_str());
  // An unwritable destination fails before anything is generated.
  const auto bad = strata("run -m " + kModel + " -p hello -n 2 --stats-json " + testing::TempDir() + "no/such/dir/s.json");
  expect_one_line_error(bad, "no/such/dir/s.json");
  EXPECT_TRUE(bad.out.empty()) << bad.out;
}

TEST(RunCommand, SameSeedSameTextAndPromptFromFile) {
  const std::string prompt = testing::TempDir() + "run_test_prompt.txt";
  std::ofstream(prompt) << "Once upon a time";
  const auto a = strata("run -m " + kModel + " -f " + prompt + " -n 16 --seed 123 --temp 1.2 --top-k 0");
  const auto b = strata("run -m " + kModel + " -p 'Once upon a time' -n 16 --seed 123 --temp 1.2 --top-k 0");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST(RunCommand, StopStringEndsTheOutputBeforeIt) {
  const auto full = strata("run -m " + kModel + " -p 'abc' --temp 0 -n 24");
  ASSERT_EQ(full.exit_code, 0);
  ASSERT_GE(full.out.size(), 6u);
  const std::string stop = full.out.substr(3, 2);
  const auto cut = strata("run -m " + kModel + " -p 'abc' --temp 0 -n 24 --stop '" + stop + "'");
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  EXPECT_EQ(cut.out, full.out.substr(0, full.out.find(stop)));
}

TEST(RunCommand, ChatAppliesATemplateAndGenerates) {
  const auto r = strata("run -m " + kModel + " --chat -p 'Hi there' -n 6 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generation: "), std::string::npos);
}

TEST(RunCommand, EveryExpertModeGeneratesTheSameGreedyText) {
  // Through the tiered store with a cache of a few slots, experts are evicted and re-read all the
  // time; the text must not change.
  const std::string model = std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-q8_0/model.gguf";
  const std::string base = "run -m " + model + " -p 'The quick brown fox' --temp 0 -n 24 ";
  const auto ref = strata(base + "--expert-mode mmap");
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  for (const std::string mode : {"slots", "direct", "mmap-plain"}) {
    // Both names of the flag (--experts is the short one).
    const auto r = strata(base + (mode == "direct" ? "--experts " : "--expert-mode ") + mode + " --expert-cache 1M");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, ref.out) << mode;
    const std::string banner = mode == "mmap-plain" ? "no hints: pages fault in" : "experts: " + mode;
    EXPECT_NE(r.err.find(banner), std::string::npos) << r.err;
  }
}

// The trace has a record per evaluated token (the prompt and every generated token but the last,
// which is sampled and never fed back) and MoE layer, and does not change the text.
TEST(RunCommand, RecordRoutingWritesATraceOfEveryEvaluatedToken) {
  const std::string trace = testing::TempDir() + "run_test_trace.txt";
  const auto plain = strata("run -m " + kModel + " -p 'In the beginning' -n 5 --temp 0 -t 1");
  const auto r = strata("run -m " + kModel + " -p 'In the beginning' -n 5 --temp 0 -t 1 --record-routing " + trace);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, plain.out);
  EXPECT_NE(r.err.find("written to " + trace), std::string::npos) << r.err;
  std::istringstream in(file_content(trace));
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("strata-routing-trace 1 layers 2 experts 8 used 2", 0), 0u) << header;
  int lines = 0, last_token = -1;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    std::istringstream fields(line);
    fields >> last_token;
  }
  EXPECT_EQ(lines % 2, 0);  // both layers route
  EXPECT_EQ(last_token + 1, lines / 2);
  EXPECT_GE(lines / 2, 5);  // at least the prompt's last token and four generated ones
  std::remove(trace.c_str());
}

TEST(RunCommand, BadInputIsOneClearLine) {
  expect_one_line_error(strata("run -m /nonexistent.gguf -p hi"), "nonexistent");
  expect_one_line_error(strata("run -m " + kModel + " -p 'a long prompt that does not fit' --ctx 4"),
                        "context overflow");
  expect_one_line_error(strata("run -m " + kModel + " -p hi --top-p 2"), "top-p");
  expect_one_line_error(strata("run -m " + kModel + " -p hi --kv-type q8_0"), "KV cache type");
  expect_one_line_error(strata("run -m " + kModel), "no prompt");
  expect_one_line_error(strata("run -m " + kModel + " -f /nonexistent/prompt.txt"), "/nonexistent/prompt.txt");
  expect_one_line_error(strata("run -m " + write_gguf_with_arch("mamba") + " -p hi"), "unsupported architecture");
  expect_one_line_error(strata("run -m " + kModel + " -p hi --record-routing /nonexistent/dir/trace.txt"),
                        "/nonexistent/dir/trace.txt");
  expect_one_line_error(
      strata("run -m " + std::string(STRATA_SHARED_DIR) + "/golden/qwen3-f32/model.gguf -p hi --record-routing " +
             testing::TempDir() + "run_test_dense_trace.txt"),
      "no routed experts");
  const auto flag = strata("run -m " + kModel + " -p hi --ctx abc");
  EXPECT_NE(flag.exit_code, 0);
}

}  // namespace
