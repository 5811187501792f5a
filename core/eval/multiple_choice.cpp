#include "eval/multiple_choice.h"

#include "common/error.h"
#include "common/jsonl.h"
#include "common/files.h"
#include "model/engine.h"
#include "model/engine_impl.h"
#include "tokenizer/tokenizer.h"

#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace qcw {

std::vector<McItem> loadMultipleChoice(const std::string& path) {
    std::vector<McItem> items;
    forEachJsonLine(path, [&](const nlohmann::json& j, const std::string& where) {
        if (!j.is_object() || !j.contains("question") || !j["question"].is_string())
            fail(where, "missing string field 'question'");
        if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].size() < 2)
            fail(where, "'choices' must be an array of at least two strings");
        if (!j.contains("answer") || !j["answer"].is_number_integer()) fail(where, "missing integer field 'answer'");
        McItem it;
        it.question = j["question"].get<std::string>();
        for (const auto& c : j["choices"]) {
            if (!c.is_string()) fail(where, "every choice must be a string");
            it.choices.push_back(c.get<std::string>());
        }
        it.answer = j["answer"].get<int>();
        if (it.answer < 0 || it.answer >= static_cast<int>(it.choices.size()))
            fail(where, "answer " + std::to_string(it.answer) + " is not an index into the " +
                            std::to_string(it.choices.size()) + " choices");
        items.push_back(std::move(it));
        return true;
    }, 256u << 20);
    if (items.empty()) fail(path, "no questions");
    return items;
}

McResult multipleChoice(const Engine& model, const Tokenizer& tok, const std::vector<McItem>& items, const RunContext& ctx) {
    c10::InferenceMode guard;
    const PhiModel& m = model.impl().model;
    const auto maxLen = static_cast<std::size_t>(m.config.maxPositions);
    McResult r;
    int correct = 0;
    for (std::size_t q = 0; q < items.size(); ++q) {
        ctx.checkCancelled();
        const auto& it = items[q];
        std::vector<int> prompt = tok.encodeIds("Question: " + it.question + "\nAnswer:");
        std::vector<double> scores;
        for (const auto& choice : it.choices) {
            std::vector<int> cont = tok.encodeIds(" " + choice);
            if (cont.empty()) fail("multiple choice", "a choice of question " + std::to_string(q + 1) + " is empty");
            if (cont.size() + 1 > maxLen) fail("multiple choice", "a choice of question " + std::to_string(q + 1) + " is longer than the context");
            std::vector<int> seq = prompt;
            seq.insert(seq.end(), cont.begin(), cont.end());
            // Keep the end when the whole does not fit: the choice and as much question as fits.
            const std::size_t drop = seq.size() > maxLen ? seq.size() - maxLen : 0;
            std::vector<std::int64_t> ids(seq.begin() + static_cast<long>(drop), seq.end());
            for (auto& t : ids)
                if (t >= m.config.vocabSize) fail("multiple choice", "the tokenizer produced id " + std::to_string(t) + " beyond the model's vocabulary");
            ForwardArgs a;
            a.inputIds = at::from_blob(ids.data(), {1, static_cast<std::int64_t>(ids.size())}, at::kLong).clone();
            at::Tensor lp = at::log_softmax(m.forward(a), -1).to(at::kCPU)[0];
            const auto T = static_cast<std::int64_t>(ids.size()), C = static_cast<std::int64_t>(cont.size());
            at::Tensor targets = a.inputIds[0].narrow(0, T - C, C);
            double sum = lp.narrow(0, T - C - 1, C).gather(1, targets.unsqueeze(1)).sum().item<double>();
            scores.push_back(sum / double(C));
        }
        int best = 0;
        for (int c = 1; c < static_cast<int>(scores.size()); ++c)
            if (scores[static_cast<std::size_t>(c)] > scores[static_cast<std::size_t>(best)]) best = c;
        r.predictions.push_back(best);
        r.scores.push_back(scores);
        correct += best == it.answer;
        ctx.report("multiple choice", static_cast<long long>(q + 1), static_cast<long long>(items.size()));
    }
    r.count = static_cast<std::int64_t>(items.size());
    r.accuracy = double(correct) / double(r.count);
    return r;
}

}  // namespace qcw
