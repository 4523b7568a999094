#include "server/request_parse.h"

#include <fmt/format.h>

#include <random>

#include "common/error.h"
#include "loader/template/chat_template.h"
#include "loader/tokenizer/tokenizer.h"
#include "server/api_error.h"

namespace strata::server {
namespace {

using nlohmann::json;

constexpr int kMaxStops = 16;
constexpr int kMaxTopLogprobs = 20;

[[noreturn]] void bad(const std::string& param, const std::string& message, const std::string& code = "") {
  throw ApiError(400, message, "invalid_request_error", param, code);
}

// The value of `key` if present and not null.
const json* field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

double number(const json& body, const char* key, double def, double lo, double hi) {
  const json* v = field(body, key);
  if (v == nullptr) return def;
  if (!v->is_number()) bad(key, fmt::format("'{}' must be a number", key));
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) bad(key, fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, x));
  return x;
}

int64_t integer(const json& body, const char* key, int64_t def, int64_t lo, int64_t hi) {
  const json* v = field(body, key);
  if (v == nullptr) return def;
  if (!v->is_number_integer()) bad(key, fmt::format("'{}' must be an integer", key));
  // Unsigned values above INT64_MAX read as negative through get<int64_t>; catch them here.
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi)) {
    bad(key, fmt::format("'{}' must be between {} and {}", key, lo, hi));
  }
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) bad(key, fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, x));
  return x;
}

bool boolean(const json& body, const char* key, bool def) {
  const json* v = field(body, key);
  if (v == nullptr) return def;
  if (!v->is_boolean()) bad(key, fmt::format("'{}' must be a boolean", key));
  return v->get<bool>();
}

void check_model(const json& body, const ServedModel& model) {
  const json* v = field(body, "model");
  if (v == nullptr) bad("model", "you must provide a model parameter");
  if (!v->is_string()) bad("model", "'model' must be a string");
  if (v->get<std::string>() != model.id) {
    throw ApiError(404, fmt::format("The model '{}' does not exist; this server serves '{}'", v->get<std::string>(), model.id),
                   "invalid_request_error", "model", "model_not_found");
  }
}

// Fields shared by both endpoints: sampling, limits, stop, n, stream.
void parse_common(const json& body, ParsedRequest& r) {
  SamplerParams& s = r.gen.sampling;
  // OpenAI's defaults: plain sampling at temperature 1 with no truncation.
  s.temperature = static_cast<float>(number(body, "temperature", 1.0, 0.0, 2.0));
  s.top_p = static_cast<float>(number(body, "top_p", 1.0, 0.0, 1.0));
  s.top_k = static_cast<int>(integer(body, "top_k", 0, 0, 1 << 30));
  s.min_p = static_cast<float>(number(body, "min_p", 0.0, 0.0, 1.0));
  s.presence_penalty = static_cast<float>(number(body, "presence_penalty", 0.0, -2.0, 2.0));
  s.frequency_penalty = static_cast<float>(number(body, "frequency_penalty", 0.0, -2.0, 2.0));
  s.repeat_penalty = 1.0f;
  const json* seed = field(body, "seed");
  if (seed != nullptr) {
    if (!seed->is_number_integer()) bad("seed", "'seed' must be an integer");
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  } else {
    s.seed = std::random_device{}();
  }

  const int64_t max_tokens = integer(body, "max_tokens", -1, 1, 1 << 30);
  const int64_t max_completion = integer(body, "max_completion_tokens", -1, 1, 1 << 30);
  r.gen.max_tokens = static_cast<int>(max_completion > 0 ? max_completion : max_tokens);

  // llama.cpp's extension: generate exactly max_tokens, for benchmarks.
  r.gen.ignore_eos = boolean(body, "ignore_eos", false);

  if (integer(body, "n", 1, 1, 128) != 1) bad("n", "only n=1 is supported");
  r.stream = boolean(body, "stream", false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
    if (!r.stream) bad("stream_options", "'stream_options' is only allowed when 'stream' is true");
    r.include_usage = boolean(*so, "include_usage", false);
  }

  if (const json* stop = field(body, "stop")) {
    if (stop->is_string()) {
      r.gen.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > kMaxStops) bad("stop", fmt::format("at most {} stop strings are allowed", kMaxStops));
      for (const json& s2 : *stop) {
        if (!s2.is_string()) bad("stop", "'stop' must be a string or an array of strings");
        r.gen.stop.push_back(s2.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or an array of strings");
    }
    for (const std::string& s2 : r.gen.stop) {
      if (s2.empty()) bad("stop", "stop strings must not be empty");
    }
  }
}

// Message content: a string, or an array of {"type":"text","text":...} parts (joined).
json content_of(const json& msg, size_t index) {
  const std::string param = fmt::format("messages[{}].content", index);
  auto it = msg.find("content");
  if (it == msg.end() || it->is_null()) {
    // An assistant turn may carry only tool calls.
    if (msg.value("role", "") == "assistant") return "";
    bad(param, fmt::format("'{}' is required", param));
  }
  if (it->is_string()) return *it;
  if (!it->is_array()) bad(param, fmt::format("'{}' must be a string or an array of content parts", param));
  std::string text;
  for (const json& part : *it) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
      bad(param, "only text content parts ({\"type\":\"text\",\"text\":...}) are supported");
    }
    text += part["text"].get<std::string>();
  }
  return text;
}

