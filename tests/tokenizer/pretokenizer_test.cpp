#include "loader/tokenizer/pretokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "loader/tokenizer/unicode.h"

namespace strata {
namespace {

std::vector<std::string> split(PreTokenizer pre, std::string_view text) {
  std::vector<ByteSpan> spans;
  pre_tokenize(pre, text, spans);
  std::vector<std::string> words;
  for (const ByteSpan& s : spans) words.emplace_back(text.substr(s.begin, s.end - s.begin));
  return words;
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, Gpt2SplitsWordsNumbersPunctuationAndSpaces) {
  EXPECT_EQ(split(PreTokenizer::Gpt2, "Hello world's  3.14!\n"),
            (Words{"Hello", " world", "'s", " ", " 3", ".", "14", "!", "\n"}));
  // Contractions are case-sensitive in the GPT-2 pattern.
  EXPECT_EQ(split(PreTokenizer::Gpt2, "I'VE I've"), (Words{"I", "'", "VE", " I", "'ve"}));
}

TEST(PreTokenizer, Llama3ContractionsIgnoreCaseAndDigitsGroupByThree) {
  EXPECT_EQ(split(PreTokenizer::Llama3, "I'VE 1234567"), (Words{"I", "'VE", " ", "123", "456", "7"}));
  EXPECT_EQ(split(PreTokenizer::Llama3, "a\n\n  b"), (Words{"a", "\n\n", " ", " b"}));
  // A non-letter, non-digit character leads the word it precedes ("\tHello", "(x").
  EXPECT_EQ(split(PreTokenizer::Llama3, "\tHello (x)"), (Words{"\tHello", " (", "x", ")"}));
  EXPECT_EQ(split(PreTokenizer::Qwen2, "x 2024"), (Words{"x", " ", "2", "0", "2", "4"}));
}

TEST(PreTokenizer, UnicodeClassesAcrossScripts) {
  // Cyrillic and Greek are letters, Arabic-Indic digits are numbers, a combining accent is a
  // mark (not a letter), the ideographic space is whitespace.
  EXPECT_EQ(split(PreTokenizer::Llama3, "Привет мир"), (Words{"Привет", " мир"}));
  EXPECT_EQ(split(PreTokenizer::Llama3, "αβγ ٣٤٥٦"), (Words{"αβγ", " ", "٣٤٥", "٦"}));
  EXPECT_EQ(split(PreTokenizer::Llama3, "e\xCC\x81t"), (Words{"e", "\xCC\x81t"}));
  // ... but only U+0020 may lead a word in the GPT-2 pattern.
  EXPECT_EQ(split(PreTokenizer::Gpt2, "a\xE3\x80\x80\xE3\x80\x80" "b"),
            (Words{"a", "\xE3\x80\x80", "\xE3\x80\x80", "b"}));
}

TEST(PreTokenizer, Gpt4oSplitsCamelCaseAndKeepsContractions) {
  EXPECT_EQ(split(PreTokenizer::Gpt4o, "HelloWorld ABCdef don't"),
            (Words{"Hello", "World", " ABCdef", " don't"}));
  EXPECT_EQ(split(PreTokenizer::Gpt4o, "path/to 12345"), (Words{"path", "/to", " ", "123", "45"}));
  EXPECT_EQ(split(PreTokenizer::Gpt4o, " ?!/\n"), (Words{" ?!/\n"}));
  // Uppercase run followed by lowercase letters: the lowercase word takes the last capital.
  EXPECT_EQ(split(PreTokenizer::Gpt4o, "HTTPServer"), (Words{"HTTPServer"}));
}

TEST(PreTokenizer, Deepseek3IsolatesDigitsAndCjk) {
  EXPECT_EQ(split(PreTokenizer::Deepseek3, "abc1234567"), (Words{"abc", "123", "456", "7"}));
  EXPECT_EQ(split(PreTokenizer::Deepseek3, "你好world"), (Words{"你好", "world"}));
  EXPECT_EQ(split(PreTokenizer::Deepseek3, ".Net x.y"), (Words{".Net", " x", ".y"}));
}

TEST(PreTokenizer, DefaultAndFalconSplitPunctuationFirst) {
  EXPECT_EQ(split(PreTokenizer::Default, "a+b=12345"), (Words{"a", "+", "b", "=", "123", "45"}));
  EXPECT_EQ(split(PreTokenizer::Falcon, "x`y"), (Words{"x", "`", "y"}));
}

TEST(PreTokenizer, DeepseekLlmTrailingSpaceAndLineBreaks) {
  EXPECT_EQ(split(PreTokenizer::DeepseekLlm, "ab \ncd  "), (Words{"ab", " ", "\n", "cd", "  "}));
}

TEST(PreTokenizer, SpansCoverAnyInputExactly) {
  // Random bytes (mostly invalid UTF-8) and random codepoints: the words are non-empty,
  // consecutive and cover the text, for every family.
  std::mt19937 rng(1234);
  const PreTokenizer all[] = {PreTokenizer::Default,     PreTokenizer::Gpt2,      PreTokenizer::Llama3,
                              PreTokenizer::Qwen2,       PreTokenizer::DeepseekLlm, PreTokenizer::Deepseek3,
                              PreTokenizer::Gpt4o,       PreTokenizer::Falcon,    PreTokenizer::Starcoder};
  for (int round = 0; round < 200; ++round) {
    std::string text;
    const int len = static_cast<int>(rng() % 64);
    for (int i = 0; i < len; ++i) {
      if (round % 2 == 0) {
        text += static_cast<char>(rng() & 0xFF);
      } else {
        const uint32_t pick[] = {' ', '\n', 'a', 'Z', '7', '\'', 0xE9, 0x301, 0x4E2D, 0x3000, 0x1F600, 0x0663};
        unicode::append_utf8(text, pick[rng() % std::size(pick)]);
      }
    }
    for (PreTokenizer pre : all) {
      std::vector<ByteSpan> spans;
      pre_tokenize(pre, text, spans);
      uint32_t at = 0;
      for (const ByteSpan& s : spans) {
        ASSERT_EQ(s.begin, at) << pre_tokenizer_name(pre);
        ASSERT_LT(s.begin, s.end) << pre_tokenizer_name(pre);
        at = s.end;
      }
      ASSERT_EQ(at, text.size()) << pre_tokenizer_name(pre);
    }
  }
}

TEST(PreTokenizer, LongRunsStayLinear) {
  // A megabyte of spaces must not take quadratic time in any family (the test finishing is
  // the check; 10^12 steps would not).
  const std::string spaces(1 << 20, ' ');
  for (PreTokenizer pre : {PreTokenizer::DeepseekLlm, PreTokenizer::Llama3, PreTokenizer::Gpt4o}) {
    EXPECT_FALSE(split(pre, spaces + "x").empty());
  }
  EXPECT_EQ(split(PreTokenizer::Gpt4o, std::string(1 << 20, 'A')).size(), 1u);
}

TEST(PreTokenizer, NamesAndHfPatternsMapToFamilies) {
  EXPECT_EQ(pre_tokenizer_from_name("qwen2"), PreTokenizer::Qwen2);
  EXPECT_EQ(pre_tokenizer_from_name("llama-bpe"), PreTokenizer::Llama3);
  EXPECT_EQ(pre_tokenizer_from_name("dbrx"), PreTokenizer::Llama3);
  EXPECT_EQ(pre_tokenizer_from_name("olmo"), PreTokenizer::Gpt2);
  EXPECT_EQ(pre_tokenizer_from_name("gpt-4o"), PreTokenizer::Gpt4o);
  EXPECT_EQ(pre_tokenizer_from_name("deepseek-v3"), PreTokenizer::Deepseek3);
  EXPECT_EQ(pre_tokenizer_from_name(""), PreTokenizer::Default);
  EXPECT_EQ(pre_tokenizer_from_name("no-such-family"), std::nullopt);
  EXPECT_EQ(pre_tokenizer_from_hf_patterns({kHfByteLevelPattern}), PreTokenizer::Gpt2);
  EXPECT_EQ(pre_tokenizer_from_hf_patterns({"\\w+"}), std::nullopt);
  // DeepSeek-V3's Split steps as tokenizer.json spells them.
  const std::string ds3_main =
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
      "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  EXPECT_EQ(pre_tokenizer_from_hf_patterns({"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", ds3_main}), PreTokenizer::Deepseek3);
  EXPECT_EQ(pre_tokenizer_from_hf_patterns({"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+"}), std::nullopt);
}

TEST(Unicode, CategoriesFromTheGeneratedTables) {
  using namespace unicode;
  EXPECT_EQ(flags('A'), kLetter | kUpper);
  EXPECT_EQ(flags(0x0663), kNumber);        // ARABIC-INDIC DIGIT THREE
  EXPECT_EQ(flags(0x0301), kMark | kNfcSensitive);  // COMBINING ACUTE ACCENT
  EXPECT_EQ(flags(0x3000), kSpace);         // IDEOGRAPHIC SPACE
  EXPECT_EQ(flags(0x20AC), kSymbol);        // EURO SIGN
  EXPECT_EQ(flags(0x3001), kPunct);         // IDEOGRAPHIC COMMA
  EXPECT_EQ(flags(0x4E2D), kLetter | kOtherLetter);
  EXPECT_EQ(flags(0x1F600), kSymbol);       // emoji
  EXPECT_EQ(flags(0x0378), 0);              // unassigned
  EXPECT_EQ(flags(kInvalid), 0);
}

TEST(Unicode, LenientUtf8DecodingKeepsEveryByte) {
  size_t len = 0;
  EXPECT_EQ(unicode::decode_utf8("\xE2\x82\xAC", 0, len), 0x20ACu);
  EXPECT_EQ(len, 3u);
  EXPECT_EQ(unicode::decode_utf8("\xE2\x82", 0, len), unicode::kInvalid);  // truncated
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(unicode::decode_utf8("\xC0\xAF", 0, len), unicode::kInvalid);  // overlong
  EXPECT_EQ(unicode::decode_utf8("\xED\xA0\x80", 0, len), unicode::kInvalid);  // surrogate
  EXPECT_EQ(unicode::decode_utf8("\xF4\x90\x80\x80", 0, len), unicode::kInvalid);  // > U+10FFFF
}

TEST(Unicode, ByteAlphabetIsABijection) {
  for (int b = 0; b < 256; ++b) {
    const std::string_view s = unicode::byte_to_utf8(static_cast<uint8_t>(b));
    size_t len = 0;
    const uint32_t cp = unicode::decode_utf8(s, 0, len);
    EXPECT_EQ(len, s.size());
    EXPECT_EQ(unicode::char_to_byte(cp), b);
  }
  EXPECT_EQ(unicode::byte_to_utf8(' '), "\xC4\xA0");  // "Ġ"
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

std::string nfc(std::string_view s) {
  std::string out;
  unicode::normalize_nfc(s, out);
  return out;
}

TEST(Unicode, NfcMatchesPythonUnicodedata) {
  // Expected values from /usr/bin/python3 unicodedata.normalize("NFC", ...): composition,
  // singletons, Hangul, canonical reordering, blocking, composition exclusions.
  const std::pair<const char*, const char*> cases[] = {
      {"\x65\xCC\x81", "\xC3\xA9"},
      {"\x41\xCC\x8A", "\xC3\x85"},
      {"\xE2\x84\xAB", "\xC3\x85"},
      {"\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", "\xEA\xB0\x81"},
      {"\xEA\xB0\x80\xE1\x86\xA8", "\xEA\xB0\x81"},
      {"\x61\xCC\xA3\xCC\x82", "\xE1\xBA\xAD"},
      {"\x71\xCC\x87\xCC\xA3", "\x71\xCC\xA3\xCC\x87"},
      {"\xEF\xAC\xAC", "\xD7\xA9\xD6\xBC\xD7\x81"},
      {"\xE0\xA5\x98", "\xE0\xA4\x95\xE0\xA4\xBC"},
      {"\x6F\xCC\x88\xCC\x84", "\xC8\xAB"},
      {"\xE1\xB8\x8B\xCC\xA3", "\xE1\xB8\x8D\xCC\x87"},
      {"\xE0\xAD\x87\xE0\xAC\xBE", "\xE0\xAD\x8B"},
      {"\x78\xCC\x81\xCC\x81", "\x78\xCC\x81\xCC\x81"},
      {"\xCC\x81\x61", "\xCC\x81\x61"},
      {"\xCE\xA9\xCC\x81\x20\x65\xCC\x80\xCC\xA7", "\xCE\x8F\x20\xC8\xA9\xCC\x80"},
      {"\xC3\x85\xCC\x81", "\xC7\xBA"},
      {"\xE1\x9F\x92\xE1\x9E\x80", "\xE1\x9F\x92\xE1\x9E\x80"},
      {"\xD8\xA7\xD9\x93", "\xD8\xA2"},
      {"\xE3\x82\x99\xE3\x81\x8B\xE3\x82\x99", "\xE3\x82\x99\xE3\x81\x8C"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(nfc(in), want) << in;
  EXPECT_EQ(nfc("plain ASCII and caf\xC3\xA9"), "plain ASCII and caf\xC3\xA9");
  // An invalid byte is kept and nothing composes across it.
  EXPECT_EQ(nfc("e\xFF\xCC\x81"), "e\xFF\xCC\x81");
  EXPECT_EQ(nfc("e\xCC\x81\xFF"), "\xC3\xA9\xFF");
}

TEST(Unicode, NfcIsIdempotentOnRandomText) {
  std::mt19937 rng(7);
  const uint32_t pool[] = {'a', 'e', 'A', 0x301, 0x300, 0x323, 0x327, 0x1100, 0x1161, 0x11A8, 0xAC00,
                           0x212B, 0xC5, 0x3099, 0x304B, 0x17D2, 0x0B47, 0x0B3E, 0xFB2C};
  for (int round = 0; round < 500; ++round) {
    std::string s;
    for (int i = 0, n = static_cast<int>(rng() % 12); i < n; ++i) unicode::append_utf8(s, pool[rng() % std::size(pool)]);
    const std::string once = nfc(s);
    EXPECT_EQ(nfc(once), once);
  }
}

}  // namespace
}  // namespace strata
