#include "loader/model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/error.h"
#include "loader/architectures.h"
#include "loader/gguf.h"
#include "loader/hf_config.h"
#include "loader/model_parts.h"
#include "loader/safetensors.h"

namespace strata {
namespace fs = std::filesystem;
namespace {

std::string shape_str(const std::array<int64_t, 4>& ne, int n_dims) {
  std::string s = "[";
  for (int i = 0; i < n_dims; ++i) s += fmt::format("{}{}", i ? ", " : "", ne[static_cast<size_t>(i)]);
  return s + "]";
}

// Shapes match when they agree after padding with 1s: HF stores some vectors as [1, n].
bool same_shape(const TensorRef& t, const std::vector<int64_t>& want) {
  for (size_t i = 0; i < 4; ++i) {
    int64_t w = i < want.size() ? want[i] : 1;
    if (t.ne[i] != w) return false;
  }
  return true;
}

bool is_float_type(TensorType t) {
  return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16;
}

const TensorRef** slot(LayerTensors& lt, TensorRole role) {
  switch (role) {
    case TensorRole::AttnNorm: return &lt.attn_norm;
    case TensorRole::Wq: return &lt.wq;
    case TensorRole::Wk: return &lt.wk;
    case TensorRole::Wv: return &lt.wv;
    case TensorRole::Wo: return &lt.wo;
    case TensorRole::Bq: return &lt.bq;
    case TensorRole::Bk: return &lt.bk;
    case TensorRole::Bv: return &lt.bv;
    case TensorRole::Bo: return &lt.bo;
    case TensorRole::QNorm: return &lt.q_norm;
    case TensorRole::KNorm: return &lt.k_norm;
    case TensorRole::AttnSinks: return &lt.attn_sinks;
    case TensorRole::FfnNorm: return &lt.ffn_norm;
    case TensorRole::FfnGate: return &lt.ffn_gate;
    case TensorRole::FfnUp: return &lt.ffn_up;
    case TensorRole::FfnDown: return &lt.ffn_down;
    case TensorRole::Router: return &lt.router;
    case TensorRole::RouterBias: return &lt.router_bias;
    case TensorRole::GateExps: return &lt.gate_exps;
    case TensorRole::UpExps: return &lt.up_exps;
    case TensorRole::DownExps: return &lt.down_exps;
    case TensorRole::GateExpsBias: return &lt.gate_exps_bias;
    case TensorRole::UpExpsBias: return &lt.up_exps_bias;
    case TensorRole::DownExpsBias: return &lt.down_exps_bias;
    case TensorRole::ShexpGate: return &lt.shexp_gate;
    case TensorRole::ShexpUp: return &lt.shexp_up;
    case TensorRole::ShexpDown: return &lt.shexp_down;
    case TensorRole::ShexpGateInp: return &lt.shexp_gate_inp;
    default: return nullptr;
  }
}

int part_of(TensorRole role) {
  switch (role) {
    case TensorRole::GateExps: return 0;
    case TensorRole::UpExps: return 1;
    case TensorRole::DownExps: return 2;
    default: return -1;
  }
}

std::unique_ptr<Model> open_gguf(const std::string& path) {
  GgufFile g = GgufFile::open(path);
  Model::Parts parts;
  parts.path = path;
  parts.meta = g.metadata();
  for (const auto& info : g.tensors()) {
    TensorRef t;
    t.name = info.name;
    t.type = info.type;
    t.n_dims = info.n_dims;
    t.ne = info.ne;
    t.file_index = 0;
    t.file_offset = info.offset;
    t.nbytes = info.nbytes;
    parts.tensors.push_back(std::move(t));
  }
  if (parts.tensors.empty()) {
    fail("'{}' holds no tensors (a vocabulary-only GGUF is not a model)", path);
  }
  parts.files.push_back(g.release_mapping());
  return std::make_unique<Model>(std::move(parts));
}

std::unique_ptr<Model> open_hf(const std::string& dir, std::vector<std::string> shard_paths,
                               const SafetensorsIndex* index, const std::string& path) {
  fs::path config = fs::path(dir) / "config.json";
  if (!fs::exists(config)) fail("no config.json next to safetensors checkpoint '{}'", path);
  HfConfig cfg = read_hf_config(config.string());
  Model::Parts parts;
  parts.path = path;
  parts.hf_dir = dir;
  parts.meta = std::move(cfg.meta);
  parts.hf_layout = true;
  std::set<std::string> seen_hf;
  for (size_t fi = 0; fi < shard_paths.size(); ++fi) {
    SafetensorsFile st = SafetensorsFile::open(shard_paths[fi]);
    for (const auto& t : st.tensors()) {
      seen_hf.insert(t.name);
      auto name = hf_to_gguf_name(t.name);
      if (!name) continue;
      if (t.shape.size() > 4) fail("{}: tensor '{}' has {} dimensions (at most 4 supported)", shard_paths[fi], t.name, t.shape.size());
      TensorRef r;
      r.name = *name;
      r.type = t.type;
      r.n_dims = static_cast<int>(std::max<size_t>(t.shape.size(), 1));
      for (size_t i = 0; i < t.shape.size(); ++i) r.ne[i] = t.shape[t.shape.size() - 1 - i];
      if (r.elements() == 0) fail("{}: tensor '{}' is empty", shard_paths[fi], t.name);
      r.file_index = static_cast<int>(fi);
      r.file_offset = t.offset;
      r.nbytes = t.nbytes;
      parts.tensors.push_back(std::move(r));
    }
    parts.files.push_back(st.release_mapping());
  }
  if (index != nullptr) {
    for (const auto& [name, shard] : index->weight_map) {
      if (!seen_hf.count(name)) fail("tensor '{}' listed in the index is missing from shard '{}'", name, shard);
    }
  }
  return std::make_unique<Model>(std::move(parts));
}

std::unique_ptr<Model> open_hf_dir(const std::string& dir) {
  fs::path d(dir);
  fs::path index_path = d / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    SafetensorsIndex index = read_safetensors_index(index_path.string());
    std::vector<std::string> shards;
    for (const auto& s : index.shards) shards.push_back((d / s).string());
    return open_hf(dir, std::move(shards), &index, dir);
  }
  if (fs::exists(d / "model.safetensors")) return open_hf(dir, {(d / "model.safetensors").string()}, nullptr, dir);
  std::vector<std::string> shards;
  for (const auto& e : fs::directory_iterator(d)) {
    if (e.path().extension() == ".safetensors") shards.push_back(e.path().string());
  }
  if (shards.empty()) {
    if (fs::exists(d / "config.json")) fail("'{}' has a config.json but no .safetensors files", dir);
    fail("'{}' is a directory without a model (no config.json / *.safetensors)", dir);
  }
  std::sort(shards.begin(), shards.end());
  return open_hf(dir, std::move(shards), nullptr, dir);
}

}  // namespace

