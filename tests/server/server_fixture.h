#pragma once
// A real server over loopback for the tests: the tiny generated Qwen3-MoE model (written once
// per test binary), an engine with the requested slots, and a Server on a free port.
#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/engine.h"
#include "loader/model.h"
#include "loader/template/chat_template.h"
#include "loader/tokenizer/tokenizer.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "storage/mmap_expert_source.h"

namespace strata::server::testing {

// Path of the tiny model (generated on first use into the gtest temp dir).
const std::string& tiny_model_path();

struct FixtureOptions {
  int parallel = 4;
  int ctx = 512;
  int queue = 64;
  std::string api_key;
  size_t max_body = 64 * 1024;
  int prefill_budget = 512;
};

class TestServer {
 public:
  explicit TestServer(const FixtureOptions& o = {});
  ~TestServer();

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  static std::string model_id() { return "tiny"; }
  httplib::Client client() const;
  const Metrics& metrics() const { return server_->metrics(); }
  const Tokenizer& tokenizer() const { return *tok_; }

  // POST `body` (JSON text) to `path`; the response must exist (loopback does not fail).
  httplib::Result post(const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {}) const;

 private:
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<ChatTemplate> tmpl_;
  std::unique_ptr<MmapExpertSource> experts_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

// The text of every SSE `data:` event of a stream body, [DONE] included.
std::vector<std::string> sse_events(const std::string& body);

// Content of a chat or completion response (message.content or text).
std::string content_of(const nlohmann::json& response);

}  // namespace strata::server::testing
