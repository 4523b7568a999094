#pragma once
// The expert-store flags shared by `run`, `serve` and `bench`. Header-only on purpose: only the
// CLI links CLI11, so this is included from cli/ and nowhere else.
//
//   StoreFlags flags;
//   add_store_flags(app, flags);          // in the subcommand's setup
//   StoreOptions o = flags.resolve();     // in its runner; throws strata::Error on bad values
#include <CLI/CLI.hpp>

#include "storage/store_flags.h"

namespace strata {

inline void add_store_flags(CLI::App& app, StoreFlags& f) {
  // --experts is the short name the expert-store design uses; both set the same option.
  app.add_option("--expert-mode,--experts", f.mode,
                 "Where routed experts are served from: auto|mmap|slots|direct|mmap-plain (auto: mmap if "
                 "the model fits in 80% of available memory, else direct; mmap-plain: no residency "
                 "hints, the baseline of an mmap-only engine)");
  app.add_option("--expert-cache", f.cache,
                 "Expert cache (slots) size, e.g. 8G; default from available memory");
  app.add_option("--prefault", f.prefault,
                 "Fault weights in at load: auto|on|off (auto: dense always, all if it fits)");
  app.add_option("--evict", f.evict, "Expert cache eviction policy: lru (default) | lfu (decayed heat from router scores) | sieve");
  app.add_option("--expert-io", f.io, "Expert reads: auto|uring|pread");
  app.add_option("--io-depth", f.io_depth,
                 "Expert reads in flight (default 32); more raise disk throughput, fewer let a demand "
                 "miss overtake queued prefetches sooner")
      ->check(CLI::Range(1u, 4096u));
  app.add_option("--resident-layers", f.resident, "Keep the experts of layers A:B (end exclusive) cached");
  app.add_flag("--mlock", f.mlock, "Lock the expert cache in RAM (needs RLIMIT_MEMLOCK)");
}

}  // namespace strata
