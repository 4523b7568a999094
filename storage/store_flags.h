#pragma once
// The texts of the expert-store flags (see store_cli.h for the CLI11 wiring) and their parsing.
#include <string>

#include "storage/store_options.h"

namespace strata {

struct StoreFlags {
  std::string mode = "auto";
  std::string cache;        // empty: from available memory
  std::string prefault = "auto";
  std::string evict = "lru";  // measured best on the bigger-than-RAM bench (README)
  std::string io = "auto";
  std::string resident;     // "A:B" keeps layers [A, B) in slots
  bool mlock = false;
  unsigned io_depth = StoreOptions{}.io_depth;

  // Parses the texts into options. Throws strata::Error naming the flag and the bad value.
  StoreOptions resolve() const;
};

}  // namespace strata
