#include "loader/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <string>
#include <vector>

#include "common/error.h"
#include "loader/tokenizer/unicode.h"
#include "tests/tokenizer/shared_vocabs.h"

namespace strata {
namespace {

using Ids = std::vector<int32_t>;

// Byte-level vocabulary: ids 0..255 are the bytes, then merged tokens and added tokens.
struct TinyBpe {
  Vocab v;
  int32_t add(std::string text, TokenKind kind = TokenKind::Normal) {
    v.tokens.push_back({std::move(text), 0.0f, kind});
    return static_cast<int32_t>(v.tokens.size() - 1);
  }
  TinyBpe() {
    v.source = "tiny-bpe";
    v.type = VocabType::Bpe;
    v.pre = PreTokenizer::Gpt2;
    for (int b = 0; b < 256; ++b) add(std::string(unicode::byte_to_utf8(static_cast<uint8_t>(b))));
  }
};

TEST(Tokenizer, BpeMergesLowestRankFirst) {
  TinyBpe t;
  const int32_t ll = t.add("ll"), he = t.add("he"), hell = t.add("hell"), hello = t.add("hello");
  t.v.merges = {{"l", "l"}, {"h", "e"}, {"he", "ll"}, {"hell", "o"}, {"e", "l"}};
  Tokenizer tok(std::move(t.v));
  EXPECT_EQ(tok.encode("hello", false, false), (Ids{hello}));
  EXPECT_EQ(tok.encode("hellhe", false, false), (Ids{hell, he}));
  // "e l" ranks after "l l", so "ell" keeps "e" alone.
  EXPECT_EQ(tok.encode("ell", false, false), (Ids{'e', ll}));
  EXPECT_EQ(tok.decode(tok.encode("hello hell", false, false), false), "hello hell");
  // Words longer than the small-word fast path take the heap path; same result.
  std::string long_word;
  for (int i = 0; i < 12; ++i) long_word += "hello";
  EXPECT_EQ(tok.encode(long_word, false, false), Ids(12, hello));
  EXPECT_EQ(tok.encode(long_word + "hell", false, false).back(), hell);
}

TEST(Tokenizer, SpecialTokensAreMatchedLongestFirstAndOnlyWhenAllowed) {
  TinyBpe t;
  const int32_t ctl = t.add("<s>", TokenKind::Control);
  const int32_t user = t.add("<s>x", TokenKind::UserDefined);
  const int32_t tool = t.add("<tool>", TokenKind::UserDefined);
  Tokenizer tok(std::move(t.v));
  EXPECT_EQ(tok.encode("<s>xy", false, true), (Ids{user, 'y'}));
  EXPECT_EQ(tok.encode("<s>y", false, true), (Ids{ctl, 'y'}));
  // Control tokens stay text without parse_special; user-defined ones never do.
  const Ids plain = tok.encode("<s>y", false, false);
  EXPECT_EQ(plain.size(), 4u);
  EXPECT_EQ(tok.encode("a<tool>b", false, false), (Ids{'a', tool, 'b'}));
  EXPECT_EQ(tok.decode(Ids{ctl, 'y'}, false), "y");
  EXPECT_EQ(tok.decode(Ids{ctl, 'y'}, true), "<s>y");
  EXPECT_EQ(tok.decode(Ids{tool}, false), "<tool>");
}

TEST(Tokenizer, LstripAndRstripEatSurroundingWhitespace) {
  TinyBpe t;
  const int32_t mask = t.add("<mask>", TokenKind::Control);
  t.v.tokens[static_cast<size_t>(mask)].lstrip = true;
  t.v.tokens[static_cast<size_t>(mask)].rstrip = true;
  Tokenizer tok(std::move(t.v));
  EXPECT_EQ(tok.encode("a  <mask> \tb", false, true), (Ids{'a', mask, 'b'}));
}

TEST(Tokenizer, AddSpecialAddsBosAndEosAsConfigured) {
  TinyBpe t;
  const int32_t bos = t.add("<bos>", TokenKind::Control), eos = t.add("<eos>", TokenKind::Control);
  t.v.bos = bos;
  t.v.eos = eos;
  t.v.add_bos = true;
  t.v.add_eos = true;
  Tokenizer tok(std::move(t.v));
  EXPECT_EQ(tok.encode("a", true, false), (Ids{bos, 'a', eos}));
  EXPECT_EQ(tok.encode("", true, false), (Ids{bos, eos}));
  EXPECT_EQ(tok.encode("a", false, false), (Ids{'a'}));
  EXPECT_TRUE(tok.is_eog(eos));
  EXPECT_FALSE(tok.is_eog(bos));
  EXPECT_FALSE(tok.is_eog(-1));
  EXPECT_FALSE(tok.is_eog(1 << 30));
}

TEST(Tokenizer, MissingByteBecomesUnknownToken) {
  TinyBpe t;
  t.v.tokens['z'].text = "[z-removed]";  // the vocabulary cannot spell 'z' any more
  const int32_t unk = t.add("<unk>", TokenKind::Unknown);
  t.v.unk = unk;
  Tokenizer tok(std::move(t.v));
  EXPECT_EQ(tok.encode("aza", false, false), (Ids{'a', unk, 'a'}));
}

TEST(Tokenizer, RejectsInconsistentVocabularies) {
  EXPECT_THROW(Tokenizer(Vocab{}), Error);
  TinyBpe t;
  t.v.bos = 100000;
  EXPECT_THROW(Tokenizer(std::move(t.v)), Error);
  TinyBpe u;
  u.v.add_eos = true;  // but no EOS token
  EXPECT_THROW(Tokenizer(std::move(u.v)), Error);
}

// SentencePiece: "▁" for spaces, merges by score, byte fallback.
Tokenizer tiny_spm() {
  Vocab v;
  v.source = "tiny-spm";
  v.type = VocabType::Spm;
  v.add_space_prefix = true;
  v.add_bos = true;
  v.tokens.push_back({"<unk>", 0, TokenKind::Unknown});
  v.tokens.push_back({"<s>", 0, TokenKind::Control});
  v.tokens.push_back({"</s>", 0, TokenKind::Control});
  const char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back({std::string{'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'}, 0, TokenKind::Byte});
  }
  for (const auto& [text, score] : std::vector<std::pair<std::string, float>>{
           {"\xE2\x96\x81", -1}, {"h", -2}, {"i", -2}, {"\xE2\x96\x81h", -3}, {"hi", -1.5f},
           {"\xE2\x96\x81hi", -1}}) {
    v.tokens.push_back({text, score, TokenKind::Normal});
  }
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  return Tokenizer(std::move(v));
}

TEST(Tokenizer, SentencePieceMergesByScoreWithByteFallback) {
  const Tokenizer tok = tiny_spm();
  const int32_t space = *tok.find_token("\xE2\x96\x81");
  const int32_t space_hi = *tok.find_token("\xE2\x96\x81hi");
  const int32_t hi = *tok.find_token("hi");
  EXPECT_EQ(tok.encode("hi", false, false), (Ids{space_hi}));
  EXPECT_EQ(tok.encode("hi", true, false), (Ids{1, space_hi}));
  EXPECT_EQ(tok.encode("hi hi", false, false), (Ids{space_hi, space_hi}));
  // "é" is not a piece: its two UTF-8 bytes come out as byte tokens.
  EXPECT_EQ(tok.encode("hi\xC3\xA9", false, false), (Ids{space_hi, 3 + 0xC3, 3 + 0xA9}));
  // The space the encoder adds in front is dropped again by decode.
  EXPECT_EQ(tok.decode(tok.encode("hi\xC3\xA9", true, false), false), "hi\xC3\xA9");
  EXPECT_EQ(tok.decode(Ids{1, space_hi}, true), "<s>hi");
  // A special token in the middle starts a new fragment, which gets its own space.
  EXPECT_EQ(tok.encode("hi<s>hi", false, true), (Ids{space_hi, 1, space_hi}));
  EXPECT_EQ(tok.encode(" ", false, false), (Ids{space, space}));
  EXPECT_NE(hi, space_hi);
}

TEST(Tokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
  const Tokenizer tok = tiny_spm();
  EXPECT_THROW(tok.decode(Ids{-1}, false), Error);
  EXPECT_THROW(tok.decode(Ids{tok.n_vocab()}, false), Error);
  EXPECT_THROW(tok.piece(tok.n_vocab()), Error);
  StreamingDetokenizer stream(tok, false);
  EXPECT_THROW(stream.feed(-5), Error);
}

TEST(StreamingDetokenizer, HoldsBackSplitCharactersOnly) {
  TinyBpe t;
  Tokenizer tok(std::move(t.v));
  StreamingDetokenizer s(tok, false);
  EXPECT_EQ(s.feed('a'), "a");
  EXPECT_EQ(s.feed(0xE2), "");  // "€" = E2 82 AC arrives one byte per token
  EXPECT_EQ(s.feed(0x82), "");
  EXPECT_EQ(s.feed(0xAC), "\xE2\x82\xAC");
  EXPECT_EQ(s.feed(0xFF), "\xFF");  // can never become valid: not held back
  EXPECT_EQ(s.feed(0xE0), "");
  EXPECT_EQ(s.feed(0x80), "\xE0\x80");  // E0 80 is an overlong prefix: released at once
  EXPECT_EQ(s.feed(0xF0), "");
  EXPECT_EQ(s.flush(), "\xF0");
  EXPECT_EQ(s.flush(), "");
}

TEST(Tokenizer, Qwen3SpecialTokensEogAndTemplate) {
  const Tokenizer& tok = test::shared_tokenizer("hf/qwen3");
  const int32_t im_start = *tok.find_token("<|im_start|>");
  const int32_t im_end = *tok.find_token("<|im_end|>");
  EXPECT_EQ(im_start, 151644);
  EXPECT_EQ(im_end, 151645);
  const Ids ids = tok.encode("<|im_start|>user\nhi<|im_end|>", false, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), im_start);
  EXPECT_EQ(ids.back(), im_end);
  const Ids plain = tok.encode("<|im_start|>user", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), im_start), 0);
  // <think> is an added token but not a special one: recognised in any text.
  EXPECT_EQ(tok.encode("<think>", false, false), (Ids{151667}));
  EXPECT_EQ(tok.kind(151667), TokenKind::UserDefined);
  EXPECT_TRUE(tok.is_eog(im_end));
  EXPECT_TRUE(tok.is_eog(*tok.find_token("<|endoftext|>")));
  EXPECT_FALSE(tok.is_eog(im_start));
  EXPECT_EQ(tok.eos(), im_end);
  EXPECT_EQ(tok.bos(), std::nullopt);
  EXPECT_EQ(tok.encode("hi", true, false), tok.encode("hi", false, false));  // no BOS for Qwen
  ASSERT_TRUE(tok.chat_template().has_value());
  EXPECT_NE(tok.chat_template()->find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(tok.decode(ids, false), "user\nhi");
  EXPECT_EQ(tok.decode(ids, true), "<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(tok.piece(*tok.find_token("\xC4\xA0Hello")), " Hello");
  // Qwen's tokenizer.json normalises to NFC: a decomposed "é" encodes like the composed one.
  EXPECT_EQ(tok.encode("cafe\xCC\x81", false, false), tok.encode("caf\xC3\xA9", false, false));
  const Tokenizer& llama3 = test::shared_tokenizer("hf/llama3");  // no normalizer
  EXPECT_NE(llama3.encode("cafe\xCC\x81", false, false), llama3.encode("caf\xC3\xA9", false, false));
}

TEST(Tokenizer, Llama3AddsBosAndEndsTurnsOnEotId) {
  const Tokenizer& tok = test::shared_tokenizer("hf/llama3");
  const Ids ids = tok.encode("Hello", true, false);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], 128000);
  EXPECT_EQ(tok.decode(ids, false), "Hello");
  EXPECT_TRUE(tok.is_eog(*tok.find_token("<|eot_id|>")));
  EXPECT_TRUE(tok.is_eog(*tok.find_token("<|end_of_text|>")));
  EXPECT_TRUE(tok.chat_template().has_value());
}

