// Small templates, one language feature each, against what Python's jinja2 renders for them
// (tests/template/data/snippets_expected.json, written by tools/template/gen_expected.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "loader/template/chat_template.h"

namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(STRATA_SOURCE_DIR) / "tests" / "template" / "data";

nlohmann::ordered_json load(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return nlohmann::ordered_json::parse(ss.str());
}

std::tm fixed_now() {
  std::tm t{};
  t.tm_year = 2025 - 1900;
  t.tm_mon = 2;
  t.tm_mday = 7;
  t.tm_hour = 14;
  t.tm_min = 5;
  t.tm_sec = 9;
  t.tm_wday = 5;
  t.tm_yday = 65;
  return t;
}

// Renders like jinja2's Template.render(**v): no messages, no transformers defaults.
std::string render_snippet(const std::string& name, const nlohmann::ordered_json& snip) {
  auto tmpl = strata::ChatTemplate::parse(snip["t"].get<std::string>(), name);
  nlohmann::ordered_json vars = snip.contains("v") ? snip["v"] : nlohmann::ordered_json::object();
  return tmpl.render(nlohmann::ordered_json::array(), vars, fixed_now());
}

TEST(TemplateSnippets, MatchJinja2) {
  auto snippets = load(kData / "snippets.json");
  auto expected = load(kData / "snippets_expected.json");
  ASSERT_GE(snippets.size(), 50u);
  int ok = 0;
  for (const auto& [name, snip] : snippets.items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(expected.contains(name)) << "regenerate with tools/template/gen_expected.py";
    const auto& want = expected[name];
    try {
      std::string got = render_snippet(name, snip);
      if (want.contains("error")) {
        ADD_FAILURE() << "jinja2 raised " << want["error"].get<std::string>() << " but we rendered: " << got;
      } else if (got != want["out"].get<std::string>()) {
        ADD_FAILURE() << "template: " << snip["t"].get<std::string>() << "\n     got: " << got
                      << "\n  jinja2: " << want["out"].get<std::string>();
      } else {
        ++ok;
      }
    } catch (const strata::Error& e) {
      if (want.contains("error")) {
        EXPECT_EQ(std::string(e.what()).rfind(name + ":", 0), 0u) << e.what();
        ++ok;
      } else {
        ADD_FAILURE() << "unexpected error: " << e.what() << "\n  jinja2: " << want["out"].get<std::string>();
      }
    }
  }
  EXPECT_EQ(ok, static_cast<int>(snippets.size()));
}

}  // namespace
