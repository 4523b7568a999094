// The `strata` binary: one subcommand per cli/cmd_*.cpp file (see cli/command.h).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/command.h"
#include "common/error.h"

namespace strata::cli {
std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;
  return registry;
}
}  // namespace strata::cli

int main(int argc, char** argv) {
  using namespace strata::cli;
  // stdout carries only a command's output (generated text, tables, JSON); logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("strata"));
  spdlog::set_pattern("%^%l%$: %v");
  CLI::App app{"strata: mixture-of-experts inference on CPUs, for models larger than RAM"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("strata ") + STRATA_VERSION);

  auto specs = command_registry();
  std::sort(specs.begin(), specs.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::map<CLI::App*, Runner> runners;
  for (auto& spec : specs) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.help);
    runners[sub] = spec.setup(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
  } catch (const strata::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "strata: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "strata: error: out of memory\n");
    return 1;
  }
  return 1;
}
