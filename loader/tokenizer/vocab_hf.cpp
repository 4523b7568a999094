// Tokenizer from an HF directory: tokenizer.json (+ tokenizer_config.json).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "common/error.h"
#include "loader/tokenizer/tokenizer.h"

namespace strata {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
}

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return (it == j.end() || it->is_null()) ? nullptr : &*it;
}

// A special token in tokenizer_config.json is a string or {"content": string, ...}.
std::optional<std::string> token_string(const json& cfg, const char* key) {
  const json* t = member(cfg, key);
  if (t == nullptr) return std::nullopt;
  if (t->is_string()) return t->get<std::string>();
  if (const json* c = member(*t, "content"); c != nullptr && c->is_string()) return c->get<std::string>();
  return std::nullopt;
}

// The regexes the pre-tokenizer applies, in order; fails for steps strata does not implement.
void collect_patterns(const json& pre, const std::string& file, std::vector<std::string>& out) {
  const json* type = member(pre, "type");
  if (type == nullptr || !type->is_string()) fail("{}: pre_tokenizer without a type", file);
  const std::string t = type->get<std::string>();
  if (t == "Sequence") {
    const json* steps = member(pre, "pretokenizers");
    if (steps == nullptr || !steps->is_array()) fail("{}: Sequence pre_tokenizer without pretokenizers", file);
    for (const json& step : *steps) collect_patterns(step, file, out);
  } else if (t == "Split") {
    const json* pattern = member(pre, "pattern");
    const json* regex = pattern != nullptr ? member(*pattern, "Regex") : nullptr;
    if (regex == nullptr || !regex->is_string()) fail("{}: Split pre_tokenizer without a Regex pattern", file);
    const json* behavior = member(pre, "behavior");
    const json* invert = member(pre, "invert");
    if ((behavior != nullptr && *behavior != "Isolated") || (invert != nullptr && *invert == true)) {
      fail("{}: Split pre_tokenizer with behavior {} / invert {} is not supported", file,
           behavior != nullptr ? behavior->dump() : "?", invert != nullptr ? invert->dump() : "false");
    }
    out.push_back(regex->get<std::string>());
  } else if (t == "ByteLevel") {
    const json* prefix = member(pre, "add_prefix_space");
    if (prefix != nullptr && *prefix == true) fail("{}: ByteLevel add_prefix_space is not supported", file);
    const json* use_regex = member(pre, "use_regex");
    if (use_regex == nullptr || *use_regex == true) out.push_back(kHfByteLevelPattern);
  } else {
    fail("{}: pre_tokenizer type '{}' is not supported", file, t);
  }
}

bool contains_byte_level(const json& j) {
  if (const json* type = member(j, "type"); type != nullptr && *type == "ByteLevel") return true;
  if (const json* steps = member(j, "pretokenizers"); steps != nullptr && steps->is_array()) {
    for (const json& s : *steps) {
      if (contains_byte_level(s)) return true;
    }
  }
  return false;
}

// GPT-2 style: a ByteLevel step, and Split regexes that name one of our pre-tokenizers.
void configure_byte_level(const json& j, const std::string& file, Vocab& v) {
  const json* pre = member(j, "pre_tokenizer");
  if (pre == nullptr || !contains_byte_level(*pre)) {
    fail("{}: a BPE tokenizer needs a ByteLevel pre_tokenizer, or byte_fallback (SentencePiece style)", file);
  }
  if (const json* norm = member(j, "normalizer"); norm != nullptr) {
    const json* nt = member(*norm, "type");
    if (nt == nullptr || *nt != "NFC") fail("{}: normalizer {} is not supported", file, norm->dump());
    v.nfc = true;
  }
  v.type = VocabType::Bpe;
  std::vector<std::string> patterns;
  collect_patterns(*pre, file, patterns);
  const auto family = pre_tokenizer_from_hf_patterns(patterns);
  if (!family) {
    fail("{}: the pre-tokenizer pattern is not one strata implements (qwen2, llama3, gpt-4o, deepseek-v3, "
         "gpt-2): {}",
         file, json(patterns).dump());
  }
  v.pre = *family;
}

