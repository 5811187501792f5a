// `qcompress serve` end to end over loopback: started on port 0 with the bundled demo model,
// driven by curl and by the official openai npm package (OpenAI and AzureOpenAI classes).
// A greedy answer equals `qcompress generate --greedy` token for token; each bad input gets its
// status and OpenAI error object and the server keeps serving; a client that disconnects
// mid-stream stops its generation; a flood beyond the queue gets 429 with Retry-After.
#include <nlohmann/json.hpp>

#include <QtTest>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>

#include <memory>

using nlohmann::json;

namespace {

const QString kBin = QStringLiteral(QCW_BIN_DIR "/qcompress");
const QString kModel = QStringLiteral(QCW_SOURCE_DIR "/resources/models/demo-phi");
const QString kKey = QStringLiteral("test-key-123");
const QString kPrompt = QStringLiteral("A FortiGate active-passive cluster on Azure");
constexpr int kGreedyTokens = 24;

struct Reply {
    int status = 0;
    QMap<QString, QString> headers;  // lower-case names
    QByteArray body;
    json js() const { return json::parse(body.toStdString(), nullptr, false); }
};

QStringList keyHeader() { return {"-H", "Authorization: Bearer " + kKey}; }

QStringList curlArgs(int port, const QString& method, const QString& path, const QByteArray& body,
                     const QStringList& extra) {
    QStringList a = {"-sS", "-i", "-N", "--max-time", "120", "-X", method, "-H", "Expect:"};
    if (!body.isNull()) a << "-H" << "Content-Type: application/json" << "--data-binary" << "@-";
    a << extra << QString("http://127.0.0.1:%1%2").arg(port).arg(path);
    return a;
}

Reply parseCurl(const QByteArray& out) {
    Reply r;
    const int split = out.indexOf("\r\n\r\n");
    if (split < 0) return r;
    const QList<QByteArray> lines = out.left(split).split('\n');
    const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
    r.status = first.value(1).toInt();
    for (int i = 1; i < lines.size(); ++i) {
        const int c = lines[i].indexOf(':');
        if (c > 0) r.headers[QString(lines[i].left(c)).toLower()] = QString(lines[i].mid(c + 1)).trimmed();
    }
    r.body = out.mid(split + 4);
    return r;
}

Reply curl(int port, const QString& method, const QString& path, const QByteArray& body = QByteArray(),
           const QStringList& extra = keyHeader()) {
    QProcess p;
    p.start("curl", curlArgs(port, method, path, body, extra));
    if (!body.isNull()) p.write(body);
    p.closeWriteChannel();
    p.waitForFinished(130000);
    return parseCurl(p.readAllStandardOutput());
}

QByteArray completionBody(const QString& prompt, int maxTokens, bool stream = false) {
    return QByteArray::fromStdString(json{{"model", "demo-phi"}, {"prompt", prompt.toStdString()}, {"max_tokens", maxTokens},
                                          {"temperature", 0}, {"ignore_eos", true}, {"stream", stream}}
                                         .dump());
}

// The "data: ..." payloads of a server-sent-event body.
QStringList sseData(const QByteArray& body) {
    QStringList out;
    for (const QByteArray& line : body.split('\n'))
        if (line.startsWith("data: ")) out << QString::fromUtf8(line.mid(6).trimmed());
    return out;
}

double metric(const QByteArray& text, const QString& name) {
    for (const QByteArray& line : text.split('\n'))
        if (line.startsWith(name.toUtf8() + ' ')) return line.mid(name.size() + 1).toDouble();
    return -1;
}

class Served {
public:
    // Starts `qcompress serve` on a free port; empty error when ready.
    QString start(const QStringList& extra) {
        proc.setProgram(kBin);
        proc.setArguments(QStringList{"serve", kModel, "--port", "0", "--api-key", kKey} + extra);
        proc.start();
        if (!proc.waitForStarted(10000)) return "qcompress did not start";
        static const QRegularExpression ready("ready on http://127\\.0\\.0\\.1:(\\d+)/v1");
        for (int i = 0; i < 1200; ++i) {
            proc.waitForReadyRead(100);
            err += proc.readAllStandardError();
            auto m = ready.match(QString::fromUtf8(err));
            if (m.hasMatch()) {
                port = m.captured(1).toInt();
                return {};
            }
            if (proc.state() == QProcess::NotRunning) return "qcompress serve exited: " + QString::fromUtf8(err);
        }
        return "no ready line: " + QString::fromUtf8(err);
    }
    // SIGTERM; returns the exit code (-1 when it did not stop).
    int stop() {
        if (proc.state() == QProcess::NotRunning) return proc.exitCode();
        proc.terminate();
        if (!proc.waitForFinished(30000)) {
            proc.kill();
            proc.waitForFinished();
            return -1;
        }
        err += proc.readAllStandardError();
        return proc.exitStatus() == QProcess::NormalExit ? proc.exitCode() : -1;
    }
    ~Served() { stop(); }
    QProcess proc;
    QByteArray err;
    int port = 0;
};

void verifyError(const Reply& r, int status, const QString& code) {
    QVERIFY2(r.status == status, qPrintable(QString("status %1, body %2").arg(r.status).arg(QString(r.body))));
    const json j = r.js();
    QVERIFY2(j.is_object() && j.contains("error"), r.body.constData());
    const json& e = j["error"];
    QVERIFY(e.contains("message") && e["message"].is_string() && !e["message"].get<std::string>().empty());
    QVERIFY(e.contains("type") && e["type"].is_string());
    QVERIFY(e.contains("param") && e.contains("code"));
    QVERIFY2(e["message"].get<std::string>().find('\n') == std::string::npos, r.body.constData());
    if (!code.isEmpty()) QCOMPARE(QString::fromStdString(e["code"].get<std::string>()), code);
}

}  // namespace

