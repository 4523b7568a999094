// `strata tokenize (-m MODEL | --vocab FILE_OR_DIR) [--ids-only] [--no-special] (TEXT | -f FILE)`:
// the token ids of a text, with the piece each id stands for.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "common/error.h"
#include "common/read_file.h"
#include "loader/model.h"
#include "loader/tokenizer/tokenizer.h"

namespace strata::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string vocab;
  std::string text;
  std::string file;
  bool ids_only = false;
  bool no_special = false;
};

// A piece shown between quotes on one line: control and non-UTF-8 bytes escaped.
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else if (c == '\'') out += "\\'";
    else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return out;
}

int run_tokenize(const TokenizeArgs& a) {
  std::unique_ptr<Tokenizer> tok;
  if (!a.model.empty()) {
    tok = Tokenizer::for_model(*Model::open(a.model));
  } else {
    tok = Tokenizer::from_path(a.vocab);
  }
  const std::string text = a.file.empty() ? a.text : read_whole_file(a.file);
  const bool special = !a.no_special;
  const std::vector<int32_t> ids = tok->encode(text, special, special);
  if (a.ids_only) {
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) line += fmt::format("{}{}", i ? " " : "", ids[i]);
    std::printf("%s\n", line.c_str());
    return 0;
  }
  for (int32_t id : ids) {
    std::printf("%8d -> '%s'\n", id, printable(tok->piece(id)).c_str());
  }
  std::printf("%zu tokens\n", ids.size());
  return 0;
}

const Registration kTokenize{
    "tokenize", "Show the token ids (and pieces) of a text",
    [](CLI::App& app) -> Runner {
      auto a = std::make_shared<TokenizeArgs>();
      auto* model = app.add_option("-m,--model", a->model, "Model: GGUF file or safetensors directory");
      auto* vocab = app.add_option("--vocab", a->vocab, "Vocabulary: a (vocab-only) GGUF file or an HF directory "
                                                         "with tokenizer.json");
      model->excludes(vocab);
      auto* text = app.add_option("text", a->text, "Text to tokenize");
      auto* file = app.add_option("-f,--file", a->file, "Read the text from this file");
      text->excludes(file);
      app.add_flag("--ids-only", a->ids_only, "Print only the ids, space-separated on one line");
      app.add_flag("--no-special", a->no_special,
                   "Add no BOS/EOS and treat special-token text (<|im_start|>) as plain text");
      return [a, model, vocab, text, file] {
        if (model->count() == 0 && vocab->count() == 0) fail("tokenize needs -m MODEL or --vocab FILE_OR_DIR");
        if (text->count() == 0 && file->count() == 0) fail("tokenize needs a TEXT argument or -f FILE");
        return run_tokenize(*a);
      };
    }};

}  // namespace
}  // namespace strata::cli
