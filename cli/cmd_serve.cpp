// `strata serve`: the OpenAI-compatible HTTP server (chat/completions, completions, models,
// health, metrics) with continuous batching over --parallel sequence slots.
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "cli/command.h"
#include "common/error.h"
#include "engine/engine.h"
#include "engine/model_path.h"
#include "loader/model.h"
#include "loader/template/chat_template.h"
#include "loader/tokenizer/tokenizer.h"
#include "server/http_server.h"
#include "storage/store_cli.h"
#include "storage/store_factory.h"
#include "storage/store_stats.h"

namespace strata::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string alias;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;
  int parallel = 4;
  int ctx = 4096;
  int queue = 64;
  int threads = 0;
  std::string kv_type = "f16";
  size_t max_body = 4u << 20;
  StoreFlags store;
};

// The server object the signal handler stops; set while serving.
std::atomic<server::Server*> g_server{nullptr};

extern "C" void on_signal(int) {
  // stop() only flips flags and shuts the listening socket down: safe enough from a handler for
  // a process that is about to exit anyway.
  if (server::Server* s = g_server.load()) s->stop();
}

int run_serve(const ServeArgs& a) {
  if (a.parallel < 1) fail("--parallel must be at least 1");
  if (a.ctx < 1) fail("--ctx must be at least 1");
  if (a.queue < 0) fail("--queue must not be negative");
  if (a.port < 0 || a.port > 65535) fail("--port must be between 0 and 65535");
  const TensorType kv_type = parse_kv_type(a.kv_type);
  StoreOptions store = a.store.resolve();

  const std::string path = resolve_model_path(a.model);
  auto model = Model::open(path);
  auto tok = Tokenizer::for_model(*model);
  const std::optional<std::string> src = tok->chat_template();
  const ChatTemplate tmpl = ChatTemplate::parse(src ? *src : default_chat_template(),
                                                src ? "chat template" : "default chat template");
  const Hparams& hp = model->hparams();
  store.kv_reserve_bytes = static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(a.ctx) *
                           static_cast<uint64_t>(a.parallel) * static_cast<uint64_t>(hp.n_head_kv) *
                           static_cast<uint64_t>(hp.head_dim + hp.head_dim_v) * (kv_type == TensorType::F32 ? 4u : 2u);
  auto experts = make_expert_source(*model, store);
  EngineOptions opt;
  opt.n_ctx = a.ctx;
  opt.n_seq = a.parallel;
  opt.kv_type = kv_type;
  opt.n_threads = a.threads;
  opt.prefetch_experts = experts->uses_prefetch();
  Engine engine(*model, *experts, opt);

  server::ServerOptions so;
  so.host = a.host;
  so.port = a.port;
  so.api_key = a.api_key;
  so.model_id = a.alias.empty() ? std::filesystem::path(path).stem().string() : a.alias;
  so.max_queue = a.queue;
  so.max_body_bytes = a.max_body;
  server::Server srv(engine, *tok, tmpl, dynamic_cast<const ExpertStatsSource*>(experts.get()), so);
  const int port = srv.bind();
  spdlog::info("serving '{}' on http://{}:{} ({} slots x {} tokens, queue {}, experts: {})", so.model_id, a.host,
               port, a.parallel, engine.n_ctx(), a.queue, engine.expert_mode());
  g_server = &srv;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  srv.listen();
  g_server = nullptr;
  spdlog::info("server stopped");
  return 0;
}

const Registration kServe{
    "serve", "OpenAI-compatible HTTP server with continuous batching", [](CLI::App& app) -> Runner {
      auto a = std::make_shared<ServeArgs>();
      app.add_option("-m,--model", a->model, "Model file or directory (default: models/strata-demo.gguf)");
      app.add_option("--alias", a->alias, "Model name clients use (default: the file name without extension)");
      app.add_option("--host", a->host, "Address to listen on (default 127.0.0.1)");
      app.add_option("--port", a->port, "Port (default 8080; 0: any free port)");
      app.add_option("--api-key", a->api_key, "Require 'Authorization: Bearer KEY' on /v1/*");
      app.add_option("--parallel", a->parallel, "Sequences generated together (slots; default 4)");
      app.add_option("-c,--ctx", a->ctx, "Context size per sequence in tokens (default 4096)");
      app.add_option("--queue", a->queue, "Requests waiting for a slot before answering 429 (default 64)");
      app.add_option("-t,--threads", a->threads, "Threads (default: all)");
      app.add_option("--kv-type", a->kv_type, "KV cache type: f16 (default) or f32");
      app.add_option("--max-body", a->max_body, "Largest request body in bytes (default 4 MiB)");
      add_store_flags(app, a->store);
      return [a] { return run_serve(*a); };
    }};

}  // namespace
}  // namespace strata::cli
