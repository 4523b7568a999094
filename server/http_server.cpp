#include "server/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/error.h"
#include "engine/engine.h"
#include "loader/tokenizer/tokenizer.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/openai_format.h"
#include "server/request_parse.h"
#include "server/scheduler.h"

namespace strata::server {

using nlohmann::json;

namespace {

constexpr auto kPoll = std::chrono::milliseconds(200);
// An idle stream (queued, or a slow prefill) sends an SSE comment this often, so a client that
// went away is noticed by a failed write even before tokens flow.
constexpr auto kKeepAlive = std::chrono::seconds(2);

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  res.set_content(dump_json(e.to_json()), "application/json");
}

std::string sse(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

}  // namespace

struct Server::Impl {
  Impl(Engine& engine, const Tokenizer& tokenizer, const ChatTemplate& tmpl, const ExpertStatsSource* stats,
       ServerOptions o)
      : opt(std::move(o)),
        tok(tokenizer),
        served{opt.model_id, &tokenizer, &tmpl},
        expert_stats(stats),
        scheduler(engine, tokenizer, metrics, {.max_queue = opt.max_queue, .prefill_budget = opt.prefill_budget}) {
    setup_routes();
  }

  void setup_routes();
  void handle_generation(const httplib::Request& req, httplib::Response& res, Endpoint endpoint);
  void respond_whole(httplib::Response& res, const ParsedRequest& r, const ResponseHeader& h,
                     const std::shared_ptr<Generation>& gen);
  void respond_stream(httplib::Response& res, const ParsedRequest& r, const ResponseHeader& h,
                      const std::shared_ptr<Generation>& gen);
  bool authorized(const httplib::Request& req) const;

  ServerOptions opt;
  const Tokenizer& tok;
  ServedModel served;
  const ExpertStatsSource* expert_stats;
  Metrics metrics;
  Scheduler scheduler;
  httplib::Server http;
  std::thread thread;
  std::atomic<bool> stopping{false};
  int port = -1;
};

bool Server::Impl::authorized(const httplib::Request& req) const {
  if (opt.api_key.empty()) return true;
  return req.get_header_value("Authorization") == "Bearer " + opt.api_key;
}

void Server::Impl::setup_routes() {
  // Every request is handled on its own thread for its whole duration (streams block on their
  // generation), so the pool must hold all running and queued generations plus a few more that
  // are only being answered (429s, /health, /metrics).
  const size_t threads = static_cast<size_t>(scheduler.n_slots() + opt.max_queue + 8);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(opt.max_body_bytes);

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path.starts_with("/v1/") && !authorized(req)) {
      send_error(res, ApiError(401, "Incorrect API key provided", "invalid_request_error", "", "invalid_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Called for every response with status >= 400: count it, and give the ones httplib produced
  // itself (unknown route, body too large) an OpenAI-style body.
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
    if (res.status < 500) ++metrics.errors_client;
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      send_error(res, ApiError(413, fmt::format("the request body is larger than {} bytes", opt.max_body_bytes)));
    } else if (res.status == 404) {
      send_error(res, ApiError(404, fmt::format("no route for {} {}", req.method, req.path), "invalid_request_error",
                               "", "unknown_url"));
    } else {
      send_error(res, ApiError(res.status, fmt::format("HTTP error {}", res.status),
                               res.status >= 500 ? "server_error" : "invalid_request_error"));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));

  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("request failed: {}", what);
    send_error(res, ApiError(500, "internal error: " + what, "server_error"));
  });

  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    ++metrics.requests_other;
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    ++metrics.requests_other;
    res.set_content(metrics.render(expert_stats, scheduler.n_slots()), "text/plain; version=0.0.4");
  });
  auto model_entry = [this] {
    return json{{"id", opt.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "strata"},
                {"meta", {{"n_ctx", scheduler.n_ctx()}, {"n_vocab", tok.n_vocab()}}}};
  };
  http.Get("/v1/models", [this, model_entry](const httplib::Request&, httplib::Response& res) {
    ++metrics.requests_other;
    res.set_content(dump_json({{"object", "list"}, {"data", json::array({model_entry()})}}), "application/json");
  });
  http.Get(R"(/v1/models/(.+))", [this, model_entry](const httplib::Request& req, httplib::Response& res) {
    ++metrics.requests_other;
    if (req.matches[1] != opt.model_id) {
      send_error(res, ApiError(404, fmt::format("The model '{}' does not exist", req.matches[1].str()),
                               "invalid_request_error", "model", "model_not_found"));
      return;
    }
    res.set_content(dump_json(model_entry()), "application/json");
  });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    ++metrics.requests_chat;
    handle_generation(req, res, Endpoint::Chat);
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    ++metrics.requests_completions;
    handle_generation(req, res, Endpoint::Completions);
  });
}

