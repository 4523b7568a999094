// libFuzzer target for the GGUF reader. Any input must either parse or throw strata::Error; a
// crash, sanitizer report or abort is a finding. For inputs that parse, it also checks the
// reader's promises: every tensor lies inside the input, and whatever the reader accepts the
// writer accepts too (so a file can always be rewritten).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>

#include "common/error.h"
#include "loader/gguf.h"
#include "loader/gguf_writer.h"

namespace {

// Calls every typed getter on `key`; type mismatches are expected to throw Error.
void poke_getters(const strata::Metadata& m, const std::string& key) {
  auto quietly = [](auto&& f) {
    try {
      f();
    } catch (const strata::Error&) {
    }
  };
  quietly([&] { (void)m.get_int(key); });
  quietly([&] { (void)m.get_float(key); });
  quietly([&] { (void)m.get_bool(key); });
  quietly([&] { (void)m.get_string(key); });
  quietly([&] { (void)m.get_string_array(key); });
  quietly([&] { (void)m.get_float_array(key); });
  quietly([&] { (void)m.get_int_array(key); });
}

[[noreturn]] void finding(const char* what, const char* detail) {
  std::fprintf(stderr, "gguf_fuzz: %s: %s\n", what, detail);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<strata::GgufFile> parsed;
  try {
    parsed.emplace(strata::GgufFile::parse(data, size, "fuzz.gguf"));
  } catch (const strata::Error&) {
    return 0;
  }
  const strata::GgufFile& f = *parsed;

  volatile uint8_t sink = 0;
  for (const strata::GgufTensorInfo& t : f.tensors()) {
    if (t.offset < f.data_offset() || t.offset > size || t.nbytes > size - t.offset)
      finding("tensor outside the input", t.name.c_str());
    // First and last byte: ASan reports if the range were not inside the input.
    sink = sink + data[t.offset] + data[t.offset + t.nbytes - 1];
  }
  for (const auto& [key, value] : f.metadata().all()) poke_getters(f.metadata(), key);

  try {
    strata::GgufWriter w;
    w.add_metadata(f.metadata());
    for (const strata::GgufTensorInfo& t : f.tensors()) {
      w.add_tensor(t.name, t.type,
                   std::span<const int64_t>(t.ne.data(), static_cast<size_t>(t.n_dims)));
      if (w.tensor_nbytes(t.name) != t.nbytes) finding("writer disagrees on tensor size", t.name.c_str());
    }
    if (w.alignment() != f.alignment()) finding("writer disagrees on alignment", "");
    (void)w.data_offset();
  } catch (const strata::Error& e) {
    finding("writer rejected what the reader accepted", e.what());
  }
  return 0;
}
