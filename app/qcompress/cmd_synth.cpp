// qcompress synth --shape phi-1_5 --out DIR: a synthetic checkpoint for benchmarks and scale tests.
#include "cli.h"
#include "common/error.h"
#include "io/phi_config.h"
#include "model/synthetic.h"
#include "tokenizer/tokenizer.h"

#include <chrono>

QCW_COMMAND(90) {
    struct Opts {
        std::string shape = "phi-1_5", config, tokenizer, out, dtype = "F16", spectrum = "random";
        std::uint64_t seed = 0;
        double shardMb = 0;
        bool replace = false, json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("synth", "Write a synthetic Phi checkpoint with random weights");
    sub->add_option("--shape", o->shape, "phi-1_5 (1.42 B parameters), small or tiny");
    sub->add_option("--config", o->config, "Take the shape from this config.json instead of --shape");
    sub->add_option("--tokenizer", o->tokenizer, "tokenizer.json to copy in (its vocabulary must fit the config)");
    sub->add_option("--out", o->out, "Output model directory")->required();
    sub->add_option("--dtype", o->dtype, "F16, BF16 or F32");
    sub->add_option("--spectrum", o->spectrum, "random (flat spectra), powerlaw (decaying spectra) or init (pretraining start: N(0, 0.02), norms 1, biases 0)");
    sub->add_option("--seed", o->seed, "Random seed");
    sub->add_option("--shard-mb", o->shardMb, "Split into shards of at most this many MB (0: one file)");
    sub->add_flag("--replace", o->replace, "Replace an existing output directory");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o] {
        qcw::DType dt;
        if (!qcw::parseDType(o->dtype, dt)) qcw::fail("--dtype " + o->dtype, "unknown dtype; expected F16, BF16 or F32");
        qcw::SyntheticOptions s;
        s.dtype = dt;
        s.seed = o->seed;
        s.spectrum = o->spectrum;
        s.maxShardBytes = static_cast<std::size_t>(o->shardMb * 1e6);
        const auto cfg = o->config.empty() ? qcw::namedPhiShape(o->shape) : qcw::PhiConfig::load(o->config);
        if (!o->tokenizer.empty()) {
            const auto tok = qcw::Tokenizer::fromTokenizerJsonFile(o->tokenizer);
            if (tok->vocabSize() > cfg.vocabSize)
                qcw::fail(o->tokenizer, "has " + std::to_string(tok->vocabSize()) +
                                            " tokens, more than the config's vocab_size " + std::to_string(cfg.vocabSize));
            s.tokenizerJson = o->tokenizer;
        }
        auto t0 = std::chrono::steady_clock::now();
        qcw::writeSyntheticPhi(o->out, cfg, s, qcw::cli::interruptibleContext(), o->replace);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (o->json)
            qcw::cli::printJson({{"out", o->out}, {"params", cfg.parameterCount()}, {"spectrum", o->spectrum}, {"dtype", o->dtype}, {"seconds", secs}});
    });
}