void Server::Impl::handle_generation(const httplib::Request& req, httplib::Response& res, Endpoint endpoint) {
  std::shared_ptr<Generation> gen;
  ParsedRequest r;
  try {
    const json body = parse_body(req.body);
    r = endpoint == Endpoint::Chat ? parse_chat_request(body, served) : parse_completion_request(body, served);
    if (static_cast<int64_t>(r.gen.prompt.size()) >= scheduler.n_ctx()) {
      throw ApiError(400,
                     fmt::format("This model's maximum context length is {} tokens, but the prompt has {} tokens",
                                 scheduler.n_ctx(), r.gen.prompt.size()),
                     "invalid_request_error", endpoint == Endpoint::Chat ? "messages" : "prompt",
                     "context_length_exceeded");
    }
    try {
      gen = scheduler.submit(r.gen);
    } catch (const Error& e) {
      // Sampler parameters the engine's sampler refuses.
      throw ApiError(400, e.what());
    }
  } catch (const ApiError& e) {
    send_error(res, e);
    return;
  } catch (const Error& e) {
    send_error(res, ApiError(400, e.what()));
    return;
  }
  if (!gen) {
    ++metrics.rejected_queue_full;
    res.set_header("Retry-After", "1");
    send_error(res, ApiError(429, "the server is busy: the request queue is full, retry later", "requests", "",
                             "rate_limit_exceeded"));
    return;
  }
  const ResponseHeader h = make_header(endpoint, opt.model_id);
  if (r.stream) {
    respond_stream(res, r, h, gen);
  } else {
    respond_whole(res, r, h, gen);
  }
}

void Server::Impl::respond_whole(httplib::Response& res, const ParsedRequest& r, const ResponseHeader& h,
                                 const std::shared_ptr<Generation>& gen) {
  std::string text;
  std::vector<TokenLogprob> lps;
  std::vector<GenerationEvent> events;
  while (true) {
    if (stopping) {
      gen->cancel();
      send_error(res, ApiError(503, "the server is shutting down", "server_error"));
      return;
    }
    events.clear();
    if (!gen->wait(events, kPoll)) continue;
    for (GenerationEvent& ev : events) {
      text += ev.text;
      lps.insert(lps.end(), ev.logprobs.begin(), ev.logprobs.end());
      if (!ev.done) continue;
      if (!ev.error.empty()) {
        send_error(res, ApiError(500, ev.error, "server_error"));
        return;
      }
      size_t offset = 0;
      const json logprobs = r.logprobs >= 0 ? logprobs_json(h.endpoint, tok, lps, offset) : json(nullptr);
      res.set_content(dump_json(completion_json(h, text, ev.finish_reason, logprobs, ev.prompt_tokens,
                                                ev.completion_tokens)),
                      "application/json");
      return;
    }
  }
}

