// ChatTemplate's API contract: error messages that name template and line, the default
// template, both JSON flavours, limits against hostile templates, and concurrent rendering.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "loader/template/chat_template.h"

namespace {

using strata::ChatTemplate;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

std::tm some_day() {
  std::tm t{};
  t.tm_year = 124;
  t.tm_mon = 0;
  t.tm_mday = 2;
  return t;
}

std::string render(const std::string& source, const ojson& vars = ojson::object(),
                   const ojson& messages = ojson::array()) {
  return ChatTemplate::parse(source, "t").render(messages, vars, some_day());
}

// The message of the strata::Error `fn` throws, or "" if it does not throw.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const strata::Error& e) {
    return e.what();
  }
  return {};
}

TEST(ChatTemplate, SyntaxErrorNamesTemplateAndLine) {
  std::string msg = error_of([] { ChatTemplate::parse("line one\nline two {{ 1 + }}\n", "mytmpl"); });
  EXPECT_EQ(msg.rfind("mytmpl:2: ", 0), 0u) << msg;
  msg = error_of([] { ChatTemplate::parse("a\nb\n{% if x %}\nnever closed", "u"); });
  EXPECT_EQ(msg.rfind("u:3: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("endif"), std::string::npos) << msg;
  msg = error_of([] { ChatTemplate::parse("{% include 'other.jinja' %}", "inc"); });
  EXPECT_NE(msg.find("include"), std::string::npos) << msg;
}

TEST(ChatTemplate, RenderErrorNamesLineOfFailure) {
  auto tmpl = ChatTemplate::parse("ok\n{% if true %}\n{{ raise_exception('bad conversation') }}\n{% endif %}", "r");
  std::string msg = error_of([&] { tmpl.render(ojson::array(), ojson::object(), some_day()); });
  EXPECT_EQ(msg, "r:3: bad conversation");
  msg = error_of([] { render("\n\n{{ messages[0].content.upper() }}"); });
  EXPECT_EQ(msg.rfind("t:3: ", 0), 0u) << msg;
}

TEST(ChatTemplate, DefaultTemplateIsChatML) {
  auto tmpl = ChatTemplate::parse(strata::default_chat_template(), "default");
  json messages = json::array({{{"role", "system"}, {"content", "S"}}, {{"role", "user"}, {"content", "Hi"}}});
  EXPECT_EQ(tmpl.render(messages, json{{"add_generation_prompt", true}}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(tmpl.render(messages, json::object()), "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, TransformersDefaultsAndVariables) {
  EXPECT_EQ(render("{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} {{ other is defined }}"),
            "True True False False");
  EXPECT_EQ(render("{{ tools | length }} {{ bos_token }}", ojson{{"tools", ojson::array({1, 2})}, {"bos_token", "<s>"}}),
            "2 <s>");
  EXPECT_EQ(render("{{ messages | length }}{{ messages[1].role }}", ojson::object(),
                   ojson::array({{{"role", "a"}}, {{"role", "b"}}})),
            "2b");
  EXPECT_NE(error_of([] { ChatTemplate::parse("x", "t").render(ojson::array(), ojson::array({1}), some_day()); }), "");
}

TEST(ChatTemplate, OrderedJsonKeepsKeyOrderPlainJsonSorts) {
  auto tmpl = ChatTemplate::parse("{{ tools | tojson }}", "order");
  ojson ordered = ojson::parse(R"({"tools": {"zeta": 1, "alpha": 2}})");
  EXPECT_EQ(tmpl.render(ojson::array(), ordered, some_day()), R"({"zeta": 1, "alpha": 2})");
  json sorted = json::parse(R"({"tools": {"zeta": 1, "alpha": 2}})");
  EXPECT_EQ(tmpl.render(json::array(), sorted), R"({"alpha": 2, "zeta": 1})");
}

TEST(ChatTemplate, StrftimeUsesGivenTime) {
  EXPECT_EQ(render("{{ strftime_now('%Y-%m-%d') }}"), "2024-01-02");
}

TEST(ChatTemplate, InvalidUtf8PassesThroughUnchanged) {
  std::string bad = "a\xff\xfe" "b\xc3";
  EXPECT_EQ(render("{{ messages[0].content }}|{{ messages[0].content | length }}", ojson::object(),
                   ojson::array({{{"content", bad}}})),
            bad + "|5");
}

TEST(ChatTemplateLimits, DeepNestingIsAnError) {
  std::string deep(5000, '(');
  deep = "{{ " + deep + "1" + std::string(5000, ')') + " }}";
  EXPECT_NE(error_of([&] { ChatTemplate::parse(deep, "deep"); }).find("nested too deeply"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  EXPECT_NE(error_of([&] { ChatTemplate::parse(ifs, "ifs"); }), "");
  std::string nots = "{{ " + std::string(0, ' ');
  for (int i = 0; i < 5000; ++i) nots += "not ";
  nots += "1 }}";
  EXPECT_NE(error_of([&] { ChatTemplate::parse(nots, "nots"); }), "");
}

TEST(ChatTemplateLimits, RunawayTemplatesStop) {
  EXPECT_NE(error_of([] { render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"); }).find("recursion"),
            std::string::npos);
  EXPECT_NE(error_of([] { render("{{ 'a' * 1000000000000 }}"); }).find("too large"), std::string::npos);
  EXPECT_NE(error_of([] { render("{{ range(100001) | length }}"); }).find("range"), std::string::npos);
  EXPECT_NE(error_of([] { render("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"); }).find("exceeds"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
            }).find("work limit"),
            std::string::npos);
  EXPECT_NE(error_of([] { render("{{ 9223372036854775807 + 1 }}"); }).find("overflow"), std::string::npos);
  EXPECT_NE(error_of([] { render("{{ 1 // 0 }}"); }).find("zero"), std::string::npos);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Mutated real templates (bytes replaced, removed, duplicated; truncation) must parse and render
// or throw strata::Error, never crash; run under ASan this also checks memory safety.
TEST(ChatTemplateLimits, MutatedTemplatesFailCleanly) {
  const std::filesystem::path dir = std::filesystem::path(STRATA_SHARED_DIR) / "templates";
  auto convs = ojson::parse(read_file(std::filesystem::path(STRATA_SOURCE_DIR) / "tests/template/data/conversations.json"));
  const ojson& conv = convs["tools"];
  std::vector<std::string> sources;
  for (const char* name : {"Qwen-Qwen3-0.6B", "openai-gpt-oss-120b", "meta-llama-Llama-3.1-8B-Instruct",
                           "mistralai-Mistral-Nemo-Instruct-2407", "moonshotai-Kimi-K2"}) {
    sources.push_back(read_file(dir / (std::string(name) + ".jinja")));
    ASSERT_FALSE(sources.back().empty()) << name;
  }
  const std::string alphabet = "{}%#-+()[]'\"|.,:~=!<>*/ \nabcxyz019_";
  std::mt19937 rng(1234);
  int rendered = 0;
  int rejected = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::string s = sources[static_cast<size_t>(iter) % sources.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t pos = rng() % s.size();
      switch (rng() % 4) {
        case 0: s[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: s.erase(pos, 1 + rng() % 8); break;
        case 2: s.insert(pos, s.substr(rng() % s.size(), 1 + rng() % 16)); break;
        default: s.resize(pos); break;
      }
    }
    try {
      ChatTemplate::parse(s, "mut").render(conv["messages"], conv["variables"], some_day());
      ++rendered;
    } catch (const strata::Error&) {
      ++rejected;
    }
  }
  EXPECT_EQ(rendered + rejected, 600);
  EXPECT_GT(rejected, 0);
  EXPECT_GT(rendered, 0);
}

TEST(ChatTemplate, ConcurrentRendersAgree) {
  auto tmpl = ChatTemplate::parse(read_file(std::filesystem::path(STRATA_SHARED_DIR) / "templates/Qwen3-Coder.jinja"), "qc");
  auto convs = ojson::parse(read_file(std::filesystem::path(STRATA_SOURCE_DIR) / "tests/template/data/conversations.json"));
  const ojson& conv = convs["tools"];
  const std::string want = tmpl.render(conv["messages"], conv["variables"], some_day());
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 20; ++k) got[i] = tmpl.render(conv["messages"], conv["variables"], some_day());
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

}  // namespace
