// The test helper that runs programs: exit codes, both streams, stdin, large outputs.
#include <gtest/gtest.h>

#include <stdexcept>

#include "tests/cli/run_command.h"

using strata::test::run_command;

TEST(RunCommandHelper, CapturesBothStreamsAndExitCode) {
  auto r = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(RunCommandHelper, FeedsStdinAndDrainsLargeOutputs) {
  std::string input(300000, 'x');
  auto r = run_command({"cat"}, input);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, input);
  // Megabytes on both pipes at once must not deadlock.
  auto big = run_command({"/bin/sh", "-c", "head -c 2000000 /dev/zero; head -c 2000000 /dev/zero >&2"});
  EXPECT_EQ(big.out.size(), 2000000u);
  EXPECT_EQ(big.err.size(), 2000000u);
}

TEST(RunCommandHelper, EnvironmentAndSignals) {
  auto env = run_command({"/bin/sh", "-c", "printf %s \"$STRATA_TEST_VALUE\""}, "", {"STRATA_TEST_VALUE=42"});
  EXPECT_EQ(env.out, "42");
  auto killed = run_command({"/bin/sh", "-c", "kill -9 $$"});
  EXPECT_EQ(killed.exit_code, 128 + 9);
  // A child that ignores its stdin does not break the caller.
  auto ignores = run_command({"true"}, std::string(1 << 20, 'y'));
  EXPECT_EQ(ignores.exit_code, 0);
  EXPECT_THROW(run_command({"/nonexistent/program"}), std::runtime_error);
  EXPECT_THROW(run_command({}), std::runtime_error);
}