std::unique_ptr<Model> Model::open(const std::string& path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail("model '{}' does not exist", path);
  if (fs::is_directory(st)) return open_hf_dir(path);
  char magic[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open '{}'", path);
    in.read(magic, 4);
  }
  if (std::memcmp(magic, "GGUF", 4) == 0) return open_gguf(path);
  if (fs::path(path).extension() == ".safetensors") {
    std::string dir = fs::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    return open_hf(dir, {path}, nullptr, path);
  }
  fail("'{}' is neither a GGUF file nor a .safetensors checkpoint", path);
}

Model::Model(Parts&& parts)
    : meta_(std::move(parts.meta)),
      path_(std::move(parts.path)),
      hf_dir_(std::move(parts.hf_dir)),
      files_(std::move(parts.files)),
      tensors_(std::move(parts.tensors)) {
  arch_ = arch_from_metadata(meta_);
  hp_ = hparams_from_metadata(arch_, meta_);
  if (parts.hf_layout && arch_ == Arch::Llama) hp_.rope_order = RopeOrder::Neox;

  for (size_t i = 0; i < tensors_.size(); ++i) {
    TensorRef& t = tensors_[i];
    if (t.file_index < 0 || static_cast<size_t>(t.file_index) >= files_.size()) {
      fail("{}: tensor '{}' refers to a missing file", path_, t.name);
    }
    const MappedFile& f = files_[static_cast<size_t>(t.file_index)];
    if (t.file_offset > f.size() || t.nbytes > f.size() - t.file_offset) {
      fail("{}: tensor '{}' lies outside its file", path_, t.name);
    }
    t.data = f.data() + t.file_offset;
    if (!index_.emplace(t.name, i).second) fail("{}: duplicate tensor '{}'", path_, t.name);
  }

  token_embd_ = find("token_embd.weight");
  if (token_embd_ == nullptr) fail("{}: required tensor 'token_embd.weight' is missing", path_);
  if (token_embd_->ne[2] != 1 || token_embd_->ne[3] != 1 || token_embd_->ne[1] < 1 ||
      token_embd_->ne[1] > (int64_t{1} << 24)) {
    fail("{}: token_embd.weight has an invalid shape {}", path_, shape_str(token_embd_->ne, token_embd_->n_dims));
  }
  hp_.n_vocab = static_cast<int>(token_embd_->ne[1]);
  hp_.tied_embeddings = find("output.weight") == nullptr;

  layers_.resize(static_cast<size_t>(hp_.n_layer));
  const bool split = hp_.n_expert > 0 && find("blk." + std::to_string(hp_.n_leading_dense) +
                                               ".ffn_gate_exps.weight") == nullptr &&
                     find(split_expert_name(hp_.n_leading_dense, 0, ExpertPart::Gate)) != nullptr;
  if (split) {
    // Every per-expert tensor must exist, so the file's tensor count bounds the table; this
    // keeps hostile layer/expert counts from sizing a huge allocation.
    const uint64_t n_moe = static_cast<uint64_t>(hp_.n_layer - hp_.n_leading_dense);
    const uint64_t needed = n_moe * 3 * static_cast<uint64_t>(hp_.n_expert);
    if (needed > tensors_.size()) {
      fail("{}: {} layers x {} experts need {} per-expert tensors but the model has {} tensors", path_, n_moe,
           hp_.n_expert, needed, tensors_.size());
    }
    split_experts_.assign(static_cast<size_t>(hp_.n_layer) * 3 * static_cast<size_t>(hp_.n_expert), nullptr);
  }

  for (const TensorSpec& spec : tensor_specs(arch_, hp_, meta_)) {
    const int part = part_of(spec.role);
    if (split && part >= 0) {
      // One tensor per expert: [cols, rows] of the stacked layout without the expert axis.
      std::vector<int64_t> want(spec.ne.begin(), spec.ne.begin() + 2);
      for (int e = 0; e < hp_.n_expert; ++e) {
        std::string name = split_expert_name(spec.layer, e, static_cast<ExpertPart>(part));
        const TensorRef* t = find(name);
        if (t == nullptr) fail("{}: required tensor '{}' is missing", path_, name);
        if (!same_shape(*t, want)) {
          fail("{}: tensor '{}' has shape {} but {} needs [{}, {}]", path_, name, shape_str(t->ne, t->n_dims),
               arch_name(arch_), want[0], want[1]);
        }
        split_experts_[(static_cast<size_t>(spec.layer) * 3 + static_cast<size_t>(part)) *
                           static_cast<size_t>(hp_.n_expert) + static_cast<size_t>(e)] = t;
      }
      continue;
    }
    const TensorRef* t = find(spec.name);
    if (t == nullptr) {
      if (spec.required) fail("{}: required tensor '{}' is missing ({})", path_, spec.name, arch_name(arch_));
      continue;
    }
    if (!same_shape(*t, spec.ne)) {
      std::array<int64_t, 4> want{1, 1, 1, 1};
      for (size_t i = 0; i < spec.ne.size() && i < 4; ++i) want[i] = spec.ne[i];
      fail("{}: tensor '{}' has shape {} but {} with these hyperparameters needs {}", path_, spec.name,
           shape_str(t->ne, t->n_dims), arch_name(arch_), shape_str(want, static_cast<int>(spec.ne.size())));
    }
    if (spec.is_norm_like && !is_float_type(t->type)) {
      fail("{}: tensor '{}' has type {} but must be F32, F16 or BF16", path_, spec.name, type_name(t->type));
    }
    if (spec.layer < 0) {
      if (spec.role == TensorRole::OutputNorm) output_norm_ = t;
      if (spec.role == TensorRole::Output) output_ = t;
      continue;
    }
    if (const TensorRef** s = slot(layers_[static_cast<size_t>(spec.layer)], spec.role)) *s = t;
  }
  if (output_norm_ == nullptr) fail("{}: required tensor 'output_norm.weight' is missing", path_);
  if (output_ == nullptr) output_ = token_embd_;
}

