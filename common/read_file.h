#pragma once
// Whole-file reads and writes for the CLI's inputs and outputs.
#include <string>
#include <string_view>

namespace strata {

// Reads a whole file (prompts, message lists, token lists). Throws strata::Error naming the path
// and the system's reason when it cannot be opened or read.
std::string read_whole_file(const std::string& path);

// Replaces the file at `path` with `bytes`. Throws strata::Error naming the path and the system's
// reason when it cannot be created or fully written (e.g. a full disk).
void write_whole_file(const std::string& path, std::string_view bytes);

}  // namespace strata
