#pragma once
#include <string>

namespace strata {

// Reads a whole file (prompts, message lists, token lists). Throws strata::Error naming the path
// and the system's reason when it cannot be opened or read.
std::string read_whole_file(const std::string& path);

}  // namespace strata
