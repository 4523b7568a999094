// `strata bench`: prompt-processing and generation throughput like llama-bench (ppN / tgN,
// mean ± sd over repetitions), across expert modes and expert-cache sizes, warm or cold (page
// cache dropped first), with the machine's memory and disk bandwidth measured alongside so the
// achieved fraction can be read off directly.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/phase_report.h"
#include "cli/svg_plot.h"
#include "common/error.h"
#include "common/read_file.h"
#include "common/system_memory.h"
#include "engine/engine.h"
#include "engine/model_path.h"
#include "engine/routing_workload.h"
#include "loader/model.h"
#include "storage/bandwidth_probe.h"
#include "storage/expert_store.h"
#include "storage/page_residency.h"
#include "storage/store_cli.h"
#include "storage/store_factory.h"
#include "storage/store_stats.h"

namespace strata::cli {
namespace {

struct BenchArgs {
  std::string model;
  int pp = 512;
  int tg = 128;
  int reps = 3;
  int threads = 0;
  std::string modes;        // comma list; empty: --expert-mode
  std::string cache_sweep;  // comma list of sizes for slot modes
  bool cold = false;
  bool json = false;
  std::string json_out;     // also write the JSON here, next to the table
  bool no_probe = false;
  bool no_prefetch = false;
  int prefetch_depth = 1;
  uint32_t seed = 42;
  std::string parallel;     // comma list of concurrent sequence counts for batched decode
  std::string plot;         // SVG file: tokens/s against expert-cache size
  std::string routing = "model";  // or a synthetic / replayed workload (engine/routing_workload.h)
  StoreFlags store;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Config {
  StoreMode mode;
  uint64_t cache_bytes;  // 0: default
};

struct Sample {
  std::string test;   // "pp512", "tg128"
  bool cold = false;
  int n_tokens = 0;
  std::vector<double> rates;  // tokens/s per repetition
  uint64_t tier2_bytes = 0;   // read by the store into slots during the measured repetitions
  uint64_t storage_bytes = 0; // read from storage by the process, any path (/proc/self/io)
  uint64_t stall_ns = 0;      // waited for expert reads / page faults-in during them
  double seconds = 0;         // total measured time
  double hit_rate = -1;       // expert cache hit rate during the test; -1 if not a store
  PhaseTimes time;            // where the engine's time went during the measured repetitions
  int reps = 0;
  int n_seq = 1;
  // Prompt tests: time to the first token's logits (the whole prefill), ms.
  double ttft_ms() const { return test[0] == 'p' && reps > 0 ? 1000.0 * seconds / reps : 0; }
  // Bytes read from storage per evaluated token: slot reads and page-cache misses alike, so the
  // mmap modes are measured the same way as the slot modes.
  double disk_bytes_per_token() const {
    return n_tokens > 0 && reps > 0 ? static_cast<double>(storage_bytes) / (static_cast<double>(n_tokens) * reps) : 0;
  }
  double stall_ms_per_token() const {
    return n_tokens > 0 && reps > 0 ? static_cast<double>(stall_ns) / 1e6 / (static_cast<double>(n_tokens) * reps) : 0;
  }
  double mean() const {
    return rates.empty() ? 0 : std::accumulate(rates.begin(), rates.end(), 0.0) / static_cast<double>(rates.size());
  }
  double sd() const {
    if (rates.size() < 2) return 0;
    const double m = mean();
    double s = 0;
    for (double r : rates) s += (r - m) * (r - m);
    return std::sqrt(s / static_cast<double>(rates.size() - 1));
  }
};

// What this machine's memory and disk delivered at one moment.
struct MachineProbe {
  BandwidthReport mem;
  DiskReport disk;
};

MachineProbe probe_machine(const std::string& file, int threads) {
  MachineProbe p;
  const SystemMemory sys = read_system_memory();
  p.mem = measure_memory_bandwidth(std::min<uint64_t>(1ull << 30, std::max<uint64_t>(sys.available() / 8, 64ull << 20)),
                                   static_cast<unsigned>(threads));
  p.disk = measure_disk_bandwidth(file, 1ull << 30);
  return p;
}

// The bandwidths a configuration's fractions are taken against: the mean of the probes just
// before and just after it. On a shared machine (cloud disks with burst credits, noisy
// neighbours) one probe at start-up can be far from what a long run later saw.
struct Limits {
  double mem_gib_s = 0;
  double disk_gib_s = 0;
};

Limits bracketing_limits(const MachineProbe& before, const MachineProbe& after) {
  return {(before.mem.gib_per_s() + after.mem.gib_per_s()) / 2, (before.disk.gib_per_s() + after.disk.gib_per_s()) / 2};
}

// The physical limit of single-sequence decode: each token reads its active weights from RAM at
// the probed memory bandwidth and its cache misses from disk at the probed disk bandwidth; with
// the two fully overlapped the slower one sets the rate. 0 where it does not apply (prompt or
// batched tests, no probe).
double decode_bound_ts(const Sample& s, uint64_t active_bytes, const Limits& limits) {
  if (s.test[0] != 't' || s.n_seq != 1 || limits.mem_gib_s <= 0 || limits.disk_gib_s <= 0) return 0;
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  const double mem_s = static_cast<double>(active_bytes) / (limits.mem_gib_s * kGiB);
  const double disk_s = s.disk_bytes_per_token() / (limits.disk_gib_s * kGiB);
  const double per_token = std::max(mem_s, disk_s);
  return per_token > 0 ? 1.0 / per_token : 0;
}

StoreCounters counters(ExpertSource& source) {
  auto* s = dynamic_cast<ExpertStatsSource*>(&source);
  return s != nullptr ? s->stats().total() : StoreCounters{};
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `reps` repetitions of one test on fresh sequences each time: a prompt of n tokens in one
// batch (pp), or n decode steps (tg). With n_seq > 1 the decode steps advance n_seq sequences
// together, one token each per forward pass (batched decode, as a server under load runs);
// the rate is then the total tokens/s of all sequences.
Sample run_test(Engine& engine, ExpertSource& source, bool prompt, int n, int n_seq, int reps, bool cold,
                std::mt19937& rng) {
  Sample s;
  s.test = n_seq > 1 ? fmt::format("tg{}x{}", n, n_seq) : fmt::format("{}{}", prompt ? "pp" : "tg", n);
  s.cold = cold;
  s.n_tokens = n * n_seq;
  s.n_seq = n_seq;
  s.reps = reps;
  std::uniform_int_distribution<int32_t> token(0, engine.n_vocab() - 1);
  const StoreCounters before = counters(source);
  const uint64_t storage_before = process_storage_read_bytes();
  const PhaseTimes time_before = engine.stats().time;
  for (int r = 0; r < reps; ++r) {
    for (int q = 0; q < n_seq; ++q) engine.clear_seq(q);
    Batch batch;
    double t0;
    if (prompt) {
      std::vector<int32_t> ids(static_cast<size_t>(n));
      for (auto& id : ids) id = token(rng);
      batch.add_sequence(ids, 0, 0, true);
      t0 = now_s();
      engine.decode(batch);
    } else {
      t0 = now_s();
      for (int i = 0; i < n; ++i) {
        batch.clear();
        for (int q = 0; q < n_seq; ++q) batch.add(token(rng), q, i, true);
        engine.decode(batch);
      }
    }
    const double dt = now_s() - t0;
    s.seconds += dt;
    s.rates.push_back(dt > 0 ? s.n_tokens / dt : 0);
  }
  for (int q = 0; q < n_seq; ++q) engine.clear_seq(q);
  const StoreCounters after = counters(source);
  s.tier2_bytes = after.bytes_tier2 - before.bytes_tier2;
  s.storage_bytes = process_storage_read_bytes() - storage_before;
  s.stall_ns = after.stall_ns - before.stall_ns;
  s.time = engine.stats().time;
  s.time -= time_before;
  // A hit rate only means something where experts are cached (slot modes).
  if (dynamic_cast<ExpertStore*>(&source) != nullptr && after.requests > before.requests) {
    const uint64_t hits = (after.hits + after.prefetch_hits) - (before.hits + before.prefetch_hits);
    s.hit_rate = static_cast<double>(hits) / static_cast<double>(after.requests - before.requests);
  }
  return s;
}

// "Warm" means a steady state: an expert cache of many GiB takes thousands of misses to fill,
// and until it is full every miss also commits fresh slot memory. Decodes in rounds until the
// cache has evicted (it is full) or nothing new is promoted, within a time cap.
void fill_expert_cache(Engine& engine, ExpertStore& store, std::mt19937& rng) {
  constexpr double kMaxSeconds = 180;
  constexpr int kRound = 16;
  const double t0 = now_s();
  int tokens = 0;
  StoreCounters last = store.stats().total();
  while (now_s() - t0 < kMaxSeconds) {
    run_test(engine, store, false, kRound, 1, 1, false, rng);
    tokens += kRound;
    const StoreCounters c = store.stats().total();
    const bool full = c.evictions > 0 || c.promotions >= store.slot_count();
    const bool settled = c.promotions == last.promotions;
    last = c;
    if (full || settled) break;
  }
  const uint64_t resident = std::min<uint64_t>(last.promotions, store.slot_count());
  spdlog::info("warm-up: {} tokens in {:.1f} s filled {} of {} cache slots", tokens, now_s() - t0, resident,
               store.slot_count());
}

int run_bench(const BenchArgs& a) {
  if (a.pp < 0 || a.tg < 0 || a.pp + a.tg == 0) fail("nothing to measure: set -p and/or -n above 0");
  if (a.reps < 1) fail("-r must be at least 1");
  // Fail now rather than after a long run if the results cannot be written.
  if (!a.json_out.empty()) write_whole_file(a.json_out, "");
  const StoreOptions base = a.store.resolve();

  std::vector<Config> configs;
  const std::vector<std::string> modes = a.modes.empty() ? std::vector<std::string>{a.store.mode}
                                                         : split_list(a.modes);
  const std::vector<std::string> sweep = split_list(a.cache_sweep);
  std::vector<int> parallel;
  for (const std::string& p : split_list(a.parallel)) {
    const int n = std::atoi(p.c_str());
    if (n < 1 || n > 256) fail("--parallel: '{}' is not a sequence count in 1..256", p);
    parallel.push_back(n);
  }
  const int max_parallel = parallel.empty() ? 1 : *std::max_element(parallel.begin(), parallel.end());
  for (const std::string& m : modes) {
    const StoreMode mode = parse_store_mode(m);
    if (uses_slots(mode) && !sweep.empty()) {
      for (const std::string& size : sweep) configs.push_back({mode, parse_size(size)});
    } else {
      configs.push_back({mode, base.cache_bytes});
    }
  }

  // Machine probes first, on a quiet machine, and again after each configuration.
  auto probe_model = Model::open(resolve_model_path(a.model));
  const std::string model_name = fmt::format("{} {}", arch_name(probe_model->arch()),
                                             format_size(probe_model->total_bytes()));
  const uint64_t active_bytes = probe_model->active_bytes_per_token();
  const uint64_t total_bytes = probe_model->total_bytes();
  // Parsed now so a bad spec or trace fails before any measurement; each configuration gets a
  // fresh copy, so all of them see the same routing.
  const std::string routing_label = [&] {
    auto w = make_routing_workload(a.routing, *probe_model);
    return w ? w->label() : std::string("model");
  }();
  if (routing_label != "model") {
    spdlog::warn("routing: the synthetic workload {} replaces the model's routers; tokens/s, hit rates and disk "
                 "bytes describe that workload, not this model's routing", routing_label);
  }
  const std::vector<std::string> files = [&] {
    std::vector<std::string> f;
    for (const MappedFile& m : probe_model->files()) f.push_back(m.path());
    return f;
  }();
  probe_model.reset();
  MachineProbe first;
  if (!a.no_probe) {
    first = probe_machine(files.front(), a.threads);
    spdlog::info("memory read bandwidth {:.2f} GiB/s; disk read bandwidth {:.2f} GiB/s ({}{})",
                 first.mem.gib_per_s(), first.disk.gib_per_s(), first.disk.backend,
                 first.disk.direct ? ", O_DIRECT" : ", buffered");
  }
  MachineProbe before = first;

  nlohmann::json results = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  std::mt19937 rng(a.seed);
  for (const Config& c : configs) {
    if (a.cold) {
      for (const std::string& f : files) {
        std::string why;
        if (!drop_page_cache(f, &why)) spdlog::warn("cannot drop '{}' from the page cache: {}", f, why);
      }
    }
    // The configuration's peak RSS starts here: the previous one's engine and model are gone.
    const bool peak_known = reset_peak_rss();
    auto model = Model::open(resolve_model_path(a.model));
    StoreOptions o = base;
    o.mode = c.mode;
    o.cache_bytes = c.cache_bytes;
    if (a.cold) o.prefault = PrefaultMode::Off;  // cold means the first tokens pay for the reads
    auto source = make_expert_source(*model, o);
    auto workload = make_routing_workload(a.routing, *model);
    EngineOptions eo;
    eo.routing = workload.get();
    // Room for the tests and for the warm-up passes (up to 32 tokens each).
    eo.n_ctx = std::max({a.pp, a.tg, 32}) + 8;
    eo.n_batch = std::max({a.pp, max_parallel, 1});
    eo.n_seq = max_parallel;
    eo.n_threads = a.threads;
    eo.kv_type = TensorType::F16;
    eo.prefetch_experts = !a.no_prefetch && source->uses_prefetch();
    eo.prefetch_depth = a.prefetch_depth;
    Engine engine(*model, *source, eo);
    spdlog::info("{}: {}", store_mode_name(c.mode), source->describe());

    std::vector<Sample> samples;
    if (a.cold) {
      if (a.pp > 0) samples.push_back(run_test(engine, *source, true, a.pp, 1, 1, true, rng));
      if (a.tg > 0) samples.push_back(run_test(engine, *source, false, a.tg, 1, 1, true, rng));
    } else {
      // Warm-up, as llama-bench does: the first pass pays for page faults and cache fills.
      run_test(engine, *source, true, std::min(std::max(a.pp, 1), 32), 1, 1, false, rng);
      if (auto* store = dynamic_cast<ExpertStore*>(source.get())) fill_expert_cache(engine, *store, rng);
    }
    if (a.pp > 0) samples.push_back(run_test(engine, *source, true, a.pp, 1, a.reps, false, rng));
    if (a.tg > 0) samples.push_back(run_test(engine, *source, false, a.tg, 1, a.reps, false, rng));
    for (int n_seq : parallel) {
      if (a.tg > 0 && n_seq > 1) samples.push_back(run_test(engine, *source, false, a.tg, n_seq, a.reps, false, rng));
    }

    auto* stats_source = dynamic_cast<ExpertStatsSource*>(source.get());
    if (stats_source != nullptr && !a.json) spdlog::info("{}", stats_source->stats().summary());
    // Read before the bandwidth probe, whose buffer is not the engine's.
    const ProcessMemory memory = read_process_memory();
    const std::string rss_text = fmt::format("{}{} ({})", format_size(peak_known ? memory.peak_rss : memory.rss),
                                             peak_known ? "" : " now", format_size(memory.anon));
    MachineProbe after;
    Limits limits;
    if (!a.no_probe) {
      after = probe_machine(files.front(), a.threads);
      limits = bracketing_limits(before, after);
      const auto moved = [](double x, double y) { return x > 0 && std::abs(y - x) > 0.25 * x; };
      if (moved(before.mem.gib_per_s(), after.mem.gib_per_s()) ||
          moved(before.disk.gib_per_s(), after.disk.gib_per_s())) {
        spdlog::warn("the machine's bandwidth moved during this configuration (memory {:.2f} -> {:.2f} GiB/s, "
                     "disk {:.2f} -> {:.2f} GiB/s): its fractions use the mean; rerun for a steadier figure",
                     before.mem.gib_per_s(), after.mem.gib_per_s(), before.disk.gib_per_s(), after.disk.gib_per_s());
      }
    }
    const std::string cache =
        uses_slots(c.mode)
            ? (c.cache_bytes ? format_size(c.cache_bytes) : std::string("default"))
            : std::string("-");
    for (const Sample& s : samples) {
      // Bytes of weights a pass reads: for generation the active bytes per token; a prompt
      // batch touches nearly every expert, so the whole model per pass.
      // (Batched decode reads at least one token's active bytes per pass: a lower bound.)
      const double passes_per_s = s.test[0] == 't' ? s.mean() / s.n_seq : (s.mean() / s.n_tokens);
      const double mem_rate = (s.test[0] == 't' ? static_cast<double>(active_bytes) : static_cast<double>(total_bytes)) *
                              passes_per_s / (1024.0 * 1024.0 * 1024.0);
      const double disk_rate = s.seconds > 0 ? static_cast<double>(s.storage_bytes) / s.seconds / (1024.0 * 1024.0 * 1024.0) : 0;
      const double mem_frac = limits.mem_gib_s > 0 ? mem_rate / limits.mem_gib_s : 0;
      const double disk_frac = limits.disk_gib_s > 0 ? disk_rate / limits.disk_gib_s : 0;
      const double bound = decode_bound_ts(s, active_bytes, limits);
      rows.push_back({model_name, store_mode_name(c.mode), cache, s.test + (s.cold ? " cold" : ""),
                      s.rates.size() > 1 ? fmt::format("{:.2f} ± {:.2f}", s.mean(), s.sd())
                                         : fmt::format("{:.2f}", s.mean()),
                      s.test[0] == 'p' ? fmt::format("{:.0f}", s.ttft_ms()) : std::string("-"),
                      s.hit_rate < 0 ? "-" : fmt::format("{:.1f}", 100 * s.hit_rate),
                      fmt::format("{:.2f}", s.disk_bytes_per_token() / (1024.0 * 1024.0)),
                      fmt::format("{:.1f}", s.stall_ms_per_token()), rss_text,
                      phase_ms_per_token(s.time, static_cast<uint64_t>(s.n_tokens) * static_cast<uint64_t>(s.reps)),
                      a.no_probe ? fmt::format("{:.2f}", mem_rate) : fmt::format("{:.2f} ({:.0f}%)", mem_rate, 100 * mem_frac),
                      a.no_probe ? fmt::format("{:.3f}", disk_rate) : fmt::format("{:.3f} ({:.0f}%)", disk_rate, 100 * disk_frac),
                      bound > 0 ? fmt::format("{:.2f} ({:.0f}%)", bound, 100 * s.mean() / bound) : std::string("-")});
      results.push_back({{"model", a.model},
                         {"mode", store_mode_name(c.mode)},
                         {"cache_bytes", c.cache_bytes},
                         {"test", s.test},
                         {"cold", s.cold},
                         {"n_tokens", s.n_tokens},
                         {"threads", engine.n_threads()},
                         {"samples_ts", s.rates},
                         {"avg_ts", s.mean()},
                         {"stddev_ts", s.sd()},
                         {"hit_rate", s.hit_rate < 0 ? nlohmann::json() : nlohmann::json(s.hit_rate)},
                         {"tier2_bytes", s.tier2_bytes},
                         {"storage_read_bytes", s.storage_bytes},
                         {"bound_ts", bound > 0 ? nlohmann::json(bound) : nlohmann::json()},
                         {"disk_bytes_per_token", s.disk_bytes_per_token()},
                         {"stall_ms_per_token", s.stall_ms_per_token()},
                         {"memory", memory_json(memory, peak_known)},
                         {"ms_per_token", phase_json(s.time, static_cast<uint64_t>(s.n_tokens) *
                                                                 static_cast<uint64_t>(s.reps))},
                         {"ttft_ms", s.test[0] == 'p' ? nlohmann::json(s.ttft_ms()) : nlohmann::json()},
                         {"weights_gib_s", mem_rate},
                         {"mem_fraction", mem_frac},
                         {"disk_gib_s", disk_rate},
                         {"disk_fraction", disk_frac},
                         {"probe", a.no_probe ? nlohmann::json()
                                              : nlohmann::json{{"mem_gib_s_before", before.mem.gib_per_s()},
                                                               {"mem_gib_s_after", after.mem.gib_per_s()},
                                                               {"disk_gib_s_before", before.disk.gib_per_s()},
                                                               {"disk_gib_s_after", after.disk.gib_per_s()}}},
                         {"prefetch", eo.prefetch_experts},
                         {"prefetch_depth", eo.prefetch_experts ? eo.prefetch_depth : 0},
                         {"expert_source", source->describe()},
                         {"routing", routing_label}});
    }
    // The store's counters over the whole configuration (warm-up included), per layer and per expert.
    if (stats_source != nullptr) results.back()["store_stats"] = stats_source->stats().to_json();
    before = after;
  }

  if (!a.plot.empty()) {
    // One line per (mode, test) across cache sizes; modes without a cache (mmap) are drawn flat
    // across the swept range as the baseline to beat.
    std::map<std::string, PlotSeries> by_label;
    double x_hi = 0;
    for (const auto& r : results) x_hi = std::max(x_hi, r["cache_bytes"].get<double>() / (1u << 30));
    for (const auto& r : results) {
      const std::string label = r["mode"].get<std::string>() + " " + r["test"].get<std::string>() +
                                (r["cold"].get<bool>() ? " cold" : "");
      PlotSeries& series = by_label[label];
      series.label = label;
      const double gib = r["cache_bytes"].get<double>() / (1u << 30);
      const double ts = r["avg_ts"].get<double>();
      if (!uses_slots(parse_store_mode(r["mode"].get<std::string>()))) {
        series.points = {{0.0, ts}, {x_hi, ts}};
      } else {
        series.points.emplace_back(gib, ts);
      }
    }
    std::vector<PlotSeries> series;
    for (auto& [label, s] : by_label) series.push_back(std::move(s));
    write_svg_plot(a.plot, fmt::format("strata bench: {}", model_name), "expert cache (GiB)", "tokens/s",
                   std::move(series));
    spdlog::info("plot written to {}", a.plot);
  }

  nlohmann::json out;
  // The start-up probe; each result's "probe" has the ones bracketing its configuration.
  out["machine"] = {{"mem_gib_s", first.mem.gib_per_s()},
                    {"disk_gib_s", first.disk.gib_per_s()},
                    {"disk_direct", first.disk.direct},
                    {"disk_backend", first.disk.backend}};
  out["routing"] = routing_label;
  out["results"] = results;
  if (!a.json_out.empty()) {
    write_whole_file(a.json_out, out.dump(2) + "\n");
  }
  if (a.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  const std::vector<std::string> head{"model", "mode", "cache", "test", "t/s", "TTFT ms", "hit %", "disk MiB/tok", "stall ms/tok",
                                      "peak RSS (anon)", "ms/tok attn/experts/wait/rest",
                                      "weights GiB/s (of RAM)", "disk GiB/s (of disk)", "bound t/s (of bound)"};
  std::vector<size_t> width(head.size());
  auto measure = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  };
  measure(head);
  for (const auto& r : rows) measure(r);
  auto print = [&](const std::vector<std::string>& r) {
    std::string line = "|";
    for (size_t i = 0; i < r.size(); ++i) line += fmt::format(" {:>{}} |", r[i], width[i]);
    std::printf("%s\n", line.c_str());
  };
  // Never silently: the table itself says when the routers were replaced.
  if (routing_label != "model") std::printf("routing: %s (synthetic, not the model's routers)\n", routing_label.c_str());
  print(head);
  std::string rule = "|";
  for (size_t w : width) rule += std::string(w + 1, '-') + ":|";
  std::printf("%s\n", rule.c_str());
  for (const auto& r : rows) print(r);
  return 0;
}

const Registration kBench{
    "bench", "Measure prompt (ppN) and generation (tgN) throughput across expert modes and cache sizes",
    [](CLI::App& app) -> Runner {
      auto args = std::make_shared<BenchArgs>();
      app.add_option("-m,--model", args->model, "Model file or directory (default: models/strata-demo.gguf)");
      app.add_option("-p,--n-prompt", args->pp, "Prompt tokens per pp test (0: skip)");
      app.add_option("-n,--n-gen", args->tg, "Generated tokens per tg test (0: skip)");
      app.add_option("-r,--repetitions", args->reps, "Repetitions of each test");
      app.add_option("-t,--threads", args->threads, "Threads (0: all)");
      app.add_option("--modes", args->modes, "Comma list of expert modes to compare, e.g. mmap,direct");
      app.add_option("--cache-sweep", args->cache_sweep,
                     "Comma list of expert-cache sizes for slots/direct, e.g. 256M,1G,4G");
      app.add_flag("--cold", args->cold,
                   "Drop the model from the page cache before each configuration (posix_fadvise "
                   "DONTNEED) and report the first run separately");
      app.add_flag("--no-prefetch", args->no_prefetch,
                   "Do not predict the next layer's experts (prefetched by default wherever experts can miss)");
      app.add_option("--prefetch-depth", args->prefetch_depth, "MoE layers ahead to predict experts for")
          ->check(CLI::Range(1, 8));
      app.add_flag("--no-probe", args->no_probe, "Skip the memory and disk bandwidth measurements");
      app.add_option("--seed", args->seed, "Seed of the random prompt tokens");
      app.add_flag("--json", args->json, "Print JSON instead of the table");
      app.add_option("--json-out", args->json_out, "Also write the JSON results to this file");
      app.add_option("--parallel", args->parallel,
                     "Comma list of sequence counts for batched decode, e.g. 4,16 (test tgNxS: S sequences "
                     "decoding together, total tokens/s)");
      app.add_option("--plot", args->plot, "Write an SVG plot of tokens/s against expert-cache size");
      app.add_option("--routing", args->routing,
                     "Who chooses the experts: model (its routers, default), or for storage studies a labelled "
                     "workload: zipf[:s=0.8,locality=0.5,recall=0.8,seed=1] or trace:file=FILE[,recall=0.8] "
                     "(recorded by run --record-routing)");
      add_store_flags(app, args->store);
      return [args] { return run_bench(*args); };
    }};

}  // namespace
}  // namespace strata::cli
