// qcompress demo [MODEL]: the README's main job without a display: load the bundled default
// model, print its layer inventory, and generate a continuation.
#include "cli.h"
#include "io/inventory.h"
#include "model/engine.h"
#include "tokenizer/tokenizer.h"

#include <cstdio>

QCW_COMMAND(5) {
    struct Opts {
        std::string model;
        int maxNew = 24;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("demo", "Load the bundled demo model, list its layers, generate a continuation");
    sub->add_option("MODEL", o->model, "Model directory (default: the bundled demo model)");
    sub->add_option("--max-new-tokens", o->maxNew, "Tokens to generate")->check(CLI::NonNegativeNumber);
    sub->callback([o] {
        const std::string dir = o->model.empty() ? qcw::cli::defaultModelDir() : o->model;
        auto engine = qcw::Engine::load(dir, {}, qcw::RunContext::none());
        const auto& s = engine->summary();
        std::printf("model      %s\n", dir.c_str());
        std::printf("           %s, %d layers, hidden %d, vocabulary %d, %lld parameters (%s on disk), loaded in %.2f s on %s\n",
                    s.architecture.c_str(), s.numLayers, s.hiddenSize, s.vocabSize, static_cast<long long>(s.params),
                    s.dtype.c_str(), engine->loadSeconds(), engine->deviceName().c_str());
        std::printf("\n%-44s %-10s %-12s %10s %s\n", "layer", "kind", "shape", "params", "compressible");
        for (const auto& l : s.layers) {
            std::string shape;
            for (std::size_t i = 0; i < l.shape.size(); ++i) shape += (i ? "x" : "") + std::to_string(l.shape[i]);
            std::printf("%-44s %-10s %-12s %10lld %s\n", l.name.c_str(), l.kind.c_str(), shape.c_str(),
                        static_cast<long long>(l.params), l.compressible ? "yes" : "");
        }
        // With a tokenizer the demo prompt is text; without one, a fixed id sequence.
        auto tok = qcw::loadTokenizerForModel(dir);
        std::vector<std::int64_t> prompt;
        const std::string text = "A FortiGate active-passive cluster on Azure";
        if (tok) {
            for (int id : tok->encodeIds(text)) prompt.push_back(id);
        } else {
            for (int i = 0; i < 10; ++i) prompt.push_back((7 + 37 * i) % s.vocabSize);
        }
        qcw::GenerateOptions g;
        g.maxNewTokens = o->maxNew;
        g.greedy = true;
        qcw::GenerationStats st;
        qcw::DecodeOptions skip;
        skip.skipUnknown = true;
        std::unique_ptr<qcw::StreamDecoder> stream;
        if (tok) {
            stream = std::make_unique<qcw::StreamDecoder>(*tok, skip);
            std::printf("\nprompt     %s\ngreedy     %s", text.c_str(), text.c_str());
        } else {
            std::printf("\nprompt ids ");
            for (auto t : prompt) std::printf(" %lld", static_cast<long long>(t));
            std::printf("  (no tokenizer in this model: ids only)\ngreedy     ");
        }
        engine->generate({prompt}, g, [&](std::size_t, std::int64_t t) {
            if (stream) std::printf("%s", stream->push(static_cast<int>(t)).c_str());
            else std::printf(" %lld", static_cast<long long>(t));
            std::fflush(stdout);
            return true;
        }, qcw::cli::interruptibleContext(), &st);
        if (stream) std::printf("%s", stream->flush().c_str());
        std::printf("\n\n%lld tokens, prefill %.1f ms, decode %.1f tok/s\n", static_cast<long long>(st.newTokens),
                    st.prefillSeconds * 1e3, st.newTokens > 1 && st.decodeSeconds > 0 ? (st.newTokens - 1) / st.decodeSeconds : 0.0);
    });
}
