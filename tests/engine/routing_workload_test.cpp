// Routing workloads for storage studies: the trace file round-trips exactly and rejects hostile
// input; the Zipf workload has the skew, locality and prediction recall it is configured with;
// and the engine routes by a workload when given one (a replayed recording reproduces the model's
// logits bit for bit).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/routing_trace.h"
#include "engine/routing_workload.h"
#include "loader/model.h"
#include "loader/synth_model.h"
#include "storage/mmap_expert_source.h"

namespace strata {
namespace {

// CTest runs each test in its own process, several at once: names carry the process id.
std::string temp(const std::string& name) {
  return testing::TempDir() + "routing_workload_" + std::to_string(::getpid()) + "_" + name;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A 4-layer MoE with 64 experts (4 used) and tiny matrices: enough experts for statistics.
std::unique_ptr<Model> wide_moe() {
  const SynthConfig cfg = parse_preset(R"({"arch": "qwen3moe", "n_layer": 4, "n_embd": 64, "n_head": 2,
      "n_head_kv": 1, "head_dim": 32, "n_ff": 64, "n_expert": 64, "n_expert_used": 4, "n_ff_exp": 32,
      "n_vocab": 300, "type": "f32"})",
                                       "test preset");
  SynthWriteOptions o;
  o.out = temp("wide.gguf");
  o.force = true;
  o.threads = 1;
  write_model(plan_model(cfg, "f32", "", std::nullopt), o);
  auto model = Model::open(o.out);
  std::filesystem::remove(o.out);  // the mapping stays valid
  return model;
}

const Model& shared_wide_moe() {
  static const std::unique_ptr<Model> model = wide_moe();
  return *model;
}

std::unique_ptr<Model> golden_moe() {
  return Model::open(std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-f32/model.gguf");
}

std::vector<int32_t> golden_prompt() {
  std::ifstream in(std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-f32/tokens.txt");
  std::vector<int32_t> ids;
  for (int32_t v; in >> v;) ids.push_back(v);
  return ids;
}

std::vector<int32_t> chosen(const RoutingWorkload& w, int layer, BatchToken t) {
  std::vector<int32_t> e(static_cast<size_t>(w.n_used()));
  std::vector<float> weight(e.size());
  w.select(layer, t, e.data(), weight.data());
  return e;
}

std::vector<int32_t> predicted(const RoutingWorkload& w, int layer, BatchToken t) {
  std::vector<int32_t> e(static_cast<size_t>(w.n_used()));
  w.predict(layer, t, e.data());
  return e;
}

size_t overlap(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  for (int32_t e : a) n += std::count(b.begin(), b.end(), e) > 0 ? 1 : 0;
  return n;
}

// Starts sequence 0 (position 0) in the workload.
void start_sequence(RoutingWorkload& w) {
  const BatchToken t{.token = 0, .seq = 0, .pos = 0};
  w.begin_chunk({&t, 1});
}

TEST(RoutingTrace, SavesAndLoadsExactly) {
  RoutingTrace trace(3, 8, 2);
  const std::vector<float> w0{0.1f, 1.0f / 3.0f}, w1{0.7f, 1e-7f};
  for (int64_t t = 0; t < 3; ++t) {
    trace.record(t, 0, std::vector<int32_t>{static_cast<int32_t>(t), 7}, w0);
    trace.record(t, 2, std::vector<int32_t>{5, static_cast<int32_t>(t)}, w1);
  }
  trace.record(1, 2, std::vector<int32_t>{4, 3}, w0);  // a re-evaluated position replaces its record
  const std::string path = temp("roundtrip.txt");
  trace.save(path);
  const RoutingTrace back = RoutingTrace::load(path);
  ASSERT_EQ(back.n_tokens(), 3);
  EXPECT_EQ(back.n_layer(), 3);
  EXPECT_FALSE(back.has(0, 1));
  for (int64_t t = 0; t < 3; ++t) {
    for (int l : {0, 2}) {
      ASSERT_TRUE(back.has(t, l));
      EXPECT_TRUE(std::ranges::equal(back.experts(t, l), trace.experts(t, l))) << t << "/" << l;
      EXPECT_TRUE(std::ranges::equal(back.weights(t, l), trace.weights(t, l))) << t << "/" << l;
    }
  }
  EXPECT_EQ(back.experts(1, 2)[0], 4);
  std::filesystem::remove(path);
}

TEST(RoutingTrace, HostileFilesAreClearErrors) {
  const std::string head = "strata-routing-trace 1 layers 2 experts 4 used 2\n";
  const std::map<std::string, std::string> cases = {
      {"", "is empty"},
      {"hello\n", "not a routing trace header"},
      {"strata-routing-trace 2 layers 2 experts 4 used 2\n0 0 1 2 0.5 0.5\n", "version 2"},
      {"strata-routing-trace 1 layers 2 experts 4 used 9\n", "shape is invalid"},
      {"strata-routing-trace 1 layers 99999999 experts 4 used 2\n", "shape is invalid"},
      {head, "has no tokens"},
      {head + "1 0 1 2 0.5 0.5\n", "without gaps"},
      {head + "0 0 1 2 0.5 0.5\n7 0 1 2 0.5 0.5\n", "line 3: token 7"},
      {head + "0 2 1 2 0.5 0.5\n", "layer 2 is out of range"},
      {head + "0 0 1 4 0.5 0.5\n", "expert 4 is out of range"},
      {head + "0 0 -1 2 0.5 0.5\n", "expert -1 is out of range"},
      {head + "0 0 1 1 0.5 0.5\n", "listed twice"},
      {head + "0 0 1 2 0.5\n", "expected 2 weights"},
      {head + "0 0 1 2 0.5 nan\n", "is not a weight"},
      {head + "0 0 1 2 0.5 x\n", "is not a weight"},
      {head + "0 0 1 2 0.5 0.5 9\n", "unexpected '9'"},
      {head + "0 0 1 2 0.5 0.5\n0 0 1 2 0.5 0.5\n", "token 0 layer 0 is listed twice"},
      {head + "0 0 1 2 0.5 0.5\n0 1 1 2 0.5 0.5\n1 0 1 2 0.5 0.5\n", "token 1 lacks layer 1"},
      {head + "0 0 1\n", "expected 2 experts"},
  };
  const std::string path = temp("hostile.txt");
  for (const auto& [text, message] : cases) {
    write_text(path, text);
    try {
      RoutingTrace::load(path);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what() << " / wanted " << message;
    }
  }
  EXPECT_THROW(RoutingTrace::load(temp("missing.txt")), Error);
  std::filesystem::remove(path);
}

// Random corruptions of a valid trace are either still valid or one Error, never a crash or an
// out-of-range read (the sanitizer build runs this too).
TEST(RoutingTrace, CorruptedTextIsParsedOrRejectedCleanly) {
  RoutingTrace trace(3, 16, 4);
  for (int64_t t = 0; t < 6; ++t) {
    for (int l : {0, 2}) {
      std::vector<int32_t> e{static_cast<int32_t>(t), 7, 9, static_cast<int32_t>(10 + l)};
      trace.record(t, l, e, std::vector<float>{0.4f, 0.3f, 0.2f, 0.1f});
    }
  }
  const std::string path = temp("corrupt.txt");
  trace.save(path);
  std::ifstream in(path);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  const std::string alphabet = "0123456789 -.\nxe+";
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = good;
    const int edits = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t at = next() % text.size();
      switch (next() % 3) {
        case 0: text[at] = alphabet[next() % alphabet.size()]; break;
        case 1: text.erase(at, 1 + next() % 8); break;
        default: text.insert(at, 1, alphabet[next() % alphabet.size()]); break;
      }
      if (text.empty()) text = "x";
    }
    try {
      const RoutingTrace t = RoutingTrace::parse(text, "corrupt");
      ++accepted;
      for (int64_t tok = 0; tok < t.n_tokens(); ++tok) {
        for (int l = 0; l < t.n_layer(); ++l) {
          if (!t.has(tok, l)) continue;
          for (int32_t e : t.experts(tok, l)) ASSERT_TRUE(e >= 0 && e < t.n_expert());
        }
      }
    } catch (const Error&) {
    }
  }
  EXPECT_LT(accepted, 3000);  // most corruptions are caught
}

TEST(RoutingWorkload, SpecsAreParsedAndBadOnesNamed) {
  const Model& m = shared_wide_moe();
  EXPECT_EQ(make_routing_workload("model", m), nullptr);
  auto z = make_routing_workload("zipf", m);
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->label(), "zipf(s=0.8, locality=0.5, recall=0.8, seed=1)");
  EXPECT_EQ(make_routing_workload("zipf:s=1.5,locality=0.9,recall=1,seed=7", m)->label(),
            "zipf(s=1.5, locality=0.9, recall=1, seed=7)");
  const std::map<std::string, std::string> bad = {
      {"random", "expected model, zipf"},
      {"zipf:q=1", "unknown key 'q'"},
      {"zipf:s", "is not KEY=VALUE"},
      {"zipf:s=1,s=2", "given twice"},
      {"zipf:s=-1", "s=-1 is not a number"},
      {"zipf:locality=1", "locality=1 is not a number in [0, 1)"},
      {"zipf:recall=1.5", "recall=1.5"},
      {"zipf:seed=abc", "seed=abc"},
      {"model:s=1", "unknown key 's'"},
      {"trace", "trace:file=FILE"},
      {"trace:file=" + temp("nope.txt"), "nope.txt"},
  };
  for (const auto& [spec, message] : bad) {
    try {
      make_routing_workload(spec, m);
      ADD_FAILURE() << "accepted: " << spec;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what() << " / wanted " << message;
    }
  }
  auto dense = Model::open(std::string(STRATA_SHARED_DIR) + "/golden/qwen3-f32/model.gguf");
  EXPECT_THROW(make_routing_workload("zipf", *dense), Error);
}

