// `strata bench` end to end on the demo model: the JSON has every requested test with positive
// rates, batched decode and the cache sweep appear as asked, the SVG plot is written, and bad
// requests are one clear error.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "tests/cli/run_command.h"

namespace {

using strata::test::run_command;

TEST(BenchCommand, JsonCoversModesSweepAndBatchedDecode) {
  const std::string plot = testing::TempDir() + "bench_test_plot.svg";
  std::filesystem::remove(plot);
  const auto r = run_command({STRATA_BINARY, "bench", "-p", "16", "-n", "4", "-r", "2", "-t", "1", "--modes",
                              "mmap,direct", "--cache-sweep", "4M,8M", "--parallel", "3", "--no-probe", "--json",
                              "--plot", plot});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);  // stdout is the JSON alone
  std::set<std::string> seen;
  for (const auto& row : j.at("results")) {
    const std::string key = row.at("mode").get<std::string>() + "/" + std::to_string(row.at("cache_bytes").get<uint64_t>()) +
                            "/" + row.at("test").get<std::string>();
    seen.insert(key);
    EXPECT_GT(row.at("avg_ts").get<double>(), 0.0) << key;
    EXPECT_EQ(row.at("samples_ts").size(), 2u) << key;
    if (row.at("test") == "pp16") {
      EXPECT_GT(row.at("ttft_ms").get<double>(), 0.0) << key;
    }
  }
  // mmap once, direct once per cache size; each with pp16, tg4 and tg4x3.
  EXPECT_EQ(seen.size(), 9u);
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [](const std::string& k) {
    return k.rfind("mmap/", 0) == 0 && k.find("/tg4x3") != std::string::npos;
  }));
  EXPECT_TRUE(seen.count("direct/4194304/pp16"));
  EXPECT_TRUE(seen.count("direct/8388608/tg4x3"));
  std::ifstream svg(plot);
  std::stringstream text;
  text << svg.rdbuf();
  EXPECT_NE(text.str().find("<svg"), std::string::npos);
  EXPECT_NE(text.str().find("direct tg4"), std::string::npos);
  std::filesystem::remove(plot);
}

