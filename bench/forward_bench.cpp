// Forward-pass throughput: prefill (pp) and decode (tg) tokens/s of one sequence, like
// llama-bench's pp512 / tg128, plus the decode's achieved fraction of memory read bandwidth
// (bytes a decode step must read × tokens/s ÷ the machine's measured read bandwidth).
//
//   forward_bench MODEL.gguf [--pp 512] [--tg 128] [--depth 0] [--threads N] [--reps 3] [--kv-type f16]
//                 [--par 4]
//
// --par N also decodes N sequences together (one forward pass per step, as the server's
// continuous batching does) and reports their aggregate tokens/s: experts shared by the
// sequences are read once per step.
//
// Make a model with Qwen3-30B-A3B's layer dimensions and fewer layers with
//   strata make-model --preset qwen3-30b-a3b --layers 4 --type q4_k_m -o q30b-4l.gguf
// Not a test: prints figures only.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/model_path.h"
#include "engine/sampler.h"
#include "kernels/kernel_table.h"
#include "loader/model.h"
#include "storage/bandwidth_probe.h"
#include "storage/mmap_expert_source.h"

namespace {

using Clock = std::chrono::steady_clock;
using strata::Batch;
using strata::Engine;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Bytes one decode step reads: every weight except the embedding table (one row of it), and the
// routed experts' share (n_expert_used of n_expert) of each expert tensor.
double decode_bytes_per_token(const strata::Model& m) {
  const auto& hp = m.hparams();
  double bytes = 0.0;
  for (const auto& t : m.tensors()) {
    if (&t == &m.token_embd() && &t != &m.output()) {
      bytes += static_cast<double>(t.nbytes) / static_cast<double>(t.ne[1]);
    } else if (t.name.find("_exps") != std::string::npos) {
      bytes += static_cast<double>(t.nbytes) * hp.n_expert_used / hp.n_expert;
    } else {
      bytes += static_cast<double>(t.nbytes);
    }
  }
  return bytes;
}

struct Stats {
  double mean = 0.0, sd = 0.0;
};
Stats stats(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

int run(int argc, char** argv) {
  std::string path;
  int pp = 512, tg = 128, threads = 0, reps = 3, par = 4, depth = 0;
  std::string kv = "f16";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) strata::fail("{} needs a value", a);
      return argv[++i];
    };
    if (a == "--pp") pp = std::stoi(next());
    else if (a == "--tg") tg = std::stoi(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--kv-type") kv = next();
    else if (a == "--par") par = std::stoi(next());
    else if (a == "--depth") depth = std::stoi(next());
    else if (!a.empty() && a[0] != '-') path = a;
    else strata::fail("unknown option {}", a);
  }
  if (pp < 1 || tg < 1 || reps < 1 || par < 1) strata::fail("--pp, --tg, --reps and --par must be positive");
  if (depth < 0 || depth > pp) strata::fail("--depth must be in 0..--pp ({})", pp);
  if (par > 1 && pp < par + 16) strata::fail("--par {} needs --pp of at least {}", par, par + 16);
  auto model = strata::Model::open(strata::resolve_model_path(path));
  strata::MmapExpertSource experts(*model);
  strata::EngineOptions opt;
  opt.n_ctx = pp + tg + 8;
  opt.n_seq = par;
  opt.n_batch = pp;
  opt.kv_type = strata::parse_kv_type(kv);
  opt.n_threads = threads;
  Engine engine(*model, experts, opt);
  const auto& hp = model->hparams();
  std::printf("model: %s (%s, %d layers, %d experts / %d used)\n", model->path().c_str(),
              strata::arch_name(model->arch()), hp.n_layer, hp.n_expert, hp.n_expert_used);
  std::printf("isa: %s, threads: %d, kv: %s, experts: %s\n", std::string(strata::kernel_isa_name()).c_str(),
              engine.n_threads(), kv.c_str(), engine.expert_mode());

  // Deterministic pseudo-random prompt.
  std::vector<int32_t> prompt(static_cast<size_t>(pp));
  uint64_t s = 12345;
  for (auto& t : prompt) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(hp.n_vocab));
  }

  // Warm-up: touch every weight once so the page cache holds the model (both runs measure compute
  // and memory, not disk).
  Batch b;
  b.add_sequence(prompt, 0, 0, true);
  engine.decode(b);

  std::vector<double> pp_rates, tg_rates;
  for (int r = 0; r < reps; ++r) {
    engine.clear_seq(0);
    b.clear();
    b.add_sequence(prompt, 0, 0, true);
    auto t0 = Clock::now();
    engine.decode(b);
    pp_rates.push_back(pp / since(t0));

    // Generation starts from an empty context, as llama-bench's tgN does, so the two tests
    // measure the same thing; --depth D keeps the prompt's first D tokens as context instead
    // (llama-bench's -d).
    int32_t next = strata::argmax(engine.logits(0));
    engine.clear_seq(0);
    if (depth > 0) {
      b.clear();
      b.add_sequence(std::span(prompt).first(static_cast<size_t>(depth)), 0, 0, true);
      engine.decode(b);
    }
    t0 = Clock::now();
    for (int i = 0; i < tg; ++i) {
      b.clear();
      b.add(next, 0, engine.seq_len(0), true);
      engine.decode(b);
      next = strata::argmax(engine.logits(0));
    }
    tg_rates.push_back(tg / since(t0));
  }
  const Stats p = stats(pp_rates), t = stats(tg_rates);
  std::printf("pp%d: %8.2f ± %.2f tok/s\n", pp, p.mean, p.sd);
  if (depth > 0) {
    std::printf("tg%d @ d%d: %8.2f ± %.2f tok/s\n", tg, depth, t.mean, t.sd);
  } else {
    std::printf("tg%d: %8.2f ± %.2f tok/s\n", tg, t.mean, t.sd);
  }

  if (par > 1) {
    // Each sequence gets a short distinct prompt, then all step together.
    std::vector<int32_t> next(static_cast<size_t>(par));
    for (int q = 0; q < par; ++q) {
      engine.clear_seq(q);
      b.clear();
      b.add_sequence(std::span(prompt).subspan(static_cast<size_t>(q), 16), q, 0, true);
      engine.decode(b);
      next[static_cast<size_t>(q)] = strata::argmax(engine.logits(0));
    }
    const auto t0 = Clock::now();
    for (int i = 0; i < tg; ++i) {
      b.clear();
      for (int q = 0; q < par; ++q) b.add(next[static_cast<size_t>(q)], q, engine.seq_len(q), true);
      engine.decode(b);
      for (int q = 0; q < par; ++q) next[static_cast<size_t>(q)] = strata::argmax(engine.logits(static_cast<size_t>(q)));
    }
    std::printf("tg%d x %d sequences: %8.2f tok/s aggregate\n", tg, par, static_cast<double>(tg) * par / since(t0));
  }

  const double bytes = decode_bytes_per_token(*model);
  const double bw = static_cast<double>(
      strata::measure_memory_bandwidth(1ull << 30, static_cast<unsigned>(engine.n_threads())).gib_per_s() *
      (1024.0 * 1024.0 * 1024.0));
  std::printf("decode reads %.1f MiB/token -> %.2f GB/s achieved; measured read bandwidth %.2f GB/s; "
              "fraction %.0f%%\n",
              bytes / (1024.0 * 1024.0), bytes * t.mean / 1e9, bw / 1e9, 100.0 * bytes * t.mean / bw);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "forward_bench: error: %s\n", e.what());
    return 1;
  }
}