class TestServe : public QObject {
    Q_OBJECT
    Served server_;
    QString expect_;  // greedy continuation by `qcompress generate`
    int expectPromptTokens_ = 0;

    // A short request that must succeed: the server keeps serving after each fault.
    void verifyStillServing(int port) {
        const Reply r = curl(port, "POST", "/v1/completions", completionBody(kPrompt, 3));
        QVERIFY2(r.status == 200, r.body.constData());
        QCOMPARE(r.js()["usage"]["completion_tokens"].get<int>(), 3);
    }

private slots:
    void initTestCase() {
        QProcess c;
        c.start("curl", {"--version"});
        QVERIFY2(c.waitForFinished(10000) && c.exitCode() == 0, "curl is needed (qcw.sh installs it)");
        QProcess g;
        g.start(kBin, {"generate", kModel, "--prompt", kPrompt, "--max-new-tokens", QString::number(kGreedyTokens),
                       "--greedy", "--ignore-eos", "--json"});
        QVERIFY(g.waitForFinished(120000));
        QCOMPARE(g.exitCode(), 0);
        const json gj = json::parse(g.readAllStandardOutput().toStdString());
        expect_ = QString::fromStdString(gj["text"].get<std::string>());
        expectPromptTokens_ = gj["prompt_tokens"].get<int>();
        QCOMPARE(gj["new_tokens"].get<int>(), kGreedyTokens);
        const QString why = server_.start({"--parallel", "4", "--queue", "16", "--max-body-bytes", "65536",
                                           "--max-tokens", "250", "--quiet"});
        QVERIFY2(why.isEmpty(), qPrintable(why));
    }

