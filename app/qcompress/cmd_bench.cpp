// qcompress bench MODEL --json: load time, peak memory, prefill and decode speed.
#include "cli.h"
#include "model/cuda_support.h"
#include "kernels/linear.h"
#include "model/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

QCW_COMMAND(80) {
    struct Opts {
        std::string model, device = "cpu", dtype = "auto", weights = "auto";
        int prefillTokens = 128, decodeTokens = 32, batch = 1, threads = 0;
        bool json = false, noGraphs = false;
        int warmup = -1;
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
    sub->add_option("--weights", o->weights,
                    "How weights are held: auto (stored on the CPU), stored, compute, f32, f16, bf16, q8 or q4");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->add_flag("--no-cuda-graphs", o->noGraphs, "On CUDA, launch every kernel of every decode step (no graph replay)");
    sub->add_option("--warmup", o->warmup, "Untimed runs of the same shapes first (default: 1 on CUDA, 0 on CPU)")
        ->check(CLI::NonNegativeNumber);
    sub->callback([o] {
        const std::size_t rssBefore = qcw::peakRssBytes();
        auto engine = qcw::Engine::load(o->model, {o->device, o->dtype, o->threads, o->weights}, qcw::cli::interruptibleContext());
        const std::size_t rssAfterLoad = qcw::peakRssBytes();
        // Ready to decode: the load plus one single-token step (page faults, lazy set-up),
        // the way llama.cpp's bench counts its one-token warm-up.
        const auto readyStart = std::chrono::steady_clock::now();
        engine->forward({1}, {}, 1, 1);
        const double firstStep = std::chrono::duration<double>(std::chrono::steady_clock::now() - readyStart).count();
        const int V = engine->config().vocabSize;
        const int T = std::min(o->prefillTokens, engine->config().maxPositions - o->decodeTokens - 1);
        std::vector<std::vector<std::int64_t>> prompts(static_cast<std::size_t>(o->batch));
        for (int b = 0; b < o->batch; ++b)
            for (int t = 0; t < T; ++t) prompts[static_cast<std::size_t>(b)].push_back((t * 131 + b * 7 + 11) % V);
        qcw::GenerateOptions g;
        g.maxNewTokens = std::max(1, o->decodeTokens + 1);
        g.stopAtEos = false;
        g.cudaGraphs = !o->noGraphs;
        const bool onCuda = engine->cudaDeviceIndex() >= 0;
        const int cudaIndex = std::max(0, engine->cudaDeviceIndex());
        // Warm-up: kernel loading, cuBLAS handles and the allocator's first blocks are not what
        // a user waits for on every request.
        const int warmup = o->warmup >= 0 ? o->warmup : (onCuda ? 1 : 0);
        for (int w = 0; w < warmup; ++w) {
            qcw::GenerateOptions gw = g;
            gw.maxNewTokens = std::min(g.maxNewTokens, 4);
            engine->generate(prompts, gw, {}, qcw::cli::interruptibleContext());
        }
        if (onCuda) qcw::cuda::resetPeakAllocated(cudaIndex);
        qcw::GenerationStats st;
        // Row 0's tokens time the steps: the first arrives after the prefill (time to first
        // token), each later one after one decode step of the whole batch.
        // The kernels' own clock splits each phase into linear maps and the rest of the step.
        using Clock = std::chrono::steady_clock;
        std::vector<Clock::time_point> arrivals;
        qcw::kernels::LinearStats atFirst{};
        qcw::kernels::resetLinearStats();
        const auto start = Clock::now();
        engine->generate(prompts, g, [&](std::size_t row, std::int64_t) {
            if (row == 0) {
                arrivals.push_back(Clock::now());
                if (arrivals.size() == 1) atFirst = qcw::kernels::linearStats();
            }
            return true;
        }, qcw::cli::interruptibleContext(), &st);
        const qcw::kernels::LinearStats atEnd = qcw::kernels::linearStats();
        std::vector<double> stepsMs;
        for (std::size_t i = 1; i < arrivals.size(); ++i)
            stepsMs.push_back(std::chrono::duration<double, std::milli>(arrivals[i] - arrivals[i - 1]).count());
        std::sort(stepsMs.begin(), stepsMs.end());
        auto pct = [&](double q) {
            if (stepsMs.empty()) return 0.0;
            const std::size_t k = std::min(stepsMs.size() - 1, static_cast<std::size_t>(q * double(stepsMs.size() - 1) + 0.5));
            return stepsMs[k];
        };
        const double ttftMs = arrivals.empty() ? 0.0 : std::chrono::duration<double, std::milli>(arrivals[0] - start).count();
        const double prefill = st.prefillSeconds > 0 ? double(st.promptTokens) / st.prefillSeconds : 0;
        const std::int64_t decoded = st.newTokens - o->batch;  // the first new token comes with the prefill
        const double decode = st.decodeSeconds > 0 ? double(decoded) / st.decodeSeconds : 0;
        const double peakMb = double(qcw::peakRssBytes()) / 1e6;
        // Decode: weight bytes read per step over the step time; the share of the step spent
        // outside the kernels' linear maps (attention, norms, rotary, sampling, framework).
        const double bytesPerToken = double(engine->weightBytesPerToken());
        const double decodeSteps = double(std::max<std::int64_t>(0, decoded / std::max(1, o->batch)));
        const double decodeLinearS = double(atEnd.nanoseconds - atFirst.nanoseconds) * 1e-9;
        const double prefillLinearS = double(atFirst.nanoseconds) * 1e-9;
        const bool kernels = engine->weightsMode() != "compute";
        const double gbps = st.decodeSeconds > 0 ? bytesPerToken * decodeSteps / st.decodeSeconds / 1e9 : 0;
        nlohmann::json j = {{"device", engine->deviceName()},
                            {"dtype", engine->computeDtype()},
                            {"params", engine->parameterCount()},
                            {"load_seconds", engine->loadSeconds()},
                            {"ready_seconds", engine->loadSeconds() + firstStep},
                            {"peak_memory_mb", peakMb},
                            {"peak_rss_after_load_mb", double(rssAfterLoad) / 1e6},
                            {"rss_before_load_mb", double(rssBefore) / 1e6},
                            {"bytes_on_disk", engine->summary().bytesOnDisk},
                            {"batch", o->batch},
                            {"prefill_tokens", T},
                            {"prefill_tok_s", prefill},
                            {"decode_tokens", decoded},
                            {"decode_tok_s", decode},
                            {"time_to_first_token_ms", ttftMs},
                            {"decode_step_ms", {{"p50", pct(0.5)}, {"p90", pct(0.9)}, {"p99", pct(0.99)}}},
                            {"weights_mb", double(engine->weightBytes()) / 1e6},
                            {"decode_tok_s_p50", pct(0.5) > 0 ? 1000.0 * o->batch / pct(0.5) : 0.0},
                            {"warmup_runs", warmup},
                            {"weights", engine->weightsMode()},
                            {"kernel_isa", engine->kernelIsa()},
                            {"weight_bytes_per_token", bytesPerToken},
                            {"decode_weight_gb_s", gbps},
                            {"cuda_graphs", st.cudaGraph}};
        if (kernels) {
            j["decode_share_outside_linear"] = st.decodeSeconds > 0 ? std::max(0.0, 1.0 - decodeLinearS / st.decodeSeconds) : 0.0;
            j["prefill_share_outside_linear"] = st.prefillSeconds > 0 ? std::max(0.0, 1.0 - prefillLinearS / st.prefillSeconds) : 0.0;
        }
        if (onCuda) {
            j["peak_cuda_allocated_mb"] = double(qcw::cuda::peakAllocatedBytes(cudaIndex)) / 1e6;
            if (!st.cudaGraphNote.empty()) j["cuda_graphs_note"] = st.cudaGraphNote;
        }
        if (o->json) {
            qcw::cli::printJson(j);
        } else {
            std::printf("device %s (%s), %lld parameters\n", engine->deviceName().c_str(), engine->computeDtype().c_str(),
                        static_cast<long long>(engine->parameterCount()));
            std::printf("load %.2f s, peak RSS after load %.0f MB, peak RSS %.0f MB\n", engine->loadSeconds(),
                        double(rssAfterLoad) / 1e6, peakMb);
            std::printf("prefill %d x %d tokens: %.1f tok/s; decode %lld tokens: %.2f tok/s\n", o->batch, T, prefill,
                        static_cast<long long>(decoded), decode);
            std::printf("time to first token %.1f ms; decode step p50 %.2f / p90 %.2f / p99 %.2f ms; weights %.1f MB\n", ttftMs,
                        pct(0.5), pct(0.9), pct(0.99), double(engine->weightBytes()) / 1e6);
            std::printf("weights %s%s; %.1f MB read per token, %.1f GB/s while decoding", engine->weightsMode().c_str(),
                        kernels ? (" (" + engine->kernelIsa() + " kernels)").c_str() : "", bytesPerToken / 1e6, gbps);
            if (kernels && st.decodeSeconds > 0)
                std::printf("; %.0f%% of a decode step outside the linear maps", 100.0 * std::max(0.0, 1.0 - decodeLinearS / st.decodeSeconds));
            std::printf("\n");
            if (onCuda)
                std::printf("CUDA graphs: %s%s; peak CUDA memory allocated %.0f MB\n", st.cudaGraph ? "replayed" : "off",
                            st.cudaGraphNote.empty() ? "" : (" (" + st.cudaGraphNote + ")").c_str(),
                            double(qcw::cuda::peakAllocatedBytes(cudaIndex)) / 1e6);
        }
    });
}
