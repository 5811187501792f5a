#pragma once
// The OpenAI- and Azure-OpenAI-compatible HTTP server over loaded models (cpp-httplib lives
// in server.cpp only). Routes:
//   GET  /health                      {"status":"loading"} 503 until the models are loaded, then {"status":"ok"}
//   GET  /metrics                     Prometheus text
//   GET  /v1/models, /v1/models/{id}
//   POST /v1/chat/completions, /v1/completions
//   POST /openai/deployments/{deployment}/chat/completions?api-version=...  (and /completions)
// Every route but /health (and CORS preflights) needs the API key when one is set.
#include "model/engine.h"
#include "serve/protocol.h"
#include "serve/scheduler.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qcw::serve {

// One answered request, for a live request log (the workbench's Serve switch).
struct RequestRecord {
    std::int64_t unixMillis = 0;        // when its answer ended
    std::string method, path;
    std::string route;                  // "chat", "completions", "models", "health", "metrics", "other"
    std::string model;                  // the model asked for; empty when none was (or the request never got that far)
    int status = 0;
    std::int64_t promptTokens = 0, completionTokens = 0;
    double milliseconds = 0;            // from routing to the answer's last byte
};

// A snapshot of the server's counters and gauges (what /metrics shows, as plain numbers).
struct ServerStats {
    bool ready = false;                 // the models are loaded
    int slotCount = 0, busy = 0;        // slots, and those generating now ("slots" is a Qt macro)
    int waiting = 0, queueCapacity = 0; // requests queued for a slot, and the queue's bound
    std::uint64_t requests = 0;         // requests answered, every route and status
    std::int64_t promptTokens = 0;      // prompt tokens of the generations started
    std::int64_t completionTokens = 0;  // tokens generated so far, counted as each one is made
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                    // 0: any free port (bind() returns it)
    std::string apiKey;                 // empty: no key asked (only allowed on loopback)
    std::string corsOrigin;             // empty: no CORS headers
    int parallel = 1;                   // slots generating at once
    // true: each model's requests decode together in one batched step (ContinuousBatcher);
    // false: every request is its own engine call.
    bool continuousBatching = true;
    int queue = 16;                     // requests waiting for a slot beyond those
    int retryAfterSeconds = 1;          // Retry-After of a 429
    std::size_t maxBodyBytes = 1 << 20;
    RequestLimits limits;
    EngineOptions engine;
    bool log = true;                    // one line per request on stderr
    // Called after every request, on the server's threads (keep it short; never throw).
    std::function<void(const RequestRecord&)> onRequest;
};

struct ModelSpec {
    std::string name;
    std::string dir;
};

// Why `opts` may not be served (non-loopback address without a key, bad counts); empty when fine.
std::string checkServerOptions(const ServerOptions& opts);

class Server {
public:
    explicit Server(ServerOptions opts);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds host:port; returns the port (the chosen one for port 0). Throws qcw::Error.
    int bind();
    // Serves on a background thread; /health answers "loading" until loadModels() returns.
    void start();
    // Loads each model and its tokenizer (one is needed); throws qcw::Error naming the folder.
    void loadModels(const std::vector<ModelSpec>& models, const RunContext& ctx = RunContext::none());
    // Blocks until stop().
    void wait();
    // Refuses queued requests, stops running generations at their next token, closes the socket.
    void stop();

    const Metrics& metrics() const;
    ServerStats stats() const;
    std::vector<std::string> modelNames() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace qcw::serve
