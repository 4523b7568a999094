// Bad requests get an OpenAI-style error body with the right 4xx status, and the server keeps
// serving afterwards. One table row per mistake a client can make.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace strata::server::testing {
namespace {

using nlohmann::json;

struct BadRequest {
  const char* name;
  std::string path;
  std::string body;
  int status;
  std::string param;  // expected error.param ("" = null)
  std::string code;   // expected error.code ("" = don't care)
};

std::string chat(const std::string& extra) {
  return R"({"model":"tiny","messages":[{"role":"user","content":"hi"}])" + extra + "}";
}

std::string completion(const std::string& extra) { return R"({"model":"tiny","prompt":"hi")" + extra + "}"; }

// 100 prompt tokens against a 64-token context.
std::string completion_long() {
  std::string ids;
  for (int i = 0; i < 100; ++i) ids += (i ? "," : "") + std::to_string(i + 1);
  return R"({"model":"tiny","prompt":[)" + ids + "]}";
}

const std::vector<BadRequest>& table() {
  static const std::vector<BadRequest> rows = {
      {"malformed_json", "/v1/chat/completions", R"({"model":"tiny","messages":[)", 400, "", ""},
      {"deeply_nested_json", "/v1/chat/completions", std::string(60000, '['), 400, "", ""},
      {"invalid_utf8", "/v1/chat/completions",
       "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", 400, "", ""},
      {"nested_deep_object", "/v1/chat/completions", R"({"model":"tiny","messages":)" + std::string(30000, '[') + "}",
       400, "", ""},
      {"body_not_object", "/v1/chat/completions", R"([1,2,3])", 400, "", ""},
      {"empty_body", "/v1/chat/completions", "", 400, "", ""},
      {"missing_model", "/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}]})", 400, "model", ""},
      {"model_not_string", "/v1/chat/completions", R"({"model":7,"messages":[{"role":"user","content":"hi"}]})", 400,
       "model", ""},
      {"unknown_model", "/v1/chat/completions", R"({"model":"gpt-9","messages":[{"role":"user","content":"hi"}]})", 404,
       "model", "model_not_found"},
      {"missing_messages", "/v1/chat/completions", R"({"model":"tiny"})", 400, "messages", ""},
      {"messages_not_array", "/v1/chat/completions", R"({"model":"tiny","messages":"hi"})", 400, "messages", ""},
      {"messages_empty", "/v1/chat/completions", R"({"model":"tiny","messages":[]})", 400, "messages", ""},
      {"message_not_object", "/v1/chat/completions", R"({"model":"tiny","messages":[3]})", 400, "messages[0]", ""},
      {"message_missing_role", "/v1/chat/completions", R"({"model":"tiny","messages":[{"content":"hi"}]})", 400,
       "messages[0].role", ""},
      {"message_bad_role", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"wizard","content":"hi"}]})",
       400, "messages[0].role", ""},
      {"message_missing_content", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user"}]})", 400,
       "messages[0].content", ""},
      {"message_content_number", "/v1/chat/completions",
       R"({"model":"tiny","messages":[{"role":"user","content":5}]})", 400, "messages[0].content", ""},
      {"image_part", "/v1/chat/completions",
       R"({"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})", 400,
       "messages[0].content", ""},
      {"temperature_string", "/v1/chat/completions", chat(R"(,"temperature":"hot")"), 400, "temperature", ""},
      {"temperature_too_high", "/v1/chat/completions", chat(R"(,"temperature":3)"), 400, "temperature", ""},
      {"top_p_negative", "/v1/chat/completions", chat(R"(,"top_p":-0.1)"), 400, "top_p", ""},
      {"top_k_float", "/v1/chat/completions", chat(R"(,"top_k":1.5)"), 400, "top_k", ""},
      {"min_p_too_high", "/v1/chat/completions", chat(R"(,"min_p":1.5)"), 400, "min_p", ""},
      {"presence_penalty_range", "/v1/chat/completions", chat(R"(,"presence_penalty":5)"), 400, "presence_penalty", ""},
      {"frequency_penalty_type", "/v1/chat/completions", chat(R"(,"frequency_penalty":[1])"), 400, "frequency_penalty",
       ""},
      {"seed_string", "/v1/chat/completions", chat(R"(,"seed":"abc")"), 400, "seed", ""},
      {"max_tokens_zero", "/v1/chat/completions", chat(R"(,"max_tokens":0)"), 400, "max_tokens", ""},
      {"max_tokens_negative", "/v1/chat/completions", chat(R"(,"max_tokens":-5)"), 400, "max_tokens", ""},
      {"max_tokens_string", "/v1/chat/completions", chat(R"(,"max_tokens":"10")"), 400, "max_tokens", ""},
      {"max_tokens_huge", "/v1/chat/completions", chat(R"(,"max_tokens":18446744073709551615)"), 400, "max_tokens", ""},
      {"max_completion_tokens_bad", "/v1/chat/completions", chat(R"(,"max_completion_tokens":0)"), 400,
       "max_completion_tokens", ""},
      {"n_two", "/v1/chat/completions", chat(R"(,"n":2)"), 400, "n", ""},
      {"stream_string", "/v1/chat/completions", chat(R"(,"stream":"yes")"), 400, "stream", ""},
      {"stream_options_without_stream", "/v1/chat/completions", chat(R"(,"stream_options":{"include_usage":true})"), 400,
       "stream_options", ""},
      {"stop_number", "/v1/chat/completions", chat(R"(,"stop":5)"), 400, "stop", ""},
      {"stop_array_mixed", "/v1/chat/completions", chat(R"(,"stop":["a",1])"), 400, "stop", ""},
      {"stop_empty_string", "/v1/chat/completions", chat(R"(,"stop":"")"), 400, "stop", ""},
      {"top_logprobs_without_logprobs", "/v1/chat/completions", chat(R"(,"top_logprobs":3)"), 400, "top_logprobs", ""},
      {"top_logprobs_too_many", "/v1/chat/completions", chat(R"(,"logprobs":true,"top_logprobs":50)"), 400,
       "top_logprobs", ""},
      {"logprobs_not_bool", "/v1/chat/completions", chat(R"(,"logprobs":2)"), 400, "logprobs", ""},
      {"prompt_too_long", "/v1/completions", completion_long(), 400, "prompt", "context_length_exceeded"},
      {"chat_too_long", "/v1/chat/completions",
       R"({"model":"tiny","messages":[{"role":"user","content":")" + std::string(300, 'z') + R"("}]})", 400, "messages",
       "context_length_exceeded"},
      {"completion_missing_prompt", "/v1/completions", R"({"model":"tiny"})", 400, "prompt", ""},
      {"completion_prompt_object", "/v1/completions", R"({"model":"tiny","prompt":{"a":1}})", 400, "prompt", ""},
      {"completion_prompt_empty", "/v1/completions", R"({"model":"tiny","prompt":[]})", 400, "prompt", ""},
      {"completion_token_out_of_range", "/v1/completions", R"({"model":"tiny","prompt":[1,2,999999]})", 400, "prompt",
       ""},
      {"completion_token_negative", "/v1/completions", R"({"model":"tiny","prompt":[-1]})", 400, "prompt", ""},
      {"completion_token_float", "/v1/completions", R"({"model":"tiny","prompt":[1.5]})", 400, "prompt", ""},
      {"completion_two_prompts", "/v1/completions", R"({"model":"tiny","prompt":["a","b"]})", 400, "prompt", ""},
      {"completion_logprobs_too_many", "/v1/completions", completion(R"(,"logprobs":6)"), 400, "logprobs", ""},
      {"completion_echo", "/v1/completions", completion(R"(,"echo":true)"), 400, "echo", ""},
      {"completion_unknown_model", "/v1/completions", R"({"model":"x","prompt":"hi"})", 404, "model",
       "model_not_found"},
      {"unknown_route", "/v1/embeddings", chat(""), 404, "", "unknown_url"},
      {"oversized_body", "/v1/chat/completions",
       R"({"model":"tiny","messages":[{"role":"user","content":")" + std::string(100 * 1024, 'a') + R"("}]})", 413, "",
       ""},
  };
  return rows;
}

