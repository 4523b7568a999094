#include "storage/store_stats.h"

#include <fmt/format.h>

namespace strata {

StoreCounters& StoreCounters::operator+=(const StoreCounters& o) {
  requests += o.requests;
  hits += o.hits;
  prefetch_hits += o.prefetch_hits;
  inflight_misses += o.inflight_misses;
  cold_misses += o.cold_misses;
  overflows += o.overflows;
  promotions += o.promotions;
  evictions += o.evictions;
  prefetch_issued += o.prefetch_issued;
  prefetch_wasted += o.prefetch_wasted;
  prefetch_withdrawn += o.prefetch_withdrawn;
  predicted += o.predicted;
  predicted_used += o.predicted_used;
  used_after_prediction += o.used_after_prediction;
  bytes_tier0 += o.bytes_tier0;
  bytes_tier1 += o.bytes_tier1;
  bytes_tier2 += o.bytes_tier2;
  stall_ns += o.stall_ns;
  compute_major_faults += o.compute_major_faults;
  return *this;
}

namespace {
double ratio(uint64_t a, uint64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b); }
double gib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); }
}  // namespace

double StoreCounters::hidden_fraction() const { return ratio(prefetch_hits, misses()); }
double StoreCounters::hit_rate() const { return ratio(hits + prefetch_hits, requests); }
double StoreCounters::prefetch_precision() const { return ratio(predicted_used, predicted); }
double StoreCounters::prefetch_recall() const { return ratio(predicted_used, used_after_prediction); }

StoreStats::StoreStats(int nl, int ne)
    : n_layer(nl), n_expert(ne), layers(static_cast<size_t>(nl)),
      experts(static_cast<size_t>(nl) * static_cast<size_t>(ne)) {}

StoreCounters StoreStats::total() const {
  StoreCounters t;
  for (const StoreCounters& l : layers) t += l;
  return t;
}

std::string StoreStats::summary() const {
  const StoreCounters t = total();
  std::string s = fmt::format(
      "experts requested {}: hits {} ({:.1f}% incl. prefetched), misses {} (cold {}, in flight {}, "
      "hidden by prefetch {} = {:.1f}%), tier-1 overflows {}\n",
      t.requests, t.hits, 100 * t.hit_rate(), t.misses(), t.cold_misses, t.inflight_misses,
      t.prefetch_hits, 100 * t.hidden_fraction(), t.overflows);
  s += fmt::format("promotions {}, evictions {}, prefetches {} (wasted {}, {} withdrawn unread), prediction "
                   "precision "
                   "{:.1f}% recall {:.1f}%\n",
                   t.promotions, t.evictions, t.prefetch_issued, t.prefetch_wasted, t.prefetch_withdrawn,
                   100 * t.prefetch_precision(), 100 * t.prefetch_recall());
  s += fmt::format("bytes: tier0 {:.3f} GiB, tier1 {:.3f} GiB, tier2 (disk) {:.3f} GiB; stall "
                   "{:.1f} ms; major faults during expert compute {}",
                   gib(t.bytes_tier0), gib(t.bytes_tier1), gib(t.bytes_tier2),
                   static_cast<double>(t.stall_ns) / 1e6, t.compute_major_faults);
  return s;
}

nlohmann::json to_json(const StoreCounters& c, bool skip_zero) {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](const char* k, uint64_t v) {
    if (!skip_zero || v != 0) j[k] = v;
  };
  put("requests", c.requests);
  put("hits", c.hits);
  put("prefetch_hits", c.prefetch_hits);
  put("inflight_misses", c.inflight_misses);
  put("cold_misses", c.cold_misses);
  put("overflows", c.overflows);
  put("promotions", c.promotions);
  put("evictions", c.evictions);
  put("prefetch_issued", c.prefetch_issued);
  put("prefetch_wasted", c.prefetch_wasted);
  put("prefetch_withdrawn", c.prefetch_withdrawn);
  put("predicted", c.predicted);
  put("predicted_used", c.predicted_used);
  put("used_after_prediction", c.used_after_prediction);
  put("bytes_tier0", c.bytes_tier0);
  put("bytes_tier1", c.bytes_tier1);
  put("bytes_tier2", c.bytes_tier2);
  put("stall_ns", c.stall_ns);
  put("compute_major_faults", c.compute_major_faults);
  if (!skip_zero) {
    j["hit_rate"] = c.hit_rate();
    j["hidden_fraction"] = c.hidden_fraction();
    j["prefetch_precision"] = c.prefetch_precision();
    j["prefetch_recall"] = c.prefetch_recall();
  }
  return j;
}

nlohmann::json StoreStats::to_json() const {
  nlohmann::json j;
  j["total"] = strata::to_json(total(), false);
  j["layers"] = nlohmann::json::array();
  for (const StoreCounters& l : layers) j["layers"].push_back(strata::to_json(l, false));
  j["experts"] = nlohmann::json::array();
  for (int l = 0; l < n_layer; ++l) {
    nlohmann::json row = nlohmann::json::array();
    for (int e = 0; e < n_expert; ++e) {
      row.push_back(strata::to_json(
          experts[static_cast<size_t>(l) * static_cast<size_t>(n_expert) + static_cast<size_t>(e)], true));
    }
    j["experts"].push_back(std::move(row));
  }
  return j;
}

}  // namespace strata
