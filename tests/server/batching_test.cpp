// Continuous batching through the HTTP server: concurrent streams share forward passes and give
// exactly the greedy output each request gets alone; a full queue answers 429; a client that
// disconnects frees its slot for the next request.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server_fixture.h"

namespace strata::server::testing {
namespace {

using nlohmann::json;

json greedy_request(int i, bool stream) {
  static const char* kTopics[] = {"the sea", "mountains", "a red fox", "bread", "rain", "clocks", "trains", "ink"};
  json body = {{"model", "tiny"},
               {"messages", {{{"role", "user"}, {"content", std::string("Tell me about ") + kTopics[i % 8] +
                                                                 std::string(static_cast<size_t>(i), '!')}}}},
               {"max_tokens", 12 + i % 5},
               {"temperature", 0}};
  if (stream) body["stream"] = true;
  return body;
}

// Concatenated delta contents of a chat stream; fails the test on a malformed stream.
std::string stream_text(const std::string& sse_body) {
  std::vector<std::string> events = sse_events(sse_body);
  EXPECT_FALSE(events.empty());
  if (events.empty()) return "";
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json c = json::parse(events[i]);
    const json& delta = c["choices"][0]["delta"];
    if (delta.contains("content")) text += delta["content"].get<std::string>();
  }
  return text;
}

TEST(Batching, SixteenConcurrentStreamsMatchTheirSoloRuns) {
  constexpr int kN = 16;
  TestServer server({.parallel = kN, .ctx = 256});
  std::vector<std::string> solo(kN);
  for (int i = 0; i < kN; ++i) {
    auto res = server.post("/v1/chat/completions", greedy_request(i, false).dump());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    solo[i] = content_of(json::parse(res->body));
  }
  const uint64_t passes_before = server.metrics().forward_passes.load();
  const uint64_t tokens_before = server.metrics().generated_tokens.load();

  std::vector<std::string> together(kN);
  std::vector<int> status(kN, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < kN; ++i) {
    clients.emplace_back([&, i] {
      auto res = server.post("/v1/chat/completions", greedy_request(i, true).dump());
      if (!res) return;
      status[i] = res->status;
      together[i] = res->body;
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < kN; ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(status[i], 200) << together[i];
    EXPECT_EQ(stream_text(together[i]), solo[i]);
  }
  // Sharing happened: fewer forward passes than generated tokens.
  const uint64_t passes = server.metrics().forward_passes.load() - passes_before;
  const uint64_t tokens = server.metrics().generated_tokens.load() - tokens_before;
  EXPECT_LT(passes, tokens);
  EXPECT_EQ(server.metrics().active_sequences.load(), 0);
}

TEST(Batching, ChunkedPrefillGivesTheSameOutput) {
  // 7 prompt tokens per pass: the ~60-token prompts are prefilled over many steps while the other
  // sequences already decode; the greedy result must not change.
  TestServer whole({.parallel = 3, .ctx = 256});
  TestServer chunked({.parallel = 3, .ctx = 256, .prefill_budget = 7});
  std::vector<std::string> expect(3), got(3);
  for (int i = 0; i < 3; ++i) {
    json body = greedy_request(i, false);
    body["messages"][0]["content"] = std::string("A somewhat longer prompt so that chunking matters, number ") +
                                     std::to_string(i) + ". " + std::string(static_cast<size_t>(10 * i), 'x');
    auto r = whole.post("/v1/chat/completions", body.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    expect[i] = content_of(json::parse(r->body));
    body["stream"] = true;
    std::thread([&, i, body] {
      auto c = chunked.post("/v1/chat/completions", body.dump());
      if (c && c->status == 200) got[i] = stream_text(c->body);
    }).join();
  }
  // Now all three at once through the chunking server.
  std::vector<std::string> together(3);
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    json body = greedy_request(i, true);
    body["messages"][0]["content"] = std::string("A somewhat longer prompt so that chunking matters, number ") +
                                     std::to_string(i) + ". " + std::string(static_cast<size_t>(10 * i), 'x');
    ts.emplace_back([&, i, body] {
      auto c = chunked.post("/v1/chat/completions", body.dump());
      if (c && c->status == 200) together[i] = stream_text(c->body);
    });
  }
  for (auto& t : ts) t.join();
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_FALSE(expect[i].empty());
    EXPECT_EQ(got[i], expect[i]);
    EXPECT_EQ(together[i], expect[i]);
  }
}

// Waits (bounded) for `pred`; returns whether it became true.
template <class F>
bool eventually(F pred) {
  for (int i = 0; i < 20000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

TEST(Batching, FullQueueAnswers429AndDisconnectFreesTheSlot) {
  // One slot, one queue place. A: a long stream occupying the slot; B: queued; C: refused.
  TestServer server({.parallel = 1, .ctx = 4096, .queue = 1});
  std::atomic<bool> drop_a{false};
  std::atomic<int> a_chunks{0};
  std::string a_text;  // the start of A's stream, for failure messages
  std::thread a([&] {
    httplib::Client c = server.client();
    json body = {{"model", "tiny"}, {"prompt", "A long story:"}, {"max_tokens", 4000}, {"temperature", 0},
                 {"ignore_eos", true}, {"stream", true}};
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (a_text.size() < 2000) a_text.append(data, n);
      ++a_chunks;
      return !drop_a.load();  // false: httplib aborts and closes the connection
    };
    c.send(req);
  });
  ASSERT_TRUE(eventually([&] { return a_chunks.load() > 0; }));
  EXPECT_EQ(server.metrics().active_sequences.load(), 1);

  std::string b_body;
  int b_status = 0;
  std::thread b([&] {
    auto res = server.post("/v1/completions", R"({"model":"tiny","prompt":"B","max_tokens":3,"temperature":0})");
    if (res) {
      b_status = res->status;
      b_body = res->body;
    }
  });
  if (!eventually([&] { return server.metrics().queue_depth.load() == 1; })) {
    drop_a = true;
    a.join();
    b.join();
    FAIL() << "B never waited in the queue; A's stream: " << a_text;
  }

  auto c = server.post("/v1/completions", R"({"model":"tiny","prompt":"C","max_tokens":3})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 429) << c->body;
  EXPECT_EQ(c->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(c->body)["error"]["code"], "rate_limit_exceeded");

  drop_a = true;
  a.join();
  b.join();  // B can only run once A's slot is free
  EXPECT_EQ(b_status, 200) << b_body;
  EXPECT_EQ(server.metrics().cancelled.load(), 1u) << a_text;
  // A was cut short well before its 4000 tokens.
  EXPECT_LT(server.metrics().generated_tokens.load(), 4000u);
  EXPECT_EQ(server.metrics().rejected_queue_full.load(), 1u);
}

}  // namespace
}  // namespace strata::server::testing