// SentencePiece converted to tokenizers' BPE (Mistral, Mixtral): spaces become "▁" (a Replace
// normalizer or a Metaspace pre-tokenizer), one "▁" goes in front of the text (Prepend, or
// Metaspace's prepend scheme), unknown characters fall back to <0xXX> byte tokens.
void configure_sentencepiece(const json& j, const std::string& file, Vocab& v) {
  v.type = VocabType::Spm;
  bool replaces_space = false;
  bool prepends = false;
  const auto is_space_marker = [](const json* s) { return s != nullptr && *s == "\xE2\x96\x81"; };
  if (const json* norm = member(j, "normalizer"); norm != nullptr) {
    std::vector<const json*> steps;
    if (const json* list = member(*norm, "normalizers"); list != nullptr && list->is_array()) {
      for (const json& n : *list) steps.push_back(&n);
    } else {
      steps.push_back(norm);
    }
    for (const json* n : steps) {
      const json* t = member(*n, "type");
      if (t != nullptr && *t == "Prepend" && is_space_marker(member(*n, "prepend"))) {
        prepends = true;
      } else if (t != nullptr && *t == "Replace" && is_space_marker(member(*n, "content")) &&
                 member(*n, "pattern") != nullptr && (*n)["pattern"].value("String", "") == " ") {
        replaces_space = true;
      } else {
        fail("{}: normalizer step {} is not supported", file, n->dump());
      }
    }
  }
  if (const json* pre = member(j, "pre_tokenizer"); pre != nullptr) {
    const json* t = member(*pre, "type");
    if (t == nullptr || *t != "Metaspace" || !is_space_marker(member(*pre, "replacement"))) {
      fail("{}: pre_tokenizer {} is not supported with byte_fallback", file, pre->dump());
    }
    replaces_space = true;
    const json* scheme = member(*pre, "prepend_scheme");
    const json* add_prefix = member(*pre, "add_prefix_space");
    prepends = prepends || (scheme != nullptr ? *scheme != "never" : (add_prefix == nullptr || *add_prefix == true));
    v.space_prefix_at_start_only = scheme != nullptr && *scheme == "first";
  }
  if (!replaces_space) fail("{}: byte_fallback BPE that does not turn spaces into \u2581 is not supported", file);
  v.add_space_prefix = prepends;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf_dir(const std::string& dir) {
  const fs::path tok_path = fs::path(dir) / "tokenizer.json";
  const std::string file = tok_path.string();
  std::error_code ec;
  if (!fs::is_regular_file(tok_path, ec)) fail("{}: no tokenizer.json in this directory", dir);
  const json j = read_json(tok_path);

  const json* model = member(j, "model");
  if (model == nullptr || !model->is_object()) fail("{}: no model section", file);
  const json* type = member(*model, "type");
  if (type == nullptr || *type != "BPE") {
    fail("{}: tokenizer model {} is not supported (only BPE)", file, type != nullptr ? type->dump() : "(none)");
  }
  Vocab v;
  v.source = file;
  const json* byte_fallback = member(*model, "byte_fallback");
  if (byte_fallback != nullptr && *byte_fallback == true) {
    configure_sentencepiece(j, file, v);
  } else {
    configure_byte_level(j, file, v);
  }
  if (const json* im = member(*model, "ignore_merges"); im != nullptr && im->is_boolean()) {
    v.ignore_merges = im->get<bool>();
  }

  const json* vocab = member(*model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) fail("{}: model.vocab is not an object", file);
  const json* added = member(j, "added_tokens");
  if (added != nullptr && !added->is_array()) fail("{}: added_tokens is not an array", file);
  const size_t n_entries = vocab->size() + (added != nullptr ? added->size() : 0);
  // Ids may leave gaps, but a vocabulary far larger than its entries is a corrupt file that
  // would only make us allocate.
  const int64_t max_id = static_cast<int64_t>(n_entries) * 2 + 1024;
  const auto check_id = [&](const json& id, std::string_view what) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > max_id) {
      fail("{}: {} has a bad id {}", file, what, id.dump());
    }
    return static_cast<size_t>(id.get<int64_t>());
  };
  const auto slot = [&](size_t id) -> VocabToken& {
    if (id >= v.tokens.size()) v.tokens.resize(id + 1, VocabToken{"", 0.0f, TokenKind::Unused});
    return v.tokens[id];
  };
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    VocabToken& t = slot(check_id(it.value(), it.key()));
    t.text = it.key();
    t.kind = TokenKind::Normal;
  }
  if (added != nullptr) {
    for (const json& a : *added) {
      const json* id = member(a, "id");
      const json* content = member(a, "content");
      if (id == nullptr || content == nullptr || !content->is_string()) {
        fail("{}: added token without id or content: {}", file, a.dump());
      }
      VocabToken& t = slot(check_id(*id, "added token"));
      t.text = content->get<std::string>();
      const json* special = member(a, "special");
      t.kind = (special != nullptr && *special == true) ? TokenKind::Control : TokenKind::UserDefined;
      const json* lstrip = member(a, "lstrip");
      const json* rstrip = member(a, "rstrip");
      t.lstrip = lstrip != nullptr && *lstrip == true;
      t.rstrip = rstrip != nullptr && *rstrip == true;
    }
  }

  const json* merges = member(*model, "merges");
  if (merges == nullptr || !merges->is_array()) fail("{}: model.merges is not an array", file);
  v.merges.reserve(merges->size());
  for (const json& m : *merges) {
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
      if (sp == std::string::npos) fail("{}: merge '{}' is not 'left right'", file, s);
      v.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      v.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail("{}: merge {} is neither 'left right' nor [left, right]", file, m.dump());
    }
  }

  if (v.type == VocabType::Spm) {
    // SentencePiece merges by piece score; tokenizers' conversion lists the merges in order of
    // the merged piece's score, so the first rank producing a piece orders it the same way.
    std::unordered_map<std::string, size_t> index;
    index.reserve(v.tokens.size());
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      VocabToken& t = v.tokens[i];
      t.score = -1e30f;  // pieces no merge produces come last
      if (t.kind == TokenKind::Normal && t.text.size() == 6 && t.text.compare(0, 3, "<0x") == 0 && t.text[5] == '>') {
        t.kind = TokenKind::Byte;
      }
      index.emplace(t.text, i);
    }
    for (size_t r = v.merges.size(); r-- > 0;) {
      auto it = index.find(v.merges[r].first + v.merges[r].second);
      if (it != index.end()) v.tokens[it->second].score = -static_cast<float>(r);
    }
    v.merges.clear();
  }

  const auto id_of = [&](const std::string& text) -> std::optional<int32_t> {
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      if (v.tokens[i].kind != TokenKind::Unused && v.tokens[i].text == text) return static_cast<int32_t>(i);
    }
    return std::nullopt;
  };

  // Llama 3 style tokenizers add BOS through a TemplateProcessing post-processor.
  std::optional<bool> add_bos;
  if (const json* post = member(j, "post_processor"); post != nullptr) {
    const json* single = member(*post, "single");
    if (member(*post, "type") != nullptr && (*post)["type"] == "TemplateProcessing" && single != nullptr &&
        single->is_array() && !single->empty()) {
      const json* first = member((*single)[0], "SpecialToken");
      if (first != nullptr) {
        add_bos = true;
        if (const json* fid = member(*first, "id"); fid != nullptr && fid->is_string()) {
          v.bos = id_of(fid->get<std::string>());
        }
      }
    }
  }

  const fs::path cfg_path = fs::path(dir) / "tokenizer_config.json";
  json cfg = json::object();
  if (fs::is_regular_file(cfg_path, ec)) cfg = read_json(cfg_path);
  const auto named = [&](const char* key) -> std::optional<int32_t> {
    const auto s = token_string(cfg, key);
    return s ? id_of(*s) : std::nullopt;
  };
  if (auto b = named("bos_token")) v.bos = b;
  v.eos = named("eos_token");
  v.unk = named("unk_token");
  if (const json* unk = member(*model, "unk_token"); unk != nullptr && unk->is_string()) {
    if (auto id = id_of(unk->get<std::string>())) v.unk = id;
  }
  v.pad = named("pad_token");
  if (const json* ab = member(cfg, "add_bos_token"); ab != nullptr && ab->is_boolean()) add_bos = ab->get<bool>();
  // llama.cpp adds BOS for the Llama 3 family whatever the HF files say.
  v.add_bos = add_bos.value_or(v.pre == PreTokenizer::Llama3) && v.bos.has_value();
  if (const json* ae = member(cfg, "add_eos_token"); ae != nullptr && ae->is_boolean()) {
    v.add_eos = ae->get<bool>() && v.eos.has_value();
  }
  if (const json* tmpl = member(cfg, "chat_template"); tmpl != nullptr) {
    if (tmpl->is_string()) {
      v.chat_template = tmpl->get<std::string>();
    } else if (tmpl->is_array()) {
      // Several named templates: the "default" one is the chat template.
      for (const json& t : *tmpl) {
        const json* name = member(t, "name");
        const json* body = member(t, "template");
        if (name != nullptr && *name == "default" && body != nullptr && body->is_string()) {
          v.chat_template = body->get<std::string>();
        }
      }
    }
  }
  return std::make_unique<Tokenizer>(std::move(v));
}

}  // namespace strata
