#pragma once
// Runs a program (no shell) and captures what it prints, for tests that drive the built `strata`
// binary (its path is the STRATA_BINARY macro in test_cli).
#include <string>
#include <vector>

namespace strata::test {

struct CommandResult {
  int exit_code = -1;  // the exit status; 128 + signal number if the program was killed
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs argv[0] (looked up in PATH if it has no '/') with argv[1..], feeding `stdin_text` to its
// standard input, and waits for it. `extra_env` entries ("NAME=value") are added to the
// environment. Both output streams are drained concurrently, so large outputs cannot deadlock.
// Throws std::runtime_error if the program cannot be started. Thread-safe.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                          const std::vector<std::string>& extra_env = {});

// Runs the `strata` binary under test (STRATA_BINARY) with `args` in shell syntax (quoting,
// redirections allowed), standard input from /dev/null.
CommandResult run_strata(const std::string& args);

// The whole content of a file, or "" if it cannot be read (tests compare it with expectations).
std::string file_content(const std::string& path);

}  // namespace strata::test
