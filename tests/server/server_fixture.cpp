#include "server_fixture.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "loader/synth_model.h"

namespace strata::server::testing {

// Each CTest case is its own process, so each writes its own model; it is deleted at exit.
struct RemovedAtExit {
  std::string path;
  ~RemovedAtExit() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

const std::string& tiny_model_path() {
  static std::once_flag once;
  static RemovedAtExit file;
  static std::string& path = file.path;
  std::call_once(once, [] {
    const SynthConfig cfg = load_preset(std::string(STRATA_SOURCE_DIR) + "/configs/qwen3moe-tiny.json");
    const SynthPlan plan = plan_model(cfg, "", "", std::nullopt);
    SynthWriteOptions o;
    o.out = ::testing::TempDir() + "server_tiny_" + std::to_string(::getpid()) + ".gguf";
    o.force = true;
    o.threads = 1;
    write_model(plan, o);
    path = o.out;
  });
  return path;
}

TestServer::TestServer(const FixtureOptions& o) {
  model_ = Model::open(tiny_model_path());
  tok_ = Tokenizer::for_model(*model_);
  const auto src = tok_->chat_template();
  tmpl_ = std::make_unique<ChatTemplate>(ChatTemplate::parse(src ? *src : default_chat_template(), "chat template"));
  experts_ = std::make_unique<MmapExpertSource>(*model_);
  EngineOptions eo;
  eo.n_ctx = o.ctx;
  eo.n_seq = o.parallel;
  eo.n_threads = 1;
  engine_ = std::make_unique<Engine>(*model_, *experts_, eo);
  ServerOptions so;
  so.port = 0;
  so.model_id = model_id();
  so.api_key = o.api_key;
  so.max_queue = o.queue;
  so.max_body_bytes = o.max_body;
  so.prefill_budget = o.prefill_budget;
  server_ = std::make_unique<Server>(*engine_, *tok_, *tmpl_, nullptr, so);
  port_ = server_->start();
}

TestServer::~TestServer() { server_.reset(); }

httplib::Client TestServer::client() const {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(120, 0);
  return c;
}

httplib::Result TestServer::post(const std::string& path, const std::string& body,
                                 const httplib::Headers& headers) const {
  httplib::Client c = client();
  return c.Post(path.c_str(), headers, body, "application/json");
}

std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    const std::string event = body.substr(pos, end - pos);
    if (event.starts_with("data: ")) out.push_back(event.substr(6));
    pos = end + 2;
  }
  return out;
}

std::string content_of(const nlohmann::json& response) {
  const auto& choice = response.at("choices").at(0);
  if (choice.contains("message")) return choice["message"]["content"].get<std::string>();
  return choice.at("text").get<std::string>();
}

}  // namespace strata::server::testing
