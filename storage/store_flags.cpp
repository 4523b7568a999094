#include <charconv>
#include <string>

#include "common/error.h"
#include "common/system_memory.h"
#include "storage/store_flags.h"

namespace strata {
namespace {

int parse_layer(std::string_view text, const std::string& whole) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    fail("invalid --resident-layers '{}' (expected A:B, e.g. 0:4)", whole);
  }
  return v;
}

}  // namespace

StoreOptions StoreFlags::resolve() const {
  StoreOptions o;
  o.mode = parse_store_mode(mode);
  o.prefault = parse_prefault_mode(prefault);
  o.eviction = parse_eviction_kind(evict);
  o.io = parse_io_kind(io);
  o.mlock = mlock;
  if (io_depth == 0) fail("--io-depth must be positive");
  o.io_depth = io_depth;
  if (!cache.empty()) {
    o.cache_bytes = parse_size(cache);
    if (o.cache_bytes == 0) fail("--expert-cache must be positive");
  }
  if (!resident.empty()) {
    const size_t colon = resident.find(':');
    if (colon == std::string::npos) fail("invalid --resident-layers '{}' (expected A:B, e.g. 0:4)", resident);
    o.resident_begin = parse_layer(std::string_view(resident).substr(0, colon), resident);
    o.resident_end = parse_layer(std::string_view(resident).substr(colon + 1), resident);
    if (o.resident_end <= o.resident_begin) {
      fail("invalid --resident-layers '{}': the end must be after the start", resident);
    }
  }
  return o;
}

}  // namespace strata
