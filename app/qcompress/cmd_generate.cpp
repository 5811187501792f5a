// qcompress generate MODEL (--prompt TEXT | --ids 1,2,3) --max-new-tokens N [--greedy]
#include "cli.h"
#include "common/error.h"
#include "model/engine.h"
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <iostream>
#include <sstream>

namespace {

std::vector<std::int64_t> parseIdList(const std::string& text) {
    std::vector<std::int64_t> ids;
    std::stringstream s(text);
    std::string item;
    while (std::getline(s, item, ',')) {
        try {
            std::size_t used = 0;
            long long v = std::stoll(item, &used);
            if (used != item.size()) throw std::invalid_argument(item);
            ids.push_back(v);
        } catch (const std::exception&) {
            qcw::fail("--ids", "'" + item + "' is not an integer token id");
        }
    }
    if (ids.empty()) qcw::fail("--ids", "no token ids given");
    return ids;
}

}  // namespace

QCW_COMMAND(25) {
    struct Opts {
        std::string model, prompt, ids, device = "cpu", dtype = "auto", weights = "auto";
        int maxNew = 32, topK = 0, threads = 0;
        bool greedy = false, json = false, ignoreEos = false;
        double temperature = 0.8, topP = 0.95;
        std::uint64_t seed = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("generate", "Continue a prompt (greedy or sampled, streamed)");
    sub->add_option("MODEL", o->model, "Model directory")->required();
    auto* p = sub->add_option("--prompt", o->prompt, "Prompt text (needs the model's tokenizer)");
    auto* i = sub->add_option("--ids", o->ids, "Prompt as comma-separated token ids");
    p->excludes(i);
    sub->add_option("--max-new-tokens", o->maxNew, "Tokens to generate")->check(CLI::NonNegativeNumber);
    sub->add_flag("--greedy", o->greedy, "Pick the most likely token (default: sample)");
    sub->add_option("--temperature", o->temperature, "Sampling temperature");
    sub->add_option("--top-k", o->topK, "Sample among the k most likely tokens (0: off)");
    sub->add_option("--top-p", o->topP, "Nucleus sampling mass (1: off)");
    sub->add_option("--seed", o->seed, "Seed for sampling");
    sub->add_flag("--ignore-eos", o->ignoreEos, "Do not stop at the end-of-sequence token");
    sub->add_option("--device", o->device, "cpu, cuda or cuda:N");
    sub->add_option("--dtype", o->dtype, "auto, float32, float16 or bfloat16");
    sub->add_option("--threads", o->threads, "CPU threads (0: all cores)");
    sub->add_option("--weights", o->weights, "How weights are held: auto (stored on the CPU), stored, compute, f32, f16, bf16, q8 or q4");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o] {
        if (o->prompt.empty() && o->ids.empty()) qcw::fail("generate", "give --prompt TEXT or --ids 1,2,3");
        std::vector<std::int64_t> prompt;
        std::unique_ptr<qcw::Tokenizer> tok;
        if (!o->ids.empty()) {
            prompt = parseIdList(o->ids);
        } else {
            tok = qcw::loadTokenizerForModel(o->model);
            if (!tok) qcw::fail(o->model, "text prompts need a tokenizer (tokenizer.json) in the model directory; use --ids instead");
            auto enc = tok->encode(o->prompt);
            if (enc.invalidUtf8 > 0)
                std::fprintf(stderr, "qcompress: --prompt: %zu invalid UTF-8 sequences replaced by U+FFFD\n", static_cast<std::size_t>(enc.invalidUtf8));
            prompt.assign(enc.ids.begin(), enc.ids.end());
            if (prompt.empty()) qcw::fail("--prompt", "is empty");
        }
        auto engine = qcw::Engine::load(o->model, {o->device, o->dtype, o->threads, o->weights}, qcw::RunContext::none());
        qcw::GenerateOptions g;
        g.maxNewTokens = o->maxNew;
        g.greedy = o->greedy;
        g.temperature = o->temperature;
        g.topK = o->topK;
        g.topP = o->topP;
        g.seed = o->seed;
        g.stopAtEos = !o->ignoreEos;
        qcw::GenerationStats st;
        qcw::DecodeOptions skip;
        skip.skipUnknown = true;  // a model's embedding table may be padded past the vocabulary
        std::unique_ptr<qcw::StreamDecoder> stream;
        if (tok) stream = std::make_unique<qcw::StreamDecoder>(*tok, skip);
        auto cb = [&](std::size_t, std::int64_t id) {
            if (o->json) return true;
            if (stream) std::printf("%s", stream->push(static_cast<int>(id)).c_str());
            else std::printf(" %lld", static_cast<long long>(id));
            std::fflush(stdout);
            return true;
        };
        if (!o->json) {
            if (tok) {
                std::printf("%s", o->prompt.c_str());
            } else {
                for (auto t : prompt) std::printf("%s%lld", &t == &prompt[0] ? "" : " ", static_cast<long long>(t));
                std::printf(" |");
            }
        }
        auto out = engine->generate({prompt}, g, cb, qcw::cli::interruptibleContext(), &st);
        const double decodeRate = st.decodeSeconds > 0 && st.newTokens > 1 ? (st.newTokens - 1) / st.decodeSeconds : 0;
        if (stream && !o->json) std::printf("%s", stream->flush().c_str());
        if (o->json) {
            nlohmann::json j = {{"ids", out[0]}, {"prompt_tokens", prompt.size()},
                                 {"new_tokens", st.newTokens}, {"prefill_seconds", st.prefillSeconds},
                                 {"decode_tok_s", decodeRate}, {"device", engine->deviceName()}};
            if (tok) {
                std::vector<int> fresh(out[0].begin() + static_cast<long>(prompt.size()), out[0].end());
                j["text"] = tok->decode(fresh, skip);
            }
            qcw::cli::printJson(j);
        } else {
            std::printf("\n");
            std::fprintf(stderr, "%lld new tokens, decode %.1f tok/s on %s\n", static_cast<long long>(st.newTokens),
                         decodeRate, engine->deviceName().c_str());
        }
    });
}
