#include "loader/template/chat_template.h"

#include "common/error.h"
#include "loader/template/interpreter.h"
#include "loader/template/lexer.h"
#include "loader/template/parser.h"
#include "loader/template/template_error.h"

namespace strata {

ChatTemplate ChatTemplate::parse(std::string source, std::string name) {
  ChatTemplate t;
  try {
    t.body_ = std::make_shared<const tmpl::Body>(tmpl::parse(tmpl::lex(source)));
  } catch (const tmpl::TemplateError& e) {
    fail("{}:{}: {}", name, e.line(), e.what());
  }
  t.name_ = std::move(name);
  t.source_ = std::move(source);
  return t;
}

std::string ChatTemplate::render(const nlohmann::json& messages, const nlohmann::json& variables) const {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  // Through text: ordered_json and json are distinct types with no direct conversion.
  return render(nlohmann::ordered_json::parse(messages.dump()), nlohmann::ordered_json::parse(variables.dump()), local);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& variables,
                                 const std::tm& now) const {
  if (!variables.is_object() && !variables.is_null()) fail("{}: template variables must be a JSON object", name_);
  tmpl::Dict vars;
  vars.set("tools", tmpl::Value::none());
  vars.set("documents", tmpl::Value::none());
  vars.set("add_generation_prompt", tmpl::Value::boolean(false));
  if (variables.is_object()) {
    for (const auto& [k, v] : variables.items()) vars.set(k, tmpl::Value::from_json(v));
  }
  vars.set("messages", tmpl::Value::from_json(messages));
  try {
    return tmpl::execute(*body_, vars, now);
  } catch (const tmpl::TemplateError& e) {
    fail("{}:{}: {}", name_, e.line(), e.what());
  }
}

std::string default_chat_template() {
  return "{% for message in messages %}"
         "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
         "{% endfor %}"
         "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
}

}  // namespace strata
