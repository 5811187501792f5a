// The server's protocol layer without sockets: request validation (each bad input its status,
// param and code), chat formatting, stop strings across token boundaries, response and SSE
// shapes, API keys, the admission queue and the metrics text.
#include "serve/protocol.h"
#include "serve/scheduler.h"

#include <QtTest>

#include <atomic>
#include <chrono>
#include <thread>

using namespace qcw::serve;
using nlohmann::json;

namespace {
// The ApiError a body gives, or status 0 when it parses.
ApiError errorOf(Endpoint ep, const std::string& body, RequestLimits limits = {}) {
    try {
        parseRequest(ep, body, limits);
    } catch (const ApiError& e) {
        return e;
    }
    return ApiError(0, "parsed");
}
}  // namespace

class TestServeProtocol : public QObject {
    Q_OBJECT
private slots:
    void chatRequestParses() {
        const auto r = parseRequest(Endpoint::Chat, R"({"model":"m","messages":[
            {"role":"developer","content":"Be brief."},
            {"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}]},
            {"role":"assistant","content":null},
            {"role":"user","content":"again"}],
            "max_tokens":7,"temperature":0,"top_p":0.5,"seed":42,"stop":"\n\n","stream":true,
            "stream_options":{"include_usage":true},"user":"u1","frequency_penalty":null,"some_future_field":{"x":1}})",
                                    {});
        QCOMPARE(r.model, std::string("m"));
        QCOMPARE(r.messages.size(), std::size_t(4));
        QCOMPARE(r.messages[0].role, std::string("system"));
        QCOMPARE(r.messages[1].content, std::string("Hi there"));
        QCOMPARE(r.messages[2].content, std::string());
        QCOMPARE(*r.maxTokens, 7);
        QCOMPARE(r.temperature, 0.0);
        QCOMPARE(r.topP, 0.5);
        QCOMPARE(*r.seed, std::uint64_t(42));
        QCOMPARE(r.stop, std::vector<std::string>{"\n\n"});
        QVERIFY(r.stream);
        QVERIFY(r.includeUsage);
        QVERIFY(!r.ignoreEos);
    }

    void defaultsAndNulls() {
        const auto r = parseRequest(Endpoint::Chat,
                                    R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":null,
                                        "temperature":null,"stop":null,"stream":null,"n":1,"stream_options":null})",
                                    {});
        QVERIFY(!r.maxTokens);
        QCOMPARE(r.temperature, 1.0);
        QCOMPARE(r.topP, 1.0);
        QVERIFY(r.stop.empty());
        QVERIFY(!r.stream);
        QVERIFY(!r.seed);
    }

    void maxCompletionTokensWins() {
        const auto r = parseRequest(Endpoint::Chat,
                                    R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":9,"max_completion_tokens":3})", {});
        QCOMPARE(*r.maxTokens, 3);
    }

    void completionPrompts() {
        auto r = parseRequest(Endpoint::Completion, R"({"model":"m","prompt":"Once"})", {});
        QCOMPARE(r.prompt, std::string("Once"));
        QVERIFY(!r.promptIsIds);
        r = parseRequest(Endpoint::Completion, R"({"model":"m","prompt":["Twice"]})", {});
        QCOMPARE(r.prompt, std::string("Twice"));
        r = parseRequest(Endpoint::Completion, R"({"model":"m","prompt":[5,6,7],"echo":false,"best_of":1})", {});
        QVERIFY(r.promptIsIds);
        QCOMPARE(r.promptIds, (std::vector<std::int64_t>{5, 6, 7}));
    }

    void azureDeploymentIsTheModel() {
        const auto r = parseRequest(Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}]})", {},
                                    std::string("demo"));
        QCOMPARE(r.model, std::string("demo"));
    }

    void badRequests_data() {
        QTest::addColumn<int>("endpoint");
        QTest::addColumn<QString>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("param");
        QTest::addColumn<QString>("code");
        const int chat = 0, comp = 1;
        const QString msgs = R"("messages":[{"role":"user","content":"x"}])";
        auto row = [&](const char* name, int ep, QString body, const char* param, const char* code) {
            QTest::newRow(name) << ep << body << 400 << QString(param) << QString(code);
        };
        row("malformed json", chat, R"({"model":"m",)", "", "invalid_json");
        row("not an object", chat, R"([1,2])", "", "invalid_type");
        row("model missing", chat, "{" + msgs + "}", "model", "missing_required_parameter");
        row("model number", chat, R"({"model":5,)" + msgs + "}", "model", "invalid_type");
        row("messages missing", chat, R"({"model":"m"})", "messages", "missing_required_parameter");
        row("messages string", chat, R"({"model":"m","messages":"hi"})", "messages", "invalid_type");
        row("messages empty", chat, R"({"model":"m","messages":[]})", "messages", "invalid_value");
        row("message not object", chat, R"({"model":"m","messages":["hi"]})", "messages[0]", "invalid_type");
        row("role unknown", chat, R"({"model":"m","messages":[{"role":"robot","content":"x"}]})", "messages[0].role", "invalid_value");
        row("role missing", chat, R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role", "missing_required_parameter");
        row("content number", chat, R"({"model":"m","messages":[{"role":"user","content":3}]})", "messages[0].content", "invalid_type");
        row("content missing", chat, R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content", "invalid_value");
        row("image part", chat, R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
            "messages[0].content[0].type", "invalid_value");
        row("temperature string", chat, R"({"model":"m",)" + msgs + R"(,"temperature":"hot"})", "temperature", "invalid_type");
        row("temperature high", chat, R"({"model":"m",)" + msgs + R"(,"temperature":3})", "temperature", "invalid_value");
        row("top_p zero", chat, R"({"model":"m",)" + msgs + R"(,"top_p":0})", "top_p", "invalid_value");
        row("max_tokens string", chat, R"({"model":"m",)" + msgs + R"(,"max_tokens":"5"})", "max_tokens", "invalid_type");
        row("max_tokens fraction", chat, R"({"model":"m",)" + msgs + R"(,"max_tokens":2.5})", "max_tokens", "invalid_type");
        row("max_tokens zero", chat, R"({"model":"m",)" + msgs + R"(,"max_tokens":0})", "max_tokens", "invalid_value");
        row("max_tokens over limit", chat, R"({"model":"m",)" + msgs + R"(,"max_tokens":100000})", "max_tokens", "invalid_value");
        row("max_completion_tokens bool", chat, R"({"model":"m",)" + msgs + R"(,"max_completion_tokens":true})",
            "max_completion_tokens", "invalid_type");
        row("n = 2", chat, R"({"model":"m",)" + msgs + R"(,"n":2})", "n", "unsupported_value");
        row("n string", chat, R"({"model":"m",)" + msgs + R"(,"n":"1"})", "n", "invalid_type");
        row("seed string", chat, R"({"model":"m",)" + msgs + R"(,"seed":"7"})", "seed", "invalid_type");
        row("stop number", chat, R"({"model":"m",)" + msgs + R"(,"stop":4})", "stop", "invalid_type");
        row("stop array of numbers", chat, R"({"model":"m",)" + msgs + R"(,"stop":["a",4]})", "stop[1]", "invalid_type");
        row("five stops", chat, R"({"model":"m",)" + msgs + R"(,"stop":["a","b","c","d","e"]})", "stop", "invalid_value");
        row("empty stop", chat, R"({"model":"m",)" + msgs + R"(,"stop":""})", "stop", "invalid_value");
        row("stream string", chat, R"({"model":"m",)" + msgs + R"(,"stream":"yes"})", "stream", "invalid_type");
        row("stream_options string", chat, R"({"model":"m",)" + msgs + R"(,"stream_options":"usage"})", "stream_options", "invalid_type");
        row("include_usage string", chat, R"({"model":"m",)" + msgs + R"(,"stream_options":{"include_usage":"yes"}})",
            "stream_options.include_usage", "invalid_type");
        row("logprobs", chat, R"({"model":"m",)" + msgs + R"(,"logprobs":true})", "logprobs", "unsupported_value");
        row("tools", chat, R"({"model":"m",)" + msgs + R"(,"tools":[{"type":"function"}]})", "tools", "unsupported_value");
        row("prompt missing", comp, R"({"model":"m"})", "prompt", "missing_required_parameter");
        row("prompt number", comp, R"({"model":"m","prompt":5})", "prompt", "invalid_type");
        row("two prompts", comp, R"({"model":"m","prompt":["a","b"]})", "prompt", "unsupported_value");
        row("prompt id lists", comp, R"({"model":"m","prompt":[[1,2],[3]]})", "prompt", "unsupported_value");
        row("negative id", comp, R"({"model":"m","prompt":[1,-2]})", "prompt", "invalid_value");
        row("echo", comp, R"({"model":"m","prompt":"a","echo":true})", "echo", "unsupported_value");
        row("best_of 2", comp, R"({"model":"m","prompt":"a","best_of":2})", "best_of", "unsupported_value");
        row("completions n 3", comp, R"({"model":"m","prompt":"a","n":3})", "n", "unsupported_value");
    }
    void badRequests() {
        QFETCH(int, endpoint);
        QFETCH(QString, body);
        QFETCH(int, status);
        QFETCH(QString, param);
        QFETCH(QString, code);
        const ApiError e = errorOf(endpoint == 0 ? Endpoint::Chat : Endpoint::Completion, body.toStdString());
        QCOMPARE(e.status, status);
        QCOMPARE(QString::fromStdString(e.param), param);
        QCOMPARE(QString::fromStdString(e.code), code);
        QCOMPARE(e.type, std::string("invalid_request_error"));
        const std::string message = e.what();
        QVERIFY(!message.empty());
        QVERIFY2(message.find('\n') == std::string::npos, message.c_str());
        if (!param.isEmpty()) QVERIFY2(message.find(param.toStdString()) != std::string::npos, message.c_str());
        const json j = errorBody(e);
        QCOMPARE(j["error"]["message"].get<std::string>(), message);
        QCOMPARE(j["error"]["type"].get<std::string>(), std::string("invalid_request_error"));
        QVERIFY(j["error"].contains("param") && j["error"].contains("code"));
    }

    void messageCountBounded() {
        RequestLimits l;
        l.maxMessages = 2;
        const auto e = errorOf(Endpoint::Chat,
                               R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"}]})", l);
        QCOMPARE(e.status, 400);
        QCOMPARE(e.param, std::string("messages"));
        QVERIFY(std::string(e.what()).find("at most 2") != std::string::npos);
    }

    void chatFormat() {
        QCOMPARE(formatChatPrompt({{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Ports?"}}),
                 std::string("System: Be brief.\nUser: Hi\nAssistant: Hello.\nUser: Ports?\nAssistant:"));
    }

    void stopAcrossTokenBoundaries() {
        StopMatcher m({"o W"});
        std::string out = m.push("Hel");
        out += m.push("lo");
        QCOMPARE(out, std::string("Hell"));  // "o" held: it may begin the stop
        out += m.push(" Wo");
        QVERIFY(m.stopped());
        QCOMPARE(out, std::string("Hell"));
        QCOMPARE(m.push("rld"), std::string());
        QCOMPARE(m.finish(), std::string());
    }

    void heldTextReleasedWhenNoStop() {
        StopMatcher m({"END"});
        std::string out = m.push("the E");
        QCOMPARE(out, std::string("the "));
        out += m.push("N");
        QCOMPARE(out, std::string("the "));
        out += m.push("D?no");  // "END" completes across three pushes
        QVERIFY(m.stopped());
        QCOMPARE(out, std::string("the "));

        StopMatcher k({"END"});
        std::string o2 = k.push("an EN");
        o2 += k.push("ding");
        QVERIFY(!k.stopped());
        QCOMPARE(o2, std::string("an ENding"));
        StopMatcher f({"END"});
        std::string o3 = f.push("fin E");
        o3 += f.finish();
        QCOMPARE(o3, std::string("fin E"));
    }

    void earliestStopWins() {
        StopMatcher m({"world", "lo"});
        QCOMPARE(m.push("hello world"), std::string("hel"));
        QVERIFY(m.stopped());
        StopMatcher s({"\nUser:"});
        QCOMPARE(s.push("\nUser: next"), std::string());
        QVERIFY(s.stopped());
    }

    void responseShapes() {
        const json c = completionResponse(Endpoint::Chat, "chatcmpl-1", 10, "demo", "Hi", "length", {5, 2});
        QCOMPARE(c["object"].get<std::string>(), std::string("chat.completion"));
        QCOMPARE(c["choices"][0]["message"]["role"].get<std::string>(), std::string("assistant"));
        QCOMPARE(c["choices"][0]["message"]["content"].get<std::string>(), std::string("Hi"));
        QCOMPARE(c["choices"][0]["finish_reason"].get<std::string>(), std::string("length"));
        QCOMPARE(c["usage"]["total_tokens"].get<int>(), 7);
        const json t = completionResponse(Endpoint::Completion, "cmpl-1", 10, "demo", "Hi", "stop", {5, 2});
        QCOMPARE(t["object"].get<std::string>(), std::string("text_completion"));
        QCOMPARE(t["choices"][0]["text"].get<std::string>(), std::string("Hi"));
        QVERIFY(!t["choices"][0].contains("message"));

        json k = streamChunk(Endpoint::Chat, "chatcmpl-1", 10, "demo", std::string(""), true, std::nullopt, false);
        QCOMPARE(k["object"].get<std::string>(), std::string("chat.completion.chunk"));
        QCOMPARE(k["choices"][0]["delta"]["role"].get<std::string>(), std::string("assistant"));
        QVERIFY(k["choices"][0]["finish_reason"].is_null());
        QVERIFY(!k.contains("usage"));
        k = streamChunk(Endpoint::Chat, "chatcmpl-1", 10, "demo", std::string("lo"), false, std::nullopt, true);
        QCOMPARE(k["choices"][0]["delta"], json({{"content", "lo"}}));
        QVERIFY(k.contains("usage") && k["usage"].is_null());
        k = streamChunk(Endpoint::Chat, "chatcmpl-1", 10, "demo", std::nullopt, false, std::string("stop"), false);
        QCOMPARE(k["choices"][0]["delta"], json::object());
        QCOMPARE(k["choices"][0]["finish_reason"].get<std::string>(), std::string("stop"));
        k = streamChunk(Endpoint::Completion, "cmpl-1", 10, "demo", std::string("x"), false, std::nullopt, false);
        QCOMPARE(k["object"].get<std::string>(), std::string("text_completion"));
        QCOMPARE(k["choices"][0]["text"].get<std::string>(), std::string("x"));
        const json u = usageChunk(Endpoint::Chat, "chatcmpl-1", 10, "demo", {3, 4});
        QVERIFY(u["choices"].empty());
        QCOMPARE(u["usage"]["completion_tokens"].get<int>(), 4);
        QCOMPARE(sseEvent(json{{"a", 1}}), std::string("data: {\"a\":1}\n\n"));
        QCOMPARE(sseDone(), std::string("data: [DONE]\n\n"));
        const json l = modelList({"a", "b"}, 5);
        QCOMPARE(l["object"].get<std::string>(), std::string("list"));
        QCOMPARE(l["data"][1]["id"].get<std::string>(), std::string("b"));
        QCOMPARE(l["data"][1]["object"].get<std::string>(), std::string("model"));
    }

    void apiKeys() {
        QVERIFY(constantTimeEquals("secret", "secret"));
        QVERIFY(!constantTimeEquals("secret", "secreT"));
        QVERIFY(!constantTimeEquals("secret", "secret2"));
        QVERIFY(!constantTimeEquals("secret", "secre"));
        QVERIFY(!constantTimeEquals("secret", ""));
        QVERIFY(keyAccepted("", "", ""));
        QVERIFY(keyAccepted("k1", "Bearer k1", ""));
        QVERIFY(keyAccepted("k1", "", "k1"));
        QVERIFY(keyAccepted("k1", "Bearer wrong", "k1"));
        QVERIFY(!keyAccepted("k1", "Bearer k2", ""));
        QVERIFY(!keyAccepted("k1", "k1", ""));  // no scheme
        QVERIFY(!keyAccepted("k1", "", ""));
        QVERIFY(!keyAccepted("k1", "Bearer ", ""));
    }

    void loopbackHosts() {
        QVERIFY(isLoopbackHost("127.0.0.1"));
        QVERIFY(isLoopbackHost("127.1.2.3"));
        QVERIFY(isLoopbackHost("localhost"));
        QVERIFY(isLoopbackHost("::1"));
        QVERIFY(!isLoopbackHost("0.0.0.0"));
        QVERIFY(!isLoopbackHost("10.0.0.4"));
        QVERIFY(!isLoopbackHost("127.example.com"));
        QVERIFY(!isLoopbackHost("::"));
    }

    void admissionQueueAndRefusal() {
        Admission a(1, 1);
        auto first = a.enter();
        QVERIFY(first);
        QCOMPARE(a.busy(), 1);
        std::atomic<bool> secondIn{false};
        std::thread t([&] {
            auto second = a.enter();  // waits in the queue
            secondIn = second != nullptr;
        });
        while (a.waiting() != 1) std::this_thread::yield();
        QVERIFY(!a.enter());  // slot busy, queue full: refused at once
        QVERIFY(!secondIn);
        first.reset();  // the waiter takes the slot
        t.join();
        QVERIFY(secondIn);
        QCOMPARE(a.busy(), 0);
        QCOMPARE(a.waiting(), 0);
    }

    void admissionCloseWakesWaiters() {
        Admission a(1, 2);
        auto first = a.enter();
        std::atomic<int> refused{0};
        std::thread t1([&] { if (!a.enter()) ++refused; });
        std::thread t2([&] { if (!a.enter()) ++refused; });
        while (a.waiting() != 2) std::this_thread::yield();
        a.close();
        t1.join();
        t2.join();
        QCOMPARE(refused.load(), 2);
        QVERIFY(!a.enter());
    }

    void metricsText() {
        Metrics m;
        Admission a(2, 3);
        auto t = a.enter();
        m.request("chat", 200);
        m.request("chat", 200);
        m.request("chat", 429);
        m.tokens("demo", 10, 4);
        m.timeToFirstToken(0.02);
        m.timeToFirstToken(3.0);
        m.decodeRate(150);
        const std::string s = m.render(a);
        for (const char* line : {"qcw_requests_total{route=\"chat\",code=\"200\"} 2\n",
                                 "qcw_requests_total{route=\"chat\",code=\"429\"} 1\n",
                                 "qcw_prompt_tokens_total{model=\"demo\"} 10\n",
                                 "qcw_completion_tokens_total{model=\"demo\"} 4\n",
                                 "qcw_time_to_first_token_seconds_bucket{le=\"0.01\"} 0\n",
                                 "qcw_time_to_first_token_seconds_bucket{le=\"0.025\"} 1\n",
                                 "qcw_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2\n",
                                 "qcw_time_to_first_token_seconds_count 2\n",
                                 "qcw_decode_tokens_per_second_bucket{le=\"200\"} 1\n",
                                 "qcw_queue_length 0\n", "qcw_busy_slots 1\n", "qcw_slots 2\n",
                                 "# TYPE qcw_time_to_first_token_seconds histogram\n"})
            QVERIFY2(s.find(line) != std::string::npos, line);
    }
};

QTEST_GUILESS_MAIN(TestServeProtocol)
#include "test_serve_protocol.moc"
