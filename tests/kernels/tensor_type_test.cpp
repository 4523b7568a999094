#include "kernels/tensor_type.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(TensorType, TraitsMatchGgml) {
  EXPECT_EQ(traits(TensorType::Q4_0).block_bytes, 18);
  EXPECT_EQ(traits(TensorType::Q8_0).block_bytes, 34);
  EXPECT_EQ(traits(TensorType::Q4_K).block_bytes, 144);
  EXPECT_EQ(traits(TensorType::Q5_K).block_bytes, 176);
  EXPECT_EQ(traits(TensorType::Q6_K).block_bytes, 210);
  EXPECT_EQ(traits(TensorType::Q8_K).block_bytes, 292);
  EXPECT_EQ(traits(TensorType::MXFP4).block_bytes, 17);
  EXPECT_EQ(traits(TensorType::MXFP4).block_elems, 32);
  EXPECT_EQ(traits(TensorType::Q6_K).block_elems, 256);
  EXPECT_EQ(traits(TensorType::BF16).block_bytes, 2);
}

TEST(TensorType, RawIdsAndNames) {
  ASSERT_TRUE(type_traits(12).has_value());
  EXPECT_EQ(type_traits(12)->type, TensorType::Q4_K);
  EXPECT_EQ(type_traits(39)->name, "mxfp4");
  EXPECT_FALSE(type_traits(3).has_value());  // Q4_1: not supported
  EXPECT_FALSE(type_traits(0xFFFFFFFFu).has_value());
  EXPECT_EQ(type_name(TensorType::Q6_K), "q6_K");
  EXPECT_EQ(parse_type_name("Q4_K"), TensorType::Q4_K);
  EXPECT_EQ(parse_type_name("q5_k"), TensorType::Q5_K);
  EXPECT_EQ(parse_type_name("BF16"), TensorType::BF16);
  EXPECT_FALSE(parse_type_name("q4_1").has_value());
  EXPECT_FALSE(parse_type_name("").has_value());
}

TEST(TensorType, RowBytes) {
  EXPECT_EQ(row_bytes(TensorType::F16, 7), 14);
  EXPECT_EQ(row_bytes(TensorType::Q4_K, 512), 288);
  EXPECT_EQ(row_bytes(TensorType::Q8_0, 64), 68);
  EXPECT_TRUE(is_row_size_valid(TensorType::Q4_0, 0));
  EXPECT_FALSE(is_row_size_valid(TensorType::Q4_0, 33));
  EXPECT_FALSE(is_row_size_valid(TensorType::Q6_K, 128));
  EXPECT_FALSE(is_row_size_valid(TensorType::F32, -1));
  EXPECT_FALSE(is_row_size_valid(TensorType::F32, int64_t{1} << 62));
}

}  // namespace
}  // namespace strata
