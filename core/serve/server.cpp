// The HTTP side of `qcompress serve`: cpp-httplib routes over the protocol layer, the
// admission queue and the engine. The only file that includes httplib.
#include "serve/server.h"

#include "common/error.h"
#include "serve/batcher.h"
#include "serve/chat_template.h"
#include "tokenizer/tokenizer.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace qcw::serve {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string checkServerOptions(const ServerOptions& o) {
    if (o.parallel < 1) return "--parallel must be at least 1, got " + std::to_string(o.parallel);
    if (o.queue < 0) return "--queue must not be negative, got " + std::to_string(o.queue);
    if (o.port < 0 || o.port > 65535) return "--port must lie between 0 and 65535, got " + std::to_string(o.port);
    if (!isLoopbackHost(o.host) && o.apiKey.empty())
        return "refusing to listen on " + o.host +
               " without an API key: give --api-key, --api-key-file or QCOMPRESS_API_KEY (or bind 127.0.0.1)";
    if (o.limits.maxTokens < 1) return "--max-tokens must be at least 1";
    return {};
}

namespace {

struct LoadedModel {
    std::string name, dir;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<ContinuousBatcher> batcher;  // declared after the engine: stopped before it goes
    int context = 0;
    int vocab = 0;
    std::optional<std::int64_t> eos;
    ModelChatFormat chat;  // its chat_template, or the plain format
};

// What a request asks the engine for, after validation.
struct Prepared {
    GenRequest req;
    LoadedModel* model = nullptr;
    std::vector<std::int64_t> promptIds;
    std::vector<std::string> stops;
    GenerateOptions gen;
    Clock::time_point arrived;
    std::string id;
    std::int64_t created = 0;
};

struct Outcome {
    std::string text;            // non-streamed answers collect it here
    std::string finishReason = "stop";
    std::int64_t completionTokens = 0;
    bool clientGone = false;
};

std::int64_t unixNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string randomHex(std::size_t n) {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += digits[rng() & 15];
    return s;
}

void sendError(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(errorBody(e).dump(), "application/json");
}

std::string routeOf(const std::string& path) {
    auto ends = [&](const char* s) {
        const std::string t(s);
        return path.size() >= t.size() && path.compare(path.size() - t.size(), t.size(), t) == 0;
    };
    if (ends("/chat/completions")) return "chat";
    if (ends("/completions")) return "completions";
    if (path.rfind("/v1/models", 0) == 0) return "models";
    if (path == "/health") return "health";
    if (path == "/metrics") return "metrics";
    return "other";
}

// The request this thread is answering (cpp-httplib routes, runs the handler, streams the
// answer and calls the logger on one thread per connection), for RequestRecord.
struct CurrentRequest {
    bool routed = false;
    Clock::time_point start;
    std::string model;
    std::int64_t promptTokens = 0, completionTokens = 0;
};
thread_local CurrentRequest t_current;

}  // namespace

struct Server::Impl {
    ServerOptions opts;
    httplib::Server http;
    Admission admission;
    Metrics metrics;
    std::vector<std::unique_ptr<LoadedModel>> models;
    std::atomic<bool> ready{false};
    std::atomic<bool> stopping{false};
    RunContext shutdown;  // cancelled by stop(): running generations end at their next step
    std::thread listener;
    std::atomic<bool> listenerDone{false};
    std::mutex logMutex;
    std::atomic<std::uint64_t> requestsDone{0};
    std::atomic<std::int64_t> promptTokens{0}, completionTokens{0};

    explicit Impl(ServerOptions o) : opts(std::move(o)), admission(opts.parallel, opts.queue) {}

    LoadedModel& findModel(const std::string& name) {
        for (auto& m : models)
            if (m->name == name) return *m;
        std::string have;
        for (auto& m : models) have += (have.empty() ? "" : ", ") + m->name;
        throw ApiError(404, "The model '" + name + "' does not exist; this server serves: " + have,
                       "invalid_request_error", "model", "model_not_found");
    }

