#pragma once
// The JSON shapes of OpenAI responses: whole completions, streamed chunks and logprobs, for
// both the chat and the legacy completions endpoint.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "server/generation.h"

namespace strata {
class Tokenizer;
}

namespace strata::server {

enum class Endpoint { Chat, Completions };

// Identity shared by every chunk of one response.
struct ResponseHeader {
  Endpoint endpoint = Endpoint::Chat;
  std::string id;       // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

// A fresh header with a random id and the current time.
ResponseHeader make_header(Endpoint endpoint, const std::string& model);

nlohmann::json usage_json(int prompt_tokens, int completion_tokens);

// Logprobs of `tokens` in the endpoint's format. `text_offset` (completions only) is the offset
// of the first token's text in the completion and is advanced past these tokens.
nlohmann::json logprobs_json(Endpoint endpoint, const Tokenizer& tok, const std::vector<TokenLogprob>& tokens,
                             size_t& text_offset);

// A complete (non-streamed) response.
nlohmann::json completion_json(const ResponseHeader& h, const std::string& text, const std::string& finish_reason,
                               const nlohmann::json& logprobs, int prompt_tokens, int completion_tokens);

// One streamed chunk with a single choice. Chat: `delta` is the delta object; completions: its
// "content" is the text. finish_reason empty = null.
nlohmann::json chunk_json(const ResponseHeader& h, const nlohmann::json& delta, const std::string& finish_reason,
                          const nlohmann::json& logprobs);
// The last chunk when stream_options.include_usage: no choices, only usage.
nlohmann::json usage_chunk_json(const ResponseHeader& h, int prompt_tokens, int completion_tokens);

}  // namespace strata::server