Model::~Model() = default;

const TensorRef* Model::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

bool Model::layer_has_experts(int layer) const {
  if (layer < 0 || layer >= hp_.n_layer) return false;
  return layer_is_moe(hp_, layer);
}

ExpertSlice Model::expert(int layer, int e, ExpertPart part) const {
  if (layer < 0 || layer >= hp_.n_layer) fail("expert layer {} out of range (model has {} layers)", layer, hp_.n_layer);
  if (!layer_has_experts(layer)) fail("layer {} has no routed experts", layer);
  if (e < 0 || e >= hp_.n_expert) fail("expert {} out of range (model has {} experts)", e, hp_.n_expert);
  const int p = static_cast<int>(part);
  if (p < 0 || p > 2) fail("invalid expert part {}", p);
  ExpertSlice s;
  if (!split_experts_.empty()) {
    const TensorRef* t = split_experts_[(static_cast<size_t>(layer) * 3 + static_cast<size_t>(p)) *
                                            static_cast<size_t>(hp_.n_expert) + static_cast<size_t>(e)];
    s.file_index = t->file_index;
    s.file_offset = t->file_offset;
    s.nbytes = t->nbytes;
    s.type = t->type;
    s.cols = t->ne[0];
    s.rows = t->ne[1];
    s.data = t->data;
    return s;
  }
  const LayerTensors& lt = layers_[static_cast<size_t>(layer)];
  const TensorRef* t = p == 0 ? lt.gate_exps : p == 1 ? lt.up_exps : lt.down_exps;
  STRATA_CHECK(t != nullptr);
  const uint64_t slice = static_cast<uint64_t>(row_bytes(t->type, t->ne[0])) * static_cast<uint64_t>(t->ne[1]);
  s.file_index = t->file_index;
  s.file_offset = t->file_offset + slice * static_cast<uint64_t>(e);
  s.nbytes = slice;
  s.type = t->type;
  s.cols = t->ne[0];
  s.rows = t->ne[1];
  s.data = t->data + slice * static_cast<uint64_t>(e);
  return s;
}