    Prepared prepare(Endpoint ep, const httplib::Request& req, const std::optional<std::string>& deployment) {
        Prepared p;
        p.arrived = Clock::now();
        p.req = parseRequest(ep, req.body, opts.limits, deployment);
        t_current.model = p.req.model;
        p.model = &findModel(p.req.model);
        LoadedModel& m = *p.model;
        if (ep == Endpoint::Chat) {
            std::string text;
            if (m.chat.tmpl) {
                try {
                    text = m.chat.tmpl->render(p.req.messages, true, m.chat.bosToken, m.chat.eosToken);
                } catch (const TemplateError& e) {
                    // raise_exception: the template's own message; otherwise where it failed.
                    throw ApiError(400, e.raised() ? e.what() : "model '" + m.name + "': chat_template: " + e.what(),
                                   "invalid_request_error", "messages",
                                   e.raised() ? "chat_template_exception" : "chat_template_error");
                }
                // The template's end of turn, as text (the end-of-text token id stops as before).
                if (!p.req.ignoreEos && m.chat.eosToken && !m.chat.eosToken->empty()) p.stops.push_back(*m.chat.eosToken);
            } else {
                text = formatChatPrompt(p.req.messages);
                p.stops = chatTurnStops();
            }
            for (int id : m.tokenizer->encodeIds(text)) p.promptIds.push_back(id);
        } else if (p.req.promptIsIds) {
            for (auto id : p.req.promptIds)
                if (id >= m.vocab)
                    throw ApiError(400, "'prompt' holds token id " + std::to_string(id) + "; model '" + m.name +
                                            "' has " + std::to_string(m.vocab) + " tokens",
                                   "invalid_request_error", "prompt", "invalid_value");
            p.promptIds = p.req.promptIds;
        } else {
            for (int id : m.tokenizer->encodeIds(p.req.prompt)) p.promptIds.push_back(id);
        }
        if (p.promptIds.empty())
            throw ApiError(400, "the prompt is empty", "invalid_request_error", ep == Endpoint::Chat ? "messages" : "prompt",
                           "invalid_value");
        for (const auto& s : p.req.stop) p.stops.push_back(s);
        const auto promptLen = static_cast<std::int64_t>(p.promptIds.size());
        const std::int64_t room = m.context - promptLen;
        const char* where = ep == Endpoint::Chat ? "messages" : "prompt";
        if (room < 1 || (p.req.maxTokens && *p.req.maxTokens > room))
            throw ApiError(400,
                           "This model's maximum context length is " + std::to_string(m.context) +
                               " tokens. However, you requested " +
                               std::to_string(promptLen + (p.req.maxTokens ? *p.req.maxTokens : 1)) + " tokens (" +
                               std::to_string(promptLen) + " in the " + where + ", " +
                               std::to_string(p.req.maxTokens ? *p.req.maxTokens : 1) +
                               " in the completion). Please reduce the length of the " + where + " or completion.",
                           "invalid_request_error", where, "context_length_exceeded");
        GenerateOptions& g = p.gen;
        g.maxNewTokens = p.req.maxTokens ? *p.req.maxTokens
                                         : static_cast<int>(std::min<std::int64_t>(room, opts.limits.maxTokens));
        g.greedy = p.req.temperature == 0.0;
        if (!g.greedy) g.sampling(p.req.temperature, 0, p.req.topP);
        g.seed = p.req.seed ? *p.req.seed : std::random_device{}();
        g.stopAtEos = !p.req.ignoreEos;
        p.id = (ep == Endpoint::Chat ? "chatcmpl-" : "cmpl-") + randomHex(24);
        p.created = unixNow();
        return p;
    }

    // Runs one generation; `emit` gets text as it becomes safe to send and returns false when
    // the client is gone (generation then stops at that token).
    Outcome run(Prepared& p, const std::function<bool(const std::string&)>& emit) {
        Outcome out;
        LoadedModel& m = *p.model;
        DecodeOptions dopts;
        dopts.skipUnknown = true;
        StreamDecoder dec(*m.tokenizer, dopts);
        StopMatcher stop(p.stops);
        bool sawEos = false;
        Clock::time_point first, last;
        promptTokens += static_cast<std::int64_t>(p.promptIds.size());
        auto onToken = [&](std::size_t, std::int64_t t) {
            last = Clock::now();
            ++completionTokens;
            if (++out.completionTokens == 1) {
                first = last;
                metrics.timeToFirstToken(std::chrono::duration<double>(first - p.arrived).count());
            }
            if (stopping) return false;
            if (p.gen.stopAtEos && m.eos && t == *m.eos) {
                sawEos = true;
                return false;
            }
            const std::string piece = stop.push(dec.push(static_cast<int>(t)));
            if (!piece.empty() && !emit(piece)) {
                out.clientGone = true;
                return false;
            }
            return !stop.stopped();
        };
        try {
            if (m.batcher)
                m.batcher->run(p.promptIds, p.gen, [&](std::int64_t t) { return onToken(0, t); });
            else
                m.engine->generate({p.promptIds}, p.gen, onToken, shutdown);
        } catch (const Cancelled&) {
            // server shutting down: end the answer here
        }
        if (!out.clientGone && !stop.stopped()) {
            std::string tail = stop.push(dec.flush());
            tail += stop.finish();
            if (!tail.empty() && !emit(tail)) out.clientGone = true;
        }
        out.finishReason = (stop.stopped() || sawEos || out.completionTokens < p.gen.maxNewTokens) ? "stop" : "length";
        if (out.completionTokens > 1) {
            const double secs = std::chrono::duration<double>(last - first).count();
            if (secs > 0) metrics.decodeRate(static_cast<double>(out.completionTokens - 1) / secs);
        }
        metrics.tokens(m.name, static_cast<std::int64_t>(p.promptIds.size()), out.completionTokens);
        t_current.promptTokens = static_cast<std::int64_t>(p.promptIds.size());
        t_current.completionTokens = out.completionTokens;
        if (out.clientGone) metrics.disconnected();
        return out;
    }

