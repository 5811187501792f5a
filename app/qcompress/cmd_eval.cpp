// qcompress eval MODEL [--text FILE | --ids FILE.safetensors] [--teacher MODEL] --json
#include "cli.h"
#include "common/error.h"
#include "common/files.h"
#include "eval/answers.h"
#include "eval/evaluate.h"
#include "eval/multiple_choice.h"
#include "io/safetensors.h"
#include "model/engine.h"
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>


QCW_COMMAND(70) {
    struct Opts {
        std::string model, text, ids, data, unigram, teacher, mc, qa, weights = "auto";
        int window = 0, stride = 0, threads = 0;
        std::int64_t maxTokens = 0;
        std::size_t qaLimit = 0;
        int qaMaxNew = 64;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("eval", "Perplexity and agreement with a teacher model");
    sub->add_option("MODEL", o->model, "Model directory")->required();
    auto* t = sub->add_option("--text", o->text, "Text file (tokenized with the model's tokenizer)");
    auto* i = sub->add_option("--ids", o->ids, "safetensors file with int64 input_ids [rows, length]");
    t->excludes(i);
    sub->add_option("--data", o->data, "Dataset folder from 'qcompress data build': scores eval.jsonl, one stream per record");
    sub->add_option("--unigram", o->unigram,
                    "Dataset folder whose dataset.jsonl gives a unigram baseline (add-one smoothed) on the same tokens");
    sub->add_option("--max-tokens", o->maxTokens, "Score only the first N tokens of the text, ids or data (0: all)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--qa", o->qa, "JSONL of prompt/completion records: generate answers, score exact match and ROUGE-L");
    sub->add_option("--qa-limit", o->qaLimit, "Answer at most this many --qa records (0: all)");
    sub->add_option("--qa-max-new", o->qaMaxNew, "Tokens generated per answer (default 64)")->check(CLI::PositiveNumber);
    sub->add_option("--teacher", o->teacher, "Teacher model for top-1 agreement and KL");
    sub->add_option("--mc", o->mc, "Multiple-choice JSONL: {\"question\",\"choices\":[...],\"answer\":index} per line");
    sub->add_option("--window", o->window, "Tokens per window (default: the context, at most 1024)");
    sub->add_option("--stride", o->stride, "New tokens per window (default: window / 2)");
    sub->add_option("--threads", o->threads, "CPU threads (0: all cores)");
    sub->add_option("--weights", o->weights, "How weights are held: auto (stored on the CPU), stored, compute, f32, f16, bf16, q8 or q4");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o] {
        if (o->text.empty() && o->ids.empty() && o->mc.empty() && o->data.empty() && o->qa.empty())
            qcw::fail("eval", "give --text FILE, --ids FILE.safetensors, --data DIR, --mc FILE.jsonl or --qa FILE.jsonl");
        if (int(!o->text.empty()) + int(!o->ids.empty()) + int(!o->data.empty()) > 1)
            qcw::fail("eval", "give one of --text, --ids and --data");
        std::unique_ptr<qcw::Tokenizer> tok;
        auto tokenizer = [&](const char* why) -> const qcw::Tokenizer& {
            if (!tok) tok = qcw::loadTokenizerForModel(o->model);
            if (!tok) qcw::fail(o->model, std::string(why) + " needs a tokenizer (tokenizer.json) in the model directory");
            return *tok;
        };
        auto encode = [&](const std::string& text, const char* why) {
            auto ids = tokenizer(why).encodeIds(text);
            return std::vector<std::int64_t>(ids.begin(), ids.end());
        };
        std::vector<std::vector<std::int64_t>> streams;
        if (!o->ids.empty()) {
            streams = qcw::cli::readIdRows(o->ids);
        } else if (!o->text.empty()) {
            streams.push_back(encode(qcw::readTextFile(o->text, 1u << 30), "--text"));
        } else if (!o->data.empty()) {
            for (const auto& t : qcw::cli::readDatasetTexts((std::filesystem::path(o->data) / "eval.jsonl").string()))
                streams.push_back(encode(t, "--data"));
        }
        if (o->maxTokens > 0) {  // keep whole streams while they fit, then cut the last one
            std::int64_t left = o->maxTokens;
            std::vector<std::vector<std::int64_t>> kept;
            for (auto& s : streams) {
                if (left < 2) break;
                if (static_cast<std::int64_t>(s.size()) > left) s.resize(static_cast<std::size_t>(left));
                left -= static_cast<std::int64_t>(s.size());
                kept.push_back(std::move(s));
            }
            streams = std::move(kept);
        }
        std::vector<std::vector<std::int64_t>> unigramTrain;
        if (!o->unigram.empty()) {
            if (streams.empty()) qcw::fail("--unigram", "needs --text, --ids or --data to score");
            for (const auto& t : qcw::cli::readDatasetTexts((std::filesystem::path(o->unigram) / "dataset.jsonl").string()))
                unigramTrain.push_back(encode(t, "--unigram"));
        }
        std::vector<qcw::McItem> mc;
        if (!o->mc.empty()) {
            mc = qcw::loadMultipleChoice(o->mc);
            tokenizer("--mc");
        }
        std::vector<qcw::QaItem> qa;
        if (!o->qa.empty()) {
            qa = qcw::loadQaItems(o->qa, o->qaLimit);
            tokenizer("--qa");
        }
        auto& ctx = qcw::cli::interruptibleContext();
        auto model = qcw::Engine::load(o->model, {"cpu", "auto", o->threads, o->weights}, ctx);
        qcw::PerplexityOptions po;
        po.window = o->window;
        po.stride = o->stride;
        nlohmann::json j = {{"params", model->parameterCount()}};
        if (!streams.empty()) {
            auto ppl = qcw::perplexity(*model, streams, po, ctx);
            j["perplexity"] = ppl.perplexity;
            j["mean_nll"] = ppl.meanNll;
            j["tokens"] = ppl.tokens;
            j["streams"] = streams.size();
        }
        if (!unigramTrain.empty()) {
            auto uni = qcw::unigramPerplexity(unigramTrain, streams, model->config().vocabSize);
            j["unigram_perplexity"] = uni.perplexity;
        }
        if (!mc.empty()) {
            auto r = qcw::multipleChoice(*model, *tok, mc, ctx);
            j["mc_accuracy"] = r.accuracy;
            j["mc_count"] = r.count;
        }
        if (!qa.empty()) {
            qcw::AnswerOptions ao;
            ao.maxNewTokens = o->qaMaxNew;
            auto r = qcw::answerQuestions(*model, *tok, qa, ao, ctx);
            j["qa_exact_match"] = r.exactMatch;
            j["qa_rouge_l"] = r.rougeL;
            j["qa_count"] = r.count;
        }
        if (!o->teacher.empty() && !streams.empty()) {
            auto teacher = qcw::Engine::load(o->teacher, {"cpu", "auto", o->threads, o->weights}, ctx);
            auto ag = qcw::teacherAgreement(*model, *teacher, streams, po, ctx);
            j["teacher_top1_agreement"] = ag.top1;
            j["teacher_kl"] = ag.klPerToken;
        }
        if (o->json) {
            qcw::cli::printJson(j);
        } else {
            if (j.contains("perplexity"))
                std::printf("perplexity %.4f over %lld tokens", j["perplexity"].get<double>(), j["tokens"].get<long long>());
            if (j.contains("unigram_perplexity"))
                std::printf(" (unigram baseline %.4f)", j["unigram_perplexity"].get<double>());
            if (j.contains("mc_accuracy"))
                std::printf("%smultiple choice %.4f over %lld questions", j.contains("perplexity") ? "; " : "",
                            j["mc_accuracy"].get<double>(), j["mc_count"].get<long long>());
            if (j.contains("qa_rouge_l"))
                std::printf("; answers: exact match %.4f, ROUGE-L %.4f over %lld", j["qa_exact_match"].get<double>(),
                            j["qa_rouge_l"].get<double>(), j["qa_count"].get<long long>());
            if (j.contains("teacher_kl"))
                std::printf("; teacher top-1 agreement %.4f, KL %.5f nats/token", j["teacher_top1_agreement"].get<double>(),
                            j["teacher_kl"].get<double>());
            std::printf("\n");
        }
    });
}
