#pragma once
// The OpenAI-compatible HTTP front end: routes, authentication, error bodies and SSE streaming
// over cpp-httplib, feeding the continuous-batching Scheduler.
//
//   Server server(engine, *tokenizer, tmpl, stats, {.port = 0, .model_id = "m"});
//   int port = server.bind();   // 0 picks a free port
//   server.listen();            // blocks until stop() (or start() to serve on a thread)
#include <cstddef>
#include <memory>
#include <string>

namespace strata {
class Engine;
class Tokenizer;
class ChatTemplate;
class ExpertStatsSource;
}  // namespace strata

namespace strata::server {

class Metrics;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: any free port
  std::string api_key;                   // non-empty: /v1/* needs "Authorization: Bearer KEY"
  std::string model_id = "strata";       // the name /v1/models lists and requests must use
  int max_queue = 64;                    // waiting requests before 429
  size_t max_body_bytes = 4u << 20;      // larger bodies get 413
  int prefill_budget = 512;              // prompt tokens per forward pass
};

class Server {
 public:
  // `engine`, `tokenizer` and `chat_template` must outlive the server; `expert_stats` may be
  // null (no expert-cache metrics). Starts the scheduler thread; the engine belongs to it from
  // now on. Throws strata::Error for bad options.
  Server(Engine& engine, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
         const ExpertStatsSource* expert_stats, ServerOptions options);
  // Stops serving and waits for the HTTP and scheduler threads.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; returns the port. Throws strata::Error when it cannot bind.
  int bind();
  // Serves on the calling thread until stop(). bind() first.
  void listen();
  // bind() and serve on a background thread; returns the port.
  int start();
  // Makes listen() return; open streams end at their next event. Thread-safe, idempotent.
  void stop();

  // Live counters (for tests and embedding); thread-safe.
  const Metrics& metrics() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::server