    void generateRoute(Endpoint ep, const httplib::Request& req, httplib::Response& res, bool azure) {
        try {
            if (!ready) throw ApiError(503, "the server is still loading its models", "server_error", {}, "loading");
            std::optional<std::string> deployment;
            if (azure) {
                deployment = req.matches[1].str();
                if (!req.has_param("api-version"))
                    throw ApiError(400, "the api-version query parameter is missing", "invalid_request_error",
                                   "api-version", "missing_required_parameter");
            }
            auto p = std::make_shared<Prepared>(prepare(ep, req, deployment));
            std::shared_ptr<Admission::Ticket> ticket = admission.enter();
            if (!ticket) {
                if (stopping) throw ApiError(503, "the server is shutting down", "server_error", {}, "shutting_down");
                res.set_header("Retry-After", std::to_string(opts.retryAfterSeconds));
                throw ApiError(429,
                               "all " + std::to_string(admission.slots()) + " slots are busy and the queue of " +
                                   std::to_string(admission.queueCapacity()) + " is full; retry later",
                               "rate_limit_exceeded", {}, "rate_limit_exceeded");
            }
            if (!p->req.stream) {
                std::string text;
                Outcome o = run(*p, [&](const std::string& s) {
                    text += s;
                    return true;
                });
                o.text = std::move(text);
                ticket.reset();
                Usage u{static_cast<std::int64_t>(p->promptIds.size()), o.completionTokens};
                res.set_content(completionResponse(ep, p->id, p->created, p->req.model, o.text, o.finishReason, u).dump(),
                                "application/json");
                return;
            }
            res.set_header("Cache-Control", "no-cache");
            res.set_header("X-Accel-Buffering", "no");
            res.set_chunked_content_provider(
                "text/event-stream",
                [this, p, ticket, ep](std::size_t, httplib::DataSink& sink) mutable {
                    const GenRequest& r = p->req;
                    auto write = [&](const std::string& s) { return sink.is_writable() && sink.write(s.data(), s.size()); };
                    bool ok = true;
                    if (ep == Endpoint::Chat)
                        ok = write(sseEvent(streamChunk(ep, p->id, p->created, r.model, std::string(), true, std::nullopt,
                                                        r.includeUsage)));
                    Outcome o;
                    if (ok) {
                        try {
                            o = run(*p, [&](const std::string& s) {
                                return write(sseEvent(streamChunk(ep, p->id, p->created, r.model, s, false,
                                                                  std::nullopt, r.includeUsage)));
                            });
                        } catch (const std::exception& e) {
                            write(sseEvent(errorBody(ApiError(500, oneLine(e.what()), "server_error"))));
                            write(sseDone());
                            ticket.reset();
                            sink.done();
                            return true;
                        }
                    } else {
                        o.clientGone = true;
                        metrics.disconnected();
                    }
                    ticket.reset();  // the slot is free as soon as generation ended
                    if (o.clientGone) return false;  // drop the connection
                    write(sseEvent(streamChunk(ep, p->id, p->created, r.model, ep == Endpoint::Chat ? std::nullopt : std::optional<std::string>(""),
                                               false, o.finishReason, r.includeUsage)));
                    if (r.includeUsage)
                        write(sseEvent(usageChunk(ep, p->id, p->created, r.model,
                                                  Usage{static_cast<std::int64_t>(p->promptIds.size()), o.completionTokens})));
                    write(sseDone());
                    sink.done();
                    return true;
                });
        } catch (const ApiError& e) {
            sendError(res, e);
        } catch (const std::exception& e) {
            sendError(res, ApiError(500, oneLine(e.what()), "server_error"));
        }
    }