std::vector<int32_t> tokenize(const Tokenizer& tok, const std::string& text, bool templated) {
  // A rendered chat template usually writes BOS itself; adding another would repeat it.
  bool add_special = true;
  if (templated && tok.bos()) {
    const std::string_view bos = tok.piece(*tok.bos());
    if (!bos.empty() && text.starts_with(bos)) add_special = false;
  }
  // Like llama.cpp's server, special-token text in a prompt becomes the special token.
  return tok.encode(text, add_special, /*parse_special=*/true);
}

}  // namespace

json parse_body(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    bad("", fmt::format("the request body is not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) bad("", "the request body must be a JSON object");
  return j;
}

ParsedRequest parse_chat_request(const json& body, const ServedModel& model) {
  check_model(body, model);
  ParsedRequest r;
  parse_common(body, r);

  const json* msgs = field(body, "messages");
  if (msgs == nullptr) bad("messages", "'messages' is required");
  if (!msgs->is_array() || msgs->empty()) bad("messages", "'messages' must be a non-empty array");
  static const std::vector<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};
  json messages = json::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    if (!m.is_object()) bad(fmt::format("messages[{}]", i), "each message must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      bad(fmt::format("messages[{}].role", i), "each message needs a string 'role'");
    }
    if (std::find(kRoles.begin(), kRoles.end(), role->get<std::string>()) == kRoles.end()) {
      bad(fmt::format("messages[{}].role", i), fmt::format("unknown role '{}'", role->get<std::string>()));
    }
    json copy = m;
    copy["content"] = content_of(m, i);
    messages.push_back(std::move(copy));
  }

  const bool want_logprobs = boolean(body, "logprobs", false);
  const int64_t top = integer(body, "top_logprobs", -1, 0, kMaxTopLogprobs);
  if (top >= 0 && !want_logprobs) bad("top_logprobs", "'top_logprobs' requires 'logprobs': true");
  r.logprobs = want_logprobs ? static_cast<int>(std::max<int64_t>(top, 0)) : -1;
  r.gen.top_logprobs = r.logprobs;

  const Tokenizer& tok = *model.tokenizer;
  json vars = {{"add_generation_prompt", true}};
  vars["bos_token"] = tok.bos() ? std::string(tok.piece(*tok.bos())) : "";
  vars["eos_token"] = tok.eos() ? std::string(tok.piece(*tok.eos())) : "";
  std::string prompt;
  try {
    prompt = model.chat_template->render(messages, vars);
  } catch (const Error& e) {
    // Templates reject conversations they cannot format (raise_exception): the client's fault.
    bad("messages", fmt::format("the chat template rejected the messages: {}", e.what()));
  }
  r.gen.prompt = tokenize(tok, prompt, /*templated=*/true);
  return r;
}

ParsedRequest parse_completion_request(const json& body, const ServedModel& model) {
  check_model(body, model);
  ParsedRequest r;
  parse_common(body, r);
  r.logprobs = static_cast<int>(integer(body, "logprobs", -1, 0, 5));
  r.gen.top_logprobs = r.logprobs;
  if (boolean(body, "echo", false)) bad("echo", "'echo' is not supported");

  const json* p = field(body, "prompt");
  if (p == nullptr) bad("prompt", "'prompt' is required");
  const json* one = p;
  if (p->is_array() && !p->empty() && !(*p)[0].is_number()) {
    if (p->size() != 1) bad("prompt", "only one prompt per request is supported");
    one = &(*p)[0];
  }
  if (one->is_string()) {
    r.gen.prompt = tokenize(*model.tokenizer, one->get<std::string>(), /*templated=*/false);
  } else if (one->is_array()) {
    for (const json& t : *one) {
      if (!t.is_number_integer()) bad("prompt", "a token prompt must be an array of integers");
      if (t.is_number_unsigned() && t.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX)) {
        bad("prompt", "token id out of range");
      }
      const int64_t id = t.get<int64_t>();
      if (id < 0 || id > INT32_MAX) bad("prompt", fmt::format("token id {} is out of range", id));
      r.gen.prompt.push_back(static_cast<int32_t>(id));
    }
  } else {
    bad("prompt", "'prompt' must be a string or an array of token ids");
  }
  if (r.gen.prompt.empty()) bad("prompt", "the prompt is empty");
  return r;
}

}  // namespace strata::server
