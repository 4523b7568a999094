#pragma once
// Chat templates: the jinja2 programs models ship (GGUF `tokenizer.chat_template`, HF
// tokenizer_config.json) that turn an OpenAI-style message list into the prompt text.
//
// Rendering matches Python jinja2 3.1 as Hugging Face transformers configures it (trim_blocks,
// lstrip_blocks, loopcontrols, {% generation %}, raise_exception, strftime_now, tojson with
// ensure_ascii=False): every template in ../shared/templates renders the committed conversations
// byte for byte like jinja2 (tests/template). Not supported: {% include/extends/import/block %},
// recursive loops, non-ASCII case mapping in upper/lower/title, str.format specs. Unlike
// transformers' ImmutableSandboxedEnvironment, list.append/pop and dict.update work (Kimi K2's
// template needs them).
#include <nlohmann/json.hpp>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace strata {

namespace tmpl {
struct Stmt;
}

class ChatTemplate {
 public:
  // Parses `source`. Throws strata::Error "name:LINE: message" for a syntax error.
  static ChatTemplate parse(std::string source, std::string name);

  // Renders the prompt. `messages`: OpenAI-style array ({role, content, tool_calls, ...});
  // `variables`: an object whose keys become template variables (tools, bos_token, eos_token,
  // add_generation_prompt, enable_thinking, ...). Like transformers, `tools` and `documents`
  // default to None and `add_generation_prompt` to false when absent. strftime_now() formats the
  // local time now. Throws strata::Error "name:LINE: message" when the template fails or calls
  // raise_exception(). Thread-safe: a parsed template is immutable.
  std::string render(const nlohmann::json& messages, const nlohmann::json& variables) const;
  // The same, keeping the key order of JSON objects (tool schemas print in the order given, as
  // Python's json.loads + json.dumps would), with strftime_now() formatting `now`.
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& variables,
                     const std::tm& now) const;

  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }

 private:
  std::string name_;
  std::string source_;
  std::shared_ptr<const std::vector<std::unique_ptr<tmpl::Stmt>>> body_;
};

// The default ChatML template (<|im_start|>role\ncontent<|im_end|>\n per message, and
// <|im_start|>assistant\n when add_generation_prompt), for models that ship no template.
std::string default_chat_template();

}  // namespace strata