class ErrorTable : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer({.parallel = 1, .ctx = 64, .max_body = 64 * 1024}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer* server_;
};
TestServer* ErrorTable::server_ = nullptr;

TEST_F(ErrorTable, EveryBadRequestGetsAnOpenAIError) {
  for (const BadRequest& row : table()) {
    SCOPED_TRACE(row.name);
    auto res = server_->post(row.path, row.body);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, row.status) << res->body;
    const json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    ASSERT_TRUE(body.contains("error")) << res->body;
    const json& e = body["error"];
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << res->body;
    EXPECT_TRUE(e["type"].is_string()) << res->body;
    ASSERT_TRUE(e.contains("param") && e.contains("code")) << res->body;
    if (row.param.empty()) {
      EXPECT_TRUE(e["param"].is_null()) << res->body;
    } else {
      EXPECT_EQ(e["param"], row.param) << res->body;
    }
    if (!row.code.empty()) {
      EXPECT_EQ(e["code"], row.code) << res->body;
    }
  }
  // None of that took the server down or leaked a sequence slot (parallel = 1).
  auto ok = server_->post("/v1/chat/completions", chat(R"(,"max_tokens":2,"temperature":0)"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(server_->metrics().active_sequences.load(), 0);
  EXPECT_GE(server_->metrics().errors_client.load(), table().size());
}

TEST(ServerAuth, ApiKeyIsRequiredOnV1Routes) {
  TestServer server({.parallel = 1, .ctx = 64, .api_key = "sekrit"});
  const std::string body = chat(R"(,"max_tokens":1)");
  for (const httplib::Headers& headers : {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer wrong"}},
                                          httplib::Headers{{"Authorization", "sekrit"}}}) {
    auto res = server.post("/v1/chat/completions", body, headers);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
    const json e = json::parse(res->body).at("error");
    EXPECT_EQ(e["code"], "invalid_api_key");
  }
  httplib::Client c = server.client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 401);
  auto good = server.post("/v1/chat/completions", body, {{"Authorization", "Bearer sekrit"}});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200) << good->body;
  // Health checks and scrapes stay open.
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace strata::server::testing
