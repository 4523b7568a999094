// `strata template (-m MODEL | --template FILE) --messages FILE.json [--no-generation-prompt]`:
// prints the prompt a chat template renders for a conversation, exactly, with no added newline.
//
// The messages file holds either a JSON array of OpenAI-style messages, or an object with a
// "messages" array and further template variables ("tools", "enable_thinking", ...).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "common/error.h"
#include "common/read_file.h"
#include "loader/template/chat_template.h"
#include "loader/tokenizer/tokenizer.h"

namespace strata::cli {
namespace {

struct TemplateArgs {
  std::string model;
  std::string template_file;
  std::string messages_file;
  std::string bos_token;
  std::string eos_token;
  std::vector<std::string> vars;
  bool no_generation_prompt = false;
};

nlohmann::ordered_json parse_json(const std::string& text, const std::string& what) {
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", what, e.what());
  }
}

int run_template(const TemplateArgs& a) {
  std::string source;
  std::string name;
  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
  if (!a.model.empty()) {
    // The tokenizer alone carries the template and special tokens; no weights are needed, so a
    // vocab-only GGUF or a directory with just tokenizer files works too.
    auto tok = Tokenizer::from_path(a.model);
    name = a.model + ":chat_template";
    if (auto t = tok->chat_template()) {
      source = *t;
    } else {
      source = default_chat_template();
      name = "default ChatML template";
      spdlog::warn("{} has no chat template; using the default ChatML template", a.model);
    }
    if (auto bos = tok->bos()) variables["bos_token"] = std::string(tok->piece(*bos));
    if (auto eos = tok->eos()) variables["eos_token"] = std::string(tok->piece(*eos));
  } else {
    source = read_whole_file(a.template_file);
    name = a.template_file;
  }
  if (!a.bos_token.empty()) variables["bos_token"] = a.bos_token;
  if (!a.eos_token.empty()) variables["eos_token"] = a.eos_token;

  nlohmann::ordered_json input = parse_json(read_whole_file(a.messages_file), a.messages_file);
  nlohmann::ordered_json messages;
  if (input.is_array()) {
    messages = std::move(input);
  } else if (input.is_object() && input.contains("messages") && input["messages"].is_array()) {
    for (auto& [k, v] : input.items()) {
      if (k != "messages") variables[k] = v;
    }
    messages = input["messages"];
  } else {
    fail("{}: expected a JSON array of messages or an object with a \"messages\" array", a.messages_file);
  }
  for (const std::string& kv : a.vars) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) fail("--var {}: expected KEY=JSON_VALUE", kv);
    variables[kv.substr(0, eq)] = parse_json(kv.substr(eq + 1), "--var " + kv.substr(0, eq));
  }
  variables["add_generation_prompt"] = !a.no_generation_prompt;

  ChatTemplate tmpl = ChatTemplate::parse(std::move(source), name);
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::string prompt = tmpl.render(messages, variables, local);
  if (std::fwrite(prompt.data(), 1, prompt.size(), stdout) != prompt.size()) fail("write to stdout failed");
  std::fflush(stdout);
  return 0;
}

const Registration kTemplate{
    "template", "Render a chat template for a conversation (prints the exact prompt)",
    [](CLI::App& app) -> Runner {
      auto a = std::make_shared<TemplateArgs>();
      auto* model = app.add_option("-m,--model", a->model,
                                   "Model (GGUF file or HF directory) whose chat template to use");
      auto* file = app.add_option("--template", a->template_file, "Jinja chat template file");
      model->excludes(file);
      app.add_option("--messages", a->messages_file,
                     "JSON file: an array of messages, or an object with \"messages\" and more variables")
          ->required();
      app.add_flag("--no-generation-prompt", a->no_generation_prompt,
                   "Set add_generation_prompt to false (default true)");
      app.add_option("--bos-token", a->bos_token, "bos_token variable (default: the model's)");
      app.add_option("--eos-token", a->eos_token, "eos_token variable (default: the model's)");
      app.add_option("--var", a->vars, "Extra template variable as KEY=JSON (e.g. enable_thinking=false)");
      return [a, model, file] {
        if (model->count() == 0 && file->count() == 0) fail("template needs -m MODEL or --template FILE");
        return run_template(*a);
      };
    }};

}  // namespace
}  // namespace strata::cli
