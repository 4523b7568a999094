#include "server/openai_format.h"

#include <fmt/format.h>

#include <ctime>
#include <random>

#include "loader/tokenizer/tokenizer.h"

namespace strata::server {

using nlohmann::json;

ResponseHeader make_header(Endpoint endpoint, const std::string& model) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  ResponseHeader h;
  h.endpoint = endpoint;
  h.id = fmt::format("{}-{:016x}", endpoint == Endpoint::Chat ? "chatcmpl" : "cmpl", rng());
  h.created = static_cast<int64_t>(std::time(nullptr));
  h.model = model;
  return h;
}

json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {

json bytes_of(std::string_view s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

}  // namespace

json logprobs_json(Endpoint endpoint, const Tokenizer& tok, const std::vector<TokenLogprob>& tokens,
                   size_t& text_offset) {
  if (endpoint == Endpoint::Chat) {
    json content = json::array();
    for (const TokenLogprob& t : tokens) {
      const std::string_view piece = tok.piece(t.id);
      json top = json::array();
      for (const auto& [id, lp] : t.top) {
        const std::string_view p = tok.piece(id);
        top.push_back({{"token", std::string(p)}, {"logprob", lp}, {"bytes", bytes_of(p)}});
      }
      content.push_back(
          {{"token", std::string(piece)}, {"logprob", t.logprob}, {"bytes", bytes_of(piece)}, {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
  }
  json toks = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
  for (const TokenLogprob& t : tokens) {
    const std::string_view piece = tok.piece(t.id);
    toks.push_back(std::string(piece));
    lps.push_back(t.logprob);
    json top = json::object();
    for (const auto& [id, lp] : t.top) top[std::string(tok.piece(id))] = lp;
    tops.push_back(top);
    offs.push_back(text_offset);
    text_offset += piece.size();
  }
  return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

json completion_json(const ResponseHeader& h, const std::string& text, const std::string& finish_reason,
                     const json& logprobs, int prompt_tokens, int completion_tokens) {
  json choice = {{"index", 0}, {"logprobs", logprobs}, {"finish_reason", finish_reason}};
  if (h.endpoint == Endpoint::Chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
  } else {
    choice["text"] = text;
  }
  return {{"id", h.id},
          {"object", h.endpoint == Endpoint::Chat ? "chat.completion" : "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"system_fingerprint", "strata"},
          {"choices", json::array({choice})},
          {"usage", usage_json(prompt_tokens, completion_tokens)}};
}

json chunk_json(const ResponseHeader& h, const json& delta, const std::string& finish_reason, const json& logprobs) {
  json choice = {{"index", 0}, {"logprobs", logprobs}};
  choice["finish_reason"] = finish_reason.empty() ? json(nullptr) : json(finish_reason);
  if (h.endpoint == Endpoint::Chat) {
    choice["delta"] = delta;
  } else {
    choice["text"] = delta.value("content", "");
  }
  return {{"id", h.id},
          {"object", h.endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"system_fingerprint", "strata"},
          {"choices", json::array({choice})}};
}

json usage_chunk_json(const ResponseHeader& h, int prompt_tokens, int completion_tokens) {
  return {{"id", h.id},
          {"object", h.endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"system_fingerprint", "strata"},
          {"choices", json::array()},
          {"usage", usage_json(prompt_tokens, completion_tokens)}};
}

}  // namespace strata::server