void Server::Impl::respond_stream(httplib::Response& res, const ParsedRequest& r, const ResponseHeader& h,
                                  const std::shared_ptr<Generation>& gen) {
  res.set_header("Cache-Control", "no-cache");
  const bool include_usage = r.include_usage;
  const bool with_logprobs = r.logprobs >= 0;
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, h, gen, include_usage, with_logprobs](size_t, httplib::DataSink& sink) {
        auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
        size_t text_offset = 0;
        const bool chat = h.endpoint == Endpoint::Chat;
        if (chat && !write(sse(chunk_json(h, {{"role", "assistant"}, {"content", ""}}, "", nullptr)))) {
          gen->cancel();
          return false;
        }
        std::vector<GenerationEvent> events;
        auto last_write = std::chrono::steady_clock::now();
        while (true) {
          if (stopping) {
            gen->cancel();
            return false;
          }
          events.clear();
          if (!gen->wait(events, kPoll)) {
            if (std::chrono::steady_clock::now() - last_write >= kKeepAlive) {
              if (!write(": keep-alive\n\n")) {
                gen->cancel();
                return false;
              }
              last_write = std::chrono::steady_clock::now();
            }
            continue;
          }
          for (GenerationEvent& ev : events) {
            if (!ev.error.empty()) {
              write(sse(error_json(ev.error, "server_error", "", "")));
              write("data: [DONE]\n\n");
              sink.done();
              return true;
            }
            const json lp = with_logprobs && !ev.logprobs.empty()
                                ? logprobs_json(h.endpoint, tok, ev.logprobs, text_offset)
                                : json(nullptr);
            bool ok = true;
            if (!ev.text.empty() || !lp.is_null()) ok = write(sse(chunk_json(h, {{"content", ev.text}}, "", lp)));
            if (ok && ev.done) {
              ok = write(sse(chunk_json(h, chat ? json::object() : json{{"content", ""}}, ev.finish_reason, nullptr)));
              if (ok && include_usage) ok = write(sse(usage_chunk_json(h, ev.prompt_tokens, ev.completion_tokens)));
              if (ok) ok = write("data: [DONE]\n\n");
              if (ok) {
                sink.done();
                return true;
              }
            }
            if (!ok) {
              // The client went away: the scheduler frees the sequence at its next step.
              gen->cancel();
              return false;
            }
            last_write = std::chrono::steady_clock::now();
          }
        }
      },
      [gen](bool) { gen->cancel(); });
}

Server::Server(Engine& engine, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
               const ExpertStatsSource* expert_stats, ServerOptions options) {
  if (options.max_queue < 0) fail("--queue must not be negative");
  if (options.max_body_bytes == 0) fail("the body size limit must be positive");
  if (options.model_id.empty()) fail("the model id must not be empty");
  impl_ = std::make_unique<Impl>(engine, tokenizer, chat_template, expert_stats, std::move(options));
}

Server::~Server() {
  stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int Server::bind() {
  Impl& m = *impl_;
  if (m.opt.port == 0) {
    m.port = m.http.bind_to_any_port(m.opt.host);
  } else {
    m.port = m.http.bind_to_port(m.opt.host, m.opt.port) ? m.opt.port : -1;
  }
  if (m.port < 0) fail("cannot listen on {}:{} (address in use or not available)", m.opt.host, m.opt.port);
  return m.port;
}

void Server::listen() {
  if (impl_->port < 0) fail("Server::listen() called before bind()");
  impl_->http.listen_after_bind();
}

int Server::start() {
  const int port = bind();
  impl_->thread = std::thread([this] { impl_->http.listen_after_bind(); });
  // stop() only takes effect once the accept loop runs; wait for it so that a stop() right after
  // start() cannot be lost (bounded: the loop starts at once unless the thread cannot run).
  for (int i = 0; i < 5000 && !impl_->http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return port;
}

void Server::stop() {
  impl_->stopping = true;
  impl_->http.stop();
}

const Metrics& Server::metrics() const { return impl_->metrics; }

}  // namespace strata::server
