#pragma once
// Subcommand registry of the `strata` binary. Each cli/cmd_*.cpp registers one subcommand:
//
//   static const strata::cli::Registration kInspect{"inspect", "Describe a model file",
//       [](CLI::App& app) -> strata::cli::Runner { ...add options...; return [=] { return 0; }; }};
//
// The setup function adds the subcommand's options to `app` and returns the function that runs
// it (returning the process exit code). strata::Error thrown by a runner is printed as one line
// `strata: error: ...` with exit code 1 by main().
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace strata::cli {

using Runner = std::function<int()>;
using Setup = std::function<Runner(CLI::App&)>;

struct CommandSpec {
  std::string name;
  std::string help;
  Setup setup;
};

std::vector<CommandSpec>& command_registry();

struct Registration {
  Registration(std::string name, std::string help, Setup setup) {
    command_registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

}  // namespace strata::cli
