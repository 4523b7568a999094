// The happy paths of the OpenAI API over loopback: chat and completions, whole and streamed,
// usage, finish reasons, stop strings, logprobs, seeds, models, health and metrics.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "server_fixture.h"

namespace strata::server::testing {
namespace {

using nlohmann::json;

class Api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer({.parallel = 2, .ctx = 256}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static json post_ok(const std::string& path, const json& body) {
    auto res = server_->post(path, body.dump());
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body);
  }
  // Streams `body` and returns its parsed chunks ([DONE] must be last and is dropped).
  static std::vector<json> stream(const std::string& path, json body) {
    body["stream"] = true;
    auto res = server_->post(path, body.dump());
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    std::vector<std::string> events = sse_events(res->body);
    EXPECT_FALSE(events.empty());
    if (events.empty()) return {};
    EXPECT_EQ(events.back(), "[DONE]");
    events.pop_back();
    std::vector<json> chunks;
    for (const std::string& e : events) chunks.push_back(json::parse(e));
    return chunks;
  }
  static json chat(int max_tokens) {
    return {{"model", "tiny"},
            {"messages", {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hello there"}}}},
            {"max_tokens", max_tokens},
            {"temperature", 0}};
  }
  static TestServer* server_;
};
TestServer* Api::server_ = nullptr;

TEST_F(Api, ChatCompletion) {
  const json r = post_ok("/v1/chat/completions", chat(6));
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["model"], "tiny");
  EXPECT_TRUE(r["id"].get<std::string>().starts_with("chatcmpl-"));
  ASSERT_EQ(r["choices"].size(), 1u);
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(r["choices"][0]["logprobs"].is_null());
  const json& u = r["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 0);
  EXPECT_LE(u["completion_tokens"].get<int>(), 6);
  EXPECT_EQ(u["total_tokens"].get<int>(), u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  // Six tokens of a random model almost never hit an end-of-generation token, but either
  // finish is legal; the reason must match the count.
  const std::string finish = r["choices"][0]["finish_reason"];
  EXPECT_EQ(finish, u["completion_tokens"].get<int>() == 6 ? "length" : "stop");
}

TEST_F(Api, MaxCompletionTokensAndGreedyIsDeterministic) {
  json a = chat(1000);
  a.erase("max_tokens");
  a["max_completion_tokens"] = 5;
  const json r1 = post_ok("/v1/chat/completions", a);
  const json r2 = post_ok("/v1/chat/completions", a);
  EXPECT_LE(r1["usage"]["completion_tokens"].get<int>(), 5);
  EXPECT_EQ(content_of(r1), content_of(r2));
}

TEST_F(Api, StreamedChatEqualsWholeChat) {
  const json whole = post_ok("/v1/chat/completions", chat(8));
  json body = chat(8);
  body["stream_options"] = {{"include_usage", true}};
  const std::vector<json> chunks = stream("/v1/chat/completions", body);
  ASSERT_GE(chunks.size(), 3u);
  EXPECT_EQ(chunks.front()["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  std::string finish;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    const json& c = chunks[i];
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_EQ(c["id"], chunks.front()["id"]);
    ASSERT_EQ(c["choices"].size(), 1u);
    const json& ch = c["choices"][0];
    if (ch["delta"].contains("content")) text += ch["delta"]["content"].get<std::string>();
    if (!ch["finish_reason"].is_null()) {
      EXPECT_TRUE(finish.empty()) << "two finish chunks";
      finish = ch["finish_reason"];
    }
  }
  EXPECT_EQ(text, content_of(whole));
  EXPECT_EQ(finish, whole["choices"][0]["finish_reason"]);
  const json& last = chunks.back();
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["usage"], whole["usage"]);
}

TEST_F(Api, StreamWithoutUsageHasNoUsageChunk) {
  const std::vector<json> chunks = stream("/v1/chat/completions", chat(3));
  ASSERT_FALSE(chunks.empty());
  for (const json& c : chunks) {
    EXPECT_FALSE(c.contains("usage"));
    EXPECT_EQ(c["choices"].size(), 1u);
  }
}

TEST_F(Api, CompletionsWithStringAndTokenPrompts) {
  const json text = post_ok("/v1/completions", {{"model", "tiny"}, {"prompt", "Once upon a time"}, {"max_tokens", 5},
                                                {"temperature", 0}});
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_TRUE(text["id"].get<std::string>().starts_with("cmpl-"));
  const std::vector<int32_t> ids = server_->tokenizer().encode("Once upon a time", true, true);
  const json tokens =
      post_ok("/v1/completions", {{"model", "tiny"}, {"prompt", ids}, {"max_tokens", 5}, {"temperature", 0}});
  EXPECT_EQ(content_of(tokens), content_of(text));
  EXPECT_EQ(tokens["usage"]["prompt_tokens"].get<size_t>(), ids.size());
  const json nested = post_ok("/v1/completions", {{"model", "tiny"}, {"prompt", json::array({"Once upon a time"})},
                                                  {"max_tokens", 5}, {"temperature", 0}});
  EXPECT_EQ(content_of(nested), content_of(text));

  const std::vector<json> chunks = stream("/v1/completions", {{"model", "tiny"}, {"prompt", "Once upon a time"},
                                                              {"max_tokens", 5}, {"temperature", 0}});
  std::string streamed;
  for (const json& c : chunks) {
    EXPECT_EQ(c["object"], "text_completion");
    streamed += c["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(streamed, content_of(text));
}

TEST_F(Api, IgnoreEosGeneratesExactlyMaxTokens) {
  const json r = post_ok("/v1/completions", {{"model", "tiny"}, {"prompt", "abc"}, {"max_tokens", 40},
                                             {"temperature", 0}, {"ignore_eos", true}});
  EXPECT_EQ(r["usage"]["completion_tokens"], 40);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
}

TEST_F(Api, StopStringEndsGenerationBeforeIt) {
  const json free = post_ok("/v1/completions", {{"model", "tiny"}, {"prompt", "abc"}, {"max_tokens", 12},
                                                {"temperature", 0}});
  const std::string full = content_of(free);
  ASSERT_GE(full.size(), 3u) << "the model produced too little text to cut";
  // Stop at one whole UTF-8 character from the text's second half, given as a plain string and
  // in a list.
  size_t at = full.size() / 2;
  while (at > 0 && (static_cast<unsigned char>(full[at]) & 0xC0) == 0x80) --at;
  size_t len = 1;
  while (at + len < full.size() && (static_cast<unsigned char>(full[at + len]) & 0xC0) == 0x80) ++len;
  const std::string stop = full.substr(at, len);
  const size_t cut = full.find(stop);
  for (const json& s : {json(stop), json::array({"never-appears", stop})}) {
    const json r = post_ok("/v1/completions", {{"model", "tiny"}, {"prompt", "abc"}, {"max_tokens", 12},
                                               {"temperature", 0}, {"stop", s}});
    EXPECT_EQ(content_of(r), full.substr(0, cut));
    EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  }
}

TEST_F(Api, SeededSamplingRepeats) {
  json body = chat(8);
  body["temperature"] = 1.5;
  body["top_k"] = 50;
  body["top_p"] = 0.9;
  body["min_p"] = 0.01;
  body["presence_penalty"] = 0.5;
  body["frequency_penalty"] = 0.5;
  body["seed"] = 1234;
  EXPECT_EQ(content_of(post_ok("/v1/chat/completions", body)), content_of(post_ok("/v1/chat/completions", body)));
}

TEST_F(Api, ChatLogprobs) {
  json body = chat(4);
  body["logprobs"] = true;
  body["top_logprobs"] = 3;
  const json r = post_ok("/v1/chat/completions", body);
  const json& content = r["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), r["usage"]["completion_tokens"].get<size_t>());
  std::string joined;
  for (const json& t : content) {
    joined += t["token"].get<std::string>();
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);
    EXPECT_FLOAT_EQ(t["top_logprobs"][0]["logprob"].get<float>(), t["logprob"].get<float>());
    EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["top_logprobs"][1]["logprob"].get<double>());
  }
  EXPECT_EQ(joined, content_of(r));
}

TEST_F(Api, CompletionLogprobs) {
  const json r = post_ok("/v1/completions", {{"model", "tiny"}, {"prompt", "abc"}, {"max_tokens", 3},
                                             {"temperature", 0}, {"logprobs", 2}});
  const json& lp = r["choices"][0]["logprobs"];
  const size_t n = r["usage"]["completion_tokens"];
  EXPECT_EQ(lp["tokens"].size(), n);
  EXPECT_EQ(lp["token_logprobs"].size(), n);
  EXPECT_EQ(lp["text_offset"].size(), n);
  ASSERT_EQ(lp["top_logprobs"].size(), n);
  if (n > 0) {
    EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  }
}

TEST_F(Api, ModelsHealthMetrics) {
  httplib::Client c = server_->client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  const json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], "tiny");
  EXPECT_EQ(m["data"][0]["object"], "model");
  auto one = c.Get("/v1/models/tiny");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  auto missing = c.Get("/v1/models/other");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");

  post_ok("/v1/chat/completions", chat(2));
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const std::string& t = metrics->body;
  for (const char* name : {"strata_requests_total{endpoint=\"chat_completions\"}", "strata_prompt_tokens_total",
                           "strata_generated_tokens_total", "strata_generation_tokens_per_second",
                           "strata_queue_depth", "strata_active_sequences", "# TYPE strata_queue_depth gauge"}) {
    EXPECT_NE(t.find(name), std::string::npos) << name;
  }
  EXPECT_GT(server_->metrics().generated_tokens.load(), 0u);
  EXPECT_GT(server_->metrics().prompt_tokens.load(), 0u);
}

}  // namespace
}  // namespace strata::server::testing