    void healthModelsAndKeys() {
        const int port = server_.port;
        Reply r = curl(port, "GET", "/health", QByteArray(), {});
        QCOMPARE(r.status, 200);
        QCOMPARE(r.js()["status"].get<std::string>(), std::string("ok"));
        verifyError(curl(port, "GET", "/v1/models", QByteArray(), {}), 401, "invalid_api_key");
        verifyError(curl(port, "GET", "/v1/models", QByteArray(), {"-H", "Authorization: Bearer nope"}), 401,
                    "invalid_api_key");
        verifyError(curl(port, "GET", "/metrics", QByteArray(), {}), 401, "invalid_api_key");
        r = curl(port, "GET", "/v1/models");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.js()["data"][0]["id"].get<std::string>(), std::string("demo-phi"));
        r = curl(port, "GET", "/v1/models", QByteArray(), {"-H", "api-key: " + kKey});
        QCOMPARE(r.status, 200);
        QCOMPARE(curl(port, "GET", "/v1/models/demo-phi").status, 200);
        verifyError(curl(port, "GET", "/v1/models/other"), 404, "model_not_found");
        QVERIFY(!r.headers.contains("access-control-allow-origin"));  // no CORS unless asked
    }

    void greedyCompletionMatchesGenerate() {
        const Reply r = curl(server_.port, "POST", "/v1/completions", completionBody(kPrompt, kGreedyTokens));
        QVERIFY2(r.status == 200, r.body.constData());
        const json j = r.js();
        QCOMPARE(j["object"].get<std::string>(), std::string("text_completion"));
        QCOMPARE(QString::fromStdString(j["choices"][0]["text"].get<std::string>()), expect_);
        QCOMPARE(j["choices"][0]["finish_reason"].get<std::string>(), std::string("length"));
        QCOMPARE(j["usage"]["prompt_tokens"].get<int>(), expectPromptTokens_);
        QCOMPARE(j["usage"]["completion_tokens"].get<int>(), kGreedyTokens);
    }

    void streamedChatShape() {
        json body = {{"model", "demo-phi"},
                     {"messages", {{{"role", "user"}, {"content", "What is an HA cluster?"}}}},
                     {"max_tokens", 16}, {"temperature", 0}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
        const Reply s = curl(server_.port, "POST", "/v1/chat/completions", QByteArray::fromStdString(body.dump()));
        QCOMPARE(s.status, 200);
        QVERIFY(s.headers.value("content-type").startsWith("text/event-stream"));
        const QStringList events = sseData(s.body);
        QVERIFY2(events.size() >= 4, s.body.constData());
        QCOMPARE(events.last(), QString("[DONE]"));
        QString text, finish;
        json usage;
        for (int i = 0; i + 1 < events.size(); ++i) {
            const json c = json::parse(events[i].toStdString());
            QCOMPARE(c["object"].get<std::string>(), std::string("chat.completion.chunk"));
            QVERIFY(c.contains("usage"));
            if (i == 0) QCOMPARE(c["choices"][0]["delta"]["role"].get<std::string>(), std::string("assistant"));
            if (c["choices"].empty()) {
                usage = c["usage"];
                QCOMPARE(i, events.size() - 2);  // usage last, before [DONE]
                continue;
            }
            const json& d = c["choices"][0]["delta"];
            if (d.contains("content")) text += QString::fromStdString(d["content"].get<std::string>());
            if (!c["choices"][0]["finish_reason"].is_null())
                finish = QString::fromStdString(c["choices"][0]["finish_reason"].get<std::string>());
        }
        QVERIFY(finish == "stop" || finish == "length");
        QVERIFY(usage.is_object());
        body["stream"] = false;
        body.erase("stream_options");
        const Reply p = curl(server_.port, "POST", "/v1/chat/completions", QByteArray::fromStdString(body.dump()));
        QCOMPARE(p.status, 200);
        const json pj = p.js();
        QCOMPARE(pj["object"].get<std::string>(), std::string("chat.completion"));
        QCOMPARE(QString::fromStdString(pj["choices"][0]["message"]["content"].get<std::string>()), text);
        QCOMPARE(QString::fromStdString(pj["choices"][0]["finish_reason"].get<std::string>()), finish);
        QCOMPARE(pj["usage"], usage);
    }

    void azureRouteWithCurl() {
        const QByteArray body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":4,\"temperature\":0}";
        const Reply r = curl(server_.port, "POST", "/openai/deployments/demo-phi/chat/completions?api-version=2024-10-21",
                             body, {"-H", "api-key: " + kKey});
        QVERIFY2(r.status == 200, r.body.constData());
        QCOMPARE(r.js()["object"].get<std::string>(), std::string("chat.completion"));
        QCOMPARE(r.js()["model"].get<std::string>(), std::string("demo-phi"));
    }

    void badInputs_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QStringList>("headers");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("code");
        QTest::addColumn<QString>("mentions");
        const QStringList key = keyHeader();
        const QByteArray msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        QTest::newRow("malformed JSON") << "/v1/chat/completions" << QByteArray("{\"model\":\"demo-phi\",") << key << 400
                                        << "invalid_json" << "JSON";
        QTest::newRow("wrong type") << "/v1/chat/completions"
                                    << QByteArray("{\"model\":\"demo-phi\"," + msgs + ",\"temperature\":\"hot\"}") << key
                                    << 400 << "invalid_type" << "temperature";
        QTest::newRow("unknown model") << "/v1/chat/completions" << QByteArray("{\"model\":\"gpt-9\"," + msgs + "}") << key
                                       << 404 << "model_not_found" << "gpt-9";
        QTest::newRow("missing key") << "/v1/chat/completions" << QByteArray("{\"model\":\"demo-phi\"," + msgs + "}")
                                     << QStringList() << 401 << "invalid_api_key" << "API key";
        QTest::newRow("wrong key") << "/v1/chat/completions" << QByteArray("{\"model\":\"demo-phi\"," + msgs + "}")
                                   << QStringList{"-H", "Authorization: Bearer wrong"} << 401 << "invalid_api_key" << "API key";
        QTest::newRow("oversized body") << "/v1/completions"
                                        << QByteArray("{\"model\":\"demo-phi\",\"prompt\":\"" + QByteArray(70000, 'a') + "\"}")
                                        << key << 413 << "request_too_large" << "larger";
        QString longPrompt;
        for (int i = 0; i < 300; ++i) longPrompt += " port";
        QTest::newRow("prompt over context") << "/v1/completions" << completionBody(longPrompt, 4) << key << 400
                                             << "context_length_exceeded" << "256";
        QTest::newRow("prompt plus max_tokens over context") << "/v1/completions" << completionBody(kPrompt, 250) << key
                                                             << 400 << "context_length_exceeded" << "256";
        QTest::newRow("n = 2") << "/v1/chat/completions" << QByteArray("{\"model\":\"demo-phi\"," + msgs + ",\"n\":2}")
                               << key << 400 << "unsupported_value" << "n";
        QTest::newRow("max_tokens over the server's limit")
            << "/v1/chat/completions" << QByteArray("{\"model\":\"demo-phi\"," + msgs + ",\"max_tokens\":9999}") << key
            << 400 << "invalid_value" << "250";
        QTest::newRow("token id beyond the vocabulary") << "/v1/completions"
                                                        << QByteArray("{\"model\":\"demo-phi\",\"prompt\":[5,99999]}") << key
                                                        << 400 << "invalid_value" << "99999";
        QTest::newRow("empty prompt") << "/v1/completions" << QByteArray("{\"model\":\"demo-phi\",\"prompt\":\"\"}") << key
                                      << 400 << "invalid_value" << "empty";
        QTest::newRow("unknown route") << "/v1/embeddings" << QByteArray("{}") << key << 404 << "not_found" << "/v1/embeddings";
        QTest::newRow("Azure without api-version") << "/openai/deployments/demo-phi/chat/completions" << QByteArray("{" + msgs + "}")
                                                   << QStringList{"-H", "api-key: " + kKey} << 400
                                                   << "missing_required_parameter" << "api-version";
        QTest::newRow("Azure unknown deployment") << "/openai/deployments/nope/chat/completions?api-version=2024-10-21"
                                                  << QByteArray("{" + msgs + "}") << QStringList{"-H", "api-key: " + kKey}
                                                  << 404 << "model_not_found" << "nope";
    }
    void badInputs() {
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(QStringList, headers);
        QFETCH(int, status);
        QFETCH(QString, code);
        QFETCH(QString, mentions);
        const Reply r = curl(server_.port, "POST", path, body, headers);
        verifyError(r, status, code);
        const QString message = QString::fromStdString(r.js()["error"]["message"].get<std::string>());
        QVERIFY2(message.contains(mentions), qPrintable(message));
        verifyStillServing(server_.port);
    }

    void openaiNpmClient() {
        const QString npm = QStringLiteral(QCW_NPM_DIR);
        QVERIFY2(QFile::exists(npm + "/node_modules/openai/package.json"),
                 qPrintable("the openai npm package is missing from " + npm + "; run scripts/npm-test-deps.sh BUILD_DIR"));
        QProcess node;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("QCW_NPM_DIR", npm);
        env.insert("BASE", QString("http://127.0.0.1:%1").arg(server_.port));
        env.insert("KEY", kKey);
        env.insert("MODEL", "demo-phi");
        env.insert("PROMPT", kPrompt);
        env.insert("EXPECT", expect_);
        env.insert("MAX", QString::number(kGreedyTokens));
        node.setProcessEnvironment(env);
        node.start("node", {QStringLiteral(QCW_SOURCE_DIR "/tests/serve/openai_client.mjs")});
        QVERIFY(node.waitForFinished(180000));
        const QByteArray err = node.readAllStandardError();
        QVERIFY2(node.exitStatus() == QProcess::NormalExit && node.exitCode() == 0, err.constData());
        const json out = json::parse(node.readAllStandardOutput().toStdString(), nullptr, false);
        QVERIFY(out.is_object());
        QCOMPARE(QString::fromStdString(out["completion"].get<std::string>()), expect_);
    }

    void sixteenStreamsOverFourSlotsKeepTheirOwnTokens() {
        // Each prompt alone first, then all sixteen at once, streamed (even) or not (odd), over
        // four slots: every answer is its own, token for token.
        QStringList prompts;
        for (int i = 0; i < 16; ++i) prompts << QString("Question %1: how does FortiGate cluster %1 fail over?").arg(i);
        QStringList alone;
        for (const auto& p : prompts) {
            const Reply r = curl(server_.port, "POST", "/v1/completions", completionBody(p, 16));
            QCOMPARE(r.status, 200);
            alone << QString::fromStdString(r.js()["choices"][0]["text"].get<std::string>());
        }
        const QByteArray before = curl(server_.port, "GET", "/metrics").body;
        std::vector<std::unique_ptr<QProcess>> procs;
        for (const auto& p : prompts) {
            const bool stream = procs.size() % 2 == 0;
            procs.push_back(std::make_unique<QProcess>());
            procs.back()->start("curl", curlArgs(server_.port, "POST", "/v1/completions", completionBody(p, 16, stream), keyHeader()));
            procs.back()->write(completionBody(p, 16, stream));
            procs.back()->waitForBytesWritten(10000);  // all bodies out before any answer is awaited
            procs.back()->closeWriteChannel();
        }
        for (std::size_t i = 0; i < procs.size(); ++i) {
            QVERIFY(procs[i]->waitForFinished(120000));
            const Reply r = parseCurl(procs[i]->readAllStandardOutput());
            QCOMPARE(r.status, 200);
            QString text;
            if (i % 2 == 0) {
                const QStringList events = sseData(r.body);
                QCOMPARE(events.last(), QString("[DONE]"));
                for (const QString& e : events)
                    if (e != "[DONE]") text += QString::fromStdString(json::parse(e.toStdString())["choices"][0]["text"].get<std::string>());
            } else {
                text = QString::fromStdString(r.js()["choices"][0]["text"].get<std::string>());
            }
            QCOMPARE(text, alone[static_cast<int>(i)]);
        }
        // Continuous batching (the default): the slots shared decode steps, at most four rows each.
        const QByteArray after = curl(server_.port, "GET", "/metrics").body;
        const double steps = metric(after, "qcw_batch_steps_total{model=\"demo-phi\"}") -
                             metric(before, "qcw_batch_steps_total{model=\"demo-phi\"}");
        const double rows = metric(after, "qcw_batch_row_steps_total{model=\"demo-phi\"}") -
                            metric(before, "qcw_batch_row_steps_total{model=\"demo-phi\"}");
        qInfo("16 requests over 4 slots: %.0f steps carried %.0f rows", steps, rows);
        QVERIFY(steps > 0);
        QVERIFY2(rows > steps, "no step carried two requests");
        QVERIFY(rows <= 4 * steps);
    }

    void clientDisconnectStopsGeneration() {
        const int port = server_.port;
        const QByteArray before = curl(port, "GET", "/metrics").body;
        const double tokensBefore = metric(before, "qcw_completion_tokens_total{model=\"demo-phi\"}");
        const double gonesBefore = metric(before, "qcw_client_disconnects_total");
        // curl exits as soon as head has read two events' lines, closing its connection.
        const QStringList args = curlArgs(port, "POST", "/v1/completions", completionBody(kPrompt, 200, true), keyHeader());
        QString cmd = "printf '%s' \"$BODY\" | curl";
        for (const auto& a : args) cmd += " '" + QString(a).replace("'", "'\\''") + "'";
        cmd += " | head -n 12 >/dev/null";
        QProcess sh;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("BODY", QString::fromUtf8(completionBody(kPrompt, 200, true)));
        sh.setProcessEnvironment(env);
        sh.start("bash", {"-c", cmd});
        QVERIFY(sh.waitForFinished(60000));
        // Wait (bounded by the count of polls, not by a latency threshold) for the slot to come back.
        QByteArray after;
        for (int i = 0; i < 600; ++i) {
            after = curl(port, "GET", "/metrics").body;
            if (metric(after, "qcw_client_disconnects_total") > gonesBefore && metric(after, "qcw_busy_slots") == 0) break;
            QTest::qWait(50);
        }
        QCOMPARE(metric(after, "qcw_client_disconnects_total"), gonesBefore + 1);
        QCOMPARE(metric(after, "qcw_busy_slots"), 0.0);
        const double generated = metric(after, "qcw_completion_tokens_total{model=\"demo-phi\"}") - tokensBefore;
        QVERIFY2(generated >= 1 && generated < 200, qPrintable(QString("generated %1 of 200 tokens").arg(generated)));
        verifyStillServing(port);
    }

    void floodBeyondTheQueue() {
        // One slot, one queue place, eight long requests at once: the surplus gets 429. This
        // server runs without continuous batching (one engine call per request), the other path.
        Served small;
        const QString why = small.start({"--parallel", "1", "--queue", "1", "--batching", "off", "--quiet"});
        QVERIFY2(why.isEmpty(), qPrintable(why));
        std::vector<std::unique_ptr<QProcess>> procs;
        const QByteArray body = completionBody(kPrompt, 200);
        for (int i = 0; i < 8; ++i) {
            procs.push_back(std::make_unique<QProcess>());
            procs.back()->start("curl", curlArgs(small.port, "POST", "/v1/completions", body, keyHeader()));
            procs.back()->write(body);
            procs.back()->waitForBytesWritten(10000);  // all eight sent before any answer is awaited
            procs.back()->closeWriteChannel();
        }
        int ok = 0, refused = 0;
        for (auto& p : procs) {
            QVERIFY(p->waitForFinished(120000));
            const Reply r = parseCurl(p->readAllStandardOutput());
            if (r.status == 200) {
                ++ok;
                QCOMPARE(r.js()["usage"]["completion_tokens"].get<int>(), 200);
            } else {
                verifyError(r, 429, "rate_limit_exceeded");
                QCOMPARE(r.headers.value("retry-after"), QString("1"));
                ++refused;
            }
        }
        qInfo("flood: %d answered, %d refused", ok, refused);
        QVERIFY(ok >= 1);
        QVERIFY2(refused >= 1, "no request was refused");
        QCOMPARE(ok + refused, 8);
        const QByteArray m = curl(small.port, "GET", "/metrics").body;
        QCOMPARE(metric(m, "qcw_requests_total{route=\"completions\",code=\"429\"}"), double(refused));
        verifyStillServing(small.port);
        QCOMPARE(small.stop(), 0);
    }

    void corsOnlyWhenAsked() {
        Served c;
        const QString why = c.start({"--cors", "https://chat.example", "--quiet"});
        QVERIFY2(why.isEmpty(), qPrintable(why));
        const Reply pre = curl(c.port, "OPTIONS", "/v1/chat/completions", QByteArray(),
                               {"-H", "Origin: https://chat.example", "-H", "Access-Control-Request-Method: POST"});
        QCOMPARE(pre.status, 204);
        QCOMPARE(pre.headers.value("access-control-allow-origin"), QString("https://chat.example"));
        QVERIFY(pre.headers.value("access-control-allow-headers").contains("Authorization"));
        const Reply r = curl(c.port, "GET", "/v1/models");
        QCOMPARE(r.headers.value("access-control-allow-origin"), QString("https://chat.example"));
    }

    void refusals_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("other address without key") << QStringList{"serve", kModel, "--host", "0.0.0.0"} << "0.0.0.0";
        QTest::newRow("no such model") << QStringList{"serve", "/nonexistent/model", "--port", "0"} << "/nonexistent/model";
        QTest::newRow("more names than models") << QStringList{"serve", kModel, "--name", "a", "--name", "b"} << "--name";
        QTest::newRow("empty key file") << QStringList{"serve", kModel, "--api-key-file", "/dev/null"} << "/dev/null";
        QTest::newRow("model without tokenizer")
            << QStringList{"serve", QStringLiteral(QCW_TEST_DATA "/tiny-phi"), "--port", "0"} << "tokenizer";
    }
    void refusals() {
        QFETCH(QStringList, args);
        QFETCH(QString, mentions);
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("QCOMPRESS_API_KEY");
        p.setProcessEnvironment(env);
        p.start(kBin, args);
        QVERIFY(p.waitForFinished(60000));
        QVERIFY(p.exitCode() != 0);
        const QString err = QString::fromUtf8(p.readAllStandardError()).trimmed();
        QVERIFY2(err.contains(mentions), qPrintable(err));
        QVERIFY2(err.split('\n').last().startsWith("qcompress: "), qPrintable(err));
    }

    void keyFromEnvironmentAndNames() {
        Served e;
        e.proc.setProcessEnvironment([] {
            auto env = QProcessEnvironment::systemEnvironment();
            env.insert("QCOMPRESS_API_KEY", "env-key");
            return env;
        }());
        // Without --api-key the environment's key is asked for; the same model twice under two
        // names (each --name before its MODEL).
        e.proc.setProgram(kBin);
        e.proc.setArguments({"serve", "--name", "original", kModel, "--name", "compressed", kModel, "--port", "0", "--quiet"});
        e.proc.start();
        QVERIFY(e.proc.waitForStarted());
        static const QRegularExpression ready("ready on http://127\\.0\\.0\\.1:(\\d+)/v1");
        for (int i = 0; i < 1200 && !e.port; ++i) {
            e.proc.waitForReadyRead(100);
            e.err += e.proc.readAllStandardError();
            auto m = ready.match(QString::fromUtf8(e.err));
            if (m.hasMatch()) e.port = m.captured(1).toInt();
        }
        QVERIFY2(e.port, e.err.constData());
        verifyError(curl(e.port, "GET", "/v1/models", QByteArray(), keyHeader()), 401, "invalid_api_key");
        const Reply r = curl(e.port, "GET", "/v1/models", QByteArray(), {"-H", "Authorization: Bearer env-key"});
        QCOMPARE(r.status, 200);
        QCOMPARE(r.js()["data"].size(), std::size_t(2));
        QCOMPARE(r.js()["data"][1]["id"].get<std::string>(), std::string("compressed"));
        QCOMPARE(e.stop(), 0);
    }

    void keyFromFile() {
        QTemporaryDir dir;
        QFile f(dir.filePath("key.txt"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("file-key-9\n");
        f.close();
        Served k;
        k.proc.setProgram(kBin);
        k.proc.setArguments({"serve", kModel, "--api-key-file", f.fileName(), "--port", "0", "--quiet"});
        k.proc.start();
        QVERIFY(k.proc.waitForStarted());
        static const QRegularExpression ready("ready on http://127\\.0\\.0\\.1:(\\d+)/v1");
        for (int i = 0; i < 1200 && !k.port; ++i) {
            k.proc.waitForReadyRead(100);
            k.err += k.proc.readAllStandardError();
            auto m = ready.match(QString::fromUtf8(k.err));
            if (m.hasMatch()) k.port = m.captured(1).toInt();
        }
        QVERIFY2(k.port, k.err.constData());
        QCOMPARE(curl(k.port, "GET", "/v1/models", QByteArray(), {"-H", "api-key: file-key-9"}).status, 200);
        verifyError(curl(k.port, "GET", "/v1/models", QByteArray(), {"-H", "api-key: file-key-"}), 401, "invalid_api_key");
        QCOMPARE(k.stop(), 0);
    }

    // A model folder whose tokenizer_config.json has a chat_template: chats are rendered with
    // it (the reply equals `qcompress generate --greedy` on the rendered text, token for token),
    // its raise_exception is a 400 carrying the message; a template outside the subset is one
    // line on stderr at load and that model's chats use the plain format.
    void chatTemplateIsRendered() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString tpl = dir.filePath("tpl-phi"), bad = dir.filePath("bad-phi");
        const std::string tmpl =
            "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' and not loop.first %}"
            "{{ raise_exception('the system message must come first') }}{% endif %}"
            "<|{{ m.role }}|>\n{{ m.content | trim }}{{ eos_token }}\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";
        for (const QString& d : {tpl, bad}) {
            QVERIFY(QDir().mkpath(d));
            for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
                QVERIFY(QFile::copy(kModel + "/" + f, d + "/" + f));
            const json cfg = {{"bos_token", {{"content", "<|endoftext|>"}}},
                              {"eos_token", "<|endoftext|>"},
                              {"chat_template", d == tpl ? tmpl : std::string("{{ messages | join(', ') }}")}};
            QFile out(d + "/tokenizer_config.json");
            QVERIFY(out.open(QIODevice::WriteOnly));
            out.write(QByteArray::fromStdString(cfg.dump()));
        }
        Served t;
        t.proc.setProgram(kBin);
        t.proc.setArguments({"serve", tpl, bad, "--port", "0", "--api-key", kKey});
        t.proc.start();
        QVERIFY(t.proc.waitForStarted());
        static const QRegularExpression ready("ready on http://127\\.0\\.0\\.1:(\\d+)/v1");
        for (int i = 0; i < 1200 && !t.port; ++i) {
            t.proc.waitForReadyRead(100);
            t.err += t.proc.readAllStandardError();
            auto m = ready.match(QString::fromUtf8(t.err));
            if (m.hasMatch()) t.port = m.captured(1).toInt();
        }
        QVERIFY2(t.port, t.err.constData());
        QVERIFY2(t.err.contains(QString(tpl + ": chats use its chat_template (tokenizer_config.json)").toUtf8()),
                 t.err.constData());
        QVERIFY2(t.err.contains(QString(bad + "/tokenizer_config.json: chat_template: line 1: unsupported filter 'join'; "
                                              "chats use the plain \"Role: content\" format\n")
                                    .toUtf8()),
                 t.err.constData());

        const std::string rendered = "<|endoftext|><|system|>\nBe brief.<|endoftext|>\n"
                                     "<|user|>\nHow do I open port 443?<|endoftext|>\n<|assistant|>\n";
        constexpr int kTokens = 12;
        QProcess g;
        g.start(kBin, {"generate", tpl, "--prompt", QString::fromStdString(rendered), "--max-new-tokens",
                       QString::number(kTokens), "--greedy", "--ignore-eos", "--json"});
        QVERIFY(g.waitForFinished(120000));
        QCOMPARE(g.exitCode(), 0);
        const json gj = json::parse(g.readAllStandardOutput().toStdString());
        json body = {{"model", "tpl-phi"},
                     {"messages", {{{"role", "system"}, {"content", "Be brief."}},
                                   {{"role", "user"}, {"content", "  How do I open port 443? "}}}},
                     {"max_tokens", kTokens}, {"temperature", 0}, {"ignore_eos", true}};
        Reply r = curl(t.port, "POST", "/v1/chat/completions", QByteArray::fromStdString(body.dump()));
        QVERIFY2(r.status == 200, r.body.constData());
        QCOMPARE(r.js()["usage"]["prompt_tokens"].get<int>(), gj["prompt_tokens"].get<int>());
        QCOMPARE(r.js()["usage"]["completion_tokens"].get<int>(), kTokens);
        QCOMPARE(r.js()["choices"][0]["message"]["content"].get<std::string>(), gj["text"].get<std::string>());

        // The template's raise_exception: a 400 with its message; the server serves on.
        std::swap(body["messages"][0], body["messages"][1]);
        r = curl(t.port, "POST", "/v1/chat/completions", QByteArray::fromStdString(body.dump()));
        verifyError(r, 400, "chat_template_exception");
        QCOMPARE(r.js()["error"]["message"].get<std::string>(), std::string("the system message must come first"));
        QCOMPARE(r.js()["error"]["param"].get<std::string>(), std::string("messages"));

        // The model whose template was refused: the plain format.
        QProcess p;
        p.start(kBin, {"generate", bad, "--prompt", "User: Hi\nAssistant:", "--max-new-tokens", "1", "--greedy", "--json"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        const json pj = json::parse(p.readAllStandardOutput().toStdString());
        body = {{"model", "bad-phi"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 1},
                {"temperature", 0}};
        r = curl(t.port, "POST", "/v1/chat/completions", QByteArray::fromStdString(body.dump()));
        QVERIFY2(r.status == 200, r.body.constData());
        QCOMPARE(r.js()["usage"]["prompt_tokens"].get<int>(), pj["prompt_tokens"].get<int>());
        QCOMPARE(t.stop(), 0);
    }

    void cleanupTestCase() {
        QCOMPARE(server_.stop(), 0);  // SIGTERM: a clean exit
        QVERIFY2(server_.err.contains("qcompress serve: stopped"), server_.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestServe)
#include "test_serve.moc"