TEST(Tokenizer, GgufVocabulariesCarryTheirSpecialTokens) {
  const Tokenizer& spm = test::shared_tokenizer("ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(spm.type(), VocabType::Spm);
  EXPECT_EQ(spm.bos(), 1);
  EXPECT_EQ(spm.eos(), 2);
  const Ids ids = spm.encode("Hello world", true, false);
  EXPECT_EQ(ids, (Ids{1, 15043, 3186}));
  EXPECT_EQ(spm.decode(ids, false), "Hello world");
  EXPECT_TRUE(spm.is_eog(2));
  const Tokenizer& phi3 = test::shared_tokenizer("ggml-vocab-phi-3.gguf");
  EXPECT_TRUE(phi3.chat_template().has_value());
  const int32_t end = *phi3.find_token("<|end|>");
  EXPECT_TRUE(phi3.is_eog(end));
  // Phi-3's chat tokens eat the whitespace after them, as in HF (llama.cpp's phi3 rule).
  const int32_t user = *phi3.find_token("<|user|>");
  const Ids chat = phi3.encode("<|user|>\nHi<|end|>\n", false, true);
  EXPECT_EQ(chat, (Ids{user, *phi3.find_token("\xE2\x96\x81Hi"), end}));
  const Tokenizer& ds = test::shared_tokenizer("ggml-vocab-deepseek-llm.gguf");
  EXPECT_EQ(ds.pre_tokenizer(), PreTokenizer::DeepseekLlm);
  EXPECT_EQ(ds.encode("a", true, false).front(), 100000);
}

TEST(Tokenizer, InvalidUtf8RoundTripsThroughEveryVocabulary) {
  std::mt19937 rng(99);
  for (const char* name : {"hf/qwen3", "ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-falcon.gguf"}) {
    const Tokenizer& tok = test::shared_tokenizer(name);
    std::vector<std::string> texts = {"\xFF\xFE" "abc", "x\xE2\x82", "\xF0\x9F\x98 y", "\xC0\xAF\xED\xA0\x80",
                                      std::string("nul\0byte", 8)};
    for (int i = 0; i < 50; ++i) {
      std::string s;
      const int len = static_cast<int>(rng() % 24);
      for (int k = 0; k < len; ++k) s += static_cast<char>(rng() & 0xFF);
      texts.push_back(s);
    }
    // Falcon's vocabulary cannot spell a few bytes (0x03, 0xFF, ...): those are dropped.
    // DeepSeek's has some byte characters ("ÿ" for 0xFF) only as user-defined tokens, which
    // llama.cpp and HF both write back as the character. Every other byte must come back.
    const auto expected_bytes = [&](char c) -> std::string {
      if (tok.type() == VocabType::Spm) return std::string(1, c);
      const auto id = tok.find_token(unicode::byte_to_utf8(static_cast<uint8_t>(c)));
      if (!id) return "";
      return std::string(tok.piece(*id));
    };
    for (const std::string& text : texts) {
      const Ids ids = tok.encode(text, false, false);
      const std::string decoded = tok.decode(ids, false);
      std::string want;
      for (char c : text) want += expected_bytes(c);
      EXPECT_EQ(decoded, want) << name;
      StreamingDetokenizer stream(tok, false);
      std::string streamed;
      for (int32_t id : ids) streamed += stream.feed(id);
      streamed += stream.flush();
      EXPECT_EQ(streamed, decoded) << name;
    }
  }
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST(Tokenizer, ConcurrentEncodesAgreeWithASerialOne) {
  const Tokenizer& tok = test::shared_tokenizer("hf/qwen3");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "The quick brown fox jumps over the lazy dog " + std::to_string(i) + ".\n";
  const Ids want = tok.encode(text, false, false);
  std::vector<Ids> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) got[t] = tok.encode(text, false, false);
    });
  }
  for (auto& th : threads) th.join();
  for (const Ids& g : got) EXPECT_EQ(g, want);
}

}  // namespace
}  // namespace strata