TEST(RoutingWorkload, TraceMustMatchTheModelsShape) {
  auto golden = golden_moe();  // 2 layers of 8 experts, 2 used
  const std::string path = temp("shape.txt");
  RoutingTrace wide(4, 64, 4);
  wide.record(0, 0, std::vector<int32_t>{1, 2, 3, 4}, std::vector<float>(4, 0.25f));
  wide.save(path);
  EXPECT_THROW(make_routing_workload("trace:file=" + path, *golden), Error);
  RoutingTrace one_layer(2, 8, 2);
  one_layer.record(0, 0, std::vector<int32_t>{1, 2}, std::vector<float>(2, 0.5f));
  one_layer.save(path);
  try {
    make_routing_workload("trace:file=" + path, *golden);
    ADD_FAILURE() << "a trace without layer 1 was accepted for a model that routes it";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(RoutingWorkload, ZipfChoicesAreDistinctDeterministicAndSkewed) {
  const Model& m = shared_wide_moe();
  auto skewed = make_routing_workload("zipf:s=1.2,locality=0", m);
  auto again = make_routing_workload("zipf:s=1.2,locality=0", m);
  auto flat = make_routing_workload("zipf:s=0,locality=0", m);
  for (auto* w : {skewed.get(), again.get(), flat.get()}) start_sequence(*w);
  constexpr int kTokens = 2000;
  std::map<int, std::vector<int>> counts;  // [layer][expert] for the skewed workload
  std::vector<int> flat_counts(64, 0);
  for (int pos = 0; pos < kTokens; ++pos) {
    const BatchToken t{.token = 0, .seq = 0, .pos = pos};
    for (int layer = 0; layer < 4; ++layer) {
      const auto e = chosen(*skewed, layer, t);
      ASSERT_EQ(std::set<int32_t>(e.begin(), e.end()).size(), 4u);
      for (int32_t x : e) ASSERT_TRUE(x >= 0 && x < 64);
      ASSERT_EQ(e, chosen(*again, layer, t));
      counts[layer].resize(64);
      for (int32_t x : e) ++counts[layer][static_cast<size_t>(x)];
      if (layer == 0) {
        for (int32_t x : chosen(*flat, layer, t)) ++flat_counts[static_cast<size_t>(x)];
      }
    }
  }
  // A uniform share is 4 of 64 choices per token: 125 of 2000 tokens.
  const int top = *std::max_element(counts[0].begin(), counts[0].end());
  const int flat_top = *std::max_element(flat_counts.begin(), flat_counts.end());
  EXPECT_GT(top, 3 * 125);
  EXPECT_LT(flat_top, 2 * 125);
  // Each layer ranks the experts differently.
  auto order = [](std::vector<int> c) {
    std::vector<int> idx(c.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return c[static_cast<size_t>(a)] > c[static_cast<size_t>(b)]; });
    idx.resize(8);
    return idx;
  };
  EXPECT_NE(order(counts[0]), order(counts[1]));
}

TEST(RoutingWorkload, LocalityKeepsThePreviousTokensExperts) {
  const Model& m = shared_wide_moe();
  auto repeated_share = [&](const std::string& spec) {
    auto w = make_routing_workload(spec, m);
    start_sequence(*w);
    size_t kept = 0, total = 0;
    std::vector<int32_t> prev = chosen(*w, 2, {.pos = 0});
    for (int pos = 1; pos < 1000; ++pos) {
      const auto e = chosen(*w, 2, {.pos = pos});
      kept += overlap(e, prev);
      total += e.size();
      prev = e;
    }
    return static_cast<double>(kept) / static_cast<double>(total);
  };
  const double none = repeated_share("zipf:s=0,locality=0");
  const double high = repeated_share("zipf:s=0,locality=0.9");
  EXPECT_LT(none, 0.15);  // chance: 4 of 64
  EXPECT_GT(high, 0.85);
  EXPECT_LT(high, 0.97);
}

TEST(RoutingWorkload, EachNewSequenceGetsItsOwnStream) {
  const Model& m = shared_wide_moe();
  auto w = make_routing_workload("zipf:s=0,locality=0", m);
  start_sequence(*w);
  std::vector<std::vector<int32_t>> first;
  for (int pos = 0; pos < 16; ++pos) first.push_back(chosen(*w, 0, {.pos = pos}));
  start_sequence(*w);  // the same slot starts over: a fresh stream, different routing
  int same = 0;
  for (int pos = 0; pos < 16; ++pos) same += chosen(*w, 0, {.pos = pos}) == first[static_cast<size_t>(pos)];
  EXPECT_LT(same, 4);
  // A fresh workload replays the first stream: every configuration of a bench sees the same routing.
  auto fresh = make_routing_workload("zipf:s=0,locality=0", m);
  start_sequence(*fresh);
  for (int pos = 0; pos < 16; ++pos) EXPECT_EQ(chosen(*fresh, 0, {.pos = pos}), first[static_cast<size_t>(pos)]);
}

TEST(RoutingWorkload, PredictionRecallIsAsConfigured) {
  const Model& m = shared_wide_moe();
  for (double recall : {0.0, 0.5, 1.0}) {
    auto w = make_routing_workload(fmt::format("zipf:recall={}", recall), m);
    start_sequence(*w);
    size_t right = 0, total = 0;
    for (int pos = 0; pos < 500; ++pos) {
      const BatchToken t{.pos = pos};
      const auto truth = chosen(*w, 1, t);
      const auto guess = predicted(*w, 1, t);
      ASSERT_EQ(std::set<int32_t>(guess.begin(), guess.end()).size(), guess.size());
      right += overlap(guess, truth);
      total += truth.size();
    }
    const double got = static_cast<double>(right) / static_cast<double>(total);
    EXPECT_NEAR(got, recall, 0.06) << "recall " << recall;
  }
}

// Counts the experts each layer acquires (what a store would be asked for).
class CountingSource final : public ExpertSource {
 public:
  explicit CountingSource(const Model& m) : inner_(m) {}
  ExpertLease acquire(int layer, std::span<const int> experts, std::span<const float> scores) override {
    acquired.push_back({layer, std::vector<int>(experts.begin(), experts.end())});
    ExpertLease inner = inner_.acquire(layer, experts, scores);
    return ExpertLease(this, 1, inner.weights());
  }
  void prefetch(int layer, std::span<const int> experts) override {
    prefetched.push_back({layer, std::vector<int>(experts.begin(), experts.end())});
  }
  const char* describe() const override { return "counting"; }
  std::vector<std::pair<int, std::vector<int>>> acquired, prefetched;

 protected:
  void release(uint64_t) override {}

 private:
  MmapExpertSource inner_;
};

TEST(RoutingWorkload, ReplayingARecordingReproducesTheModelsLogits) {
  auto model = golden_moe();
  const auto ids = golden_prompt();
  ASSERT_GE(ids.size(), 6u);
  const EngineOptions base{.n_ctx = 64, .kv_type = TensorType::F32, .n_threads = 1};
  // Record: a prompt chunk, then single-token decodes.
  RoutingTrace trace(model->hparams().n_layer, model->hparams().n_expert, model->hparams().n_expert_used);
  CountingSource plain_src(*model);
  EngineOptions rec = base;
  rec.record_routing = &trace;
  Engine recorder(*model, plain_src, rec);
  std::vector<std::vector<float>> want;
  auto run = [&](Engine& e) {
    std::vector<std::vector<float>> out;
    Batch b;
    b.add_sequence(std::span(ids).first(3), 0, 0, true);
    e.decode(b);
    out.emplace_back(e.logits(0).begin(), e.logits(0).end());
    for (size_t i = 3; i < ids.size(); ++i) {
      b.clear();
      b.add(ids[i], 0, static_cast<int32_t>(i), true);
      e.decode(b);
      out.emplace_back(e.logits(0).begin(), e.logits(0).end());
    }
    return out;
  };
  want = run(recorder);
  ASSERT_EQ(trace.n_tokens(), static_cast<int64_t>(ids.size()));
  const std::string path = temp("replay.txt");
  trace.save(path);

  auto replay = make_routing_workload("trace:file=" + path + ",recall=1", *model);
  CountingSource replay_src(*model);
  EngineOptions rep = base;
  rep.routing = replay.get();
  rep.prefetch_experts = true;
  Engine replayer(*model, replay_src, rep);
  const auto got = run(replayer);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "step " << i;
  EXPECT_EQ(replay_src.acquired.size(), plain_src.acquired.size());
  // recall=1: each decode step's prefetch for layer 1 is exactly what layer 1 then acquires.
  ASSERT_FALSE(replay_src.prefetched.empty());
  EXPECT_EQ(replay_src.prefetched.back().second, replay_src.acquired.back().second);

  // A different routing changes the output: the workload really is what routes.
  auto zipf = make_routing_workload("zipf:s=0", *model);
  CountingSource zipf_src(*model);
  EngineOptions zo = base;
  zo.routing = zipf.get();
  Engine other(*model, zipf_src, zo);
  EXPECT_NE(run(other), want);
  std::filesystem::remove(path);

  // Recording needs one sequence and the model's own routing.
  EngineOptions two = rec;
  two.n_seq = 2;
  EXPECT_THROW(Engine(*model, plain_src, two), Error);
  EngineOptions both = rec;
  both.routing = zipf.get();
  EXPECT_THROW(Engine(*model, plain_src, both), Error);
}

}  // namespace
}  // namespace strata
