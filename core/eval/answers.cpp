#include "eval/answers.h"

#include "common/error.h"
#include "common/jsonl.h"
#include "model/engine.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace qcw {

std::vector<QaItem> loadQaItems(const std::string& jsonl, std::size_t limit) {
    std::vector<QaItem> items;
    forEachJsonLine(jsonl, [&](const nlohmann::json& j, const std::string&) {
        auto str = [&](const char* k) { return j.is_object() && j.contains(k) && j[k].is_string(); };
        if (str("prompt") && str("completion"))
            items.push_back({j["prompt"].get<std::string>(), j["completion"].get<std::string>()});
        else if (str("question") && str("answer"))
            items.push_back({j["question"].get<std::string>(), j["answer"].get<std::string>()});
        return limit == 0 || items.size() < limit;
    });
    if (items.empty()) fail(jsonl, "has no prompt/completion (or question/answer) records");
    return items;
}

std::string normalizeAnswer(const std::string& s) {
    std::string t;
    for (unsigned char c : s) {
        if (std::ispunct(c)) t += ' ';
        else t += static_cast<char>(std::tolower(c));
    }
    std::istringstream words(t);
    std::string w, out;
    while (words >> w) {
        if (w == "a" || w == "an" || w == "the") continue;
        if (!out.empty()) out += ' ';
        out += w;
    }
    return out;
}

bool exactMatch(const std::string& candidate, const std::string& reference) {
    return normalizeAnswer(candidate) == normalizeAnswer(reference);
}

double rougeL(const std::string& candidate, const std::string& reference) {
    auto words = [](const std::string& s) {
        std::istringstream in(normalizeAnswer(s));
        std::vector<std::string> w;
        std::string x;
        while (in >> x) w.push_back(x);
        return w;
    };
    const auto c = words(candidate), r = words(reference);
    if (c.empty() || r.empty()) return c.empty() && r.empty() ? 1.0 : 0.0;
    std::vector<std::size_t> prev(r.size() + 1, 0), cur(r.size() + 1, 0);
    for (std::size_t i = 1; i <= c.size(); ++i) {
        for (std::size_t k = 1; k <= r.size(); ++k)
            cur[k] = c[i - 1] == r[k - 1] ? prev[k - 1] + 1 : std::max(prev[k], cur[k - 1]);
        std::swap(prev, cur);
    }
    const double lcs = double(prev[r.size()]);
    if (lcs == 0) return 0.0;
    const double p = lcs / double(c.size()), rec = lcs / double(r.size());
    return 2 * p * rec / (p + rec);
}

AnswerResult answerQuestions(const Engine& model, const Tokenizer& tok, const std::vector<QaItem>& items,
                             const AnswerOptions& opts, const RunContext& ctx) {
    AnswerResult res;
    const int ctxLen = model.config().maxPositions;
    const int maxNew = std::max(1, std::min(opts.maxNewTokens, ctxLen - 1));
    DecodeOptions dopt;
    dopt.skipUnknown = true;
    for (std::size_t i = 0; i < items.size(); ++i) {
        ctx.checkCancelled();
        std::vector<std::int64_t> ids;
        for (int id : tok.encodeIds(items[i].prompt)) ids.push_back(id);
        if (static_cast<int>(ids.size()) + maxNew > ctxLen) ids.erase(ids.begin(), ids.end() - (ctxLen - maxNew));
        if (ids.empty()) ids.push_back(model.config().eosTokenId.value_or(0));
        GenerateOptions g;
        g.maxNewTokens = maxNew;
        StreamDecoder dec(tok, dopt);
        std::string text;
        auto stopAt = [&]() -> std::size_t {
            std::size_t cut = std::string::npos;
            for (const auto& s : opts.stops) {
                // A stop at the very start (the answer's own leading newline) does not count.
                const std::size_t from = text.find_first_not_of(" \n");
                if (from == std::string::npos) continue;
                const std::size_t at = text.find(s, from);
                if (at != std::string::npos) cut = std::min(cut, at);
            }
            return cut;
        };
        model.generate({ids}, g, [&](std::size_t, std::int64_t t) {
            text += dec.push(static_cast<int>(t));
            return stopAt() == std::string::npos;
        }, ctx);
        text += dec.flush();
        if (const std::size_t cut = stopAt(); cut != std::string::npos) text.resize(cut);
        res.exactMatch += exactMatch(text, items[i].reference) ? 1.0 : 0.0;
        res.rougeL += rougeL(text, items[i].reference);
        res.answers.push_back(std::move(text));
        ctx.report("answer", static_cast<long long>(i + 1), static_cast<long long>(items.size()));
    }
    res.count = static_cast<std::int64_t>(items.size());
    if (res.count > 0) {
        res.exactMatch /= double(res.count);
        res.rougeL /= double(res.count);
    }
    return res;
}

}  // namespace qcw
