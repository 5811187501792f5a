// qcompress export MODEL --gguf OUT.gguf [--type f32|f16|q8_0|q4_0] [--modelfile] [--json]:
// the model as GGUF for llama.cpp, Ollama and LM Studio (llama.cpp's phi2 architecture).
#include "cli.h"
#include "export/gguf.h"

#include <cstdio>
#include <iostream>

QCW_COMMAND(85) {
    struct Opts {
        std::string model, gguf, type = "f16", name;
        bool modelfile = false, json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("export", "Write a model as GGUF for llama.cpp, Ollama and LM Studio");
    sub->add_option("MODEL", o->model, "Model directory or hub id (dense, fine-tuned or factorized)")->required();
    sub->add_option("--gguf", o->gguf, "Output .gguf file")->required();
    sub->add_option("--type", o->type, "Weights: f32, f16, q8_0 or q4_0 (norms and biases stay f32)")
        ->check(CLI::IsMember({"f32", "f16", "q8_0", "q4_0"}));
    sub->add_option("--name", o->name, "general.name in the file (default: the folder's name)");
    sub->add_flag("--modelfile", o->modelfile, "Also write an Ollama Modelfile beside the .gguf");
    sub->add_flag("--json", o->json, "Print a JSON summary on stdout");
    sub->callback([o] {
        qcw::GgufExportOptions opts;
        opts.type = o->type;
        opts.name = o->name;
        opts.modelfile = o->modelfile;
        const auto r = qcw::exportGguf(o->model, o->gguf, opts, qcw::cli::interruptibleContext());
        std::string types;
        for (const auto& [t, n] : r.typeCounts) types += (types.empty() ? "" : ", ") + t + " x" + std::to_string(n);
        std::cerr << "wrote " << r.path << ": " << r.tensors << " tensors (" << types << "), " << r.bytes
                  << " bytes, vocab " << r.vocab
                  << (r.realTokenizer ? " (tokenizer.json)" : " (placeholder: no tokenizer.json)") << "\n";
        if (!r.rebuilt.empty()) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "%.1f MB in the folder -> %.1f MB as GGUF (%.2fx)", r.sourceBytes / 1e6,
                          r.bytes / 1e6, r.sourceBytes > 0 ? double(r.bytes) / double(r.sourceBytes) : 0.0);
            std::cerr << "note: " << r.rebuilt.size() << " factorized linear maps (" << r.factorizedMethods
                      << ") were rebuilt dense, since llama.cpp has no low-rank layers: " << buf << "\n";
        }
        if (!r.modelfilePath.empty())
            std::cerr << "wrote " << r.modelfilePath << " (ollama create NAME -f " << r.modelfilePath << ")\n";
        if (o->json) {
            qcw::cli::printJson({{"gguf", r.path},
                                 {"bytes", r.bytes},
                                 {"source_bytes", r.sourceBytes},
                                 {"tensors", r.tensors},
                                 {"types", r.typeCounts},
                                 {"rebuilt_dense", r.rebuilt},
                                 {"vocab", r.vocab},
                                 {"tokenizer", r.realTokenizer},
                                 {"modelfile", r.modelfilePath}});
        }
    });
}
