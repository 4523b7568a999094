// The reader against files written by gguf-py / llama-quantize (independent implementations):
// every shared golden model and vocab file must parse, with the tensors meta.json lists.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "loader/gguf.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = STRATA_SHARED_DIR;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<fs::path> golden_dirs() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kShared / "golden")) {
    if (e.is_directory() && fs::exists(e.path() / "model.gguf")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(GgufGolden, EveryGoldenModelParsesWithTheListedTensors) {
  const std::vector<fs::path> dirs = golden_dirs();
  ASSERT_GE(dirs.size(), 13u);
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.string());
    nlohmann::json meta = nlohmann::json::parse(std::ifstream(dir / "meta.json"));
    const GgufFile f = GgufFile::open((dir / "model.gguf").string());
    EXPECT_EQ(f.version(), 3u);
    EXPECT_TRUE(f.has_mapping());
    EXPECT_EQ(f.size(), fs::file_size(dir / "model.gguf"));
    EXPECT_EQ(f.data_offset() % f.alignment(), 0u);

    const auto& types = meta.at("tensor_types");
    ASSERT_EQ(f.tensors().size(), types.size());
    for (const auto& [name, type] : types.items()) {
      const GgufTensorInfo* t = f.find(name);
      ASSERT_NE(t, nullptr) << name;
      EXPECT_EQ(upper(type_name(t->type)), type.get<std::string>()) << name;
      EXPECT_GE(t->offset, f.data_offset());
      EXPECT_LE(t->offset + t->nbytes, f.size());
      EXPECT_EQ(t->nbytes, static_cast<uint64_t>(row_bytes(t->type, t->ne[0]) * t->ne[1] *
                                                 t->ne[2] * t->ne[3]));
    }

    const auto& dims = meta.at("dims");
    const GgufTensorInfo* embd = f.find("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->n_dims, 2);
    EXPECT_EQ(embd->ne[0], dims.at("n_embd").get<int64_t>());
    EXPECT_EQ(embd->ne[1], dims.at("n_vocab").get<int64_t>());

    const Metadata& md = f.metadata();
    const std::string arch = *md.get_string("general.architecture");
    EXPECT_EQ(arch, meta.at("arch").get<std::string>());
    EXPECT_EQ(md.get_int(arch + ".block_count"), dims.at("n_layer").get<int64_t>());
    EXPECT_EQ(md.get_int(arch + ".embedding_length"), dims.at("n_embd").get<int64_t>());
    const auto tokens = md.get_string_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.has_value());
    EXPECT_EQ(static_cast<int64_t>(tokens->size()), dims.at("n_vocab").get<int64_t>());
    EXPECT_EQ(md.get_string("tokenizer.ggml.model"), "gpt2");
  }
}

TEST(GgufGolden, TensorDataIsReachableThroughTheMapping) {
  const fs::path path = kShared / "golden" / "qwen3moe-f32" / "model.gguf";
  const GgufFile f = GgufFile::open(path.string());
  const GgufTensorInfo* norm = f.find("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  ASSERT_EQ(norm->type, TensorType::F32);
  // Read the same bytes independently of the mapping.
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(norm->offset));
  std::vector<char> expect(norm->nbytes);
  in.read(expect.data(), static_cast<std::streamsize>(expect.size()));
  ASSERT_TRUE(in.good());
  EXPECT_EQ(std::memcmp(f.data() + norm->offset, expect.data(), expect.size()), 0);
}

TEST(GgufGolden, ReleaseMappingHandsTheBytesOver) {
  const fs::path path = kShared / "golden" / "qwen3-f32" / "model.gguf";
  GgufFile f = GgufFile::open(path.string());
  const uint8_t* base = f.data();
  const uint64_t size = f.size();
  MappedFile m = f.release_mapping();
  EXPECT_EQ(m.data(), base);
  EXPECT_EQ(m.size(), size);
  EXPECT_EQ(f.data(), nullptr);
  EXPECT_FALSE(f.has_mapping());
  EXPECT_NE(f.find("token_embd.weight"), nullptr);  // infos outlive the mapping
  EXPECT_THROW(f.release_mapping(), Error);
}

TEST(GgufGolden, EveryVocabFileParses) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(kShared / "vocab")) {
    if (e.path().extension() != ".gguf") continue;
    SCOPED_TRACE(e.path().string());
    const GgufFile f = GgufFile::open(e.path().string());
    const auto tokens = f.metadata().get_string_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.has_value());
    EXPECT_GT(tokens->size(), 1000u);
    EXPECT_TRUE(f.metadata().get_string("tokenizer.ggml.model").has_value());
    const auto types = f.metadata().get_int_array("tokenizer.ggml.token_type");
    if (types) {
      EXPECT_EQ(types->size(), tokens->size());
    }
    ++n;
  }
  EXPECT_GE(n, 6);
}

TEST(GgufGolden, MissingFileNamesThePath) {
  try {
    GgufFile::open("/nonexistent/dir/model.gguf");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace strata