    void log(const httplib::Request& req, const httplib::Response& res) {
        metrics.request(routeOf(req.path), res.status);
        ++requestsDone;
        CurrentRequest cur = std::move(t_current);
        t_current = CurrentRequest();
        if (opts.onRequest) {
            RequestRecord r;
            r.unixMillis = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
            r.method = req.method;
            r.path = req.path;
            r.route = routeOf(req.path);
            r.model = cur.model;
            r.status = res.status;
            r.promptTokens = cur.promptTokens;
            r.completionTokens = cur.completionTokens;
            if (cur.routed) r.milliseconds = std::chrono::duration<double, std::milli>(Clock::now() - cur.start).count();
            try {
                opts.onRequest(r);
            } catch (...) {
            }
        }
        if (!opts.log) return;
        std::lock_guard<std::mutex> lock(logMutex);
        std::fprintf(stderr, "qcompress serve: %s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
    }

    void setUpRoutes() {
        http.set_payload_max_length(opts.maxBodyBytes);
        // Threads for every slot and queue place, plus a few for /health, /metrics and 429s.
        const std::size_t threads = static_cast<std::size_t>(opts.parallel + opts.queue + 4);
        http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
        http.set_logger([this](const httplib::Request& req, const httplib::Response& res) { log(req, res); });
        if (!opts.corsOrigin.empty()) {
            http.set_default_headers({{"Access-Control-Allow-Origin", opts.corsOrigin}, {"Vary", "Origin"}});
            http.Options(R"(/.*)", [](const httplib::Request&, httplib::Response& res) {
                res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
                res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, api-key");
                res.set_header("Access-Control-Max-Age", "600");
                res.status = 204;
            });
        }
        http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            t_current = CurrentRequest();
            t_current.routed = true;
            t_current.start = Clock::now();
            if (req.path == "/health" || req.method == "OPTIONS") return httplib::Server::HandlerResponse::Unhandled;
            if (!keyAccepted(opts.apiKey, req.get_header_value("Authorization"), req.get_header_value("api-key"))) {
                const bool given = req.has_header("Authorization") || req.has_header("api-key");
                sendError(res, ApiError(401,
                                        given ? "Incorrect API key provided"
                                              : "No API key provided: send 'Authorization: Bearer KEY' or 'api-key: KEY'",
                                        "invalid_request_error", {}, "invalid_api_key"));
                return httplib::Server::HandlerResponse::Handled;
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
        http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;
            if (res.status == 413)
                sendError(res, ApiError(413, "the request body is larger than this server accepts", "invalid_request_error",
                                        {}, "request_too_large"));
            else if (res.status == 404)
                sendError(res, ApiError(404, "no route " + req.method + " " + req.path, "invalid_request_error", {},
                                        "not_found"));
            else
                sendError(res, ApiError(res.status, "HTTP error " + std::to_string(res.status), "invalid_request_error"));
        });
        http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "internal error";
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = oneLine(e.what());
            } catch (...) {
            }
            sendError(res, ApiError(500, what, "server_error"));
        });

        http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
            res.status = ready ? 200 : 503;
            res.set_content(json{{"status", ready ? "ok" : "loading"}}.dump(), "application/json");
        });
        http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
            std::string text = metrics.render(admission);
            if (ready) {
                text += "# HELP qcw_batch_steps_total Batched decode steps, by model (continuous batching).\n"
                        "# TYPE qcw_batch_steps_total counter\n";
                for (const auto& m : models)
                    if (m->batcher)
                        text += "qcw_batch_steps_total{model=\"" + m->name + "\"} " + std::to_string(m->batcher->steps()) + "\n";
                text += "# HELP qcw_batch_row_steps_total Request rows those steps carried (over steps: the mean batch size).\n"
                        "# TYPE qcw_batch_row_steps_total counter\n";
                for (const auto& m : models)
                    if (m->batcher)
                        text += "qcw_batch_row_steps_total{model=\"" + m->name + "\"} " + std::to_string(m->batcher->rowSteps()) + "\n";
            }
            res.set_content(text, "text/plain; version=0.0.4");
        });
        http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(modelList(names(), unixNow()).dump(), "application/json");
        });
        http.Get(R"(/v1/models/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
            try {
                res.set_content(modelObject(findModel(req.matches[1].str()).name, unixNow()).dump(), "application/json");
            } catch (const ApiError& e) {
                sendError(res, e);
            }
        });
        http.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) { generateRoute(Endpoint::Chat, q, r, false); });
        http.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) { generateRoute(Endpoint::Completion, q, r, false); });
        http.Post(R"(/openai/deployments/([^/]+)/chat/completions)",
                  [this](const httplib::Request& q, httplib::Response& r) { generateRoute(Endpoint::Chat, q, r, true); });
        http.Post(R"(/openai/deployments/([^/]+)/completions)",
                  [this](const httplib::Request& q, httplib::Response& r) { generateRoute(Endpoint::Completion, q, r, true); });
    }

    std::vector<std::string> names() const {
        std::vector<std::string> n;
        if (!ready) return n;
        for (const auto& m : models) n.push_back(m->name);
        return n;
    }
};

