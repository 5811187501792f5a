// qcompress bench MODEL --json: load time, peak memory, prefill and decode speed.
#include "cli.h"
#include "model/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

QCW_COMMAND(80) {
    struct Opts {
        std::string model, device = "cpu", dtype = "auto";
        int prefillTokens = 128, decodeTokens = 32, batch = 1, threads = 0;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("bench", "Measure load time, peak memory, prefill and decode speed");
    sub->add_option("MODEL", o->model, "Model directory")->required();
    sub->add_option("--prefill-tokens", o->prefillTokens, "Prompt length for the prefill measurement")->check(CLI::PositiveNumber);
    sub->add_option("--decode-tokens", o->decodeTokens, "Tokens to decode")->check(CLI::NonNegativeNumber);
    sub->add_option("--batch", o->batch, "Batch size")->check(CLI::PositiveNumber);
    sub->add_option("--device", o->device, "cpu, cuda or cuda:N");
    sub->add_option("--dtype", o->dtype, "auto, float32, float16 or bfloat16");
    sub->add_option("--threads", o->threads, "CPU threads (0: all cores)");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o] {
        const std::size_t rssBefore = qcw::peakRssBytes();
        auto engine = qcw::Engine::load(o->model, {o->device, o->dtype, o->threads}, qcw::cli::interruptibleContext());
        const std::size_t rssAfterLoad = qcw::peakRssBytes();
        const int V = engine->config().vocabSize;
        const int T = std::min(o->prefillTokens, engine->config().maxPositions - o->decodeTokens - 1);
        std::vector<std::vector<std::int64_t>> prompts(static_cast<std::size_t>(o->batch));
        for (int b = 0; b < o->batch; ++b)
            for (int t = 0; t < T; ++t) prompts[static_cast<std::size_t>(b)].push_back((t * 131 + b * 7 + 11) % V);
        qcw::GenerateOptions g;
        g.maxNewTokens = std::max(1, o->decodeTokens + 1);
        g.stopAtEos = false;
        qcw::GenerationStats st;
        engine->generate(prompts, g, {}, qcw::cli::interruptibleContext(), &st);
        const double prefill = st.prefillSeconds > 0 ? double(st.promptTokens) / st.prefillSeconds : 0;
        const std::int64_t decoded = st.newTokens - o->batch;  // the first new token comes with the prefill
        const double decode = st.decodeSeconds > 0 ? double(decoded) / st.decodeSeconds : 0;
        const double peakMb = double(qcw::peakRssBytes()) / 1e6;
        nlohmann::json j = {{"device", engine->deviceName()},
                            {"dtype", engine->computeDtype()},
                            {"params", engine->parameterCount()},
                            {"load_seconds", engine->loadSeconds()},
                            {"peak_memory_mb", peakMb},
                            {"peak_rss_after_load_mb", double(rssAfterLoad) / 1e6},
                            {"rss_before_load_mb", double(rssBefore) / 1e6},
                            {"bytes_on_disk", engine->summary().bytesOnDisk},
                            {"batch", o->batch},
                            {"prefill_tokens", T},
                            {"prefill_tok_s", prefill},
                            {"decode_tokens", decoded},
                            {"decode_tok_s", decode}};
        if (o->json) {
            qcw::cli::printJson(j);
        } else {
            std::printf("device %s (%s), %lld parameters\n", engine->deviceName().c_str(), engine->computeDtype().c_str(),
                        static_cast<long long>(engine->parameterCount()));
            std::printf("load %.2f s, peak RSS after load %.0f MB, peak RSS %.0f MB\n", engine->loadSeconds(),
                        double(rssAfterLoad) / 1e6, peakMb);
            std::printf("prefill %d x %d tokens: %.1f tok/s; decode %lld tokens: %.2f tok/s\n", o->batch, T, prefill,
                        static_cast<long long>(decoded), decode);
        }
    });
}
