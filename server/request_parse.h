#pragma once
// Validation of OpenAI request bodies (chat/completions and completions) into generation
// parameters. Every problem throws ApiError naming the offending parameter, so a client gets a
// 4xx it can act on instead of a generic failure.
#include <nlohmann/json.hpp>

#include <string>

#include "server/generation.h"

namespace strata {
class Tokenizer;
class ChatTemplate;
}  // namespace strata

namespace strata::server {

// What a request is served with. The referenced objects must outlive the parse calls.
struct ServedModel {
  std::string id;  // the name clients use in "model"
  const Tokenizer* tokenizer = nullptr;
  const ChatTemplate* chat_template = nullptr;
};

struct ParsedRequest {
  GenerationParams gen;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int logprobs = -1;           // chat: top_logprobs when logprobs is true; completions: logprobs
};

// Body text -> JSON object; throws ApiError 400 for malformed JSON or a non-object.
nlohmann::json parse_body(const std::string& body);

// POST /v1/chat/completions. Renders `messages` through the model's chat template.
ParsedRequest parse_chat_request(const nlohmann::json& body, const ServedModel& model);
// POST /v1/completions. `prompt` is a string, a token id array, or a one-element array of either.
ParsedRequest parse_completion_request(const nlohmann::json& body, const ServedModel& model);

}  // namespace strata::server
