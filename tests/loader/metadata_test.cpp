// Metadata typed getters: conversions that are exact succeed, everything else throws an Error
// naming the key; absent keys give nullopt.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>

#include "common/error.h"
#include "loader/metadata.h"

namespace strata {
namespace {

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

Metadata sample() {
  Metadata m;
  m.set("u8", {MetaType::U8, uint64_t{200}});
  m.set("i8", {MetaType::I8, int64_t{-5}});
  m.set("u32", MetaValue::u32(4096));
  m.set("i32", MetaValue::i32(-70000));
  m.set("u64.big", MetaValue::u64(std::numeric_limits<uint64_t>::max()));
  m.set("f32", MetaValue::f32(0.125f));
  m.set("f64", {MetaType::F64, 1e-6});
  m.set("bool", MetaValue::boolean(true));
  m.set("str", MetaValue::str("gpt2"));
  m.set("tokens", MetaValue::array(MetaType::String, {MetaValue::str("a"), MetaValue::str("bc")}));
  m.set("scores", MetaValue::array(MetaType::F32, {MetaValue::f32(-1.5f), MetaValue::f32(2.0f)}));
  m.set("types", MetaValue::array(MetaType::I32, {MetaValue::i32(1), MetaValue::i32(-3)}));
  m.set("u64s", MetaValue::array(MetaType::U64, {MetaValue::u64(std::numeric_limits<uint64_t>::max())}));
  return m;
}

TEST(Metadata, FindAndHas) {
  const Metadata m = sample();
  EXPECT_TRUE(m.has("str"));
  EXPECT_FALSE(m.has("st"));
  ASSERT_NE(m.find("u32"), nullptr);
  EXPECT_EQ(m.find("u32")->type, MetaType::U32);
  EXPECT_EQ(m.find("nope"), nullptr);
  EXPECT_EQ(m.all().begin()->first, "bool");  // sorted by key
}

TEST(Metadata, SetReplaces) {
  Metadata m;
  m.set("k", MetaValue::u32(1));
  m.set("k", MetaValue::str("x"));
  EXPECT_EQ(m.all().size(), 1u);
  EXPECT_EQ(m.get_string("k"), "x");
}

TEST(Metadata, IntegerGetters) {
  const Metadata m = sample();
  EXPECT_EQ(m.get_int("u8"), 200);
  EXPECT_EQ(m.get_int("i8"), -5);
  EXPECT_EQ(m.get_int("u32"), 4096);
  EXPECT_EQ(m.get_int("i32"), -70000);
  EXPECT_EQ(m.get_int("absent"), std::nullopt);
  expect_error([&] { m.get_int("u64.big"); }, "'u64.big'");
  expect_error([&] { m.get_int("f32"); }, "metadata 'f32' is f32, not an integer");
  expect_error([&] { m.get_int("str"); }, "metadata 'str' is string, not an integer");
  expect_error([&] { m.get_int("types"); }, "metadata 'types' is an array of i32, not an integer");
}

TEST(Metadata, FloatGetterAcceptsEveryNumber) {
  const Metadata m = sample();
  EXPECT_EQ(m.get_float("f32"), 0.125);
  EXPECT_EQ(m.get_float("f64"), 1e-6);
  EXPECT_EQ(m.get_float("u32"), 4096.0);
  EXPECT_EQ(m.get_float("i8"), -5.0);
  EXPECT_EQ(m.get_float("u64.big"), 18446744073709551615.0);
  EXPECT_EQ(m.get_float("absent"), std::nullopt);
  expect_error([&] { m.get_float("bool"); }, "metadata 'bool' is bool, not a number");
}

TEST(Metadata, BoolAndStringGetters) {
  const Metadata m = sample();
  EXPECT_EQ(m.get_bool("bool"), true);
  EXPECT_EQ(m.get_string("str"), "gpt2");
  EXPECT_EQ(m.get_bool("absent"), std::nullopt);
  EXPECT_EQ(m.get_string("absent"), std::nullopt);
  expect_error([&] { m.get_bool("u8"); }, "metadata 'u8' is u8, not a bool");
  expect_error([&] { m.get_string("u32"); }, "metadata 'u32' is u32, not a string");
  expect_error([&] { m.get_string("tokens"); }, "is an array of string, not a string");
}

TEST(Metadata, ArrayGetters) {
  const Metadata m = sample();
  EXPECT_EQ(m.get_string_array("tokens"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(m.get_float_array("scores"), (std::vector<double>{-1.5, 2.0}));
  EXPECT_EQ(m.get_float_array("types"), (std::vector<double>{1.0, -3.0}));
  EXPECT_EQ(m.get_int_array("types"), (std::vector<int64_t>{1, -3}));
  EXPECT_EQ(m.get_int_array("absent"), std::nullopt);
  expect_error([&] { m.get_int_array("scores"); }, "'scores' is an array of f32, not an array of integers");
  expect_error([&] { m.get_string_array("types"); }, "not an array of strings");
  expect_error([&] { m.get_string_array("str"); }, "metadata 'str' is string, not an array of strings");
  expect_error([&] { m.get_float_array("tokens"); }, "not an array of numbers");
  expect_error([&] { m.get_int_array("u64s"); }, "does not fit in a signed 64-bit integer");
}

TEST(Metadata, MismatchedRepresentationIsAnErrorNotACrash) {
  // A value whose variant disagrees with its declared type (only constructible by hand).
  Metadata m;
  m.set("bad", {MetaType::U32, std::string("x")});
  m.set("badarr", {MetaType::Array, uint64_t{1}});
  expect_error([&] { m.get_int("bad"); }, "'bad'");
  expect_error([&] { m.get_float("bad"); }, "'bad'");
  expect_error([&] { m.get_string("bad"); }, "'bad'");
  expect_error([&] { m.get_string_array("badarr"); }, "'badarr'");
}

}  // namespace
}  // namespace strata
