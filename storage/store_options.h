#pragma once
// User-facing knobs of the expert store (`--expert-mode`, `--expert-cache`, `--prefault`,
// `--evict`, ...), shared by `run`, `serve` and `bench`.
#include <cstdint>
#include <memory>
#include <string_view>

namespace strata {

class FaultInjector;

// mmap:   tier 1 only: pointers into the mapped file (MmapExpertSource).
// slots:  tier 0 slots filled by io_uring reads through the page cache (benefits from readahead
//         and a warm cache; memory is counted twice while the cache holds the pages).
// direct: tier 0 slots filled by io_uring O_DIRECT reads, bypassing the page cache, so the
//         cache budget is the only memory experts take.
// auto:   mmap (with prefault) if the model fits in 80% of available memory, else direct.
// mmap-plain: the mapped file with no hints at all: no madvise, no populate, no prefetch, so
//         expert pages fault in during expert compute, the way an mmap-only engine (llama.cpp)
//         reads a model. The baseline `strata bench` compares the tiered store against.
enum class StoreMode { Auto, Mmap, Slots, Direct, MmapPlain };
enum class PrefaultMode { Auto, On, Off };
enum class EvictionKind { Lru, Lfu, Sieve };
enum class IoKind { Auto, Uring, Pread };

struct StoreOptions {
  StoreMode mode = StoreMode::Auto;
  uint64_t cache_bytes = 0;         // tier-0 budget; 0 = derive from available memory
  EvictionKind eviction = EvictionKind::Lru;
  double lfu_decay = 0.98;          // heat kept per layer step (EMA); in (0, 1]
  PrefaultMode prefault = PrefaultMode::Auto;
  int resident_begin = 0;           // keep layers [resident_begin, resident_end) in slots
  int resident_end = 0;
  bool mlock = false;               // lock slot memory (best effort: warns if RLIMIT_MEMLOCK)
  IoKind io = IoKind::Auto;         // Auto: io_uring, falling back to pread if setup fails
  unsigned io_depth = 32;           // reads in flight (IoConfig::depth)
  unsigned prefault_threads = 0;    // 0 = hardware concurrency
  uint64_t kv_reserve_bytes = 0;    // memory to leave for the KV cache when sizing the budget
  // Test-only: sees every read result and may turn it into a short read or an error.
  std::shared_ptr<FaultInjector> fault_injector;
};

// Parsers for the CLI spellings; each throws strata::Error naming the bad text and the choices.
StoreMode parse_store_mode(std::string_view text);        // auto|mmap|slots|direct|mmap-plain
PrefaultMode parse_prefault_mode(std::string_view text);  // auto|on|off
EvictionKind parse_eviction_kind(std::string_view text);  // lru|lfu|sieve
IoKind parse_io_kind(std::string_view text);              // auto|uring|pread
const char* store_mode_name(StoreMode mode);
// Whether the mode serves experts from tier-0 slots (and so has a cache budget): slots, direct.
inline bool uses_slots(StoreMode mode) { return mode == StoreMode::Slots || mode == StoreMode::Direct; }
const char* prefault_mode_name(PrefaultMode mode);
const char* eviction_kind_name(EvictionKind kind);

}  // namespace strata
