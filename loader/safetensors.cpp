#include "loader/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace strata {
namespace {

// A header larger than this is not a real checkpoint (HF caps it at 100 MB as well); refusing it
// keeps a hostile length from driving a huge JSON parse.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

bool dtype_from_name(std::string_view s, TensorType* out) {
  if (s == "F32") *out = TensorType::F32;
  else if (s == "F16") *out = TensorType::F16;
  else if (s == "BF16") *out = TensorType::BF16;
  else return false;
  return true;
}

uint64_t dtype_size(TensorType t) { return t == TensorType::F32 ? 4 : 2; }

}  // namespace

const char* safetensors_dtype_name(TensorType type) {
  switch (type) {
    case TensorType::F32: return "F32";
    case TensorType::F16: return "F16";
    case TensorType::BF16: return "BF16";
    default: fail("safetensors cannot store tensor type {}", type_name(type));
  }
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto mapping = std::make_unique<MappedFile>(path);
  SafetensorsFile f = parse(mapping->data(), mapping->size(), path);
  f.mapping_ = std::move(mapping);
  return f;
}

MappedFile SafetensorsFile::release_mapping() {
  if (!mapping_) fail("{}: no file mapping to release", name_);
  MappedFile m = std::move(*mapping_);
  mapping_.reset();
  return m;
}

SafetensorsFile SafetensorsFile::parse(const uint8_t* data, uint64_t size, std::string name) {
  SafetensorsFile f;
  f.name_ = std::move(name);
  const std::string& n = f.name_;
  if (size < 8) fail("{}: not a safetensors file (only {} bytes)", n, size);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
  if (header_len > size - 8) {
    fail("{}: safetensors header length {} exceeds the file size {}", n, header_len, size);
  }
  if (header_len > kMaxHeaderBytes) fail("{}: safetensors header too large ({} bytes)", n, header_len);
  f.data_offset_ = 8 + header_len;
  const uint64_t data_size = size - f.data_offset_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed safetensors header: {}", n, e.what());
  }
  if (!header.is_object()) fail("{}: safetensors header is not a JSON object", n);

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) fail("{}: __metadata__ is not an object", n);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail("{}: __metadata__ value '{}' is not a string", n, m.key());
        f.user_meta_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail("{}: tensor '{}': entry is not an object", n, key);
    SafetensorsTensor t;
    t.name = key;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) fail("{}: tensor '{}': missing dtype", n, key);
    if (!dtype_from_name(dt->get<std::string>(), &t.type)) {
      fail("{}: tensor '{}': unsupported dtype '{}' (supported: F32, F16, BF16)", n, key,
           dt->get<std::string>());
    }
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) fail("{}: tensor '{}': missing shape", n, key);
    if (sh->size() > 8) fail("{}: tensor '{}': {} dimensions", n, key, sh->size());
    uint64_t elems = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) fail("{}: tensor '{}': shape entries must be non-negative integers", n, key);
      uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 48) || (dim != 0 && elems > (uint64_t{1} << 60) / dim)) {
        fail("{}: tensor '{}': shape too large", n, key);
      }
      elems *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      fail("{}: tensor '{}': data_offsets must be [begin, end]", n, key);
    }
    uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      fail("{}: tensor '{}': data [{}, {}) lies outside the data section ({} bytes)", n, key, begin,
           end, data_size);
    }
    if (end - begin != elems * dtype_size(t.type)) {
      fail("{}: tensor '{}': {} bytes of data but shape and dtype need {}", n, key, end - begin,
           elems * dtype_size(t.type));
    }
    t.offset = f.data_offset_ + begin;
    t.nbytes = end - begin;
    f.tensors_.push_back(std::move(t));
  }
  std::sort(f.tensors_.begin(), f.tensors_.end(),
            [](const auto& a, const auto& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < f.tensors_.size(); ++i) {
    const auto& a = f.tensors_[i - 1];
    const auto& b = f.tensors_[i];
    if (a.offset + a.nbytes > b.offset) fail("{}: tensors '{}' and '{}' overlap", n, a.name, b.name);
  }
  return f;
}

