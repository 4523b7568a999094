// Tokenizer from GGUF metadata (`tokenizer.ggml.*`), and the model / path entry points.
#include <cctype>
#include <filesystem>

#include "common/error.h"
#include "loader/gguf.h"
#include "loader/model.h"
#include "loader/tokenizer/tokenizer.h"

namespace strata {
namespace {

std::optional<int32_t> special_id(const Metadata& m, const char* key, size_t n_vocab) {
  const auto v = m.get_int(key);
  // llama.cpp ignores an id outside the vocabulary rather than refusing the model; so do we.
  if (!v || *v < 0 || static_cast<uint64_t>(*v) >= n_vocab) return std::nullopt;
  return static_cast<int32_t>(*v);
}

TokenKind kind_from_gguf(int64_t t) {
  switch (t) {
    case 1: return TokenKind::Normal;
    case 2: return TokenKind::Unknown;
    case 3: return TokenKind::Control;
    case 4: return TokenKind::UserDefined;
    case 5: return TokenKind::Unused;
    case 6: return TokenKind::Byte;
    default: return TokenKind::Unused;  // undefined types are suppressed like llama.cpp does
  }
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_metadata(const Metadata& m) {
  Vocab v;
  v.source = "GGUF tokenizer";
  const auto model = m.get_string("tokenizer.ggml.model");
  if (!model) fail("metadata has no 'tokenizer.ggml.model': the file carries no tokenizer");
  if (*model == "gpt2") {
    v.type = VocabType::Bpe;
  } else if (*model == "llama") {
    v.type = VocabType::Spm;
  } else {
    fail("tokenizer model '{}' is not supported (supported: gpt2 = byte-level BPE, llama = SentencePiece)",
         *model);
  }

  auto texts = m.get_string_array("tokenizer.ggml.tokens");
  if (!texts) fail("metadata has no 'tokenizer.ggml.tokens'");
  const size_t n = texts->size();
  if (n == 0) fail("metadata 'tokenizer.ggml.tokens' is empty");
  const auto scores = m.get_float_array("tokenizer.ggml.scores");
  if (scores && scores->size() < n) {
    fail("metadata 'tokenizer.ggml.scores' has {} entries for {} tokens", scores->size(), n);
  }
  const auto types = m.get_int_array("tokenizer.ggml.token_type");
  if (types && types->size() < n) {
    fail("metadata 'tokenizer.ggml.token_type' has {} entries for {} tokens", types->size(), n);
  }
  v.tokens.resize(n);
  for (size_t i = 0; i < n; ++i) {
    VocabToken& t = v.tokens[i];
    t.text = std::move((*texts)[i]);
    if (scores) t.score = static_cast<float>((*scores)[i]);
    if (types) t.kind = kind_from_gguf((*types)[i]);
  }

  if (v.type == VocabType::Bpe) {
    const auto merges = m.get_string_array("tokenizer.ggml.merges");
    if (!merges) fail("metadata has no 'tokenizer.ggml.merges' (required by a gpt2 tokenizer)");
    v.merges.reserve(merges->size());
    for (const std::string& s : *merges) {
      // The first part may itself be a space character's token, so split at a later space.
      const size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
      if (sp == std::string::npos) fail("metadata 'tokenizer.ggml.merges': entry '{}' is not 'left right'", s);
      v.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    }
    const std::string pre = m.get_string("tokenizer.ggml.pre").value_or("default");
    const auto family = pre_tokenizer_from_name(pre);
    if (!family) fail("pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported", pre);
    v.pre = *family;
    v.ignore_merges = v.pre == PreTokenizer::Llama3;
    v.add_bos = v.pre == PreTokenizer::Llama3;
  } else {
    v.add_bos = true;
    v.add_space_prefix = m.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  }

  v.bos = special_id(m, "tokenizer.ggml.bos_token_id", n);
  v.eos = special_id(m, "tokenizer.ggml.eos_token_id", n);
  v.eot = special_id(m, "tokenizer.ggml.eot_token_id", n);
  v.eom = special_id(m, "tokenizer.ggml.eom_token_id", n);
  v.unk = special_id(m, "tokenizer.ggml.unknown_token_id", n);
  v.pad = special_id(m, "tokenizer.ggml.padding_token_id", n);
  if (v.type == VocabType::Spm) {
    // SentencePiece's fixed ids, when the file does not name them.
    if (!m.has("tokenizer.ggml.bos_token_id") && n > 1) v.bos = 1;
    if (!m.has("tokenizer.ggml.eos_token_id") && n > 2) v.eos = 2;
    if (!m.has("tokenizer.ggml.unknown_token_id")) v.unk = 0;
  }
  v.add_bos = m.get_bool("tokenizer.ggml.add_bos_token").value_or(v.add_bos) && v.bos.has_value();
  v.add_eos = m.get_bool("tokenizer.ggml.add_eos_token").value_or(false) && v.eos.has_value();
  v.chat_template = m.get_string("tokenizer.chat_template");

  // Phi-3's chat tokens swallow the whitespace after them (HF rstrip, which GGUF cannot
  // record); llama.cpp recognises the family by name, and so do we.
  std::string name = m.get_string("general.name").value_or("");
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (VocabToken& t : v.tokens) {
      const bool literal = t.kind == TokenKind::Control || t.kind == TokenKind::UserDefined ||
                           t.kind == TokenKind::Unknown;
      t.rstrip = (literal || t.text == "</s>") && t.text != "<unk>" && t.text != "<s>" && t.text != "<|endoftext|>";
    }
  }
  return std::make_unique<Tokenizer>(std::move(v));
}

std::unique_ptr<Tokenizer> Tokenizer::for_model(const Model& model) {
  if (!model.hf_dir().empty()) return from_hf_dir(model.hf_dir());
  return from_metadata(model.metadata());
}

std::unique_ptr<Tokenizer> Tokenizer::from_path(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return from_hf_dir(path);
  const GgufFile file = GgufFile::open(path);
  try {
    return from_metadata(file.metadata());
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
}

}  // namespace strata