Server::Server(ServerOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {
    const std::string why = checkServerOptions(impl_->opts);
    if (!why.empty()) throw Error(why);
    impl_->setUpRoutes();
}

Server::~Server() {
    stop();
    wait();
}

int Server::bind() {
    auto& o = impl_->opts;
    int port = o.port;
    if (port == 0) {
        port = impl_->http.bind_to_any_port(o.host);
        if (port < 0) fail(o.host, "cannot bind any port on this address");
    } else if (!impl_->http.bind_to_port(o.host, port)) {
        fail(o.host + ":" + std::to_string(port), "cannot bind (in use, or not an address of this machine)");
    }
    return port;
}

void Server::start() {
    impl_->listener = std::thread([this] {
        impl_->http.listen_after_bind();
        impl_->listenerDone = true;
    });
    // httplib's stop() does nothing before the listen loop runs, so a stop() right after start()
    // (a model that fails to load) would leave the loop running for ever: wait until it runs.
    while (!impl_->http.is_running() && !impl_->listenerDone) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Server::loadModels(const std::vector<ModelSpec>& specs, const RunContext& ctx) {
    for (const auto& s : specs) {
        for (const auto& m : impl_->models)
            if (m->name == s.name) fail(s.dir, "model name '" + s.name + "' is used twice; give each a --name");
        auto m = std::make_unique<LoadedModel>();
        m->name = s.name;
        m->dir = s.dir;
        m->tokenizer = loadTokenizerForModel(s.dir);
        if (!m->tokenizer) fail(s.dir, "has no tokenizer (tokenizer.json); serving text needs one");
        m->engine = Engine::load(s.dir, impl_->opts.engine, ctx);
        m->context = m->engine->config().maxPositions;
        m->vocab = m->engine->config().vocabSize;
        m->eos = m->engine->config().eosTokenId;
        if (impl_->opts.continuousBatching)
            m->batcher = std::make_unique<ContinuousBatcher>(*m->engine, impl_->opts.parallel);
        m->chat = loadModelChatFormat(s.dir);
        if (!m->chat.note.empty())
            std::fprintf(stderr, "qcompress serve: %s; chats use the plain \"Role: content\" format\n",
                         m->chat.note.c_str());
        else if (m->chat.tmpl)
            std::fprintf(stderr, "qcompress serve: %s: chats use its chat_template (tokenizer_config.json)\n",
                         s.dir.c_str());
        impl_->models.push_back(std::move(m));
    }
    impl_->ready = true;
}

void Server::wait() {
    if (impl_->listener.joinable()) impl_->listener.join();
}

void Server::stop() {
    impl_->stopping = true;
    impl_->shutdown.cancel();
    impl_->admission.close();
    if (impl_->ready)
        for (auto& m : impl_->models)
            if (m->batcher) m->batcher->stop();
    // httplib's stop() does nothing until listen has begun: a stop right after start() (a model
    // that fails to load at once) would leave the listener accepting forever. Wait for it to
    // begin (or to have ended).
    if (impl_->listener.joinable())
        while (!impl_->http.is_running() && !impl_->listenerDone)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    impl_->http.stop();
}

const Metrics& Server::metrics() const { return impl_->metrics; }
std::vector<std::string> Server::modelNames() const { return impl_->names(); }

ServerStats Server::stats() const {
    ServerStats s;
    s.ready = impl_->ready;
    s.slotCount = impl_->admission.slots();
    s.busy = impl_->admission.busy();
    s.waiting = impl_->admission.waiting();
    s.queueCapacity = impl_->admission.queueCapacity();
    s.requests = impl_->requestsDone;
    s.promptTokens = impl_->promptTokens;
    s.completionTokens = impl_->completionTokens;
    return s;
}

}  // namespace qcw::serve