namespace {
SizeReport report_of(const Model& m) {
  std::vector<TensorSize> sizes;
  sizes.reserve(m.tensors().size());
  for (const auto& t : m.tensors()) {
    TensorSize s;
    s.role = role_of_name(t.name, &s.layer);
    s.elements = t.elements();
    s.nbytes = t.nbytes;
    s.row_elements = t.ne[0];
    s.rows = t.rows();
    sizes.push_back(s);
  }
  return compute_size(m.hparams(), sizes);
}
}  // namespace

uint64_t Model::total_bytes() const { return report_of(*this).total_bytes; }
uint64_t Model::expert_bytes() const { return report_of(*this).expert_bytes; }
uint64_t Model::active_bytes_per_token() const { return report_of(*this).active_bytes; }
uint64_t Model::total_params() const { return report_of(*this).total_params; }
uint64_t Model::active_params() const { return report_of(*this).active_params; }

uint64_t Model::bytes_per_expert(int layer) const {
  if (layer < 0 || layer >= hp_.n_layer) fail("layer {} out of range (model has {} layers)", layer, hp_.n_layer);
  if (!layer_has_experts(layer)) return 0;
  uint64_t sum = 0;
  for (int p = 0; p < 3; ++p) sum += expert(layer, 0, static_cast<ExpertPart>(p)).nbytes;
  return sum;
}

}  // namespace strata
