// The official `openai` npm client (tests/server/npm) against this server: chat, streamed chat,
// completions, streamed completions and typed errors. Skipped when node or the installed
// client is missing (install: `npm ci --prefix tests/server/npm`).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "server_fixture.h"

namespace strata::server::testing {
namespace {

namespace fs = std::filesystem;

TEST(NpmClient, OfficialOpenAIClient) {
  const fs::path dir = fs::path(STRATA_SOURCE_DIR) / "tests/server/npm";
  if (!fs::exists(dir / "node_modules/openai/package.json")) {
    GTEST_SKIP() << "openai npm client not installed; run: npm ci --prefix " << dir.string();
  }
  if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";

  TestServer server({.parallel = 2, .ctx = 256, .api_key = "npm-test-key"});
  const std::string cmd = "STRATA_URL=" + server.url() + " STRATA_MODEL=" + TestServer::model_id() +
                          " STRATA_API_KEY=npm-test-key timeout 120 node " + (dir / "openai_client_test.mjs").string() +
                          " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("openai npm client: ok"), std::string::npos) << out;
}

}  // namespace
}  // namespace strata::server::testing
