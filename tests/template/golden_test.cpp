// Every template in ../shared/templates must render every committed conversation exactly as
// Python's jinja2 did (tests/template/data/expected, written by tools/template/gen_expected.py),
// or fail where jinja2 failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "loader/template/chat_template.h"

namespace {

namespace fs = std::filesystem;

const fs::path kTemplates = fs::path(STRATA_SHARED_DIR) / "templates";
const fs::path kData = fs::path(STRATA_SOURCE_DIR) / "tests" / "template" / "data";

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The date gen_expected.py fixes strftime_now() to: 2025-03-07 14:05:09.
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

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  if (!fs::exists(kTemplates)) return names;
  for (const auto& e : fs::directory_iterator(kTemplates)) {
    if (e.path().extension() == ".jinja") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class GoldenTemplate : public testing::TestWithParam<std::string> {};

TEST_P(GoldenTemplate, MatchesJinja2) {
  const std::string name = GetParam();
  auto convs = nlohmann::ordered_json::parse(read_file(kData / "conversations.json"));
  ASSERT_FALSE(convs.empty());
  strata::ChatTemplate tmpl = strata::ChatTemplate::parse(read_file(kTemplates / (name + ".jinja")), name);
  int checked = 0;
  for (const auto& [conv_name, conv] : convs.items()) {
    fs::path base = kData / "expected" / (name + "__" + conv_name);
    SCOPED_TRACE(conv_name);
    bool want_error = fs::exists(base.string() + ".error");
    ASSERT_TRUE(want_error || fs::exists(base.string() + ".txt")) << "no expected output for " << base;
    try {
      std::string got = tmpl.render(conv["messages"], conv["variables"], fixed_now());
      EXPECT_FALSE(want_error) << "jinja2 raised " << read_file(base.string() + ".error") << "but we rendered:\n" << got;
      if (!want_error) {
        EXPECT_EQ(got, read_file(base.string() + ".txt"));
      }
    } catch (const strata::Error& e) {
      EXPECT_TRUE(want_error) << "unexpected error: " << e.what();
      EXPECT_EQ(std::string(e.what()).rfind(name + ":", 0), 0u) << "error does not name the template: " << e.what();
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(convs.size()));
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(Shared, GoldenTemplate, testing::ValuesIn(template_names()), test_name);

TEST(GoldenTemplates, SharedTemplatesPresent) { EXPECT_GE(template_names().size(), 40u); }

}  // namespace