SafetensorsIndex read_safetensors_index(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open '{}': {}", path, std::strerror(errno));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed JSON: {}", path, e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    fail("{}: missing \"weight_map\" object", path);
  }
  SafetensorsIndex idx;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) fail("{}: weight_map entry '{}' is not a string", path, it.key());
    std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
      fail("{}: shard name '{}' must be a plain file name", path, shard);
    }
    if (std::find(idx.shards.begin(), idx.shards.end(), shard) == idx.shards.end()) {
      idx.shards.push_back(shard);
    }
    idx.weight_map[it.key()] = shard;
  }
  if (idx.shards.empty()) fail("{}: weight_map is empty", path);
  return idx;
}

// ---- writer ----

SafetensorsWriter::~SafetensorsWriter() {
  if (out_ != nullptr) std::fclose(out_);
}

void SafetensorsWriter::add_tensor(std::string name, TensorType type, std::vector<int64_t> shape) {
  if (begun_) fail("safetensors writer: add_tensor('{}') after begin()", name);
  safetensors_dtype_name(type);
  for (const auto& e : entries_) {
    if (e.name == name) fail("safetensors writer: duplicate tensor '{}'", name);
  }
  uint64_t elems = 1;
  for (auto d : shape) {
    if (d <= 0) fail("safetensors writer: tensor '{}' has a non-positive dimension", name);
    elems *= static_cast<uint64_t>(d);
  }
  Entry e{std::move(name), type, std::move(shape)};
  e.begin = data_bytes_;
  e.end = data_bytes_ + elems * dtype_size(type);
  data_bytes_ = e.end;
  entries_.push_back(std::move(e));
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  if (begun_) fail("safetensors writer: set_metadata after begin()");
  user_meta_[std::move(key)] = std::move(value);
}

void SafetensorsWriter::begin(const std::string& path) {
  if (begun_) fail("safetensors writer: begin() called twice");
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!user_meta_.empty()) h["__metadata__"] = user_meta_;
  for (const auto& e : entries_) {
    h[e.name] = {{"dtype", safetensors_dtype_name(e.type)}, {"shape", e.shape},
                 {"data_offsets", {e.begin, e.end}}};
  }
  header_ = h.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as HF's writer does.
  while ((header_.size() % 8) != 0) header_ += ' ';
  path_ = path;
  out_ = std::fopen(path.c_str(), "wb");
  if (out_ == nullptr) fail("cannot create '{}': {}", path, std::strerror(errno));
  begun_ = true;
  uint8_t len[8];
  uint64_t n = header_.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  if (std::fwrite(len, 1, 8, out_) != 8 || std::fwrite(header_.data(), 1, n, out_) != n) {
    fail("cannot write '{}': {}", path_, std::strerror(errno));
  }
}

void SafetensorsWriter::write_tensor_data(std::string_view name, const void* bytes, uint64_t n) {
  if (!begun_ || out_ == nullptr) fail("safetensors writer: write before begin()");
  while (cur_ < entries_.size() && cur_written_ == entries_[cur_].end - entries_[cur_].begin &&
         entries_[cur_].name != name) {
    ++cur_;
    cur_written_ = 0;
  }
  if (cur_ >= entries_.size() || entries_[cur_].name != name) {
    fail("safetensors writer: tensor '{}' written out of order", name);
  }
  const auto& e = entries_[cur_];
  if (cur_written_ + n > e.end - e.begin) fail("safetensors writer: too many bytes for '{}'", name);
  if (n != 0 && std::fwrite(bytes, 1, n, out_) != n) {
    fail("cannot write '{}': {}", path_, std::strerror(errno));
  }
  cur_written_ += n;
}

void SafetensorsWriter::finish() {
  if (!begun_ || out_ == nullptr) fail("safetensors writer: finish before begin()");
  bool complete = entries_.empty() ||
                  (cur_ == entries_.size() - 1 &&
                   cur_written_ == entries_.back().end - entries_.back().begin);
  if (!complete) fail("safetensors writer: not every tensor of '{}' was written", path_);
  int rc = std::fclose(out_);
  out_ = nullptr;
  if (rc != 0) fail("cannot write '{}': {}", path_, std::strerror(errno));
}

uint64_t SafetensorsWriter::file_size() const {
  if (begun_) return 8 + header_.size() + data_bytes_;
  fail("safetensors writer: file_size() is known after begin()");
}

}  // namespace strata
