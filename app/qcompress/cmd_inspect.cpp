// qcompress inspect MODEL [--json]: the layer inventory and the memory-fit estimate.
#include "cli.h"
#include "decompose/spectra_api.h"
#include "io/inventory.h"

#include <cstdio>
#include <iostream>

namespace {

std::string shapeText(const std::vector<std::int64_t>& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
    return out;
}

std::string human(double bytes) {
    char buf[32];
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        ++u;
    }
    std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
    return buf;
}

}  // namespace

QCW_COMMAND(10) {
    struct Opts {
        std::string model;
        bool json = false, spectra = false;
        int context = 2048;
        std::string filter;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("inspect", "Show a model's layers, parameter counts and memory needs");
    sub->add_option("MODEL", o->model, "Model directory (Hugging Face snapshot layout)")->required();
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->add_option("--context", o->context, "Context length for the KV-cache estimate")->check(CLI::PositiveNumber);
    sub->add_flag("--spectra", o->spectra,
                  "Singular-value spectra per matrix: entropy, effective rank, stable rank, alpha, Marchenko-Pastur edge");
    sub->add_option("--filter", o->filter, "With --spectra: only matrices whose name contains this text");
    sub->callback([o] {
        const qcw::ModelSummary s = qcw::inspectModel(o->model);
        const auto fp32 = qcw::estimateMemory(s, 4, o->context, 1);
        const auto fp16 = qcw::estimateMemory(s, 2, o->context, 1);
        if (o->json) {
            nlohmann::json j;
            j["architecture"] = s.architecture;
            j["params"] = s.params;
            j["compressible_params"] = s.compressibleParams;
            j["dtype"] = s.dtype;
            j["bytes_on_disk"] = s.bytesOnDisk;
            j["has_tokenizer"] = s.hasTokenizer;
            j["compressed"] = s.compressed;
            j["config"] = {{"num_hidden_layers", s.numLayers}, {"hidden_size", s.hiddenSize},
                           {"intermediate_size", s.intermediateSize}, {"num_attention_heads", s.numHeads},
                           {"vocab_size", s.vocabSize}};
            j["memory_estimate"] = {{"context", o->context},
                                    {"fp32_bytes", fp32.total()}, {"fp16_bytes", fp16.total()},
                                    {"fp32_weights_bytes", fp32.weightsBytes}, {"fp16_weights_bytes", fp16.weightsBytes},
                                    {"fp16_kv_cache_bytes", fp16.kvCacheBytes}};
            auto& layers = j["layers"] = nlohmann::json::array();
            for (const auto& l : s.layers)
                layers.push_back({{"name", l.name}, {"shape", l.shape}, {"params", l.params}, {"dtype", l.dtype},
                                  {"kind", l.kind}, {"compressible", l.compressible}});
            if (o->spectra) {
                auto& sp = j["spectra"] = nlohmann::json::array();
                for (const auto& m : qcw::computeSpectra(o->model, o->filter, qcw::cli::interruptibleContext()))
                    sp.push_back({{"name", m.name}, {"entropy", m.stats.entropy}, {"effective_rank", m.stats.effectiveRank},
                                  {"stable_rank", m.stats.stableRank}, {"alpha", m.stats.alpha},
                                  {"mp_bulk_edge", m.stats.mpBulkEdge}, {"mp_spikes", m.stats.spikes},
                                  {"storage", m.storage}, {"numerical_rank", m.numericalRank},
                                  {"singular_values", m.singularValues}});
            }
            qcw::cli::printJson(j);
            return;
        }
        std::printf("%s  %s\n", s.architecture.c_str(), s.dir.c_str());
        std::printf("  layers %d, hidden %d, intermediate %d, heads %d, vocabulary %d\n", s.numLayers, s.hiddenSize,
                    s.intermediateSize, s.numHeads, s.vocabSize);
        std::printf("  parameters %lld (%lld in compressible matrices), stored as %s, %s on disk%s%s\n",
                    static_cast<long long>(s.params), static_cast<long long>(s.compressibleParams), s.dtype.c_str(),
                    human(double(s.bytesOnDisk)).c_str(), s.hasTokenizer ? ", tokenizer present" : ", no tokenizer",
                    s.compressed ? ", compressed" : "");
        std::printf("  memory to run at context %d: %s in fp32, %s in fp16/bf16 (weights %s / %s)\n", o->context,
                    human(fp32.total()).c_str(), human(fp16.total()).c_str(), human(fp32.weightsBytes).c_str(),
                    human(fp16.weightsBytes).c_str());
        if (o->spectra) {
            std::printf("\n%-48s %-8s %9s %9s %9s %7s %6s %6s\n", "matrix", "storage", "entropy", "eff.rank", "st.rank",
                        "alpha", "spikes", "rank");
            for (const auto& m : qcw::computeSpectra(o->model, o->filter, qcw::cli::interruptibleContext()))
                std::printf("%-48s %-8s %9.3f %9.1f %9.1f %7.2f %6d %6d\n", m.name.c_str(), m.storage.c_str(),
                            m.stats.entropy, m.stats.effectiveRank, m.stats.stableRank, m.stats.alpha, m.stats.spikes,
                            m.numericalRank);
            return;
        }
        std::printf("\n%-48s %-10s %-14s %12s %-5s %s\n", "tensor", "kind", "shape", "params", "dtype", "compressible");
        for (const auto& l : s.layers)
            std::printf("%-48s %-10s %-14s %12lld %-5s %s\n", l.name.c_str(), l.kind.c_str(), shapeText(l.shape).c_str(),
                        static_cast<long long>(l.params), l.dtype.c_str(), l.compressible ? "yes" : "");
    });
}