TEST(BenchCommand, TableWithJsonOutFileAndStallColumn) {
  const std::string json = testing::TempDir() + "bench_test_out.json";
  std::filesystem::remove(json);
  const auto r = run_command({STRATA_BINARY, "bench", "-p", "0", "-n", "4", "-r", "1", "-t", "1", "--modes", "direct",
                              "--expert-cache", "4M", "--no-probe", "--json-out", json});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stall ms/tok"), std::string::npos) << r.out;  // the table is still printed
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j.at("results").size(), 1u);
  EXPECT_GE(j["results"][0].at("stall_ms_per_token").get<double>(), 0.0);
  // Where the time went, per token, and the store's counters per layer and per expert.
  EXPECT_NE(r.out.find("ms/tok attn/experts/wait/rest"), std::string::npos) << r.out;
  const auto& ms = j["results"][0].at("ms_per_token");
  EXPECT_GT(ms.at("attention").get<double>(), 0.0);
  EXPECT_GT(ms.at("experts").get<double>(), 0.0);
  EXPECT_GT(ms.at("total").get<double>(), 0.0);
  const auto& store = j["results"][0].at("store_stats");
  EXPECT_GT(store.at("total").at("requests").get<uint64_t>(), 0u);
  EXPECT_FALSE(store.at("layers").empty());
  EXPECT_EQ(store.at("experts").size(), store.at("layers").size());
  std::filesystem::remove(json);
  // An unwritable destination fails before anything is measured.
  const auto bad = run_command({STRATA_BINARY, "bench", "-p", "0", "-n", "4", "--no-probe", "--json-out",
                                testing::TempDir() + "no/such/dir/out.json"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no/such/dir/out.json"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.out.find("| model"), std::string::npos) << bad.out;
}

// Each configuration reports the memory it held: its own peak (the previous configuration's is
// reset), and anonymous memory that includes its expert cache.
TEST(BenchCommand, ReportsEachConfigurationsResidentMemory) {
  const auto r = run_command({STRATA_BINARY, "bench", "-p", "0", "-n", "4", "-r", "1", "-t", "1", "--modes", "direct",
                              "--cache-sweep", "12M,1M", "--no-probe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto results = nlohmann::json::parse(r.out).at("results");
  ASSERT_EQ(results.size(), 2u);
  for (const auto& row : results) {
    const auto& m = row.at("memory");
    EXPECT_GE(m.at("anon_bytes").get<uint64_t>(), row.at("cache_bytes").get<uint64_t>());
    EXPECT_GT(m.at("file_bytes").get<uint64_t>(), 0u);  // the mapped model and the binary
    EXPECT_GE(m.at("rss_bytes").get<uint64_t>(), m.at("anon_bytes").get<uint64_t>());
  }
  const auto anon = [&](int i) { return results[i]["memory"]["anon_bytes"].get<double>(); };
  EXPECT_GT(anon(0) - anon(1), 8.0 * (1 << 20));  // 12 MiB of slots against 1 MiB
  if (results[1]["memory"]["peak_rss_bytes"].is_null()) {
    std::printf("  this kernel does not reset peak RSS (/proc/self/clear_refs): peak not checked\n");
  } else {
    const auto peak = [&](int i) { return results[i]["memory"]["peak_rss_bytes"].get<double>(); };
    EXPECT_GE(peak(0), results[0]["memory"]["rss_bytes"].get<double>());
    EXPECT_GT(peak(0) - peak(1), 8.0 * (1 << 20));  // the second peak did not inherit the first
  }
  const auto table = run_command({STRATA_BINARY, "bench", "-p", "0", "-n", "2", "-r", "1", "-t", "1", "--modes",
                                  "mmap", "--no-probe"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("peak RSS (anon)"), std::string::npos) << table.out;
}

// The fractions of each configuration are taken against the probes just before and after it, so
// a disk or memory that slows down during a long run does not leave the later rows measured
// against a stale start-up figure.
TEST(BenchCommand, EachConfigurationIsBracketedByProbes) {
  const auto r = run_command({STRATA_BINARY, "bench", "-p", "0", "-n", "4", "-r", "1", "-t", "1", "--modes",
                              "mmap,direct", "--expert-cache", "4M", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& results = j.at("results");
  ASSERT_EQ(results.size(), 2u);
  for (const auto& row : results) {
    const auto& p = row.at("probe");
    for (const char* k : {"mem_gib_s_before", "mem_gib_s_after", "disk_gib_s_before", "disk_gib_s_after"}) {
      EXPECT_GT(p.at(k).get<double>(), 0.0) << k;
    }
    // tg4 decode: the bound uses the bracketing probes, and the fraction is against their mean.
    const double mean_mem = (p["mem_gib_s_before"].get<double>() + p["mem_gib_s_after"].get<double>()) / 2;
    EXPECT_NEAR(row.at("mem_fraction").get<double>(), row.at("weights_gib_s").get<double>() / mean_mem, 1e-9);
    EXPECT_GT(row.at("bound_ts").get<double>(), 0.0);
  }
  // The probe after one configuration is the one before the next.
  EXPECT_EQ(results[0]["probe"]["disk_gib_s_after"], results[1]["probe"]["disk_gib_s_before"]);
  EXPECT_EQ(j.at("machine").at("mem_gib_s"), results[0]["probe"]["mem_gib_s_before"]);
}

TEST(BenchCommand, BadRequestsAreOneLineErrors) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-p", "0", "-n", "0"}, {"--parallel", "0"}, {"-r", "0"}, {"--modes", "tape"},
        {"--routing", "zipf:s=-2"}, {"--routing", "trace:file=/nonexistent/trace.txt"}}) {
    std::vector<std::string> argv{STRATA_BINARY, "bench", "--no-probe"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_command(argv);
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
}

// A synthetic routing workload is labelled in the table and the JSON, routes the same for every
// configuration (equal expert requests), and a recorded trace of `run` replays.
TEST(BenchCommand, RoutingWorkloadsAreLabelledAndReplayTraces) {
  const auto table = run_command({STRATA_BINARY, "bench", "-p", "0", "-n", "4", "-r", "1", "-t", "1", "--modes", "direct",
                                  "--expert-cache", "4M", "--no-probe", "--routing", "zipf:s=1.1,locality=0.7"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("routing: zipf(s=1.1, locality=0.7, recall=0.8, seed=1) (synthetic"), std::string::npos)
      << table.out;
  EXPECT_NE(table.err.find("replaces the model's routers"), std::string::npos) << table.err;

  const std::string trace = testing::TempDir() + "bench_test_trace.txt";
  const auto rec = run_command({STRATA_BINARY, "run", "-p", "In the beginning", "-n", "6", "--temp", "0", "-t", "1",
                                "--record-routing", trace});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  const auto r = run_command({STRATA_BINARY, "bench", "-p", "8", "-n", "4", "-r", "1", "-t", "1", "--modes",
                              "direct", "--cache-sweep", "2M,8M", "--cold", "--no-probe", "--json", "--routing",
                              "trace:file=" + trace});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const std::string label = j.at("routing").get<std::string>();
  EXPECT_EQ(label.rfind("trace(" + trace + ", ", 0), 0u) << label;
  std::vector<uint64_t> requests;
  for (const auto& row : j.at("results")) {
    EXPECT_EQ(row.at("routing"), label);
    if (row.contains("store_stats")) requests.push_back(row.at("store_stats").at("total").at("requests").get<uint64_t>());
  }
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_GT(requests[0], 0u);
  EXPECT_EQ(requests[0], requests[1]);  // the same routing at both cache sizes (cold: no warm-up rounds)
  std::filesystem::remove(trace);
}

}  // namespace
