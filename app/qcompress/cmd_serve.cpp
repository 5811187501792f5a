// qcompress serve MODEL [MODEL...]: the models behind an OpenAI- and Azure-OpenAI-compatible
// HTTP endpoint (core/serve). Prints the address and a ready line on stderr; Ctrl-C or
// SIGTERM stops it cleanly.
#include "cli.h"
#include "common/error.h"
#include "serve/server.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <cerrno>
#include <unistd.h>

namespace {

int g_signalPipe[2] = {-1, -1};
extern "C" void onSignal(int sig) {
    const unsigned char b = static_cast<unsigned char>(sig);
    if (write(g_signalPipe[1], &b, 1) < 0) {
    }
}

std::string readKeyFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) qcw::fail(path, "cannot read the API key file");
    std::stringstream s;
    s << in.rdbuf();
    std::string key = s.str();
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.front()))) key.erase(0, 1);
    if (key.empty()) qcw::fail(path, "the API key file is empty");
    return key;
}

std::string folderName(const std::string& dir) {
    std::filesystem::path p(dir);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "models/x/" -> "x"
    return p.filename().string();
}

}  // namespace

QCW_COMMAND(95) {
    struct Opts {
        std::vector<std::string> models, names;
        std::string keyFile;
        qcw::serve::ServerOptions s;
        bool quiet = false;
        std::string batching = "continuous";
        int maxTokens = 2048;
        std::size_t maxMessages = 256, maxBody = 1 << 20;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("serve", "Serve models behind an OpenAI- and Azure-OpenAI-compatible HTTP endpoint");
    sub->add_option("MODEL", o->models, "Model directories (each needs tokenizer.json)")->required()->expected(1, -1);
    sub->add_option("--name", o->names, "Name of each model, in order (default: its folder name); repeat per model")
        ->allow_extra_args(false);  // `--name a MODEL`: MODEL stays a model
    sub->add_option("--host", o->s.host, "Address to bind (default 127.0.0.1; others need an API key)");
    sub->add_option("--port", o->s.port, "Port (0: any free port, printed on stderr)");
    sub->add_option("--api-key", o->s.apiKey, "Key clients must send (Bearer or api-key header); also QCOMPRESS_API_KEY");
    sub->add_option("--api-key-file", o->keyFile, "File holding the key");
    sub->add_option("--cors", o->s.corsOrigin, "Allow browser requests from this origin (default: no CORS)");
    sub->add_option("--parallel", o->s.parallel, "Requests generating at once (slots)");
    sub->add_option("--queue", o->s.queue, "Requests that may wait for a slot; more get 429");
    sub->add_option("--batching", o->batching, "continuous: a model's requests decode together in one batched step, "
                                               "joining and leaving between steps; off: one engine call per request")
        ->check(CLI::IsMember({"continuous", "off"}));
    sub->add_option("--max-tokens", o->maxTokens, "Largest max_tokens a request may ask for");
    sub->add_option("--max-messages", o->maxMessages, "Most messages in one chat request");
    sub->add_option("--max-body-bytes", o->maxBody, "Largest request body in bytes");
    sub->add_option("--device", o->s.engine.device, "cpu, cuda or cuda:N");
    sub->add_option("--dtype", o->s.engine.dtype, "auto, float32, float16 or bfloat16");
    sub->add_option("--threads", o->s.engine.threads, "CPU threads (0: all cores)");
    sub->add_flag("--quiet", o->quiet, "No per-request log lines");
    sub->callback([o] {
        if (o->names.size() > o->models.size())
            qcw::fail("--name", "given " + std::to_string(o->names.size()) + " times for " +
                                    std::to_string(o->models.size()) + " models");
        if (o->s.apiKey.empty() && !o->keyFile.empty()) o->s.apiKey = readKeyFile(o->keyFile);
        if (o->s.apiKey.empty())
            if (const char* env = std::getenv("QCOMPRESS_API_KEY")) o->s.apiKey = env;
        o->s.limits.maxTokens = o->maxTokens;
        o->s.limits.maxMessages = o->maxMessages;
        o->s.maxBodyBytes = o->maxBody;
        o->s.log = !o->quiet;
        o->s.continuousBatching = o->batching == "continuous";
        if (o->maxMessages < 1) qcw::fail("--max-messages", "must be at least 1");
        if (o->maxBody < 1024) qcw::fail("--max-body-bytes", "must be at least 1024, got " + std::to_string(o->maxBody));
        const std::string why = qcw::serve::checkServerOptions(o->s);
        if (!why.empty()) qcw::fail("serve", why);
        std::vector<qcw::serve::ModelSpec> specs;
        for (std::size_t i = 0; i < o->models.size(); ++i) {
            const std::string& dir = o->models[i];
            if (!std::filesystem::is_directory(dir)) qcw::fail(dir, "is not a model directory");
            specs.push_back({i < o->names.size() ? o->names[i] : folderName(dir), dir});
        }

        // Ctrl-C and SIGTERM write their number into a pipe; one thread reads it and stops the
        // server (a handler may only do async-signal-safe things; libraries such as OpenBLAS
        // start threads before this command runs, so blocking the signals here would not do).
        if (pipe(g_signalPipe) != 0) qcw::fail("serve", "cannot create the signal pipe");
        struct sigaction sa {};
        sa.sa_handler = onSignal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
        std::signal(SIGPIPE, SIG_IGN);

        qcw::serve::Server server(o->s);
        const int port = server.bind();
        std::fprintf(stderr, "qcompress serve: listening on http://%s:%d (loading %zu model%s)\n", o->s.host.c_str(), port,
                     specs.size(), specs.size() == 1 ? "" : "s");
        server.start();
        std::atomic<bool> stopped{false};
        std::thread signals([&] {
            unsigned char sig = 0;
            while (read(g_signalPipe[0], &sig, 1) < 0 && errno == EINTR) {
            }
            if (sig == SIGINT || sig == SIGTERM) {
                stopped = true;
                std::fprintf(stderr, "qcompress serve: stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
                server.stop();
            }
        });
        auto endSignalThread = [&] {
            const unsigned char none = 0;
            if (write(g_signalPipe[1], &none, 1) < 0) {
            }
            signals.join();
        };
        try {
            server.loadModels(specs);
        } catch (...) {
            server.stop();
            endSignalThread();
            server.wait();
            throw;
        }
        if (!stopped) {
            std::string names;
            for (const auto& n : server.modelNames()) names += (names.empty() ? "" : ", ") + n;
            std::fprintf(stderr, "qcompress serve: ready on http://%s:%d/v1 models: %s (%d slot%s, queue %d, batching %s%s)\n",
                         o->s.host.c_str(), port, names.c_str(), o->s.parallel, o->s.parallel == 1 ? "" : "s",
                         o->s.queue, o->batching.c_str(), o->s.apiKey.empty() ? ", no API key" : ", API key required");
        }
        server.wait();
        if (!stopped) endSignalThread();
        else signals.join();
        std::fprintf(stderr, "qcompress serve: stopped\n");
    });
}
